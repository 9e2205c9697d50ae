"""`privis.audit.membership` on a user's own torch model and data, not one privis trained."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def _overfit(x: np.ndarray, y: np.ndarray, seed: int = 0) -> torch.nn.Module:
    """The user's own recipe: a wide MLP trained long on few images, so it memorizes them."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_an_overfit_model_leaks_membership_and_the_report_says_how_shadows_were_trained():
    from privis.audit import membership

    x, y = _digits()
    train, test = (x[:200], y[:200]), (x[200:400], y[200:400])
    model = _overfit(*train)
    calls = []
    report = membership(model, train, test, train=lambda xs, ys: calls.append(len(xs)) or _overfit(xs, ys, 1),
                        shadows=4)  # fmt: skip
    s = report.summary()
    assert calls == [200] * 4 and s["members"] == 200 and s["non_members"] == 200
    assert s["attacks"]["lira-online"]["auc"] > 0.6 and s["attacks"]["loss"]["auc"] > 0.55, s["attacks"]
    assert s["shadow_training"] == "yours (train=)"


def test_without_a_recipe_shadows_are_reset_copies_and_a_dataset_works():
    from torch.utils.data import TensorDataset

    from privis.audit import membership
    from privis.errors import PrivisError

    x, y = _digits()
    model = _overfit(x[:100], y[:100])
    members = TensorDataset(torch.from_numpy(x[:100]), torch.from_numpy(y[:100]))
    report = membership(model, members, (x[100:200], y[100:200]), shadows=2, epochs=2)
    assert report.summary()["shadow_training"].startswith("a reset copy")
    with pytest.raises(PrivisError, match="differ in shape"):
        membership(model, (x[:10], y[:10]), (x[:10, :32], y[:10]), shadows=2)
    with pytest.raises(PrivisError, match="pair"):
        membership(model, 5, (x[:10], y[:10]), shadows=2)
