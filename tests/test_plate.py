import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("rapidocr")


def _street():
    """A grey scene with a plate (black characters on a white plate) and a long sign line."""
    img = Image.new("RGB", (960, 540), (90, 95, 100))
    draw = ImageDraw.Draw(img)
    draw.rectangle((380, 380, 600, 432), fill="white", outline="black", width=3)
    draw.text((398, 386), "AB12 CDE", fill="black", font=ImageFont.load_default(size=36))
    draw.text((40, 40), "Opening hours are from nine in the morning until late evening", fill="white",
              font=ImageFont.load_default(size=22))  # fmt: skip
    return np.asarray(img)


def test_plate_text_finds_the_plate_and_not_a_long_sign_line():
    from privis.detect import create_detector

    found = create_detector("plate-text")(_street())
    assert list(found.label) == ["plate"]
    x1, y1, x2, y2 = found.xyxy[0]
    assert x1 < 420 and x2 > 560 and y1 < 400 and y2 > 410  # over the characters


def test_targets_plate_through_the_anonymizer():
    import privis

    out, regions = privis.Anonymizer(targets="plate", method="fill", shape="box").process(_street())
    assert len(regions) == 1 and out[405, 480].max() < 10


def test_eval_plates_reports_recall_by_height_and_region(tmp_path):
    import json

    from typer.testing import CliRunner

    from privis.cli import app

    for region in ("eu", "us"):
        (tmp_path / region).mkdir()
        Image.fromarray(_street()).save(tmp_path / region / "street.png")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "image,region,x1,y1,x2,y2,plate\n"
        "eu/street.png,eu,380,380,600,432,AB12 CDE\n"
        "us/street.png,us,100,200,160,230,NOT THERE\n"
    )
    result = CliRunner().invoke(app, ["eval", "plates", "--labels", str(labels), "--images", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["plates"] == 2 and summary["recall"] == 0.5
    assert summary["by_region"] == {"eu": {"plates": 1, "recall": 1.0}, "us": {"plates": 1, "recall": 0.0}}
    assert summary["by_height"]["32-64"] == {"plates": 1, "recall": 1.0}
    assert summary["by_height"]["16-32"] == {"plates": 1, "recall": 0.0}


def test_a_plate_tilted_30_degrees_is_covered_whole():
    from privis.audit.harden import harden
    from privis.detect import create_detector

    img, boxes = harden(_street(), np.array([[380.0, 380, 600, 432]]), "rotate30")
    found = create_detector("plate-text", tilts=(30, -30))(img)
    assert len(found) >= 1
    gx1, gy1, gx2, gy2 = boxes[0]
    grown = found.expand(1.3, pad=1)  # the plate margin the anonymizer adds
    inside = (grown.xyxy[:, 0] <= gx1 + 8) & (grown.xyxy[:, 1] <= gy1 + 8)
    assert (inside & (grown.xyxy[:, 2] >= gx2 - 8) & (grown.xyxy[:, 3] >= gy2 - 8)).any()


def test_a_plate_at_night_is_found_after_stretching_the_dark_frame():
    from privis.detect import create_detector
    from privis.detect.plate_text import brighten

    street = _street()
    dark = (street.astype(np.float32) * 0.12).astype(np.uint8)
    assert brighten(dark, 70.0).max() > 200 and brighten(street, 70.0) is street
    found = create_detector("plate-text")(dark)
    assert len(found) == 1 and found.xyxy[0, 0] < 420 and found.xyxy[0, 2] > 560
