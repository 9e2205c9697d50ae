"""`plate-text`: licence plates as text in the scene, found by PP-OCR's text detector plus shape rules.

No pretrained plate detector ships inside a package (README, "Plates"), but a plate is
a short line of large characters, and PP-OCR's scene-text detector (ONNX, shipped in
the rapidocr wheel) finds those. Shape rules then drop text that cannot be a plate:
lines too long or too thin for a plate, and text taller than a plate could be in the
frame. Other short text (a shop sign's word) is hidden too; for plates, over-hiding is
the safe side.
"""

from __future__ import annotations

import numpy as np

from privis.detect.base import Detector, register_detector
from privis.regions import Regions


@register_detector("plate-text")
class PlateTextDetector(Detector):
    """Plate-shaped text lines.

    Parameters
    ----------
    min_aspect, max_aspect : float, default 1.0 and 8.0
        Width / height a text box must have (EU plates are about 4.7, US about 2).
    min_height : float, default 6
        Smallest box height in pixels.
    max_height : float, default 0.25
        Largest box height as a share of the frame height.
    threshold : float, default 0.5
        PP-OCR's detection score below which a box is dropped.
    """

    labels = ("plate",)

    def __init__(
        self,
        *,
        min_aspect: float = 1.0,
        max_aspect: float = 8.0,
        min_height: float = 6.0,
        max_height: float = 0.25,
        threshold: float = 0.5,
    ) -> None:
        from privis.text.ocr import RapidOcr

        self._ocr = RapidOcr()
        self.min_aspect, self.max_aspect = float(min_aspect), float(max_aspect)
        self.min_height, self.max_height, self.threshold = float(min_height), float(max_height), float(threshold)

    def detect(self, frame: np.ndarray) -> Regions:
        boxes, scores = self._ocr.text_boxes(frame)
        if not len(boxes):
            return Regions.empty()
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        aspect = w / np.maximum(h, 1)
        keep = (
            (aspect >= self.min_aspect)
            & (aspect <= self.max_aspect)
            & (h >= self.min_height)
            & (h <= self.max_height * frame.shape[0])
            & (scores >= self.threshold)
        )
        n = int(keep.sum())
        return Regions(boxes[keep], label=["plate"] * n, score=scores[keep], source=[self.name] * n)
