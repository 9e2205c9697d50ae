"""Recall floors on real labelled faces and false regions on photos of nobody (issues 2 and 16).

The CLI writes magenta boxes (`--method fill --fill-color 255,0,255 --shape box
--format png`) and `privis eval faces --outputs` scores the files it wrote. Floors only:
the measured figures and the comparison with deface live in benchmarks/faces.py.

WIDER's false-obfuscated share was capped at 0.08 when images used a 1.3 margin; with
deface's 1.6 (needed for turned heads on AFW's real-resolution photos) and twice the
faces deface hides, it is 0.108 against deface's 0.078: each hidden face's margin counts
as false there. False regions are the precision measure that says what a user sees.
"""

import json

import pytest
from typer.testing import CliRunner

from privis.cli import app

runner = CliRunner()

FLOORS = {  # set: (min recall, max false-obfuscated share)
    "faces_dlib": (0.98, None),
    "faces_masks": (0.98, None),
    "faces_wider": (0.73, 0.12),
    "faces_afw": (0.99, None),
}
MAX_FALSE_PER_IMAGE = 0.1  # scenes_empty: deface paints 12 regions per photo, privis 0


@pytest.mark.parametrize("name", list(FLOORS))
def test_recall_from_written_outputs(data_root, tmp_path, name):
    root = data_root / name
    out = tmp_path / "images"
    res = runner.invoke(
        app,
        [
            "anonymize",
            str(root / "images"),
            "-o",
            str(out),
            "--method",
            "fill",
            "--fill-color",
            "255,0,255",
            "--shape",
            "box",
            "--format",
            "png",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [
            "eval",
            "faces",
            "--labels",
            str(root / "labels.csv"),
            "--images",
            str(root),
            "--outputs",
            str(tmp_path),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    min_recall, max_false = FLOORS[name]
    assert summary["recall"] >= min_recall, summary
    if max_false is not None:
        assert summary["false_obfuscated_share"] <= max_false, summary


def test_no_false_faces_on_photos_of_nobody(data_root, tmp_path):
    images = data_root / "scenes_empty" / "images"
    out = tmp_path / "empty"
    paint = ["--method", "fill", "--fill-color", "255,0,255", "--shape", "box", "--format", "png", "-q"]
    res = runner.invoke(app, ["anonymize", str(images), "-o", str(out), *paint])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["eval", "faces", "--negatives", str(images), "--negative-outputs", str(out), "--json"])
    assert res.exit_code == 0, res.output
    negatives = json.loads(res.stdout)["negatives"]
    assert negatives["images"] == 33
    assert negatives["false_regions_per_image"] <= MAX_FALSE_PER_IMAGE, negatives


def test_in_memory_eval_matches_written_outputs(data_root):
    """`privis eval faces` without --outputs runs the same pipeline in memory."""
    root = data_root / "faces_dlib"
    res = runner.invoke(app, ["eval", "faces", "--labels", str(root / "labels.csv"), "--images", str(root), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["recall"] >= 0.98
