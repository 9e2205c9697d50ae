"""Audits: how well privis hides (recall, leaks) and what obfuscated faces and trained models still leak.

The main jobs, each one call:

- `reidentify`: can an attacker still tell who is behind faces hidden by each method?
- `membership`: does a trained model give away who was in its training set?

>>> import numpy as np, torch
>>> rng = np.random.default_rng(0)
>>> x, y = rng.normal(size=(64, 8)).astype(np.float32), rng.integers(0, 2, 64)
>>> model = torch.nn.Linear(8, 2)
>>> report = membership(model, (x[:32], y[:32]), (x[32:], y[32:]), shadows=2, epochs=1)
>>> sorted(report.summary()["attacks"])
['lira-offline', 'lira-online', 'loss']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privis.audit.lira import MembershipReport
from privis.audit.methods import REID_METHODS, ReidRow, parse_method, reid_table, split_methods


@dataclass
class ReidReport:
    """A re-identification audit's result: the data set, how many people, one row per method and attacker."""

    dataset: str
    people: int
    rows: list[ReidRow]

    def summary(self) -> dict[str, Any]:
        """Plain figures: the data set, people, and each row's top-1, top-5, SSIM (and matched)."""
        return {"dataset": self.dataset, "people": self.people, "results": [r.summary() for r in self.rows]}

    def table(self) -> str:
        """The rows as an aligned text table."""
        return reid_table([r.summary() for r in self.rows])

    def write(self, out: str | Path) -> list[Path]:
        """reid.csv, reid.json and the plots, under `out`."""
        from privis.audit.reid import write_outputs

        return write_outputs(self.rows, Path(out))


def membership(
    model: Any,
    train_data: Any,
    test_data: Any,
    *,
    train: Callable[[Any, Any], Any] | None = None,
    shadows: int = 16,
    epochs: int = 10,
    seed: int = 0,
    on_shadow: Callable[[int], None] | None = None,
) -> MembershipReport:
    """Membership inference (LiRA online and offline, the loss baseline) against your own torch
    classifier `model`, trained on `train_data` and not on `test_data` (torch Datasets of
    (image, label), or pairs of arrays). Give `train` (``(x, y) -> model``) to train the
    shadow models exactly as you trained `model`; see `privis.audit.lira.audit_model`.
    The report's `summary()` gives AUC and TPR at 0.1 % and 1 % FPR per attack."""
    from privis.audit.lira import audit_model

    return audit_model(model, train_data, test_data, train=train, shadows=shadows, epochs=epochs, seed=seed,
                       on_shadow=on_shadow)  # fmt: skip


def reidentify(
    dataset: str | Path,
    methods: str | Sequence[str] = REID_METHODS,
    *,
    attackers: Sequence[str] | None = None,
    repeats: int = 3,
    n_train: int = 5,
    epochs: int = 40,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> ReidReport:
    """Attack faces hidden by each of `methods` (``"clear,blur,pixelate:16,dp-pixelate:eps=1"``).

    `dataset` is a folder of aligned faces (``labels.csv`` or a folder per person), a photo
    set (``labels.csv`` with ``identities``: privis finds and hides the faces, dlib's
    recognizer attacks), or a built-in name (``att``, ``identity``) under ``$PRIVIS_DATA``.
    Attackers default to ``cnn, pca-svm, naive`` on aligned faces, ``dlib, dlib-obf`` on photos.
    """
    from privis.audit.reid import audit_reid, load_face_set
    from privis.audit.reid_photos import audit_recognizer, is_photo_set, load_photo_set
    from privis.datasets import resolve_dataset

    names = split_methods(methods) if isinstance(methods, str) else list(methods)
    specs = [parse_method(m) for m in names]
    root = resolve_dataset(str(dataset))
    if is_photo_set(root):
        photos = load_photo_set(root)
        rows = audit_recognizer(photos, specs, attackers=attackers or ("dlib", "dlib-obf"), repeats=repeats,
                                seed=seed, progress=progress)  # fmt: skip
        people = len({who for p in photos for who in p.identities})
    else:
        faces = load_face_set(root)
        rows = audit_reid(faces, specs, attackers=attackers or ("cnn", "pca-svm", "naive"), repeats=repeats,
                          n_train=n_train, epochs=epochs, seed=seed, progress=progress)  # fmt: skip
        people = faces.n_people
    return ReidReport(str(dataset), people, rows)


__all__ = ["MembershipReport", "ReidReport", "membership", "reidentify"]
