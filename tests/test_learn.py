"""DP-SGD training (Opacus) and the membership-inference audit, on scikit-learn's digits."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.cli import app
from privis.errors import PrivisError

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

runner = CliRunner()


@pytest.fixture(scope="module")
def digits():
    from privis.learn.data import load_image_set

    return load_image_set("digits", seed=0)


def test_digits_split_is_seeded_and_disjoint(digits):
    from privis.learn.data import load_image_set

    again = load_image_set("digits", seed=0)
    assert (digits.train == again.train).all() and not set(digits.train) & set(digits.test)
    assert digits.shape == (1, 8, 8) and len(digits.train) + len(digits.test) == 1797


def test_non_private_and_private_training_report_what_they_spent(digits):
    from privis.learn.dp_train import TrainConfig, train_classifier

    plain = train_classifier(digits, TrainConfig(epochs=6, batch_size=64, lr=0.1))
    assert plain.test_accuracy > 0.8 and plain.epsilon is None
    private = train_classifier(digits, TrainConfig(epochs=3, batch_size=128, epsilon=2.0, delta=1e-5))
    eps = [row["epsilon"] for row in private.history]
    assert eps == sorted(eps) and 0 < eps[-1] <= 2.0 + 1e-2  # spent per epoch, up to the target
    assert private.noise_multiplier > 0.5


def test_weighted_sampler_is_refused_under_dp():
    from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

    from privis.learn.dp_train import PrivateTrainer

    ds = TensorDataset(torch.zeros(8, 1, 8, 8), torch.zeros(8, dtype=torch.long))
    loader = DataLoader(ds, batch_size=4, sampler=WeightedRandomSampler([1.0] * 8, 8))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(PrivisError, match="opacus#813"):
        PrivateTrainer(model, opt, loader, epsilon=1.0, delta=1e-5, epochs=1)


def test_batchnorm_is_refused_under_dp():
    from torch.utils.data import DataLoader, TensorDataset

    from privis.learn.dp_train import PrivateTrainer

    ds = TensorDataset(torch.zeros(8, 1, 8, 8), torch.zeros(8, dtype=torch.long))
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(144, 2))  # fmt: skip
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(PrivisError, match="cannot be trained with DP-SGD"):
        PrivateTrainer(model, opt, DataLoader(ds, batch_size=4), epsilon=1.0, delta=1e-5, epochs=1)


def test_models_have_no_batchnorm():
    from opacus.validators import ModuleValidator

    from privis.learn.models import create_model

    for name in ("small-cnn", "resnet-gn"):
        for shape in ((1, 28, 28), (3, 32, 32), (1, 8, 8)):
            model = create_model(name, shape, 10)
            assert not ModuleValidator.validate(model, strict=False)
            assert model(torch.zeros(2, *shape)).shape == (2, 10)


def test_logit_confidence_and_loss_match_direct_formulas():
    from privis.audit.lira import cross_entropy, logit_confidence

    logits = np.array([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    labels = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    py = p[np.arange(2), labels]
    assert np.allclose(logit_confidence(logits, labels), np.log(py / (1 - py)))
    assert np.allclose(cross_entropy(logits, labels), -np.log(py))


def test_lira_separates_members_that_score_higher_when_trained_on():
    from privis.audit.lira import attack_metrics, lira_scores

    rng = np.random.default_rng(0)
    n, k = 2000, 16
    base = rng.normal(0, 2, n)  # how easy each image is
    inside = rng.random((k, n)) < 0.5
    shadow = base + 1.0 * inside + rng.normal(0, 0.3, (k, n))
    member = rng.random(n) < 0.5
    target = base + 1.0 * member + rng.normal(0, 0.3, n)
    scores = lira_scores(target, shadow, inside)
    online = attack_metrics(scores["lira-online"], member)
    naive = attack_metrics(target, member)  # the score alone, without shadows
    assert online["auc"] > 0.9 > naive["auc"]
    assert online["tpr_at_1%_fpr"] > 0.3
    lo, hi = online["tpr_at_1%_fpr_ci95"]
    assert lo <= online["tpr_at_1%_fpr"] <= hi


def test_tpr_at_fpr_and_its_interval_on_a_known_case():
    from privis.audit.lira import attack_metrics, tpr_at_fpr

    member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    scores = np.r_[np.arange(1000) + 995.0, np.arange(1000.0)]  # 5 non-members above the lowest members
    assert tpr_at_fpr(scores, member, 0.01) == 1.0
    assert tpr_at_fpr(scores, member, 0.001) == pytest.approx(0.996)  # 1 non-member over: 996 members above it
    chance = attack_metrics(np.random.default_rng(1).random(2000), member)
    lo, hi = chance["tpr_at_1%_fpr_ci95"]
    assert lo <= 0.01 <= hi and 0.4 < chance["auc"] < 0.6


def test_cli_train_save_and_audit(tmp_path):
    model = tmp_path / "digits.pt"
    res = runner.invoke(app, ["train", "digits", "--epochs", "3", "--batch-size", "64", "--out", str(model), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    for key in ("test_accuracy", "epsilon", "delta", "epochs", "seconds_per_epoch"):
        assert key in summary
    assert summary["saved"] == str(model)
    res = runner.invoke(app, ["train", "digits", "--epochs", "1", "--out", str(model)])
    assert res.exit_code != 0 and "exists" in res.output  # never overwritten unless asked
    out = tmp_path / "audit"
    res = runner.invoke(app, ["audit", "membership", str(model), "--shadows", "2", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert set(report["attacks"]) == {"lira-online", "lira-offline", "loss"}
    for attack in report["attacks"].values():
        assert {"auc", "tpr_at_0.1%_fpr", "tpr_at_1%_fpr"} <= set(attack)
    assert (out / "membership_roc.png").read_bytes()[:4] == b"\x89PNG"


def test_load_model_rejects_other_files(tmp_path):
    from privis.learn.dp_train import load_model

    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(PrivisError, match="not a privis model"):
        load_model(bad)
    with pytest.raises(PrivisError, match="not found"):
        load_model(tmp_path / "missing.pt")


def test_a_private_model_comes_back_without_opacus_hooks(digits):
    from privis.learn.dp_train import TrainConfig, train_classifier

    result = train_classifier(digits, TrainConfig(model="mlp", epochs=1, batch_size=256, epsilon=2.0))
    model = result.model
    assert type(model).__name__ != "GradSampleModule"
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.zeros(2, *digits.shape, requires_grad=True)
    model(x).sum().backward()  # Opacus' hooks, left in place, fail here ("pop from empty list")
    assert x.grad is not None


def test_model_data_gives_the_split_a_model_was_trained_on(digits, tmp_path):
    from privis.learn.data import model_data
    from privis.learn.dp_train import TrainConfig, load_model, save_model, train_classifier

    result = train_classifier(digits, TrainConfig(model="mlp", epochs=1, batch_size=256))
    _, meta = load_model(save_model(tmp_path / "m.pt", result, digits))
    assert model_data(meta).train.tolist() == digits.train.tolist()
    meta["data"]["train"] = meta["data"]["train"][1:]
    with pytest.raises(PrivisError, match="no longer splits"):
        model_data(meta)
