"""The plates in the car-park sample video (``videos/intel_car-detection.mp4``), labelled by hand.

Four plates face the camera as the cars pass under it: the white car's rear plate, the grey
car's front plate, the red car's rear plate and the second white car's front plate. I found
each by eye in every third or fourth frame, at 2-3× zoom with a pixel grid, and wrote down
its centre; between those frames the centre is interpolated, the box is 22×10 px (the plates
are about 20×9), and a plate is labelled from the first to the last frame in which I could
see it. The labels were checked by drawing every third frame's box on the frame.
``benchmarks/car_park_plates.py`` and ``tests/eval`` score an anonymized copy against them
(`covered_frames`).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

VIDEO = "intel_car-detection.mp4"
FRAMES = 377
BOX = (22, 10)  # width, height in pixels
# Plate centres (x, y) by frame, as I read them; each plate is seen from its first to its last frame here.
PLATES = {
    "white car, rear": {75: (386, 391), 78: (376, 337), 81: (367, 286), 84: (360, 241), 87: (353, 190),
                        90: (350, 154), 93: (346, 117), 96: (343, 84)},
    "grey car, front": {184: (205, 29), 188: (200, 77), 192: (192, 125), 196: (183, 181), 200: (174, 243),
                        204: (164, 315), 208: (152, 400)},
    "red car, rear": {208: (409, 375), 212: (402, 308), 216: (397, 240), 220: (391, 186), 224: (384, 133),
                      228: (379, 86), 232: (375, 45)},
    "second white car, front": {318: (247, 34), 319: (248, 59), 321: (230, 95), 324: (222, 154), 330: (209, 295),
                                333: (201, 382)},
}  # fmt: skip


def plate_boxes(keys: dict[int, tuple[int, int]], frames: int = FRAMES) -> list[np.ndarray]:
    """Each frame's boxes (0 or 1, xyxy) of one plate, its centre interpolated between the labelled frames.

    >>> boxes = plate_boxes({10: (100, 50), 12: (104, 60)}, frames=20)
    >>> len(boxes), len(boxes[9]), boxes[11].tolist()
    (20, 0, [[91.0, 50.0, 113.0, 60.0]])
    """
    known = sorted(keys)
    out = [np.zeros((0, 4), np.float32) for _ in range(frames)]
    for f in range(known[0], known[-1] + 1):
        x = np.interp(f, known, [keys[k][0] for k in known])
        y = np.interp(f, known, [keys[k][1] for k in known])
        out[f] = np.array([[x - BOX[0] / 2, y - BOX[1] / 2, x + BOX[0] / 2, y + BOX[1] / 2]], np.float32)
    return out


def covered_frames(video: str | Path, color: tuple[int, int, int]) -> dict[str, tuple[int, int]]:
    """Per plate, (frames seen, frames covered) in an anonymized copy of the car-park video whose
    regions were painted `color`: a plate is covered in a frame when 90 % of its box is (`leak_rate`)."""
    from privis.audit.detection_eval import leak_rate

    out = {}
    for name, keys in PLATES.items():
        r = leak_rate(video, plate_boxes(keys), color)
        pairs, leaked = cast(int, r["pairs"]), cast(int, r["leaked"])
        out[name] = (pairs, pairs - leaked)
    return out
