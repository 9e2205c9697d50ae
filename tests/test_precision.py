"""Precision beside recall: regions counted the same way for privis and for another tool's painted outputs."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from privis.audit.detection_eval import GroundTruth, RecallReport, mask_regions, negative_images
from privis.cli import app
from privis.errors import PrivisError

runner = CliRunner()


def _truth(*boxes):
    return GroundTruth(np.array(boxes, np.float32).reshape(-1, 4), np.zeros(len(boxes), bool))


def test_a_region_touching_no_label_is_false_and_one_on_a_label_is_not():
    mask = np.zeros((100, 200), bool)
    mask[10:40, 10:40] = True  # on the labelled face
    mask[60:70, 150:170] = True  # stray: 10 px tall
    mask[0:50, 100:130] = True  # stray: 50 px tall
    report = RecallReport()
    report.add(mask, _truth((12, 12, 38, 38)), seconds=0.02)
    s = report.summary()
    assert s["recall"] == 1.0 and s["regions"] == 3 and s["false_regions"] == 2
    assert s["false_regions_per_image"] == 2.0 and s["false_regions_per_megapixel"] == 100.0
    assert s["false_regions_by_height"] == {"<16": 1, "16-32": 0, "32-64": 1, "64-128": 0, ">=128": 0}
    assert s["ms_per_megapixel"] == 1000.0


def test_where_labels_are_incomplete_a_stray_region_is_unknown():
    mask = np.zeros((50, 50), bool)
    mask[5:10, 5:20] = True
    report = RecallReport(noun="plates", unlabelled="unknown")
    report.add(mask, _truth((30, 30, 45, 40)))
    s = report.summary()
    assert s["unknown_regions"] == 1 and "false_regions" not in s and s["recall"] == 0.0


def test_touching_regions_are_one_and_an_empty_mask_has_none():
    mask = np.zeros((20, 20), bool)
    mask[2:6, 2:6] = mask[6:9, 6:9] = True  # diagonal neighbours: one patch
    assert len(mask_regions(mask)) == 1
    assert mask_regions(np.zeros((5, 5), bool)).shape == (0, 4)


def test_negative_images_lists_every_image_and_refuses_an_empty_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.jpg", "sub/b.png", ".hidden.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    negatives = negative_images(tmp_path)
    assert sorted(negatives) == ["a.jpg", "sub/b.png"] and all(len(t.boxes) == 0 for t in negatives.values())
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrivisError, match="no images"):
        negative_images(tmp_path / "empty")


def test_eval_faces_reports_false_regions_on_negatives_for_privis_and_for_outputs(tmp_path, astronaut):
    faces, empty, outs, empty_outs = (tmp_path / n for n in ("faces", "empty", "outs", "empty_outs"))
    for d in (faces, empty, outs, empty_outs):
        d.mkdir()
    Image.fromarray(astronaut).save(faces / "a.png")
    (tmp_path / "labels.csv").write_text("image,x1,y1,x2,y2\na.png,185,65,265,170\n")
    Image.fromarray(np.full((300, 400, 3), 128, np.uint8)).save(empty / "grey.png")
    base = ["eval", "faces", "--labels", str(tmp_path / "labels.csv"), "--images", str(faces), "--negatives",
            str(empty), "--json"]  # fmt: skip
    res = runner.invoke(app, base)
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["recall"] == 1.0 and s["negatives"]["images"] == 1 and s["negatives"]["false_regions"] == 0
    assert s["negatives"]["megapixels"] == 0.12 and s["ms_per_megapixel"] > 0

    # Another tool's outputs: one painted square on the negative is one false region.
    painted = np.full((300, 400, 3), 128, np.uint8)
    painted[10:50, 10:50] = (255, 0, 255)
    Image.fromarray(painted).save(empty_outs / "grey.png")
    Image.fromarray(astronaut).save(outs / "a.png")
    res = runner.invoke(app, [*base, "--outputs", str(outs), "--negative-outputs", str(empty_outs)])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["negatives"]["false_regions"] == 1 and s["negatives"]["false_regions_by_height"]["32-64"] == 1
    assert "ms_per_megapixel" not in s  # reading files says nothing about a detector's speed
    res = runner.invoke(app, [*base, "--outputs", str(outs)])
    assert res.exit_code == 2 and "--negative-outputs" in res.output


def test_eval_plates_on_negatives_alone_and_one_line_errors(tmp_path):
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(tmp_path / "wall.png")
    res = runner.invoke(app, ["eval", "plates", "--negatives", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["labels"] is None and s["negatives"]["false_regions"] == 0 and "recall" not in s
    res = runner.invoke(app, ["eval", "plates", "--negatives", str(tmp_path)])
    assert "false regions 0" in res.stdout
    for args, why in ((["eval", "faces"], "--negatives"), (["eval", "faces", "--labels", "x.csv"], "go together")):
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and why in res.output


def test_harden_maps_boxes_through_each_warp():
    from privis.audit.harden import HARD_KINDS, harden

    img = np.zeros((200, 300, 3), np.uint8)
    img[90:110, 130:170] = 255  # the "plate"
    box = np.array([[130.0, 90, 170, 110]])
    for kind in HARD_KINDS:
        out, moved = harden(img, box, kind, seed=1)
        x1, y1, x2, y2 = np.round(moved[0]).astype(int)
        bright = np.argwhere(out.max(axis=2) > 60)
        if kind == "night":
            assert out[90:110, 130:170].mean() < 255 / 3 and np.allclose(moved, box)
            continue
        (ty1, tx1), (ty2, tx2) = bright.min(axis=0), bright.max(axis=0)
        assert abs(tx1 - x1) <= 2 and abs(ty1 - y1) <= 2 and abs(tx2 - x2) <= 2 and abs(ty2 - y2) <= 2, kind
    far, moved = harden(img, box, "far")
    assert 12 <= moved[0, 3] - moved[0, 1] <= 20


def test_write_hard_set_keeps_regions_and_rejects_unknown_kinds(tmp_path):
    import csv

    import pytest
    from PIL import Image

    from privis.audit.harden import harden, write_hard_set

    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("image,region,x1,y1,x2,y2,plate\na.png,eu,10,10,50,30,X\n")
    target = write_hard_set(tmp_path / "labels.csv", tmp_path, tmp_path / "out", "rotate15")
    rows = list(csv.DictReader(target.open()))
    assert rows[0]["region"] == "eu" and "plate" not in rows[0] and (tmp_path / "out" / "a.png").exists()
    with pytest.raises(ValueError, match="unknown hard kind"):
        harden(np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4)), "upside-down")
