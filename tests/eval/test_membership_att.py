"""Membership inference on AT&T faces (issue 22's floors for `privis audit membership`): LiRA
tells a plain classifier's 320 training photos from its 80 held-out ones; at ε = 1 it cannot.

Measured with 4 shadows: the plain MLP's best AUC 0.858 (LiRA online), at ε = 1 0.526 (loss).
With 80 non-members no rate at 0.1 % false positives means anything, so the floors are on AUC.
"""

import pytest

from privis.audit.lira import audit_membership
from privis.learn.data import load_image_set
from privis.learn.dp_train import TrainConfig, save_model, train_classifier

pytest.importorskip("opacus")


@pytest.mark.parametrize(("epsilon", "low", "high"), [(None, 0.75, 1.0), (1.0, 0.0, 0.62)])
def test_lira_auc_on_att(data_root, tmp_path, epsilon, low, high):
    data = load_image_set("att", seed=0)
    result = train_classifier(data, TrainConfig(model="mlp", epochs=60, batch_size=64, lr=0.05, epsilon=epsilon))
    path = save_model(tmp_path / "att.pt", result, data)
    report = audit_membership(path, shadows=4)
    best = max(m["auc"] for m in report.attacks.values())
    assert low <= best <= high, {name: m["auc"] for name, m in report.attacks.items()}
