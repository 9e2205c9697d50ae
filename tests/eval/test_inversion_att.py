"""Model inversion on AT&T faces (issue 22): a plain classifier draws its people well enough for an
independent classifier to name them; at ε = 1 the drawings name nobody.

benchmarks/inversion.py measured (40 people, chance 0.025): the plain MLP's reconstructions
named at top-1 0.550 [0.400, 0.700], the nearest training photo the person's own for 0.975;
at ε = 1, 0.025 [0.000, 0.075] and 0.025. The floors leave room for another CPU's arithmetic.
"""

import pytest

from privis.audit.inversion import audit_inversion
from privis.learn.data import load_image_set
from privis.learn.dp_train import TrainConfig, train_classifier

pytest.importorskip("torch")


def test_plain_faces_are_named_and_dp_faces_are_not(data_root):
    data = load_image_set(data_root / "faces_att" / "orl_faces", seed=0)
    models = []
    for label, eps in (("plain", None), ("eps1", 1.0)):
        result = train_classifier(data, TrainConfig(model="mlp", epochs=60, batch_size=64, lr=0.05, epsilon=eps))
        models.append((label, result.model, {"summary": result.summary(), "config": {"model": "mlp"}}))
    plain, private = audit_inversion(models, data).rows
    assert plain["test_accuracy"] >= 0.85
    assert plain["top1"] >= 0.3 and plain["top1_ci"][0] >= 4 * plain["chance_top1"]
    assert plain["nn_identified"] >= 0.8 and plain["ssim_gap"] >= 0.15
    assert not plain["accuracy_high_ssim_low"]
    assert private["epsilon"] <= 1.0
    assert private["top1"] <= 0.1 and private["nn_identified"] <= 0.15 and private["ssim_gap"] <= 0.05
