"""Street video at 1080p and 2560x1920: `--targets face,plate` speed and plate leak rate, defaults only.

No labelled street video ships with the data, so clips are made from labelled photos the
way the face leak test makes them (`privis.audit.synthetic.pan_zoom_clip`): a virtual
camera pans and zooms across each photo of ``plates_multi`` (20-32 MP Spanish street
photos, CCPD car photos) and ``plates_openalpr`` 1080p photos, one continuous pan per photo, so every frame's plate
boxes are known. Each clip is written as H.264, then anonymized with the command a user
types (``privis anonymize clip.mp4 -o out.mp4 --targets face,plate``, plus magenta boxes so
that a miss can be read back), timed end to end, and scored: a (plate, frame) pair leaks
when under 90 % of the plate is painted.

Usage::

    python benchmarks/street_video.py [--frames 48] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, emit, markdown_table, privis_anonymize

from privis.audit.detection_eval import leak_rate
from privis.audit.synthetic import pan_zoom_clip
from privis.media.image import read_image
from privis.media.video import write_video

SIZES = {"1080p": (1920, 1080), "2560x1920": (2560, 1920)}
MAGENTA = (255, 0, 255)


def labelled_photos(data: Path, limit: int) -> list[tuple[Path, np.ndarray]]:
    """Photos with their plate boxes: plates_multi's big photos, then 1080p plates_openalpr photos."""
    found: dict[Path, list[list[float]]] = {}
    for name, keep in (("plates_multi", lambda r: True), ("plates_openalpr", lambda r: r["img_h"] == "1080")):
        labels = data / name / "labels.csv"
        for row in csv.DictReader(labels.open()):
            if keep(row):
                found.setdefault(data / name / row["image"], []).append(
                    [float(row[k]) for k in ("x1", "y1", "x2", "y2")]
                )
    return [(p, np.array(b, np.float32)) for p, b in list(found.items())[:limit]]


def make_clip(photos: list[tuple[Path, np.ndarray]], size: tuple[int, int], frames: int, dst: Path) -> list:
    """One clip: `frames` frames over each photo in turn; returns each frame's plate boxes.

    Each photo is one continuous pan of at least 24 frames: a cut every few frames would
    let the tracker carry one photo's plates into the next, which real footage rarely does.
    """
    truth, images = [], []
    per = max(24, frames // len(photos))
    for path, boxes in photos:
        rgb = read_image(path).rgb
        for frame, inside in pan_zoom_clip(rgb, boxes, frames=per, size=size, zoom=(1.0, 0.6)):
            images.append(frame)
            truth.append(inside)
    write_video(dst, images, fps=12)
    return truth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--frames", type=int, default=96, help="frames per clip")
    ap.add_argument("--photos", type=int, default=4, help="photos per clip (one continuous pan each)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    photos = labelled_photos(args.data, args.photos)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in SIZES.items():
            src, dst = Path(tmp) / f"{name}.mp4", Path(tmp) / f"{name}_out.mp4"
            truth = make_clip(photos, size, args.frames, src)
            start = time.perf_counter()
            cmd = privis_anonymize(src, dst, "--targets", "face,plate", "--overwrite")
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            leak = leak_rate(dst, truth, MAGENTA)
            rows.append({"clip": name, "size": f"{size[0]}x{size[1]}", "frames": len(truth), "wall_s": round(wall, 1),
                         "fps": round(len(truth) / wall, 2), **leak})  # fmt: skip
            print(rows[-1], file=sys.stderr)
    table = markdown_table(
        ["clip", "size", "frames", "wall s (end to end)", "fps", "(plate, frame) pairs", "leaked", "leak rate"],
        [[r["clip"], r["size"], r["frames"], r["wall_s"], r["fps"], r["pairs"], r["leaked"], r["leak_rate"]]
         for r in rows],
    )  # fmt: skip
    emit("street_video", {"photos": [str(p.relative_to(args.data)) for p, _ in photos], "clips": rows}, table,
         args.out, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
