"""A pretrained recognizer (dlib's ResNet) against privis's obfuscation of faces_identity photos."""

import json

import pytest
from typer.testing import CliRunner

from privis.cli import app

runner = CliRunner()


def test_recognizer_names_every_clear_probe_and_no_filled_one(data_root):
    pytest.importorskip("dlib")
    args = ["audit", "reid", "--dataset", str(data_root / "faces_identity"), "--methods", "clear,fill,pixelate"]
    result = runner.invoke(app, [*args, "--attackers", "dlib", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {r["method"]: r for r in report["results"]}
    assert report["people"] == 5 and rows["clear"]["faces"] >= 10
    assert rows["clear"]["top1_mean"] == 1.0 and rows["clear"]["matched_mean"] == 1.0
    # hidden faces are no longer matched to the right person within dlib's threshold
    assert rows["fill"]["matched_mean"] == 0.0
    assert rows["pixelate"]["matched_mean"] <= 0.1
