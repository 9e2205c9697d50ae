"""`plate-text`: licence plates as text in the scene, found by PP-OCR's text detector plus shape rules.

No pretrained plate detector ships inside a package (README, "Plates"), but a plate is
a short line of large characters, and PP-OCR's scene-text detector (ONNX, shipped in
the rapidocr wheel) finds those. Shape rules then drop text that cannot be a plate:
lines too long or too thin for a plate, and text taller than a plate could be in the
frame. Other short text (a shop sign's word) is hidden too; for plates, over-hiding is
the safe side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from privis.detect.base import Detector, register_detector
from privis.detect.nms import nms
from privis.regions import Regions, points_box

# Line score under which a text line is not taken for a plate (README, "Plates").
PLATE_THRESHOLD = 0.5


@register_detector("plate-text")
class PlateTextDetector(Detector):
    """Plate-shaped text lines.

    Dark frames (night) are stretched to their own range first: PP-OCR misses
    low-contrast characters. Tilted plates need `tilts`: passes on the turned frame.

    Parameters
    ----------
    min_aspect, max_aspect : float, default 1.0 and 8.0
        Width / height a text line must have (EU plates are about 4.7, US about 2).
    min_height : float, default 6
        Smallest line height in pixels.
    max_height : float, default 0.25
        Largest line height as a share of the frame height.
    threshold : float, default PLATE_THRESHOLD (0.5)
        PP-OCR's line score below which a line is dropped.
    dark_below : float, default 70
        Mean brightness (0-255) under which a frame is stretched before detection.
    tilts : sequence of float, default ()
        Extra passes on the frame turned by these angles (degrees, counter-clockwise),
        each line judged upright in its own pass: PP-OCR misses most plates tilted more
        than about 15 degrees (a lens, a slope, a camera on a pole) but finds them turned
        upright. Each costs a pass; ``(30, -30)`` for a fisheye or tilted camera.
    """

    labels = ("plate",)

    def __init__(
        self,
        *,
        min_aspect: float = 1.0,
        max_aspect: float = 8.0,
        min_height: float = 6.0,
        max_height: float = 0.25,
        threshold: float = PLATE_THRESHOLD,
        dark_below: float = 70.0,
        tilts: Sequence[float] = (),
    ) -> None:
        from privis.text.ocr import RapidOcr

        self._ocr = RapidOcr()
        self.min_aspect, self.max_aspect = float(min_aspect), float(max_aspect)
        self.min_height, self.max_height, self.threshold = float(min_height), float(max_height), float(threshold)
        self.dark_below = float(dark_below)
        self.tilts = tuple(float(t) for t in tilts)

    def detect(self, frame: np.ndarray) -> Regions:
        frame = brighten(frame, self.dark_below)
        upright, up_scores = self._lines(frame)
        found = [(points_box(upright), up_scores), *(self._turned(frame, t) for t in self.tilts)]
        boxes, scores = np.concatenate([b for b, _ in found]), np.concatenate([s for _, s in found])
        if len(found) > 1 and len(boxes):
            order = nms(boxes, scores, 0.5)
            boxes, scores = boxes[order], scores[order]
        n = len(boxes)
        return Regions(boxes, label=["plate"] * n, score=scores, source=[self.name] * n)

    def _lines(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Plate-shaped text lines of `frame` as (n, 4, 2) corners, judged upright in `frame`."""
        quads, scores = self._ocr.text_quads(frame)
        w, h = np.ptp(quads[:, :, 0], axis=1), np.ptp(quads[:, :, 1], axis=1)
        aspect = w / np.maximum(h, 1)
        keep = (
            (aspect >= self.min_aspect)
            & (aspect <= self.max_aspect)
            & (h >= self.min_height)
            & (h <= self.max_height * frame.shape[0])
            & (scores >= self.threshold)
        )
        return quads[keep], scores[keep]

    def _turned(self, frame: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
        """Plate lines found in `frame` turned by `degrees`, as boxes in `frame`'s own coordinates."""
        from PIL import Image

        h, w = frame.shape[:2]
        turned = np.asarray(Image.fromarray(frame).rotate(degrees, Image.Resampling.BILINEAR, expand=True))
        quads, scores = self._lines(turned)
        a = np.deg2rad(degrees)
        c, s = np.cos(a), np.sin(a)
        d = quads - np.array([turned.shape[1] / 2, turned.shape[0] / 2], np.float32)
        back = np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], axis=-1)
        back = (back + np.array([w / 2, h / 2])).astype(np.float32)
        return points_box(back), scores


def brighten(frame: np.ndarray, dark_below: float) -> np.ndarray:
    """`frame` stretched so its 1st-99th brightness percentiles span 0-255, when its mean is under
    `dark_below`; otherwise `frame` itself."""
    small = frame[:: max(1, frame.shape[0] // 128), :: max(1, frame.shape[1] // 128)]
    if float(small.mean()) >= dark_below:
        return frame
    lo, hi = np.percentile(small, (1, 99))
    if hi - lo < 8:
        return frame
    lut = np.clip((np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return lut[frame]
