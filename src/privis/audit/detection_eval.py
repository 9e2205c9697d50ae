"""Anonymization recall: how much of each labelled face ended up obfuscated.

DESIGN.md's measure: a ground-truth box counts as anonymized when at least 90 % of its
pixels are obfuscated in the output. Recall is reported overall and per size bucket,
together with the share of non-ground-truth pixels that were obfuscated anyway (the
price paid for recall). The same code scores privis's own pipeline (the obfuscation
mask it knows) and any tool's output images (pixels painted in a known fill colour).

Precision is counted in regions: each connected patch of the mask is one region, so
privis and another tool's painted output are counted the same way. On a folder of
negatives (images known to hold nothing to find) every region is false; on labelled
images a region touching no labelled box is false, or, where the labels are known to be
incomplete (plates: other visible cars), unknown.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError

MaskFn = Callable[[Path], np.ndarray]
COVERED = 0.9
TOUCHES = 0.1  # a region with this share of its pixels inside a labelled box belongs to it
# Face height buckets in pixels: [lo, hi).
SIZE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<16", 0, 16),
    ("16-32", 16, 32),
    ("32-64", 32, 64),
    ("64-128", 64, 128),
    (">=128", 128, float("inf")),
)


@dataclass
class GroundTruth:
    """Labelled boxes of one image; `ignore` rows count as faces but not towards recall.

    `groups` names each box's group (a plate's region, ``eu`` or ``us``) where the labels say.
    """

    boxes: np.ndarray
    ignore: np.ndarray
    groups: np.ndarray | None = None


def load_box_labels(csv_path: str | Path) -> dict[str, GroundTruth]:
    """Read a labels CSV with columns ``image, x1, y1, x2, y2`` (plus optional flags).

    Rows flagged ``invalid`` (WIDER FACE) or ``ignore`` (dlib) are kept as ignored
    boxes; rows with zero area are ignored too. A ``region`` column (plates: ``eu``,
    ``us``) groups the boxes for recall per group. Image paths are relative to the
    folder given at evaluation time.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise PrivisError(f"labels file not found: {path}")
    rows: dict[str, list[tuple[float, float, float, float, bool, str]]] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"image", "x1", "y1", "x2", "y2"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise PrivisError(f"{path}: expected columns {sorted(need)}, got {reader.fieldnames}")
        grouped = "region" in reader.fieldnames
        for row in reader:
            x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            box = (x1, y1, x2, y2)
            flagged = any(str(row.get(k, "0")).strip() not in ("", "0") for k in ("invalid", "ignore"))
            empty = box[2] <= box[0] or box[3] <= box[1]
            rows.setdefault(row["image"], []).append((*box, flagged or empty, str(row.get("region") or "")))
    return {
        name: GroundTruth(
            np.array([r[:4] for r in items], np.float32),
            np.array([r[4] for r in items], bool),
            np.array([r[5] for r in items], dtype=object) if grouped else None,
        )
        for name, items in rows.items()
    }


def mask_regions(mask: np.ndarray) -> np.ndarray:
    """The connected patches of an (H, W) bool `mask` as (N, 4) boxes x1, y1, x2, y2 (8-connected).

    >>> m = np.zeros((10, 10), bool); m[1:3, 1:4] = True; m[6:9, 6:8] = True
    >>> mask_regions(m).tolist()
    [[1, 1, 4, 3], [6, 6, 8, 9]]
    """
    import cv2

    if not mask.any():
        return np.zeros((0, 4), np.int64)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    x, y, w, h = (stats[1:, k].astype(np.int64) for k in range(4))
    return np.stack([x, y, x + w, y + h], axis=1)


def box_pixels(box: Sequence[float], height: int, width: int) -> tuple[int, int, int, int]:
    """The pixels a labelled box stands for: coordinates rounded, at least one pixel."""
    x1, y1 = int(round(box[0])), int(round(box[1]))
    x2, y2 = max(int(round(box[2])), x1 + 1), max(int(round(box[3])), y1 + 1)
    return max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)


def coverage(mask: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction of each box's pixels that are set in the (H, W) bool `mask`."""
    h, w = mask.shape
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    out = np.zeros(len(boxes))
    for i, box in enumerate(boxes):
        x1, y1, x2, y2 = box_pixels(box, h, w)
        if x2 <= x1 or y2 <= y1:
            continue
        inside = integral[y2, x2] - integral[y1, x2] - integral[y2, x1] + integral[y1, x1]
        out[i] = inside / ((x2 - x1) * (y2 - y1))
    return out


@dataclass
class RecallReport:
    """Accumulates per-image results; `summary()` gives the figures."""

    covered: list[float] = field(default_factory=list)
    heights: list[float] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    noun: str = "faces"
    false_pixels: int = 0
    background_pixels: int = 0
    images: int = 0
    failed: list[str] = field(default_factory=list)
    unlabelled: str = "false"  # what a region touching no labelled box counts as: "false" or "unknown"
    stray_heights: list[float] = field(default_factory=list)  # regions touching no labelled box
    regions: int = 0
    megapixels: float = 0.0
    seconds: float = 0.0

    def add(self, mask: np.ndarray, truth: GroundTruth, seconds: float = 0.0) -> None:
        """Score one image's obfuscation `mask` against its labelled boxes (none, for a negative)."""
        h, w = mask.shape
        gt_union = np.zeros((h, w), bool)
        for box in truth.boxes:
            x1, y1, x2, y2 = box_pixels(box, h, w)
            gt_union[y1:y2, x1:x2] = True
        keep = ~truth.ignore
        self.covered.extend(coverage(mask, truth.boxes[keep]).tolist())
        self.heights.extend((truth.boxes[keep, 3] - truth.boxes[keep, 1]).tolist())
        self.groups.extend([""] * int(keep.sum()) if truth.groups is None else truth.groups[keep].tolist())
        self.false_pixels += int(np.count_nonzero(mask & ~gt_union))
        self.background_pixels += int(np.count_nonzero(~gt_union))
        regions = mask_regions(mask)
        inside = coverage(gt_union, regions) if len(regions) else np.zeros(0)
        stray = regions[inside < TOUCHES]
        self.stray_heights.extend((stray[:, 3] - stray[:, 1]).tolist())
        self.regions += len(regions)
        self.megapixels += h * w / 1e6
        self.seconds += seconds
        self.images += 1

    def summary(self) -> dict[str, object]:
        """Recall overall, per height bucket and per group (where labelled), plus the false-obfuscated share."""
        cov = np.asarray(self.covered)
        hts = np.asarray(self.heights)
        groups = np.asarray(self.groups, dtype=object)
        hit = cov >= COVERED
        noun = self.noun

        def recall(sel: np.ndarray) -> dict[str, Any]:
            n = int(sel.sum())
            return {noun: n, "recall": round(float(hit[sel].mean()), 4) if n else None}

        by_group = {str(g): recall(groups == g) for g in sorted(set(self.groups)) if g}
        return {
            "images": self.images,
            noun: int(len(cov)),
            "recall": round(float(hit.mean()), 4) if len(cov) else None,
            "by_height": {name: recall((hts >= lo) & (hts < hi)) for name, lo, hi in SIZE_BUCKETS},
            **({"by_region": by_group} if by_group else {}),
            **self.precision(),
            "failed": list(self.failed),
        }

    def precision(self) -> dict[str, Any]:
        """Regions touching no labelled box: how many, per image and per megapixel, by height;
        and the share of pixels outside every labelled box that were obfuscated anyway."""
        stray = np.asarray(self.stray_heights)
        n = len(stray)
        out: dict[str, Any] = {
            "false_obfuscated_share": round(self.false_pixels / max(self.background_pixels, 1), 4),
            "regions": self.regions,
            "megapixels": round(self.megapixels, 2),
            f"{self.unlabelled}_regions": n,
            f"{self.unlabelled}_regions_per_image": round(n / max(self.images, 1), 3),
            f"{self.unlabelled}_regions_per_megapixel": round(n / max(self.megapixels, 1e-9), 3),
            f"{self.unlabelled}_regions_by_height": {
                name: int(((stray >= lo) & (stray < hi)).sum()) for name, lo, hi in SIZE_BUCKETS
            },
        }
        if self.seconds:
            out["ms_per_megapixel"] = round(1000 * self.seconds / max(self.megapixels, 1e-9), 1)
        return out


def evaluate(
    labels: dict[str, GroundTruth],
    images_root: str | Path,
    mask_for: Callable[[Path], np.ndarray],
    *,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
    noun: str = "faces",
    unlabelled: str = "false",
    timed: bool = True,
) -> RecallReport:
    """Score `mask_for(image_path)` (the obfuscated pixels) on every labelled image;
    `noun` names the labelled things in the summary (``faces``, ``plates``), and
    `unlabelled` what a region touching no label counts as (``false`` or ``unknown``).
    `timed` reports ms per megapixel (off when `mask_for` only reads files another tool wrote)."""
    root = Path(images_root)
    if not root.is_dir():
        raise PrivisError(f"images folder not found: {root}")
    report = RecallReport(noun=noun, unlabelled=unlabelled)
    names: Iterable[str] = sorted(labels)
    for name in progress(names) if progress else names:
        start = time.perf_counter()
        try:
            mask = mask_for(root / name)
        except PrivisError as exc:
            report.failed.append(f"{name}: {exc}")
            continue
        report.add(mask, labels[name], time.perf_counter() - start if timed else 0.0)
    return report


def negative_images(folder: str | Path) -> dict[str, GroundTruth]:
    """Every image under `folder` (recursive), each with no labelled box: a folder of negatives."""
    from privis.media.image import IMAGE_SUFFIXES

    root = Path(folder)
    if not root.is_dir():
        raise PrivisError(f"negatives folder not found: {root}")
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith("."))  # fmt: skip
    if not names:
        raise PrivisError(f"{root}: no images to use as negatives")
    empty = GroundTruth(np.zeros((0, 4), np.float32), np.zeros(0, bool))
    return dict.fromkeys(names, empty)


def find_output(path: Path) -> Path:
    """The output file for a source `path`: the same relative path, any image suffix."""
    for cand in [path, *(path.with_suffix(s) for s in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tiff"))]:
        if cand.is_file():
            return cand
    raise PrivisError(f"no output found for {path}")


def painted_outputs(images_root: str | Path, outputs_root: str | Path, color: Sequence[int]) -> MaskFn:
    """A `mask_for` reading another tool's output files: patches it painted exactly in `color`.

    Outputs mirror the sources' relative paths; their suffix may differ (e.g. PNG out).
    """
    from privis.media.image import read_image

    images_root, outputs_root = Path(images_root), Path(outputs_root)

    def mask_for(path: Path) -> np.ndarray:
        out_file = find_output(outputs_root / path.relative_to(images_root))
        src = read_image(path).rgb
        got = read_image(out_file).rgb
        if got.shape != src.shape:
            raise PrivisError(f"{out_file}: size {got.shape[:2]} differs from the source {src.shape[:2]}")
        return changed_patches(fill_mask(got, color), fill_mask(src, color))

    return mask_for


def pipeline_masks(anonymizer: Any) -> MaskFn:
    """A `mask_for` running an `Anonymizer` in memory and taking the pixels it would hide."""
    from privis.media.image import read_image

    def mask_for(path: Path) -> np.ndarray:
        rgb = read_image(path).rgb
        return anonymizer.hidden_mask(anonymizer.detect(rgb), *rgb.shape[:2])

    return mask_for


def changed_patches(painted: np.ndarray, already: np.ndarray) -> np.ndarray:
    """The patches of `painted` (8-connected) holding at least one pixel not `already` that colour.

    A patch the tool never touched (pure black shadows, for a tool that paints black)
    is not a region it hid; pixels already the colour inside a painted patch stay in it.

    >>> p = np.zeros((6, 6), bool); p[0:2, 0:2] = True; p[4:6, 4:6] = True
    >>> a = np.zeros((6, 6), bool); a[0:2, 0:2] = True; a[4, 4] = True
    >>> changed_patches(p, a).sum()
    np.int64(4)
    """
    import cv2

    if not (painted & already).any():
        return painted
    n, labels = cv2.connectedComponents(painted.astype(np.uint8), connectivity=8)
    touched = np.zeros(n, bool)
    touched[np.unique(labels[painted & ~already])] = True
    touched[0] = False
    return touched[labels]


def fill_mask(image: np.ndarray, color: Sequence[int]) -> np.ndarray:
    """Pixels of an RGB `image` painted exactly in `color` (how another tool's output is read)."""
    return np.all(image[..., :3] == np.asarray(color, image.dtype), axis=-1)


def leak_rate(
    video: str | Path, truth: Sequence[np.ndarray], color: Sequence[int], *, tolerance: int = 40
) -> dict[str, object]:
    """Share of (face, frame) pairs left visible in an anonymized `video` (DESIGN.md).

    `truth[i]` holds frame i's boxes. A face counts as hidden when at least 90 % of
    its pixels are within `tolerance` of the fill `color` (codecs blur exact colours).
    """
    import av

    pairs = leaked = frames = 0
    target = np.asarray(color, np.int16)
    with av.open(str(video)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= len(truth):
                break
            rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
            mask = np.all(np.abs(rgb - target) <= tolerance, axis=-1)
            cov = coverage(mask, truth[i])
            pairs += len(cov)
            leaked += int((cov < COVERED).sum())
            frames += 1
    if frames != len(truth):
        raise PrivisError(f"{video}: {frames} frames decoded, {len(truth)} expected")
    return {"frames": frames, "pairs": pairs, "leaked": leaked, "leak_rate": round(leaked / max(pairs, 1), 4)}
