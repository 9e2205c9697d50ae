"""Issue 9 on MNIST (../shared/data/mnist): encrypted (CKKS) and secret-shared (3-party MPC) inference
agree with the same model in plaintext. The 1,000-image run, latency and bytes are in
benchmarks/private_inference.py (no timed asserts here)."""

import json

import pytest

pytest.importorskip("tenseal")
pytest.importorskip("mpyc")


def _cli_json(args):
    from typer.testing import CliRunner

    from privis.cli import app

    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_encrypted_inference_matches_plaintext(data_root, monkeypatch):
    monkeypatch.setenv("PRIVIS_DATA", str(data_root))
    summary = _cli_json(["encrypted", "infer", "--dataset", "mnist", "--n", "40", "--json"])
    assert summary["n_images"] == 40 and summary["server"] == "loopback"
    assert summary["agreement"] >= 39 / 40
    assert summary["encrypted_accuracy"] >= 0.95
    assert abs(summary["encrypted_accuracy"] - summary["plaintext_accuracy"]) <= 1 / 40


def test_mpc_agrees_with_plaintext(data_root, monkeypatch):
    monkeypatch.setenv("PRIVIS_DATA", str(data_root))
    summary = _cli_json(["mpc", "--dataset", "mnist", "--n", "30", "--json"])
    assert summary["parties"] == 3 and summary["n_images"] == 30
    assert summary["agreement"] == 1.0
