"""Model extraction: oracles, substitutes and the audit's curve (issue 22)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.cli import app
from privis.errors import PrivisError

torch = pytest.importorskip("torch")
runner = CliRunner()


@pytest.fixture(scope="module")
def digits_model():
    from privis.learn.data import load_image_set
    from privis.learn.dp_train import TrainConfig, train_classifier

    data = load_image_set("digits", seed=0)
    return data, train_classifier(data, TrainConfig(model="mlp", epochs=15, batch_size=128)).model


def test_oracles_answer_what_they_are_named_for(digits_model):
    from privis.audit.extraction import plain_oracle
    from privis.learn.dp_train import predict_logits

    data, model = digits_model
    x = data.x[:5]
    logits = predict_logits(model, x)
    assert np.allclose(plain_oracle(model)(x), logits)
    assert (plain_oracle(model, "labels")(x) == logits.argmax(1)).all()
    assert np.allclose(plain_oracle(model, "rounded:1")(x), np.round(logits, 1))
    with pytest.raises(PrivisError, match="unknown answer"):
        plain_oracle(model, "probabilities")
    with pytest.raises(PrivisError, match="rounded takes"):
        plain_oracle(model, "rounded:x")


def test_a_substitute_learns_the_target_from_its_answers_and_more_from_scores(digits_model):
    from privis.audit.extraction import audit_extraction, plain_oracle

    data, model = digits_model
    oracles = {"logits": plain_oracle(model), "labels": plain_oracle(model, "labels")}
    report = audit_extraction(model, data, oracles, counts=(10, 150), substitute="mlp", steps=300)
    got = {(r["answers"], r["queries"]): r["agreement"] for r in report.rows}
    assert got["logits", 150] >= 0.8 and got["labels", 150] >= 0.7
    assert got["logits", 150] > got["logits", 10] and got["labels", 150] > got["labels", 10]
    assert {r["served_accuracy"] for r in report.rows} == {report.rows[0]["served_accuracy"]}  # labels cost nothing
    with pytest.raises(PrivisError, match="query pool"):
        audit_extraction(model, data, oracles, counts=(10_000,))


def test_cli_prints_one_json_object_and_writes_the_curve(tmp_path):
    model = tmp_path / "digits.pt"
    trained = runner.invoke(app, ["train", "digits", "--model", "mlp", "--epochs", "3", "-o", str(model), "-q"])
    assert trained.exit_code == 0, trained.output
    args = ["audit", "extraction", str(model), "--answers", "logits,rounded:0", "--queries", "20,40", "--steps", "50"]
    result = runner.invoke(app, [*args, "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert [(r["answers"], r["queries"]) for r in summary["rows"]] == [
        ("logits", 20), ("logits", 40), ("rounded:0", 20), ("rounded:0", 40)]  # fmt: skip
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"extraction.md", "extraction.json", "extraction.png"}
    bad = runner.invoke(app, [*args[:3], "--queries", "many"])
    assert bad.exit_code != 0 and "--queries takes integers" in bad.output
    wrong = runner.invoke(app, [*args[:3], "--answers", "encrypted"])  # an mlp cannot run on ciphertexts
    assert wrong.exit_code != 0 and "Traceback" not in wrong.output
