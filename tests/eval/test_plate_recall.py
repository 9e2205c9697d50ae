"""Issue 6's plate target on plates_openalpr, measured the way the issue states it.

The CLI writes magenta boxes (`--targets plate --method fill --fill-color 255,0,255
--shape box --format png`) and `privis eval plates --outputs` scores the files it wrote.
The measured figures live in benchmarks/plates.py and the README.

Issue 16's rows: the same photos made hard (`privis.audit.harden`), every 4th photo per
kind to keep CI short, and false plate regions on scenes_empty (no car, nobody). The
floors sit a little under what the whole set measured (README, "Plates"), so that a
regression fails here while a subset's sampling noise does not.
"""

import json

import pytest
from typer.testing import CliRunner

from privis.audit.harden import write_hard_set
from privis.cli import app

runner = CliRunner()


def test_plate_recall_and_false_share_from_written_outputs(data_root, tmp_path):
    root = data_root / "plates_openalpr"
    paint = ["--method", "fill", "--fill-color", "255,0,255", "--shape", "box", "--format", "png", "-q"]
    res = runner.invoke(app, ["anonymize", str(root), "-o", str(tmp_path), "--targets", "plate", *paint])
    assert res.exit_code == 0, res.output
    labels = ["--labels", str(root / "labels.csv"), "--images", str(root)]
    res = runner.invoke(app, ["eval", "plates", *labels, "--outputs", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["plates"] == 209
    # The false share counts other cars' unlabelled plates as false; plate-net finds more of them
    # (379 regions on 209 photos) and its turned boxes are wider than PP-OCR's: 0.051 measured
    # (recall 0.981, US 0.960).
    assert summary["recall"] >= 0.96 and summary["false_obfuscated_share"] <= 0.06
    assert set(summary["by_region"]) == {"eu", "us"}
    assert all(r["recall"] >= 0.95 for r in summary["by_region"].values())


# Whole-set recall with the shipped defaults (README): rotate15 0.986, rotate30 0.943,
# fisheye 0.986, night 0.976, far 0.962 (issue 16 asks 0.90 in every row).
HARD_FLOORS = {"rotate15": 0.92, "rotate30": 0.90, "fisheye": 0.90, "night": 0.92, "far": 0.90}


@pytest.mark.parametrize("kind", sorted(HARD_FLOORS))
def test_plate_recall_on_photos_made_hard(data_root, tmp_path, kind):
    root = data_root / "plates_openalpr"
    made = write_hard_set(root / "labels.csv", root, tmp_path, kind, every=4)
    res = runner.invoke(app, ["eval", "plates", "--labels", str(made), "--images", str(tmp_path), "--json", "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["plates"] >= 50
    assert summary["recall"] >= HARD_FLOORS[kind], summary


def test_few_false_plates_on_scenes_without_cars(data_root):
    images = data_root / "scenes_empty" / "images"
    res = runner.invoke(app, ["eval", "plates", "--negatives", str(images), "--json", "-q"])
    assert res.exit_code == 0, res.output
    negatives = json.loads(res.stdout)["negatives"]
    assert negatives["images"] == 33
    assert negatives["false_regions_per_image"] <= 0.3, negatives  # issue 16's limit; measured 0.061 (2 regions)
