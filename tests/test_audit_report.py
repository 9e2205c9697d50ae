"""`privis audit all`: every audit of one model in one report (issue 22)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from privis.cli import app
from privis.errors import PrivisError

pytest.importorskip("torch")
runner = CliRunner()


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "digits.pt"
    trained = runner.invoke(app, ["train", "digits", "--model", "mlp", "--epochs", "3", "-o", str(path), "-q"])
    assert trained.exit_code == 0, trained.output
    return path


def test_one_report_gathers_every_part_with_its_figure(digits_model, tmp_path):
    from privis.audit.report import audit_all

    out = tmp_path / "report"
    summary = audit_all(digits_model, out, shadows=2, queries=(20, 40), batch_sizes=(1,),
                        options={"inversion": {"steps": 20, "tv": (0.05,), "evaluator_epochs": 1},
                                 "extraction": {"steps": 30}, "gradients": {"trials": 1, "steps": 20}})  # fmt: skip
    assert set(summary) >= {"facts", "findings", "membership", "inversion", "extraction", "gradients"}
    assert len(summary["findings"]) == 5  # membership, inversion, extraction twice (logits, labels), gradients
    files = {p.name for p in out.iterdir()}
    for part in ("membership", "inversion", "extraction", "gradients"):
        assert f"{part}.json" in files and f"{part}.md" in files
    assert {"membership_roc.png", "inversion.png", "extraction.png", "gradients.png"} <= files
    report = (out / "report.md").read_text()
    assert report.startswith("# Privacy audit of digits.pt") and "## Findings" in report
    assert "](extraction.png)" in report and json.loads((out / "report.json").read_text())["facts"]["data"] == "digits"


def test_parts_can_be_chosen_and_unknown_ones_are_refused(digits_model, tmp_path):
    from privis.audit.report import audit_all

    with pytest.raises(PrivisError, match="unknown part"):
        audit_all(digits_model, tmp_path, parts=("membership", "vibes"))
    result = runner.invoke(app, ["audit", "all", str(digits_model), "--out", str(tmp_path / "r"), "--parts",
                                 "extraction", "--queries", "20", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert "extraction" in summary and "membership" not in summary
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "extraction.json", "extraction.md", "extraction.png", "report.json", "report.md"]  # fmt: skip
