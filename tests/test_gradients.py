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
