"""Re-identification on ordinary photos: does a face hidden as `privis anonymize` hides it still match?

privis finds the faces in each photo and hides them; dlib's recognizer
(`privis.audit.recognizer`) compares each hidden face with a gallery of clear photos of
the candidates (``dlib``), or with a gallery hidden the same way (``dlib-obf``, an
attacker who obfuscates his references too). A probe face counts when the recognizer
names the right person in the clear photo, so the audit measures what obfuscation takes
away, not the recognizer's own misses.

Usage (needs a photo set and dlib)::

    photos = load_photo_set(resolve_dataset("identity"))
    rows = audit_recognizer(photos, [parse_method("clear"), parse_method("pixelate")])
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from privis.audit.methods import MethodSpec, ReidRow, mean_ssim
from privis.audit.recognizer import RECOGNIZER_ATTACKERS, TOLERANCE, FaceRecognizer
from privis.errors import PrivisError

log = logging.getLogger(__name__)


@dataclass
class Photo:
    """One photo of a photo set: its path, train (gallery) or test (probe), who is in it."""

    path: Path
    split: str
    identities: tuple[str, ...]


def load_photo_set(root: str | Path) -> list[Photo]:
    """Photos listed in ``root/labels.csv`` with ``path``, ``split`` (train/test) and
    ``identities`` (names separated by ``;``) columns."""
    root = Path(root)
    labels = root / "labels.csv"
    if not labels.is_file():
        raise PrivisError(f"{root}: no labels.csv (columns path, split, identities) for a recognizer audit")
    with labels.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"path", "split", "identities"} - set(reader.fieldnames or ())
        if missing:
            raise PrivisError(f"{labels}: missing column(s) {', '.join(sorted(missing))}")
        photos = [
            Photo(root / r["path"], r["split"].strip(), tuple(s.strip() for s in r["identities"].split(";") if s))
            for r in reader
        ]
    if not any(p.split == "train" for p in photos) or not any(p.split == "test" for p in photos):
        raise PrivisError(f"{labels}: needs both train (gallery) and test (probe) photos")
    return photos


def is_photo_set(root: str | Path) -> bool:
    """Whether `root` holds a photo set (labels.csv with an ``identities`` column)."""
    labels = Path(root) / "labels.csv"
    if not labels.is_file():
        return False
    with labels.open(newline="") as f:
        return "identities" in (csv.DictReader(f).fieldnames or ())


@dataclass
class _Faces:
    """The faces privis finds in one photo, and who the recognizer says each is (clear)."""

    photo: Photo
    rgb: np.ndarray
    regions: object  # Regions: every face found, all of them hidden as `privis anonymize` would
    keep: np.ndarray  # indices of the faces the audit scores
    truth: list[str]


def _nearest(descriptors: np.ndarray, gallery: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Per descriptor, the nearest gallery person and the (N, people) distances (min over their photos)."""
    people = list(gallery)
    dist = np.stack(
        [np.linalg.norm(descriptors[:, None] - gallery[p][None], axis=2).min(axis=1) for p in people], axis=1
    )
    return [people[j] for j in dist.argmin(axis=1)], dist


def score_distances(dist: np.ndarray, right: np.ndarray, tolerance: float = TOLERANCE) -> tuple[float, float, float]:
    """Top-1, top-5 and matched share from (N, people) distances and each row's right column.

    Ties share the credit (a fully filled face is equally far from everyone: chance, not a
    hit); *matched* needs the right person nearest and within `tolerance`.

    >>> score_distances(np.array([[0.2, 0.7], [0.5, 0.5]]), np.array([0, 1]))
    (0.75, 1.0, 0.5)
    """
    rows = np.arange(len(right))
    d_right = dist[rows, right]
    nearest = np.isclose(dist, dist.min(axis=1, keepdims=True), rtol=0, atol=1e-6)
    credit = nearest[rows, right] / nearest.sum(axis=1)
    below = (dist < d_right[:, None] - 1e-6).sum(axis=1)
    sole = credit == 1.0
    return float(credit.mean()), float(np.mean(below < 5)), float(np.mean(sole & (d_right < tolerance)))


def _hide(method: MethodSpec, detectors: list, seed: int | None, rgb: np.ndarray, regions, k: int) -> np.ndarray:
    """`rgb` with `regions` hidden by `method` as ``privis anonymize`` would (noise seeded by photo `k`)."""
    from privis.pipeline import Anonymizer

    if method.name == "clear":
        return rgb
    params = dict(method.params)
    if seed is not None:
        params["seed"] = seed + k
    return Anonymizer(detectors=detectors, method=method.name, **params).hide(rgb, regions)


def audit_recognizer(
    photos: Sequence[Photo],
    methods: Sequence[MethodSpec],
    *,
    attackers: Sequence[str] = RECOGNIZER_ATTACKERS,
    repeats: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[ReidRow]:
    """Top-1 identification and the share still within dlib's match threshold of the right
    person (``matched``), per method and attacker; noisy methods are rerun `repeats` times."""
    from privis.media.image import read_image
    from privis.pipeline import Anonymizer

    unknown = sorted(set(attackers) - set(RECOGNIZER_ATTACKERS))
    if unknown:
        raise PrivisError(f"unknown recognizer attacker(s) {', '.join(unknown)}; known: dlib, dlib-obf")
    recognizer = FaceRecognizer()
    finder = Anonymizer()  # privis's default face detector and image policy
    loaded = []
    for photo in photos:
        if not photo.path.is_file():
            raise PrivisError(f"{photo.path}: listed in labels.csv but missing")
        rgb = read_image(photo.path).rgb
        loaded.append((photo, rgb, finder.detect(rgb)))

    def describe(rgb: np.ndarray, regions, idx: np.ndarray) -> np.ndarray:
        return recognizer.describe(rgb, regions.xyxy[idx])

    def biggest(regions) -> np.ndarray:
        areas = (regions.xyxy[:, 2] - regions.xyxy[:, 0]) * (regions.xyxy[:, 3] - regions.xyxy[:, 1])
        return np.array([int(areas.argmax())]) if len(regions) else np.zeros(0, int)

    train = [(p, rgb, r, biggest(r)) for p, rgb, r in loaded if p.split == "train"]
    for p, _, r, _ in train:
        if not len(r):
            log.warning("%s: no face found; left out of the gallery", p.path)

    def gallery_of(show: Callable[[np.ndarray, Any, int], np.ndarray]) -> dict[str, np.ndarray]:
        """Each person's reference descriptors, from their training photos as `show` makes them."""
        refs: dict[str, list[np.ndarray]] = {}
        for k, (p, rgb, r, idx) in enumerate(train):
            if len(idx):
                refs.setdefault(p.identities[0], []).append(describe(show(rgb, r, k), r, idx)[0])
        return {who: np.stack(v) for who, v in refs.items()}

    gallery = gallery_of(lambda rgb, regions, k: rgb)
    if len(gallery) < 2:
        raise PrivisError("the gallery (train photos) needs faces of at least two people")

    probes: list[_Faces] = []
    for p, rgb, r in loaded:
        if p.split != "test" or not len(r):
            continue
        names, dist = _nearest(describe(rgb, r, np.arange(len(r))), gallery)
        keep = [i for i, n in enumerate(names) if n in p.identities and dist[i].min() < TOLERANCE]
        probes.append(_Faces(p, rgb, r, np.array(keep, int), [names[i] for i in keep]))
    n_probes = sum(len(f.keep) for f in probes)
    if not n_probes:
        raise PrivisError("the recognizer names no test face correctly even in clear photos; nothing to audit")
    log.info("%d probe faces recognized in clear, gallery of %d people", n_probes, len(gallery))

    # The best guess that ignores the face: always name the commonest probe identity.
    all_truth = [t for f in probes for t in f.truth]
    chance = max(all_truth.count(t) for t in set(all_truth)) / len(all_truth)
    rows = {(m.label, a): ReidRow(m.label, a, [], [], chance, faces=n_probes) for m in methods for a in attackers}
    for m_i, method in enumerate(methods):
        noisy = method.name == "dp-pixelate"
        for rep in range(repeats if noisy else 1):
            base = (seed + rep) * 100_003 + m_i * 10_007
            hide = partial(_hide, method, finder.detectors, base if noisy else None)
            galleries = {}
            if "dlib" in attackers:
                galleries["dlib"] = gallery
            if "dlib-obf" in attackers:
                galleries["dlib-obf"] = gallery if method.name == "clear" else gallery_of(hide)
            descriptors, truth, clear, hidden_rgb = [], [], [], []
            for k, f in enumerate(probes):
                if len(f.keep):
                    shown = hide(f.rgb, f.regions, 1_000 + k)
                    descriptors.append(describe(shown, f.regions, f.keep))
                    truth.extend(f.truth)
                    clear.append(f.rgb)
                    hidden_rgb.append(shown)
            quality = mean_ssim(clear, hidden_rgb)
            probe_desc = np.concatenate(descriptors)
            for attacker, g in galleries.items():
                _, dist = _nearest(probe_desc, g)
                right = np.array([list(g).index(t) for t in truth])
                top1, top5, matched = score_distances(dist, right)
                row = rows[(method.label, attacker)]
                row.top1.append(top1)
                row.top5.append(top5)
                row.matched.append(matched)
                row.ssim.append(quality)
        if progress:
            progress(f"{method.label}: done")
    return list(rows.values())
