"""Shared fixtures: small generated images and a `mock_regions` factory."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import numpy as np
import pytest

from privis.audit.synthetic import text_page  # noqa: F401  (shared with the text tests)
from privis.regions import Regions


def mock_regions(
    xyxy: Sequence[Sequence[float]],
    label: Sequence[str] | None = None,
    score: Sequence[float] | None = None,
    track_id: Sequence[int] | None = None,
) -> Regions:
    """Regions built from plain lists."""
    return Regions(np.array(xyxy, dtype=np.float32).reshape(-1, 4), label=label, score=score, track_id=track_id)


@pytest.fixture
def noise_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)


@pytest.fixture
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def text_redactor(ocr: str, **options):
    """What `privis redact-text` runs: text targets filled black, boxes as the detector pads them
    (text gets no face margin: `LABEL_MARGINS`)."""
    from privis.pipeline import Anonymizer

    return Anonymizer(targets="text", method="fill", shape="box", ocr=ocr, **options)


def skip_without_tesseract() -> None:
    """Skip, saying why, where the tesseract program is missing (`make install` installs it)."""
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract-ocr is not installed (make install installs it)", allow_module_level=True)
