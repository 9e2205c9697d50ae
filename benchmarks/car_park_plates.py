"""Plates in the car-park sample video, frame by frame: how many of the frames that show each plate cover it.

`privis anonymize intel_car-detection.mp4 --targets face,plate`, painted magenta, against
my own labels of the four plates that face the camera as the cars pass under it (the white
car's rear plate, the grey car's front plate, the red car's rear plate, the second white
car's front plate). I found each plate by eye in every third or fourth frame, at 2-3×
zoom with a pixel grid, and wrote down its centre; between those frames the centre is
interpolated, the box is 22×10 px (the plates are about 20×9), and a frame counts from the
first to the last in which I could see the plate. A plate counts as covered in a frame
when at least 90 % of its box is magenta (`leak_rate`, as for faces). The labels were
checked by drawing every third frame's box on the frame.

Usage::

    python benchmarks/car_park_plates.py [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit, markdown_table, privis_anonymize, video_args

from privis.audit.detection_eval import leak_rate

VIDEO = "intel_car-detection.mp4"
FRAMES = 377
MAGENTA = (255, 0, 255)
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
    """Each frame's boxes (0 or 1) of one plate, its centre interpolated between the labelled frames."""
    known = sorted(keys)
    out = [np.zeros((0, 4), np.float32) for _ in range(frames)]
    for f in range(known[0], known[-1] + 1):
        x = np.interp(f, known, [keys[k][0] for k in known])
        y = np.interp(f, known, [keys[k][1] for k in known])
        out[f] = np.array([[x - BOX[0] / 2, y - BOX[1] / 2, x + BOX[0] / 2, y + BOX[1] / 2]], np.float32)
    return out


def main() -> int:
    args = video_args(__doc__)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "out.mp4"
        start = time.perf_counter()
        subprocess.run(privis_anonymize(args.data / VIDEO, dst, "--targets", "face,plate"), check=True)
        seconds = time.perf_counter() - start
        for name, keys in PLATES.items():
            r = leak_rate(dst, plate_boxes(keys), MAGENTA)
            seen = int(r["pairs"])
            rows.append({"plate": name, "frames_seen": seen, "frames_covered": seen - int(r["leaked"]),
                         "first": min(keys), "last": max(keys)})  # fmt: skip
            print(rows[-1], file=sys.stderr)
    seen, covered = sum(r["frames_seen"] for r in rows), sum(r["frames_covered"] for r in rows)
    table = markdown_table(
        ["plate", "frames", "frames seen", "frames covered"],
        [[r["plate"], f"{r['first']}-{r['last']}", r["frames_seen"], r["frames_covered"]] for r in rows]
        + [["all", "", seen, covered]],
    )
    emit("car_park_plates", {"video": VIDEO, "command_seconds": round(seconds, 1), "plates": rows,
                             "frames_seen": seen, "frames_covered": covered}, table, args.out, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
