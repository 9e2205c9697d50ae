"""Model inversion (MI-Face): the attack, its scores and the flag for a fooled evaluator (issue 22)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.cli import app

pytest.importorskip("torch")
runner = CliRunner()


def test_inversion_gives_images_in_range_and_leaves_the_model_as_it_was() -> None:
    import torch

    from privis.audit.inversion import invert

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    net.train()
    rec = invert(net, np.array([0, 2]), (1, 8, 8), steps=30)
    assert rec.shape == (2, 1, 8, 8) and rec.min() >= 0 and rec.max() <= 1
    assert all(p.requires_grad for p in net.parameters())
    logits = net((torch.from_numpy(rec) - 0.5) / 0.5)
    assert logits.argmax(1).tolist() == [0, 2]  # each image is drawn towards its class


class _Oracle:
    """An evaluator that names image k as person k whatever it shows."""

    test_accuracy = 1.0

    def scores(self, images: np.ndarray) -> np.ndarray:
        return np.eye(len(images), 4)


def _people() -> object:
    from privis.learn.data import ImageSet

    rng = np.random.default_rng(0)
    faces = np.kron(rng.random((4, 1, 4, 4)), np.ones((1, 1, 6, 6)))  # four smooth 24×24 "people"
    x = np.concatenate([np.clip(faces + rng.normal(0, 0.05, faces.shape), 0, 1) for _ in range(5)]).astype(np.float32)
    y = np.tile(np.arange(4), 5)
    return ImageSet("toy", x, y, [f"p{k}" for k in range(4)], np.arange(16), np.arange(16, 20), 0), faces


def test_scores_tell_a_likeness_from_noise_the_evaluator_names() -> None:
    from privis.audit.inversion import score

    data, faces = _people()
    alike = score(faces.astype(np.float32), np.arange(4), data, _Oracle())
    assert alike["top1"] == 1.0 and alike["nn_identified"] == 1.0 and alike["ssim_gap"] > 0.3
    assert not alike["accuracy_high_ssim_low"]
    noise = np.random.default_rng(1).random((4, 1, 24, 24)).astype(np.float32)
    fooled = score(noise, np.arange(4), data, _Oracle())
    assert fooled["top1"] == 1.0 and fooled["accuracy_high_ssim_low"]
    lo, hi = fooled["ssim_gap_ci"]
    assert lo <= fooled["ssim_gap"] <= hi


def test_bootstrap_interval_covers_the_mean() -> None:
    from privis.audit.inversion import bootstrap

    values = np.r_[np.zeros(20), np.ones(20)]
    lo, hi = bootstrap(values)
    assert lo < 0.5 < hi and hi - lo < 0.4


def test_cli_inverts_a_saved_model_and_prints_one_json_object(tmp_path) -> None:
    model = tmp_path / "digits.pt"
    trained = runner.invoke(app, ["train", "digits", "--model", "mlp", "--epochs", "3", "--batch-size", "128",
                                  "-o", str(model), "-q", "--json"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    args = ["audit", "inversion", str(model), "--steps", "30", "--tv", "0.05,1", "--evaluator-epochs", "2"]
    result = runner.invoke(app, [*args, "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    (row,) = summary["rows"]
    assert row["model"] == "digits" and row["people"] == 10 and row["tv"] in (0.05, 1.0)
    assert set(row["top1_per_tv"]) == {"0.05", "1.0"}
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"inversion.md", "inversion.json", "inversion.png"}
    bad = runner.invoke(app, [*args[:3], "--tv", "smooth"])
    assert bad.exit_code != 0 and "--tv takes numbers" in bad.output
