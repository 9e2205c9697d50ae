"""`Regions`: the things found in one frame, held column-wise, plus box geometry.

A frame's regions travel together from detectors through the tracker and policy to the
obfuscator and the audit log. Holding them column-wise (one array per field, like
supervision's ``Detections``) keeps geometry vectorized and slicing consistent.

Examples
--------
>>> import numpy as np
>>> r = Regions(np.array([[10, 10, 30, 40]]), label=["face"], score=[0.9])
>>> len(r), r.label[0]
(1, 'face')
>>> r.expand(1.5).xyxy.tolist()
[[5.0, 2.5, 35.0, 47.5]]
>>> faces = Regions.merge([r, Regions.empty()])
>>> len(faces[faces.score > 0.5])
1
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from privis.errors import PrivisError

__all__ = ["Region", "Regions", "box_iou"]


def _as_column(value: Any, n: int, name: str, dtype: Any) -> np.ndarray | None:
    """`value` as an (n,) array of `dtype`, or None."""
    return None if value is None else _column(value, n, name, dtype)


def _column(value: Any, n: int, name: str, dtype: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.shape != (n,):
        raise PrivisError(f"Regions.{name} must have shape ({n},), got {arr.shape}")
    return arr


@dataclass(init=False, eq=False)
class Regions:
    """Regions of one frame: boxes plus optional per-row fields.

    Parameters
    ----------
    xyxy : array-like, shape (n, 4)
        Boxes as ``x1, y1, x2, y2`` in pixels of the frame (float32).
    label : sequence of str, optional
        What each region is: ``"face"``, ``"plate"``, ``"text"``, ``"person"``...
        Defaults to ``"face"`` for every row.
    score : array-like, shape (n,), optional
        Detector confidence in [0, 1].
    mask : sequence of (H, W) bool arrays or None, optional
        Pixel masks over the whole frame, when a detector gives them (a person's
        outline); None for rows that are hidden by their box. An (n, H, W) bool array
        is accepted too. Held as an object array of length n.
    track_id : array-like, shape (n,) int, optional
        Identity across frames, set by the tracker.
    source : sequence of str, optional
        Name of the detector that produced each row.
    data : dict of str to array-like of length n
        Per-row extras (e.g. landmarks); sliced together with the rows.
    meta : dict
        Per-frame facts (pts, source file); not sliced.
    """

    xyxy: np.ndarray  # (n, 4) float32
    label: np.ndarray  # (n,) object: str
    score: np.ndarray | None  # (n,) float32
    mask: np.ndarray | None  # (n,) object: (H, W) bool or None
    track_id: np.ndarray | None  # (n,) int64
    source: np.ndarray | None  # (n,) object: str
    data: dict[str, np.ndarray]
    meta: dict[str, Any]

    def __init__(
        self,
        xyxy: Any,
        label: Sequence[str] | np.ndarray | None = None,
        score: Sequence[float] | np.ndarray | None = None,
        mask: Sequence[np.ndarray | None] | np.ndarray | None = None,
        track_id: Sequence[int] | np.ndarray | None = None,
        source: Sequence[str] | np.ndarray | None = None,
        data: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        boxes = np.asarray(xyxy, dtype=np.float32)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise PrivisError(f"Regions.xyxy must have shape (n, 4), got {boxes.shape}")
        self.xyxy = boxes
        n = len(boxes)
        labels = ["face"] * n if label is None else list(label)
        self.label = _column(np.array(labels, dtype=object), n, "label", object)
        self.score = _as_column(score, n, "score", np.float32)
        self.track_id = _as_column(track_id, n, "track_id", np.int64)
        self.source = None if source is None else _column(np.array(list(source), dtype=object), n, "source", object)
        self.mask = None if mask is None else _as_masks(mask, n)
        self.data = {}
        for key, value in (data or {}).items():
            arr = np.asarray(value)
            if len(arr) != n:
                raise PrivisError(f"Regions.data[{key!r}] must have {n} rows, got {len(arr)}")
            self.data[key] = arr
        self.meta = dict(meta or {})

    @classmethod
    def empty(cls) -> Regions:
        """No regions (a frame where nothing was found)."""
        return cls(np.zeros((0, 4), np.float32), label=[], score=np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __iter__(self) -> Iterator[Region]:
        for i in range(len(self)):
            yield self.row(i)

    def __getitem__(self, index: Any) -> Regions:
        """Rows selected by a boolean mask, int, slice or index array; a str reads `data`."""
        if isinstance(index, str):
            return self.data[index]  # type: ignore[return-value]
        if isinstance(index, (int, np.integer)):
            index = [int(index)]

        def take(col: np.ndarray | None) -> np.ndarray | None:
            return None if col is None else col[index]

        return Regions(
            self.xyxy[index],
            label=take(self.label),
            score=take(self.score),
            mask=take(self.mask),
            track_id=take(self.track_id),
            source=take(self.source),
            data={k: v[index] for k, v in self.data.items()},
            meta=dict(self.meta),
        )

    def row(self, i: int) -> Region:
        """The i-th region as a plain `Region`."""
        return Region(
            box=tuple(float(v) for v in self.xyxy[i]),  # type: ignore[arg-type]
            label=str(self.label[i]),
            score=None if self.score is None else float(self.score[i]),
            track_id=None if self.track_id is None else int(self.track_id[i]),
            source=None if self.source is None else str(self.source[i]),
        )

    @classmethod
    def merge(cls, parts: Sequence[Regions]) -> Regions:
        """Concatenate the regions of one frame from several detectors.

        Empty parts are dropped; the others must agree on which optional fields they have.
        A `data` column that only some parts carry (the entity type of text, a face's
        landmarks) is NaN (numbers) or None in the others.
        """
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        if any(p.source is None for p in parts) and any(p.source is not None for p in parts):
            # which detector found a region is informative only; unknown where a detector does not say
            parts = [p if p.source is not None else p._with_source([""] * len(p)) for p in parts]
        if any(p.mask is not None for p in parts):  # boxes-only rows where a detector gives no outline
            parts = [p if p.mask is not None else p._with_masks(np.full(len(p), None, dtype=object)) for p in parts]
        for name in ("score", "track_id"):
            has = {getattr(p, name) is None for p in parts}
            if len(has) > 1:
                raise PrivisError(f"Regions.merge: field {name!r} is set in some parts and not in others")
        keys = sorted({k for p in parts for k in p.data})

        def column(p: Regions, k: str) -> np.ndarray:  # NaN or None where a detector has no such column
            if k in p.data:
                return p.data[k]
            ref = next(q.data[k] for q in parts if k in q.data)
            if np.issubdtype(ref.dtype, np.floating):
                return np.full((len(p), *ref.shape[1:]), np.nan, dtype=ref.dtype)
            return np.full((len(p), *ref.shape[1:]), None, dtype=object)

        def cat(name: str) -> np.ndarray | None:
            cols = [getattr(p, name) for p in parts]
            return None if cols[0] is None else np.concatenate(cols)

        return cls(
            np.concatenate([p.xyxy for p in parts]),
            label=cat("label"),
            score=cat("score"),
            mask=cat("mask"),
            track_id=cat("track_id"),
            source=cat("source"),
            data={k: np.concatenate([column(p, k) for p in parts]) for k in keys},
            meta=dict(parts[0].meta),
        )

    # ----------------------------------------------------------------- geometry
    @property
    def width(self) -> np.ndarray:
        return self.xyxy[:, 2] - self.xyxy[:, 0]

    @property
    def height(self) -> np.ndarray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    @property
    def area(self) -> np.ndarray:
        return np.clip(self.width, 0, None) * np.clip(self.height, 0, None)

    def _with_source(self, source: Sequence[str]) -> Regions:
        return Regions(
            self.xyxy, label=self.label, score=self.score, mask=self.mask, track_id=self.track_id,
            source=source, data=dict(self.data), meta=dict(self.meta),
        )  # fmt: skip

    def _with_masks(self, mask: np.ndarray | None) -> Regions:
        out = self[np.arange(len(self))]
        out.mask = None if mask is None else _as_masks(mask, len(self))
        return out

    def mask_of(self, i: int) -> np.ndarray | None:
        """Row `i`'s (H, W) pixel mask, or None where the row is hidden by its box."""
        return None if self.mask is None else self.mask[i]

    def without_masks(self) -> Regions:
        """The same rows hidden by their boxes: for a box carried to frames its outline was not seen in."""
        return self if self.mask is None else self._with_masks(None)

    def dilate_masks(self, radius: float | np.ndarray) -> Regions:
        """Grow each row's mask by `radius` pixels (one value or one per row); rows without masks are kept."""
        if self.mask is None:
            return self
        radius = np.broadcast_to(np.asarray(radius, np.float32), (len(self),))
        grown = self.mask.copy()
        for i, m in enumerate(self.mask):
            r = int(np.ceil(radius[i] - 1e-3))  # float32 margins land a hair above whole pixels
            if m is None or r <= 0:
                continue
            grown[i] = _dilate(m, r)
        return self._with_masks(grown)

    def with_boxes(self, xyxy: np.ndarray) -> Regions:
        """The same rows with other (n, 4) boxes (a region carried to another frame)."""
        out = self[np.arange(len(self))]
        out.xyxy = xyxy.astype(np.float32)
        return out

    def expand(self, scale: float | np.ndarray, *, pad: float | np.ndarray = 0.0) -> Regions:
        """Grow (or shrink) each box around its centre by `scale` in width and height.

        `pad` then adds that many pixels on every side, so that tiny boxes,
        whose position is least certain (a few px), still get a margin. Either may be
        one value per region.
        """
        scale, pad = np.asarray(scale, np.float32), np.asarray(pad, np.float32)
        if (scale <= 0).any():
            raise PrivisError(f"expand scale must be > 0, got {scale}")
        if (pad < 0).any():
            raise PrivisError(f"pad must be >= 0, got {pad}")
        c = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        half = (self.xyxy[:, 2:] - self.xyxy[:, :2]) / 2
        half = half * (scale[:, None] if scale.ndim else scale) + (pad[:, None] if pad.ndim else pad)
        return self.with_boxes(np.concatenate([c - half, c + half], axis=1))

    def scale(self, sx: float, sy: float | None = None) -> Regions:
        """Map boxes to a resized frame (multiply x by `sx`, y by `sy`)."""
        sy = sx if sy is None else sy
        return self.with_boxes(self.xyxy * np.array([sx, sy, sx, sy], np.float32))

    def clip(self, width: int, height: int) -> Regions:
        """Clip boxes to a ``width`` × ``height`` frame."""
        lim = np.array([width, height, width, height], np.float32)
        return self.with_boxes(np.clip(self.xyxy, 0, lim))

    def iou(self, other: Regions) -> np.ndarray:
        """Pairwise IoU matrix, shape (len(self), len(other))."""
        return box_iou(self.xyxy, other.xyxy)

    def to_mask(self, height: int, width: int, *, shape: str = "box") -> np.ndarray:
        """Union of the regions as an (H, W) bool image; `shape` is ``"box"`` or ``"ellipse"``."""
        out = np.zeros((height, width), dtype=bool)
        for i in range(len(self)):
            x1, y1, x2, y2 = pixel_bounds(self.xyxy[i], width, height)
            if x2 <= x1 or y2 <= y1:
                continue
            mask = self.mask_of(i)
            if mask is not None:
                out |= mask[:height, :width]
            elif shape == "ellipse":
                out[y1:y2, x1:x2] |= ellipse_mask(self.xyxy[i], x1, y1, x2, y2)
            else:
                out[y1:y2, x1:x2] = True
        return out


@dataclass(frozen=True)
class Region:
    """One row of `Regions`, for code that handles a single region."""

    box: tuple[float, float, float, float]
    label: str = "face"
    score: float | None = None
    track_id: int | None = None
    source: str | None = None


def _as_masks(value: Any, n: int) -> np.ndarray:
    """An object array of n entries, each an (H, W) bool mask or None."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.ndim != 3 or len(value) != n:
            raise PrivisError(f"Regions.mask must have shape ({n}, H, W), got {value.shape}")
        rows = list(value.astype(bool, copy=False))
    else:
        rows = list(value)
        if len(rows) != n:
            raise PrivisError(f"Regions.mask must have {n} rows, got {len(rows)}")
    out = np.empty(n, dtype=object)
    for i, m in enumerate(rows):
        if m is not None:
            m = np.asarray(m, dtype=bool)
            if m.ndim != 2:
                raise PrivisError(f"Regions.mask rows must be (H, W) bool images, got shape {m.shape}")
        out[i] = m
    return out


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """`mask` grown by a disc of `radius` px, computed only around its bounding box."""
    import cv2

    ys, xs = np.nonzero(mask)
    if not len(ys):
        return mask
    h, w = mask.shape
    y1, y2 = max(ys.min() - radius, 0), min(ys.max() + radius + 1, h)
    x1, x2 = max(xs.min() - radius, 0), min(xs.max() + radius + 1, w)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    out = np.zeros_like(mask)
    out[y1:y2, x1:x2] = cv2.dilate(mask[y1:y2, x1:x2].view(np.uint8), kernel).astype(bool)
    return out


def points_box(points: np.ndarray) -> np.ndarray:
    """(n, 4) xyxy boxes around each of (n, k, 2) point sets (a text line's corners, a warped outline).

    >>> points_box(np.array([[[3, 1], [5, 4], [2, 2]]])).tolist()
    [[2, 1, 5, 4]]
    """
    points = np.asarray(points)
    return np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1).reshape(-1, 4)


EDGE_SHARE = 0.02  # a box this close to the frame's side (share of the frame's length) touches it


def touches_edge(box: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether the (x1, y1, x2, y2) `box` reaches the side of a frame of (height, width) `size`:
    what it holds may go on beyond the picture.

    >>> touches_edge(np.array([0, 50, 40, 120]), (432, 768)), touches_edge(np.array([100, 50, 140, 120]), (432, 768))
    (True, False)
    """
    h, w = size
    mx, my = EDGE_SHARE * w, EDGE_SHARE * h
    return bool(box[0] <= mx or box[1] <= my or box[2] >= w - mx or box[3] >= h - my)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of two (n, 4) and (m, 4) xyxy arrays."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def pixel_bounds(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer pixel bounds (x1, y1, x2, y2; end exclusive) covering `box`, clipped to the frame.

    Rounds outwards so that every pixel the box touches is included: a privacy tool
    errs on the side of covering too much.
    """
    x1 = max(int(np.floor(box[0])), 0)
    y1 = max(int(np.floor(box[1])), 0)
    x2 = min(int(np.ceil(box[2])), width)
    y2 = min(int(np.ceil(box[3])), height)
    return x1, y1, x2, y2


def ellipse_mask(box: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    """Bool mask of the ellipse inscribed in `box`, over the pixel window [y1:y2, x1:x2]."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = max((box[2] - box[0]) / 2, 0.5), max((box[3] - box[1]) / 2, 0.5)
    ys = (np.arange(y1, y2, dtype=np.float32) + 0.5 - cy) / ry
    xs = (np.arange(x1, x2, dtype=np.float32) + 0.5 - cx) / rx
    return ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0
