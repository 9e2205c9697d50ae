"""Plates in the car-park sample video, frame by frame: how many of the frames that show each plate cover it.

`privis anonymize intel_car-detection.mp4 --targets face,plate`, painted magenta, against
my own labels of the four plates that face the camera as the cars pass under it
(`privis.audit.car_park`, which says how they were made). A plate counts as covered in a
frame when at least 90 % of its box is magenta (`leak_rate`, as for faces).

Usage::

    python benchmarks/car_park_plates.py [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, markdown_table, privis_anonymize, video_args

from privis.audit.car_park import PLATES, VIDEO, covered_frames

MAGENTA = (255, 0, 255)


def main() -> int:
    args = video_args(__doc__)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "out.mp4"
        start = time.perf_counter()
        subprocess.run(privis_anonymize(args.data / VIDEO, dst, "--targets", "face,plate"), check=True)
        seconds = time.perf_counter() - start
        for name, (seen, covered) in covered_frames(dst, MAGENTA).items():
            keys = PLATES[name]
            rows.append({"plate": name, "frames_seen": seen, "frames_covered": covered,
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
