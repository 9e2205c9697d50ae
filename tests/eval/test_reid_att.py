"""The McPherson et al. attack on faces_att: the issue's targets on one split (the full
audit, 3 splits and all methods, is `privis audit reid --dataset att`)."""

import json

from typer.testing import CliRunner

from privis.cli import app

runner = CliRunner()


def test_cnn_attacker_on_att_meets_the_targets(data_root):
    methods = "clear,pixelate:16,dp-pixelate:eps=0.1"
    args = ["audit", "reid", "--dataset", str(data_root / "faces_att"), "--methods", methods]
    result = runner.invoke(app, [*args, "--attackers", "cnn", "--repeats", "1", "--json"])
    assert result.exit_code == 0, result.output
    top1 = {r["method"]: r["top1_mean"] for r in json.loads(result.stdout)["results"]}
    assert top1["clear"] >= 0.90
    assert top1["pixelate:16"] >= 0.80  # pixelation does not stop a trained attacker
    assert top1["dp-pixelate:eps=0.1"] <= 0.10  # DP-Pix at Fan's setting does
