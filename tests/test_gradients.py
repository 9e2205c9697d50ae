"""Reconstruction from a client's update (DLG): what each defence leaves (issue 22, gradients)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.cli import app

pytest.importorskip("torch")
runner = CliRunner()


def test_ssim_is_one_for_a_copy_and_near_zero_for_noise() -> None:
    from privis.audit.gradients import ssim

    rng = np.random.default_rng(0)
    img = np.kron(rng.random((7, 7)), np.ones((4, 4)))  # 28x28 blocks
    assert ssim(img, img) == pytest.approx(1.0)
    assert abs(ssim(img, rng.random((28, 28)))) < 0.1


def test_defences_change_what_the_server_holds() -> None:
    import torch

    from privis.audit.gradients import defended

    own = [torch.full((3,), 4.0), torch.full((2,), 3.0)]
    other = [torch.ones(3), torch.ones(2)]
    assert [g.tolist() for g in defended(own, "secagg", others=[other])] == [[5.0] * 3, [4.0] * 2]
    clipped = defended(own, "dp", clip=1.0, sigma=0.0)
    assert float(torch.sqrt(sum((g * g).sum() for g in clipped))) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="scenario"):
        defended(own, "nothing")


def test_one_digit_is_rebuilt_from_its_update_and_not_from_a_sum_of_ten(tmp_path) -> None:
    res = runner.invoke(app, ["audit", "gradients", "digits", "--batch-sizes", "1", "--trials", "2", "--steps", "200",
                              "--json", "--out", str(tmp_path), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = {r["scenario"]: r for r in json.loads(res.output)["rows"]}
    assert rows["plain"]["ssim_mean"] > 0.6
    assert rows["secagg"]["ssim_mean"] < 0.3 and rows["dp"]["ssim_mean"] < 0.3
    assert (tmp_path / "gradients.png").stat().st_size > 0 and (tmp_path / "gradients.md").exists()


def test_the_cosine_attack_is_blind_to_the_updates_scale() -> None:
    import torch

    from privis.audit.gradients import lenet, reconstruct, update

    torch.manual_seed(0)
    model = lenet((1, 8, 8), 10)
    x, y = torch.rand(1, 1, 8, 8) * 2 - 1, torch.tensor([3])
    grad = update(model, x, y)
    big = reconstruct(model, grad, y, (1, 8, 8), steps=20, attack="cosine")
    clipped = reconstruct(model, [g * 0.01 for g in grad], y, (1, 8, 8), steps=20, attack="cosine")
    assert torch.allclose(big, clipped, atol=1e-4)  # clipping alone hides nothing from it


def test_a_flower_round_records_what_the_strategy_receives_after_client_clipping() -> None:
    import torch

    from privis.audit.gradients import flower_round, update
    from privis.learn.data import load_image_set

    model, held = flower_round(load_image_set("digits"), batch=1, clients=2, scenario="dp", clip=1e-3, sigma=1.0)
    assert len(held) == 2
    for grad, x, y in held:
        true = torch.cat([g.reshape(-1) for g in update(model, x, y)])
        got = torch.cat([g.reshape(-1) for g in grad])
        assert float(torch.nn.functional.cosine_similarity(got, true, dim=0)) > 0.999  # the client's own direction
        # clipped by the client's mod; the server adds its noise after aggregating
        assert float(got.norm()) == pytest.approx(1e-3, rel=1e-3)
    with pytest.raises(ValueError, match="scenario"):
        flower_round(load_image_set("digits"), batch=1, clients=2, scenario="nothing")
