"""Training samples for privis's plate detector: synthetic plates and permissively licensed real ones.

A sample is a square RGB crop and a mask of the plate pixels in it. Plates come from two
places:

- **Synthetic plates** of many countries' layouts (EU, US, UK, Brazil's Mercosur, China,
  Japan, Russia, two-line and square plates), rendered with the DejaVu fonts that ship in
  matplotlib, then pasted with perspective onto real backgrounds: scikit-image's photos
  and frames of the shared sample videos that show no car.
- **Real plates** from ``plates_ro`` (MIT; only frames more than 3 s from the held-back
  split, as its PROVENANCE.md advises) and ``plates_kaggle`` (CC0).

Every sample then goes through the same hard-making warps the evaluation uses, drawn at
random: turns up to 40 degrees, perspective, a barrel lens, scaling to plates 8-150 px
tall, blur, night (darkened, noisy) and JPEG compression, so that the detector learns
plates as they appear on dash-cams, fisheye car-park cameras and far away.
``plates_openalpr`` (AGPL) and ``scenes_empty`` are never read here: they are the
evaluation sets.

>>> import numpy as np
>>> plate, style = render_plate(np.random.default_rng(0))
>>> plate.ndim, plate.shape[2], plate.dtype, style in PLATE_STYLES
(3, 4, dtype('uint8'), True)
"""

from __future__ import annotations

import csv
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# Plate layouts: (width / height, characters pattern, background colours, ink colours, band)
# "A" a letter, "9" a digit, "-" a gap, "/" a second line.
PLATE_STYLES: dict[str, dict] = {
    "eu": {"aspect": 4.7, "patterns": ["AA-999-AA", "AAA-9999", "AA-99-AAA", "A-AA-9999", "AA99-AAA", "AAA-999"],
           "bg": [(235, 235, 230), (245, 205, 40)], "ink": [(15, 15, 15)], "band": "left_blue"},
    "us": {"aspect": 2.0, "patterns": ["9AAA999", "AAA-9999", "999-AAA", "9AA-A999", "AAA999"],
           "bg": [(240, 240, 240), (250, 240, 200), (220, 230, 245), (245, 245, 220)],
           "ink": [(20, 30, 110), (120, 20, 20), (15, 15, 15), (20, 90, 40)], "band": "top_text"},
    "uk": {"aspect": 4.7, "patterns": ["AA99-AAA"], "bg": [(240, 240, 240), (245, 205, 40)], "ink": [(10, 10, 10)],
           "band": None},
    "br": {"aspect": 3.1, "patterns": ["AAA9A99"], "bg": [(240, 240, 240)], "ink": [(10, 10, 10)],
           "band": "top_blue"},
    "cn": {"aspect": 3.14, "patterns": ["A-A99999", "A-AA999A"], "bg": [(20, 60, 190), (90, 200, 120)],
           "ink": [(245, 245, 245), (10, 10, 10)], "band": None},
    "ru": {"aspect": 4.6, "patterns": ["A999AA-99", "A999AA-199"], "bg": [(240, 240, 240)], "ink": [(10, 10, 10)],
           "band": None},
    "jp": {"aspect": 2.0, "patterns": ["AAA-999/99-99", "AA-99/A-9999"], "bg": [(240, 240, 240), (240, 210, 50),
           (30, 100, 60)], "ink": [(20, 80, 40), (10, 10, 10), (240, 240, 240)], "band": None},
    "square": {"aspect": 1.4, "patterns": ["AA-999/9999", "AAA/9999", "99-AA/999"],
               "bg": [(240, 240, 240), (245, 205, 40), (230, 230, 230)], "ink": [(10, 10, 10), (20, 30, 110)],
               "band": None},
}  # fmt: skip

_FONT_FILES = ("DejaVuSans-Bold.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSans.ttf", "DejaVuSerif-Bold.ttf")


@lru_cache(maxsize=1)
def _font_paths() -> tuple[str, ...]:
    """The DejaVu fonts shipped inside matplotlib (so training needs no system fonts)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    found = tuple(str(folder / f) for f in _FONT_FILES if (folder / f).exists())
    if not found:
        raise FileNotFoundError(f"no DejaVu fonts under {folder}; pip install matplotlib")
    return found


@lru_cache(maxsize=64)
def _font(path: str, size: int):  # noqa: ANN202 - PIL font
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


def _text(rng: np.random.Generator, pattern: str) -> str:
    out = []
    for c in pattern:
        if c == "A":
            out.append(string.ascii_uppercase[rng.integers(26)])
        elif c == "9":
            out.append(str(rng.integers(10)))
        elif c == "-":
            out.append(" " if rng.random() < 0.6 else "-")
        else:
            out.append(c)
    return "".join(out)


def render_plate(rng: np.random.Generator, style: str | None = None, height: int = 120) -> tuple[np.ndarray, str]:
    """A synthetic plate as an RGBA array `height` px tall (alpha marks the plate), and its style name."""
    from PIL import Image, ImageDraw

    style = style or list(PLATE_STYLES)[rng.integers(len(PLATE_STYLES))]
    spec = PLATE_STYLES[style]
    aspect = spec["aspect"] * rng.uniform(0.92, 1.08)
    h = height
    w = int(round(h * aspect))
    bg = np.array(spec["bg"][rng.integers(len(spec["bg"]))]) + rng.integers(-15, 16, 3)
    ink = np.array(spec["ink"][rng.integers(len(spec["ink"]))])
    if np.abs(bg - ink).sum() < 150:  # keep the characters readable against the plate
        ink = 255 - bg
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    radius = int(h * rng.uniform(0.0, 0.12))
    border = max(1, int(h * rng.uniform(0.0, 0.05)))
    outline = tuple(int(v) for v in ink) + (255,)
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius, fill=tuple(int(v) for v in np.clip(bg, 0, 255)) + (255,),
                           outline=outline if rng.random() < 0.7 else None, width=border)  # fmt: skip
    x0, x1, y0, y1 = border + 2, w - border - 2, border + 2, h - border - 2
    band = spec["band"]
    if band == "left_blue":
        bw = int(h * 0.36)
        draw.rectangle((border, border, border + bw, h - border - 1), fill=(20, 50, 160, 255))
        small = _font(_font_paths()[0], max(8, int(h * 0.22)))
        draw.text((border + bw / 2, h * 0.72), "ABDFINL"[rng.integers(7)], font=small, fill=(240, 240, 240, 255),
                  anchor="mm")  # fmt: skip
        x0 = border + bw + 4
    elif band == "top_blue":
        draw.rectangle((border, border, w - border - 1, border + int(h * 0.22)), fill=(20, 50, 160, 255))
        y0 = border + int(h * 0.26)
    elif band == "top_text" and rng.random() < 0.8:
        small = _font(_font_paths()[rng.integers(len(_font_paths()))], max(8, int(h * 0.16)))
        word = "".join(rng.choice(list(string.ascii_uppercase), rng.integers(4, 11)))
        draw.text((w / 2, border + h * 0.12), word, font=small, fill=outline, anchor="mm")
        y0 = border + int(h * 0.22)
        y1 = h - border - int(h * 0.12)
    pattern = spec["patterns"][rng.integers(len(spec["patterns"]))]
    lines = _text(rng, pattern).split("/")
    font_path = _font_paths()[rng.integers(len(_font_paths()))]
    line_h = (y1 - y0) / len(lines)
    for i, line in enumerate(lines):
        size = int(line_h * rng.uniform(0.75, 0.95))
        font = _font(font_path, max(6, size))
        tw = draw.textlength(line, font=font)
        if tw > (x1 - x0) * 0.95:  # shrink to fit the width
            font = _font(font_path, max(6, int(size * (x1 - x0) * 0.95 / tw)))
        draw.text(((x0 + x1) / 2, y0 + line_h * (i + 0.5)), line, font=font, fill=outline, anchor="mm")
    return np.asarray(img), style


def render_distractor(rng: np.random.Generator, backdrop: np.ndarray | None = None, height: int = 80) -> np.ndarray:
    """A plate-sized RGBA thing that is not a plate: a blank or striped panel, a framed picture, knobs
    and handles, or a line of lower-case words. They teach the network that a bright rectangle is not
    enough: a plate holds a row of capitals and digits.
    """
    from PIL import Image, ImageDraw

    w = int(height * rng.uniform(1.0, 6.0))
    h = height
    bg = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
    img = Image.new("RGBA", (w, h), bg)
    draw = ImageDraw.Draw(img)
    kind = rng.integers(6)
    ink = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
    if kind == 0:  # panel with a frame and a gradient
        ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0), w)[None, :, None]
        arr = np.asarray(img).astype(np.float32)
        arr[..., :3] *= ramp
        img = Image.fromarray(arr.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        draw.rectangle((0, 0, w - 1, h - 1), outline=ink, width=max(1, int(h * rng.uniform(0.02, 0.1))))
    elif kind == 1:  # grille, vent, blinds
        n = int(rng.integers(3, 16))
        vertical = rng.random() < 0.5
        for i in range(n):
            t = (i + 0.5) / n
            if vertical:
                draw.line((t * w, 0, t * w, h), fill=ink, width=max(1, int(w / n / 3)))
            else:
                draw.line((0, t * h, w, t * h), fill=ink, width=max(1, int(h / n / 3)))
    elif kind == 2 and backdrop is not None:  # a framed picture or a screen
        y = int(rng.integers(0, max(1, backdrop.shape[0] - h)))
        x = int(rng.integers(0, max(1, backdrop.shape[1] - w)))
        crop = backdrop[y : y + h, x : x + w]
        if crop.shape[0] > 4 and crop.shape[1] > 4:
            img.paste(Image.fromarray(np.ascontiguousarray(crop)).resize((w - 8, h - 8)), (4, 4))
    elif kind == 3:  # knobs, buttons, handles
        for _ in range(int(rng.integers(1, 7))):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.08, 0.35) * h
            if rng.random() < 0.5:
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=ink)
            else:
                draw.rounded_rectangle((cx - r * 2.5, cy - r / 3, cx + r * 2.5, cy + r / 3), int(r / 3), fill=ink)
    elif kind == 4:  # words in lower case, often on two or three lines
        lines = int(rng.integers(1, 4))
        font = _font(_font_paths()[rng.integers(len(_font_paths()))], max(6, int(h / lines * 0.6)))
        for i in range(lines):
            word = " ".join("".join(rng.choice(list(string.ascii_lowercase), rng.integers(2, 9))) for _ in range(3))
            draw.text((4, h * (i + 0.5) / lines), word, font=font, fill=ink, anchor="lm")
    else:  # blotches: a towel's pattern, a rug, a label with a logo
        for _ in range(int(rng.integers(3, 20))):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.3) * h
            colour = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
            draw.ellipse((cx - r, cy - r * rng.uniform(0.3, 1), cx + r, cy + r), fill=colour)
    return np.asarray(img)


@dataclass
class Photo:
    """A background photo and its plates' outlines ((n, 4, 2) corners, may be empty)."""

    rgb: np.ndarray
    quads: np.ndarray


def real_plates(data: Path, min_gap_s: float = 3.0) -> list[Photo]:
    """Labelled photos of ``plates_ro`` (frames > `min_gap_s` from the held-back split) and ``plates_kaggle``."""
    from privis.media.image import read_image

    photos: list[Photo] = []
    for name in ("plates_ro", "plates_kaggle"):
        labels = data / name / "labels.csv"
        if not labels.exists():
            raise FileNotFoundError(f"{labels} is missing: the plate detector trains on {name} (see PROVENANCE.md)")
        by_image: dict[str, list[list[float]]] = {}
        for row in csv.DictReader(labels.open()):
            if name == "plates_ro" and float(row["gap_to_holdout_s"] or 0) <= min_gap_s:
                continue
            by_image.setdefault(row["image"], []).append([float(row[k]) for k in ("x1", "y1", "x2", "y2")])
        for image, boxes in sorted(by_image.items()):
            b = np.array(boxes, np.float32)
            quads = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)
            photos.append(Photo(read_image(data / name / image).rgb, quads))
    return photos


def backgrounds(data: Path | None, every: int = 12) -> list[np.ndarray]:
    """Photos with no plate: scikit-image's, and frames of the shared videos that show no car."""
    import skimage.data as sk

    names = ["astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
             "immunohistochemistry", "moon", "page", "rocket", "text", "clock", "horse", "logo"]  # fmt: skip
    out = []
    for n in names:
        try:
            img = getattr(sk, n)()
        except Exception:  # noqa: BLE001 - some need a download; skip those
            continue
        img = np.asarray(img)
        if img.dtype != np.uint8:
            img = (255 * (img.astype(np.float32) / max(float(img.max()), 1e-6))).astype(np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(np.ascontiguousarray(img[..., :3]))
    out.extend(_package_photos())
    if data is not None:
        import av

        masks = data / "faces_masks"  # CC0 photos of people in streets and rooms
        if masks.is_dir():
            from privis.media.image import read_image

            for path in sorted(masks.rglob("*.png"))[::2]:
                out.append(read_image(path).rgb)

        for clip in ("egoblur_gen1_test_video.mp4", "intel_one-by-one-person-detection.mp4"):
            path = data / "videos" / clip
            if not path.exists():
                continue
            with av.open(str(path)) as box:
                for i, frame in enumerate(box.decode(video=0)):
                    if i % every == 0:
                        out.append(frame.to_ndarray(format="rgb24"))
    return out


def people_photos(data: Path | None, part: int = 0, max_side: int = 1600) -> list[np.ndarray]:
    """Photos of people with no plate (``faces_afw``, ``faces_wider``, ``faces_dlib``): half of them,
    by a hash of the file name (`part` 0 or 1), scaled to at most `max_side`.

    Name tags, shirts, signs, teeth and facades in them are what a plate detector trained on
    streets mistakes for plates; the second look learns from one half, and the other half
    measures what it still mistakes (``benchmarks/plates.py``).
    """
    import zlib

    import cv2

    from privis.media.image import read_image

    out: list[np.ndarray] = []
    if data is None:
        return out
    for name in ("faces_afw", "faces_wider", "faces_dlib"):
        folder = data / name
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
            if zlib.crc32(path.name.encode()) % 2 != part:
                continue
            img = read_image(path).rgb
            scale = max_side / max(img.shape[:2])
            if scale < 1:
                img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            out.append(img)
    return out


def _package_photos() -> list[np.ndarray]:
    """Photos and terrain shipped in scikit-learn and matplotlib (no plate in any)."""
    import matplotlib
    from PIL import Image

    out: list[np.ndarray] = []
    try:
        from sklearn.datasets import load_sample_images

        out.extend(np.asarray(i)[..., :3] for i in load_sample_images().images)
    except ImportError:
        pass
    folder = Path(matplotlib.get_data_path()) / "sample_data"
    if (folder / "grace_hopper.jpg").exists():
        out.append(np.asarray(Image.open(folder / "grace_hopper.jpg").convert("RGB")))
    for name, key in (("jacksboro_fault_dem.npz", "elevation"), ("topobathy.npz", "topo")):
        if (folder / name).exists():
            out.append(_hillshade(np.load(folder / name)[key].astype(np.float32)))
    return out


def _hillshade(dem: np.ndarray) -> np.ndarray:
    """An elevation grid lit from the north-west, in sand tones: terrain seen from a drone."""
    gy, gx = np.gradient(dem / max(float(np.ptp(dem)), 1e-6) * 60)
    shade = np.clip(0.5 + (gx * -0.7 + gy * -0.7) / np.sqrt(1 + gx**2 + gy**2), 0, 1)
    return (shade[..., None] * np.array([230, 200, 160]) + 20).clip(0, 255).astype(np.uint8)


# Bark, stone, foliage, sand, concrete
_EARTH = ((120, 90, 60), (130, 130, 125), (90, 120, 60), (200, 170, 120), (165, 155, 145), (70, 60, 50))


def textures(rng: np.random.Generator, count: int, size: int = 384) -> list[np.ndarray]:
    """Procedural textures with nobody and no plate: fractal noise as bark, rock, sand, foliage and stone.

    Natural surfaces are where a plate detector trained on streets fires most; these
    teach it that high-contrast blobs alone are not characters.
    """
    import cv2

    out = []
    for _ in range(count):
        stretch = rng.choice([1.0, rng.uniform(2, 8)])  # bark and grain are elongated
        octaves, persistence = int(rng.integers(5, 9)), rng.uniform(0.55, 0.9)
        acc = np.zeros((size, size), np.float32)
        for k in range(octaves):
            cells = 2 ** (k + 1)
            small = rng.standard_normal((max(2, int(cells * stretch)), cells)).astype(np.float32)
            acc += cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC) * persistence**k
        if rng.random() < 0.4:  # ridges and cracks
            acc = -np.abs(acc)
        acc = (acc - acc.mean()) / max(float(acc.std()), 1e-6)
        t = np.clip(0.5 + acc * rng.uniform(0.12, 0.35), 0, 1)[..., None]
        base = np.array(_EARTH[rng.integers(len(_EARTH))], np.float32) * rng.uniform(0.85, 1.15, 3)
        lo, hi = base * rng.uniform(0.05, 0.5), np.minimum(base * rng.uniform(1.0, 1.5), 255)
        img = (lo + (hi - lo) * t).astype(np.uint8)
        if rng.random() < 0.5:
            m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(0, 180), 1.0)
            img = cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT)
        out.append(img)
    return out


def _paste(rng: np.random.Generator, canvas: np.ndarray, plate: np.ndarray, height: float,
           avoid: np.ndarray | None = None) -> np.ndarray | None:  # fmt: skip
    """Paste RGBA `plate`, `height` px tall with a random tilt and perspective, into `canvas` (in place).

    Returns its (4, 2) outline in `canvas`, or None (nothing pasted) where it would
    touch one of the (n, 4, 2) outlines in `avoid`."""
    import cv2

    ph, pw = plate.shape[:2]
    scale = height / ph
    w, h = pw * scale, height
    H, W = canvas.shape[:2]
    cx, cy = rng.uniform(w / 2, max(w / 2 + 1, W - w / 2)), rng.uniform(h / 2, max(h / 2 + 1, H - h / 2))
    a = np.deg2rad(rng.normal(0, 8))
    persp = rng.uniform(-0.15, 0.15, (4, 2)) * np.array([w, h]) * 0.5
    base = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]]) + persp
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = (base @ rot.T + [cx, cy]).astype(np.float32)
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    if avoid is not None and len(avoid):
        lo, hi = avoid.min(axis=1), avoid.max(axis=1)
        if np.any(np.all(lo <= dst.max(axis=0), axis=1) & np.all(hi >= dst.min(axis=0), axis=1)):
            return None
    x0, y0 = np.floor(np.maximum(dst.min(axis=0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(dst.max(axis=0) + 1, [W, H])).astype(int)
    if x1 <= x0 or y1 <= y0:
        return dst
    m = cv2.getPerspectiveTransform(src, dst - np.array([x0, y0], np.float32))
    warped = cv2.warpPerspective(plate, m, (x1 - x0, y1 - y0), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    alpha = warped[..., 3:4].astype(np.float32) / 255.0
    shade = rng.uniform(0.55, 1.1)  # plates are rarely as bright as the render
    part = canvas[y0:y1, x0:x1]
    part[:] = (part * (1 - alpha) + np.minimum(warped[..., :3] * shade, 255) * alpha).astype(np.uint8)
    return dst


def _random_warp(rng: np.random.Generator, size: int, scale: float, src_shape: tuple[int, int],
                 center: np.ndarray) -> np.ndarray:  # fmt: skip
    """A 3x3 homography that maps the source photo around `center` into a `size`-px square: turn, scale, tilt."""
    angle = rng.choice([rng.normal(0, 6), rng.uniform(-40, 40)], p=[0.55, 0.45])
    a = np.deg2rad(angle)
    c, s = np.cos(a) * scale, np.sin(a) * scale
    shift = center + rng.uniform(-0.35, 0.35, 2) * size / max(scale, 1e-3)
    m = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)
    to_origin = np.array([[1, 0, -shift[0]], [0, 1, -shift[1]], [0, 0, 1]])
    to_out = np.array([[1, 0, size / 2], [0, 1, size / 2], [0, 0, 1]])
    persp = np.eye(3)
    persp[2, :2] = rng.normal(0, 0.0006, 2) / max(scale, 0.05) * (rng.random() < 0.5)
    persp[0, 1] = rng.normal(0, 0.08)
    return to_out @ persp @ m @ to_origin


def _barrel(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A fisheye-like barrel bend of image and mask together."""
    import cv2

    h, w = img.shape[:2]
    k = rng.uniform(0.15, 0.45)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2 + rng.uniform(-0.3, 0.3) * w, h / 2 + rng.uniform(-0.3, 0.3) * h
    half = 0.5 * np.hypot(w, h) * rng.uniform(0.8, 2.0)
    dx, dy = (xx - cx) / half, (yy - cy) / half
    f = 1 + k * (dx * dx + dy * dy)
    mx, my = (cx + dx * f * half).astype(np.float32), (cy + dy * f * half).astype(np.float32)
    return (cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderValue=0),
            cv2.remap(mask, mx, my, cv2.INTER_LINEAR, borderValue=0))  # fmt: skip


def night(rng: np.random.Generator, x: np.ndarray, noise: tuple[float, float] = (2, 8)) -> np.ndarray:
    """`x` (float32, 0-255) at night: a fifth of the light or less, a gamma, sensor noise of sigma in `noise`."""
    x = 255 * (x / 255 * rng.uniform(0.15, 0.45)) ** rng.uniform(1.0, 1.4)
    return x + rng.standard_normal(x.shape, np.float32) * rng.uniform(*noise)


def _photometric(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Blur, night, colour shifts, noise and JPEG, each at random."""
    import cv2

    x: np.ndarray = img.astype(np.float32)
    if rng.random() < 0.25:
        k = rng.uniform(0.5, 1.8)
        x = cv2.GaussianBlur(x, (0, 0), k)
    if rng.random() < 0.1:  # motion blur
        n = int(rng.integers(3, 9))
        kern: np.ndarray = np.zeros((n, n), np.float32)
        kern[n // 2] = 1.0 / n
        kern = cv2.warpAffine(kern, cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), rng.uniform(0, 180), 1), (n, n))
        x = cv2.filter2D(x, -1, kern / max(kern.sum(), 1e-6))
    if rng.random() < 0.25:
        x = night(rng, x)
    else:
        x = x * rng.uniform(0.6, 1.3, 3) * rng.uniform(0.7, 1.2) + rng.uniform(-30, 30)
        if rng.random() < 0.3:
            x += rng.standard_normal(x.shape, np.float32) * rng.uniform(1, 6)
    if rng.random() < 0.1:
        x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
    out: Any = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


def _quad_mask(shape: tuple[int, int], quads: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, np.uint8)
    for q in quads:
        cv2.fillPoly(mask, [np.round(q).astype(np.int32)], 255)
    return mask


def make_sample(rng: np.random.Generator, real: list[Photo], empty: list[np.ndarray],
                size: int = 256) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One training crop (size×size×3 uint8) and its plate mask (size×size uint8, 255 on plates)."""
    import cv2

    kind = rng.random()
    if kind < 0.4 and real:
        photo = real[rng.integers(len(real))]
        img, quads = photo.rgb.copy(), photo.quads.copy()
    else:
        img = empty[rng.integers(len(empty))].copy()
        quads = np.zeros((0, 4, 2), np.float32)
    if rng.random() < 0.6:  # things that are not plates, never over a real one
        for _ in range(int(rng.integers(1, 5))):
            thing = render_distractor(rng, empty[rng.integers(len(empty))])
            _paste(rng, img, thing, rng.uniform(0.03, 0.25) * min(img.shape[:2]), avoid=quads)
    if 0.4 <= kind < 0.78:  # synthetic plates on the photo
        placed = []
        for _ in range(int(rng.integers(1, 4))):
            plate, _ = render_plate(rng)
            placed.append(_paste(rng, img, plate, rng.uniform(0.04, 0.2) * min(img.shape[:2])))
        quads = np.concatenate([quads, np.array(placed, np.float32)])
    mask = _quad_mask(img.shape[:2], quads)
    # Where to look and how big plates become: 8-150 px tall in the crop.
    if len(quads) and rng.random() < 0.85:
        q = quads[rng.integers(len(quads))]
        qh = float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
        target = float(np.exp(rng.uniform(np.log(8), np.log(150))))
        scale = target / max(qh, 1.0)
        center = q.mean(axis=0)
    else:
        scale = float(np.exp(rng.uniform(np.log(0.15), np.log(1.5))))
        center = np.array([rng.uniform(0, img.shape[1]), rng.uniform(0, img.shape[0])])
    m = _random_warp(rng, size, scale, img.shape[:2], center)
    interp = cv2.INTER_AREA if scale < 0.7 else cv2.INTER_LINEAR
    # Black corners as a turned photo has, or smeared edges; never mirrored (a mirrored plate is unlabelled).
    border = cv2.BORDER_CONSTANT if rng.random() < 0.5 else cv2.BORDER_REPLICATE
    out = cv2.warpPerspective(img, m, (size, size), flags=interp, borderMode=border, borderValue=0)
    out_mask = cv2.warpPerspective(mask, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < 0.2:
        out, out_mask = _barrel(rng, out, out_mask)
    return _photometric(rng, out), out_mask


def samples(seed: int, real: list[Photo], empty: list[np.ndarray], size: int = 256) -> Iterator[tuple]:
    """Endless `make_sample` crops from one seed."""
    rng = np.random.default_rng(seed)
    while True:
        yield make_sample(rng, real, empty, size)
