"""Issue 6's plate target on plates_openalpr, measured the way the issue states it.

The CLI writes magenta boxes (`--targets plate --method fill --fill-color 255,0,255
--shape box --format png`) and `privis eval plates --outputs` scores the files it wrote.
The measured figures live in benchmarks/plates.py and the README.
"""

import json

from typer.testing import CliRunner

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
    assert summary["recall"] >= 0.90 and summary["false_obfuscated_share"] <= 0.05
    assert set(summary["by_region"]) == {"eu", "us"}
    assert all(r["recall"] >= 0.85 for r in summary["by_region"].values())
