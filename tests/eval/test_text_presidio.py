"""Presidio's own image-redactor expectations (../shared/data/docs_presidio/resources)."""

import json

import numpy as np
import pytest

from privis.media.image import read_image
from tests.conftest import text_redactor

pytest.importorskip("rapidocr")


def _covered(found, box):
    x, y, w, h = box
    mask = np.zeros((y + h + 1, x + w + 1), bool)
    for x1, y1, x2, y2 in found.xyxy.astype(int):
        mask[y1:y2, x1:x2] = True
    return mask[y : y + h, x : x + w].mean()


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_ocr_test_png_loses_every_expected_entity(data_root, engine):
    res = data_root / "docs_presidio" / "resources"
    expected = json.loads((res / "ocr_test_expected_entities.json").read_text())["resources/ocr_test.png"]
    _, found = text_redactor(engine).process(read_image(res / "ocr_test.png").rgb)
    for e in expected:
        box = (e["left"], e["top"], e["width"], e["height"])
        assert _covered(found, box) >= 0.9, (e["entity_type"], box)
    assert {"PERSON", "URL", "PHONE", "EMAIL"} <= set(found.data["entity"])


def test_kwargs_and_bounding_box_images(data_root):
    res = data_root / "docs_presidio" / "resources"
    redactor = text_redactor("tesseract")
    _, found = redactor.process(read_image(res / "kwargs_test.jpg").rgb)
    assert sorted(found.data["entity"]) == ["LOCATION", "PERSON", "PHONE"]  # John Smith, New York, 202-555-0121
    # Presidio's own redacted output of ocr_bounding_box.png: every pixel it painted, we paint too
    original = read_image(res / "ocr_bounding_box.png").rgb
    theirs = np.abs(original.astype(int) - read_image(res / "ocr_bounding_box_redacted.png").rgb).max(axis=2) > 60
    _, found = redactor.process(original)
    ours = np.zeros(theirs.shape, bool)
    for x1, y1, x2, y2 in found.xyxy.astype(int):
        ours[y1:y2, x1:x2] = True
    assert ours[theirs].mean() >= 0.99
    assert sorted(found.data["entity"]) == ["LOCATION", "LOCATION", "PERSON", "PERSON"]


def test_no_ocr_jpg_comes_out_unchanged(data_root):
    rgb = read_image(data_root / "docs_presidio" / "resources" / "no_ocr.jpg").rgb
    out, found = text_redactor("auto").process(rgb)
    assert len(found) == 0
    np.testing.assert_array_equal(out, rgb)


def test_eval_text_reports_one_json_object(data_root):
    from typer.testing import CliRunner

    from privis.cli import app

    result = CliRunner().invoke(
        app, ["eval", "text", "--data", str(data_root / "docs_presidio"), "--ocr", "tesseract", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["recall"] == 1.0 and report["precision"] >= 0.9 and report["untouched_negatives"]
    assert [c["case"] for c in report["cases"]] == ["ocr_test.png", "no_ocr.jpg", "rendered_form"]


def test_no_ocr_jpg_written_by_redact_text_has_the_same_pixels(data_root, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from privis.cli import app

    src = data_root / "docs_presidio" / "resources" / "no_ocr.jpg"
    out = tmp_path / "no_ocr.jpg"
    result = CliRunner().invoke(app, ["redact-text", str(src), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(src)))
