"""Re-identification audit: can an attacker still tell who is behind an obfuscated face?

Follows McPherson, Shokri and Shmatikov (2016, "Defeating Image Obfuscation with Deep
Learning"): each person's images are split into train and test, both are obfuscated
with the method under audit, an attacker is trained on the obfuscated training images
and scored (top-1, top-5) on the obfuscated test images, over repeated splits. The
"naive" attacker is trained on clear images and tested on obfuscated ones, as a
tool that tests protection that way would; it overstates the protection.

The methods under audit are `privis.audit.methods.MethodSpec`; photos rather than aligned
faces are audited by `privis.audit.reid_photos`.
"""

from __future__ import annotations

import csv
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from privis.audit.methods import MethodSpec, ReidRow, mean_ssim, parse_method
from privis.errors import PrivisError

log = logging.getLogger(__name__)

ATTACKERS = ("cnn", "pca-svm", "naive", "dlib", "dlib-obf")
# dlib: a pretrained recognizer with clear references; dlib-obf: its references obfuscated the same way.


@dataclass
class FaceSet:
    """Grey face images of equal size with an identity per image."""

    images: np.ndarray  # (N, H, W) uint8
    labels: np.ndarray  # (N,) int, 0..n_people-1
    people: list[str]

    @property
    def n_people(self) -> int:
        return len(self.people)


def load_face_set(root: str | Path) -> FaceSet:
    """Faces from `root`: a ``labels.csv`` with ``path`` and ``subject_id`` columns, or one
    folder per person. Images are read as grey and must share one size."""
    from privis.media.image import read_image

    root = Path(root)
    labels_csv = root / "labels.csv"
    if labels_csv.is_file():
        with labels_csv.open(newline="") as f:
            rows = [(r["path"], r["subject_id"]) for r in csv.DictReader(f)]
    else:
        rows = [(str(p.relative_to(root)), p.parent.name) for p in sorted(root.glob("*/*")) if p.is_file()]
    if not rows:
        raise PrivisError(f"{root}: no labels.csv and no per-person folders of images")
    people = sorted({who for _, who in rows}, key=lambda s: (len(s), s))
    index = {who: i for i, who in enumerate(people)}
    images = []
    for rel, _ in rows:
        rgb = read_image(root / rel).rgb
        images.append((rgb @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8))
    if len({im.shape for im in images}) != 1:
        raise PrivisError(f"{root}: images differ in size; the audit needs one size (crop and resize first)")
    return FaceSet(np.stack(images), np.array([index[who] for _, who in rows]), people)


def split(labels: np.ndarray, n_train: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per person, `n_train` random images for training and the rest for testing."""
    train: list[int] = []
    test: list[int] = []
    for person in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == person))
        if len(idx) <= n_train:
            raise PrivisError(f"person {person} has {len(idx)} images; need more than {n_train}")
        train.extend(idx[:n_train])
        test.extend(idx[n_train:])
    return np.array(train), np.array(test)


def topk(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Share of rows whose true class is among the `k` highest scores."""
    best = np.argsort(-scores, axis=1)[:, :k]
    return float((best == truth[:, None]).any(axis=1).mean())


# --- attackers: fit on (images, labels), return class scores for test images -------------


def pca_svm_scores(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int) -> np.ndarray:
    """Eigenfaces (PCA, whitened) and a linear SVM: the classical face recognizer."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    flat = train_x.reshape(len(train_x), -1).astype(np.float32) / 255
    n = min(60, len(flat) - 1)
    model = make_pipeline(
        StandardScaler(), PCA(n, whiten=True, random_state=seed), LinearSVC(C=0.1, random_state=seed, max_iter=5000)
    )
    with warnings.catch_warnings():  # a fully filled face has no variance to explain
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(flat, train_y)
    return model.decision_function(test_x.reshape(len(test_x), -1).astype(np.float32) / 255)


class CnnAttacker:
    """A small CNN trained from scratch on the (obfuscated) training faces, as in McPherson et al.

    Three conv blocks and a linear layer on the 7x6 feature map (faces are aligned, so
    where a feature is matters); random shifts and flips stretch five images per person.
    """

    def __init__(self, n_classes: int, *, epochs: int = 60, size: tuple[int, int] = (56, 48), seed: int = 0):
        self.n_classes, self.epochs, self.size, self.seed = n_classes, epochs, size, seed

    def _tensor(self, images: np.ndarray):  # -> torch.Tensor (N, 1, h, w) in [0, 1]
        import cv2
        import torch

        h, w = self.size
        small = np.stack([cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA) for im in images])
        return torch.from_numpy(small.astype(np.float32) / 255).unsqueeze(1)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> CnnAttacker:
        import torch
        from torch import nn

        torch.manual_seed(self.seed)

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

        self.net = nn.Sequential(
            *block(1, 16), *block(16, 32), *block(32, 64), nn.Flatten(),
            nn.Dropout(0.3), nn.Linear(64 * (self.size[0] // 8) * (self.size[1] // 8), self.n_classes),
        )  # fmt: skip
        x, y = self._tensor(images), torch.from_numpy(labels.astype(np.int64))
        opt = torch.optim.AdamW(self.net.parameters(), lr=3e-3, weight_decay=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=self.epochs * -(-len(x) // 16))
        gen = torch.Generator().manual_seed(self.seed)
        self.net.train()
        for _ in range(self.epochs):
            for batch in torch.randperm(len(x), generator=gen).split(16):
                xb = _augment(x[batch], gen)
                loss = nn.functional.cross_entropy(self.net(xb), y[batch], label_smoothing=0.1)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        return self

    def scores(self, images: np.ndarray) -> np.ndarray:
        import torch

        self.net.eval()
        with torch.no_grad():
            return self.net(self._tensor(images)).numpy()


def _augment(x, gen):  # random shifts of up to 3 px and horizontal flips
    import torch

    n = len(x)
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dy, dx = (int(v) for v in torch.randint(-3, 4, (2,), generator=gen))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


# --- the audit -----------------------------------------------------------------------------


def audit_reid(
    faces: FaceSet,
    methods: Sequence[MethodSpec],
    *,
    attackers: Iterable[str] = ATTACKERS[:3],
    repeats: int = 3,
    n_train: int = 5,
    epochs: int = 60,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[ReidRow]:
    """Top-1 and top-5 of each attacker against each method over `repeats` random splits."""
    attackers = list(attackers)
    unknown = sorted(set(attackers) - set(ATTACKERS))
    if unknown:
        raise PrivisError(f"unknown attacker(s) {', '.join(unknown)}; known: {', '.join(ATTACKERS)}")
    if repeats < 1:
        raise PrivisError(f"repeats must be >= 1, got {repeats}")
    rows = {(m.label, a): ReidRow(m.label, a, [], [], 1 / faces.n_people) for m in methods for a in attackers}
    recognizer: Any = None
    if {"dlib", "dlib-obf"} & set(attackers):
        from privis.audit.recognizer import FaceRecognizer, describe_aligned, reference_scores

        recognizer = FaceRecognizer()
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        train, test = split(faces.labels, n_train, rng)
        y_train, y_test = faces.labels[train], faces.labels[test]
        naive: Any = None
        # the recognizer's descriptors of the clear training faces serve every method of this split
        clear_refs: Any = describe_aligned(recognizer, faces.images[train]) if "dlib" in attackers else None
        if "naive" in attackers:
            naive = CnnAttacker(faces.n_people, epochs=epochs, seed=seed + r).fit(faces.images[train], y_train)
        for m_i, method in enumerate(methods):
            t = time.perf_counter()
            base = (seed + r) * 100_003 + m_i * 10_007  # distinct noise per split and method
            x_train = np.stack([method.apply(im, base + i) for i, im in enumerate(faces.images[train])])
            x_test = np.stack([method.apply(im, base + 5_000 + i) for i, im in enumerate(faces.images[test])])
            quality = mean_ssim(faces.images[test], x_test)
            test_descriptors: Any = describe_aligned(recognizer, x_test) if recognizer is not None else None
            for attacker in attackers:
                if attacker == "cnn":
                    s = CnnAttacker(faces.n_people, epochs=epochs, seed=seed + r).fit(x_train, y_train).scores(x_test)
                elif attacker == "pca-svm":
                    s = pca_svm_scores(x_train, y_train, x_test, seed + r)
                elif attacker in ("dlib", "dlib-obf"):
                    refs = clear_refs if attacker == "dlib" else describe_aligned(recognizer, x_train)
                    s = reference_scores(refs, y_train, test_descriptors, faces.n_people)
                else:
                    s = naive.scores(x_test)
                row = rows[(method.label, attacker)]
                row.top1.append(topk(s, y_test, 1))
                row.top5.append(topk(s, y_test, 5))
                row.ssim.append(quality)
            if progress:
                progress(f"split {r + 1}/{repeats} {method.label}: {time.perf_counter() - t:.1f} s")
    return list(rows.values())


def write_outputs(rows: Sequence[ReidRow], out: Path) -> list[Path]:
    """``reid.csv``, ``reid.json``, ``reid_methods.png`` and, with DP-Pix rows, ``reid_epsilon.png``."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    summaries = [r.summary() for r in rows]
    with (out / "reid.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(summaries[0]))
        w.writeheader()
        w.writerows(summaries)
    (out / "reid.json").write_text(json.dumps(summaries, indent=1))
    written = [out / "reid.csv", out / "reid.json"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chance = summaries[0]["chance_top1"]

    def save(fig, ax, name: str) -> None:  # what both plots share: chance line, axis, file
        ax.axhline(chance, color="k", ls="--", lw=1, label="chance")
        ax.set_ylabel("top-1 re-identification")
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")  # outside: bars reach 1.0
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        written.append(out / name)

    methods = list(dict.fromkeys(s["method"] for s in summaries))
    attackers = list(dict.fromkeys(s["attacker"] for s in summaries))
    by = {(s["method"], s["attacker"]): s for s in summaries}
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(methods)), 4))
    width = 0.8 / len(attackers)
    for i, a in enumerate(attackers):
        xs = np.arange(len(methods)) + i * width
        means = [by[m, a]["top1_mean"] for m in methods]
        ax.bar(xs, means, width, yerr=[by[m, a]["top1_sd"] for m in methods], label=a)
    ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2, methods, rotation=30, ha="right")
    save(fig, ax, "reid_methods.png")

    dp = [s for s in summaries if s["method"].startswith("dp-pixelate")]
    if dp:
        fig, ax = plt.subplots(figsize=(5, 4))
        for a in attackers:
            eps = [(parse_method(s["method"]).params["epsilon"], s["top1_mean"]) for s in dp if s["attacker"] == a]
            ax.plot(*zip(*sorted(eps), strict=True), marker="o", label=a)
        ax.set_xscale("log")
        ax.set_xlabel("ε (DP-Pix)")
        save(fig, ax, "reid_epsilon.png")
    return written
