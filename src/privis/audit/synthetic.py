"""Test material whose ground truth is known by construction: clips and text pages.

Moving-camera clips: a virtual camera pans across a labelled photo and zooms in; each
frame is the crop resized to the output size, and the labelled boxes are mapped through
the same transform. Used to measure the video leak rate (DESIGN.md) where no labelled
video exists. Text pages: lines rendered with Pillow's own font, with every word's box.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

# The photos the video leak rate is measured on (benchmarks/video.py, tests/eval): crowds
# a detector sees, but not always, at a size a 480x270 camera shows them at 0.5-0.9x.
CLIP_SIZE = (480, 270)


def crowd_photos(labels: Mapping[str, Any], n: int) -> list[str]:
    """The first `n` photo names (sorted) with 4-25 counted faces of median height 20-40 px.

    `labels` maps names to ground truth with ``boxes`` and ``ignore`` (as `load_box_labels`).
    """
    picked = []
    for name in sorted(labels):
        g = labels[name]
        heights = g.boxes[~g.ignore, 3] - g.boxes[~g.ignore, 1]
        if 4 <= len(heights) <= 25 and 20 <= float(np.median(heights)) <= 40:
            picked.append(name)
    return picked[:n]


def pan_zoom_clip(
    image: np.ndarray,
    boxes: np.ndarray,
    *,
    frames: int = 90,
    size: tuple[int, int] = (640, 360),
    zoom: tuple[float, float] = (1.0, 0.55),
    min_inside: float = 0.9,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(frame, boxes)``: `frames` RGB frames of `size` (w, h) and the boxes inside each.

    The crop window keeps the output's aspect ratio; its size goes from ``zoom[0]`` to
    ``zoom[1]`` of the largest such window while its centre travels diagonally across
    the photo and back. Boxes less than `min_inside` inside the window are left out.

    >>> import numpy as np
    >>> img = np.zeros((300, 400, 3), np.uint8)
    >>> clip = list(pan_zoom_clip(img, np.array([[190, 140, 210, 160]]), frames=3, size=(160, 90)))
    >>> [f.shape for f, _ in clip][0], len(clip)
    ((90, 160, 3), 3)
    """
    import cv2

    h, w = image.shape[:2]
    out_w, out_h = size
    aspect = out_w / out_h
    base_w = min(w, h * aspect)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    for i in range(frames):
        t = i / max(frames - 1, 1)
        z = zoom[0] + (zoom[1] - zoom[0]) * t
        cw, ch = base_w * z, base_w * z / aspect
        # Centre: a there-and-back diagonal sweep over the free area.
        u = 1 - abs(2 * t - 1)
        cx = cw / 2 + (w - cw) * u
        cy = ch / 2 + (h - ch) * (0.3 + 0.4 * u)
        x0, y0 = cx - cw / 2, cy - ch / 2
        sx, sy = out_w / cw, out_h / ch
        m = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float32)
        frame = cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        mapped = (boxes - np.array([x0, y0, x0, y0], np.float32)) * np.array([sx, sy, sx, sy], np.float32)
        clipped = np.clip(mapped, 0, [out_w, out_h, out_w, out_h])
        area = np.prod(np.clip(mapped[:, 2:] - mapped[:, :2], 1e-6, None), axis=1)
        inside = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1) / area
        yield frame, clipped[inside >= min_inside]


# An A4 page at 300 dpi, the size `benchmarks/text.py` times OCR on.
A4_300DPI = (2480, 3508)


def text_page(
    lines: Sequence[str], size: tuple[int, int] = (900, 260), font_px: int = 40
) -> tuple[np.ndarray, dict[str, tuple[float, float, float, float]]]:
    """A white page (width, height) with `lines` of black text, and each word's box.

    >>> page, boxes = text_page(["Hello world"])
    >>> page.shape, sorted(boxes)
    ((260, 900, 3), ['Hello', 'world'])
    """
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=font_px)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for i, line in enumerate(lines):
        x, y = 30, 30 + int(font_px * 2.5) * i
        draw.text((x, y), line, fill="black", font=font)
        for word in line.split():
            left = x + draw.textlength(line[: line.index(word)], font=font)
            boxes[word] = (left, y, left + draw.textlength(word, font=font), y + font_px * 1.2)
    return np.asarray(img), boxes


def ink_box(page: np.ndarray, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """A word's layout box from `text_page` shrunk to its dark pixels: what must be painted over."""
    x1, y1, x2, y2 = (int(v) for v in box)
    ys, xs = np.nonzero(page[y1:y2, x1:x2].min(axis=2) < 128)
    return (x1 + int(xs.min()), y1 + int(ys.min()), x1 + int(xs.max()) + 1, y1 + int(ys.max()) + 1)
