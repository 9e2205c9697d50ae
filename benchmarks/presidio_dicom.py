"""Presidio's image redactors on a folder, for `dicom_text.py`'s side-by-side rows.

Runs in a scratch virtual environment that holds ``presidio-image-redactor`` (never in
privis's own), called by ``dicom_text.py --presidio-python PY``. No spaCy model with named
entities is on the package index (they are released on GitHub), so the NLP engine is a
blank English pipeline: Presidio's pattern recognizers (dates, phones, e-mail, IDs) and,
for DICOM files, its header values (``use_metadata``), but no PERSON from a model.

Usage::

    PY benchmarks/presidio_dicom.py dicom IN_DIR OUT_DIR   # DicomImageRedactorEngine, use_metadata
    PY benchmarks/presidio_dicom.py image IN_DIR OUT_DIR   # ImageRedactorEngine on PNGs
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def _analyzer():  # noqa: ANN202
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model = Path(tempfile.mkdtemp()) / "blank_en"
    spacy.blank("en").to_disk(model)
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model)}]}
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine())


def main() -> int:
    mode, src, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    from presidio_image_redactor import DicomImageRedactorEngine, ImageAnalyzerEngine, ImageRedactorEngine

    analyzer = ImageAnalyzerEngine(analyzer_engine=_analyzer())
    failed = 0
    if mode == "dicom":
        import pydicom

        engine = DicomImageRedactorEngine(image_analyzer_engine=analyzer)
        for path in sorted(src.glob("*.dcm")):
            try:
                redacted = engine.redact(pydicom.dcmread(path), fill="contrast", use_metadata=True)
                redacted.save_as(out / path.name)
            except Exception as exc:  # noqa: BLE001  # one file's failure is a row in the table
                failed += 1
                print(f"{path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    else:
        from PIL import Image

        engine = ImageRedactorEngine(image_analyzer_engine=analyzer)
        for path in sorted(src.glob("*.png")):
            engine.redact(Image.open(path).convert("RGB"), fill=(0, 0, 0)).convert("L").save(out / path.name)
    print(f"failed {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
