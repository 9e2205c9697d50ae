"""Audits: how well privis hides (recall, leaks) and what obfuscated faces and trained models still leak.

The main jobs, each one call:

- `reidentify`: can an attacker still tell who is behind faces hidden by each method?
- `privis.audit.membership.audit_membership`: does a trained model give away who was in its training set?
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


__all__ = ["ReidReport", "reidentify"]
