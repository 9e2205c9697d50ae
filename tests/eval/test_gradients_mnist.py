"""DLG on MNIST: a plain update gives the client's image back; SecAgg+ sums and DP updates give noise (issue 22)."""

from __future__ import annotations

import pytest


def test_dlg_floors_on_mnist(data_root) -> None:  # noqa: ANN001
    pytest.importorskip("torch")
    from privis.audit.gradients import audit_gradients
    from privis.learn.data import load_image_set

    rows = {(r["scenario"], r["batch"]): r for r in audit_gradients(load_image_set("mnist"), batch_sizes=(1,),
                                                                     trials=3).rows}  # fmt: skip
    assert rows[("plain", 1)]["ssim_mean"] >= 0.8
    assert rows[("secagg", 1)]["ssim_mean"] <= 0.1
    assert rows[("dp", 1)]["ssim_mean"] <= 0.1


def test_the_cosine_attack_on_updates_a_real_flower_round_delivers(data_root) -> None:  # noqa: ANN001
    pytest.importorskip("flwr")
    from privis.audit.gradients import audit_gradients
    from privis.learn.data import load_image_set

    report = audit_gradients(load_image_set("mnist"), batch_sizes=(1,), scenarios=("plain", "secagg"), trials=2,
                             clients=3, steps=400, attack="cosine", via="flower")  # fmt: skip
    rows = {r["scenario"]: r for r in report.rows}
    assert rows["plain"]["ssim_mean"] >= 0.3  # FedAvg's received parameters give the digit back (0.47 in the benchmark)
    assert rows["secagg"]["ssim_mean"] <= 0.15  # the sum of three gives none of them
