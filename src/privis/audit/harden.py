"""Labelled photos made hard on purpose: tilted, fisheye, far away, at night.

A detector tuned on one folder of tidy car photos meets rotated dash-cams, fisheye
car-park cameras, distant plates and night footage on day one. Each kind here warps a
labelled image and maps its boxes through the same warp (a box becomes the axis-aligned
box of its warped outline), so recall can be measured on each kind in its own row
(`benchmarks/plates.py`).

>>> import numpy as np
>>> img = np.zeros((100, 200, 3), np.uint8)
>>> out, boxes = harden(img, np.array([[80.0, 40, 120, 60]]), "rotate15")
>>> out.shape[2], boxes.shape
(3, (1, 4))
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from privis.errors import PrivisError
from privis.regions import points_box

HARD_KINDS: tuple[str, ...] = ("rotate15", "rotate30", "fisheye", "far", "night")
FAR_HEIGHTS = (12.0, 20.0)  # "far": plates scaled to this height range, in pixels
_FISHEYE_K = 0.35  # barrel strength: the corners move in by about a quarter of the half-diagonal


def harden(image: np.ndarray, boxes: np.ndarray, kind: str, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`image` (H, W, 3 uint8) and its (n, 4) xyxy `boxes`, made hard as `kind` (one of HARD_KINDS).

    ``rotate15``/``rotate30`` turn the photo about its centre (the canvas grows to keep
    every pixel); ``fisheye`` bends it with a barrel lens; ``far`` scales it so the
    boxes are 12-20 px tall; ``night`` darkens it to a fifth with sensor noise. `seed`
    fixes the random parts (the far height, the noise), so a row is reproducible.
    """
    if kind not in HARD_KINDS:
        raise ValueError(f"unknown hard kind {kind!r}; choose from {', '.join(HARD_KINDS)}")
    rng = np.random.default_rng(seed)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if kind.startswith("rotate"):
        return _rotate(image, boxes, float(kind[len("rotate") :]) * (1 if rng.random() < 0.5 else -1))
    if kind == "fisheye":
        return _fisheye(image, boxes)
    if kind == "far":
        heights = boxes[:, 3] - boxes[:, 1]
        target = rng.uniform(*FAR_HEIGHTS)
        scale = min(1.0, target / max(float(np.median(heights)), 1.0)) if len(heights) else 0.5
        return _resize(image, scale), boxes * scale
    return _night(image, rng), boxes.copy()


def _outline(boxes: np.ndarray, points: int = 8) -> np.ndarray:
    """(n, 4*points, 2) points along each box's edges, so a curved warp maps the whole edge."""
    t = np.linspace(0, 1, points, endpoint=False)
    x1, y1, x2, y2 = (boxes[:, i : i + 1] for i in range(4))
    top = np.stack([x1 + (x2 - x1) * t, np.broadcast_to(y1, (len(boxes), points))], -1)
    right = np.stack([np.broadcast_to(x2, (len(boxes), points)), y1 + (y2 - y1) * t], -1)
    bottom = np.stack([x2 - (x2 - x1) * t, np.broadcast_to(y2, (len(boxes), points))], -1)
    left = np.stack([np.broadcast_to(x1, (len(boxes), points)), y2 - (y2 - y1) * t], -1)
    return np.concatenate([top, right, bottom, left], axis=1)


def _warp(image: np.ndarray, inverse: Callable[[np.ndarray], np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Sample `image` at inverse(output xy) for every output pixel (bilinear, black outside)."""
    from scipy.ndimage import map_coordinates

    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    src = inverse(np.stack([xx.ravel(), yy.ravel()], -1))
    coords = [src[:, 1].reshape(h, w), src[:, 0].reshape(h, w)]
    out = np.empty((h, w, 3), np.uint8)
    for c in range(3):
        out[..., c] = np.clip(map_coordinates(image[..., c], coords, order=1, cval=0.0), 0, 255)
    return out


def _rotate(image: np.ndarray, boxes: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    nw, nh = int(np.ceil(abs(w * c) + abs(h * s))), int(np.ceil(abs(w * s) + abs(h * c)))
    rot = np.array([[c, -s], [s, c]])
    centre, new_centre = np.array([w / 2, h / 2]), np.array([nw / 2, nh / 2])

    def forward(p: np.ndarray) -> np.ndarray:
        return (p - centre) @ rot.T + new_centre

    def inverse(p: np.ndarray) -> np.ndarray:
        return (p - new_centre) @ rot + centre

    pts = _outline(boxes, 1)
    out_boxes = points_box(forward(pts.reshape(-1, 2)).reshape(pts.shape)) if len(boxes) else boxes
    return _warp(image, inverse, (nh, nw)), out_boxes


def _fisheye(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barrel distortion r_out = r_in / (1 + k r_in^2), radii in units of the half-diagonal."""
    h, w = image.shape[:2]
    centre = np.array([w / 2, h / 2])
    unit = float(np.hypot(w, h) / 2)

    def forward(p: np.ndarray) -> np.ndarray:
        d = (p - centre) / unit
        r2 = (d**2).sum(-1, keepdims=True)
        return centre + unit * d / (1 + _FISHEYE_K * r2)

    def inverse(p: np.ndarray) -> np.ndarray:
        d = (p - centre) / unit
        r = np.sqrt((d**2).sum(-1, keepdims=True))
        # Solve r_out = r_in / (1 + k r_in^2) for r_in (the smaller root).
        disc = np.maximum(1 - 4 * _FISHEYE_K * r**2, 0)
        r_in = np.where(r > 1e-9, (1 - np.sqrt(disc)) / (2 * _FISHEYE_K * np.maximum(r, 1e-9)), r)
        return centre + unit * d * (r_in / np.maximum(r, 1e-9))

    pts = _outline(boxes)
    out_boxes = points_box(forward(pts.reshape(-1, 2)).reshape(pts.shape)) if len(boxes) else boxes
    return _warp(image, inverse, (h, w)), out_boxes


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _night(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fifth of the light, a gamma that crushes shadows, and Gaussian sensor noise (sigma 6)."""
    x = image.astype(np.float32) / 255.0
    x = 255.0 * 0.2 * x**1.4
    x += rng.normal(0.0, 6.0, x.shape).astype(np.float32)
    return np.clip(x, 0, 255).astype(np.uint8)


def write_hard_set(
    labels_csv: str | Path, images_root: str | Path, out_dir: str | Path, kind: str, *, every: int = 1
) -> Path:
    """Write every `every`-th labelled image of a labels CSV (``image, x1, y1, x2, y2``, an
    optional ``region``) made hard as `kind` under `out_dir`, with its own ``labels.csv``.

    The image at row i is hardened with seed i, so the same set comes out every time.
    Returns the path of the new labels CSV.
    """
    from PIL import Image

    from privis.media.image import read_image

    src, out = Path(images_root), Path(out_dir)
    with Path(labels_csv).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise PrivisError(f"{labels_csv}: no labelled rows")
    fields = ["image", *(["region"] if "region" in rows[0] else []), "x1", "y1", "x2", "y2"]
    by_image: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_image.setdefault(row["image"], []).append(row)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "labels.csv"
    with target.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for i, (name, group) in enumerate(sorted(by_image.items())):
            if i % every:
                continue
            boxes = np.array([[float(r[k]) for k in ("x1", "y1", "x2", "y2")] for r in group])
            image, moved = harden(read_image(src / name).rgb, boxes, kind, seed=i)
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path, quality=95)
            for row, box in zip(group, moved, strict=True):
                corners = dict(zip(("x1", "y1", "x2", "y2"), (f"{v:.1f}" for v in box), strict=True))
                writer.writerow({**{k: row[k] for k in fields[:-4]}, **corners})
    return target
