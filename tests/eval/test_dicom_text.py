"""Burned-in text in generated DICOM files (`privis.audit.dicom_set`): floors for what is hidden
and kept, with the header and without it. No ../shared data: the set is made here; the full
60-file table is benchmarks/dicom_text.py."""

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.cli import app
from tests.conftest import skip_without_tesseract

pydicom = pytest.importorskip("pydicom")
pytest.importorskip("rapidocr")
skip_without_tesseract()
runner = CliRunner()


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    from privis.audit.dicom_set import save_first_frames, write_dicom_set

    root = tmp_path_factory.mktemp("dicom_set")
    rows = write_dicom_set(root / "dicom", count=16, seed=7)  # four layouts, six kinds, multi-frame XA
    save_first_frames(root / "dicom", root / "png")
    return root, rows


def _run(scans, kind, out, *extra):
    from PIL import Image

    from privis.audit.dicom_set import score_items

    root, rows = scans
    result = runner.invoke(app, ["redact-text", str(root / kind), "-o", str(root / out), "-q", *extra])
    assert result.exit_code == 0, result.output

    def frames(name):
        if kind == "dicom":
            a, b = pydicom.dcmread(root / "dicom" / name).pixel_array, pydicom.dcmread(root / out / name).pixel_array
            return (a, b) if a.ndim == 3 else ([a], [b])
        png = name.replace(".dcm", ".png")
        return [np.asarray(Image.open(root / "png" / png))], [np.asarray(Image.open(root / out / png))]

    return score_items(rows, frames)


def test_dicom_files_lose_all_burned_in_patient_data_and_keep_markers(scans):
    score = _run(scans, "dicom", "out_all")
    assert score["identifying_recall"] >= 0.98, score
    assert score["kept_share"] >= 0.9, score


def test_with_text_pii_the_header_and_recognizers_find_the_values_and_leave_labels(scans):
    score = _run(scans, "dicom", "out_pii", "--text", "pii")
    assert score["identifying_recall"] >= 0.98, score
    assert score["kept_share"] >= 0.9 and score["labels_kept"] >= 0.7, score


def test_the_same_pixels_without_the_header_still_lose_the_patient_data(scans):
    score = _run(scans, "png", "out_png")
    assert score["identifying_recall"] >= 0.9, score
    assert score["kept_share"] >= 0.9, score
