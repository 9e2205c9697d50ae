"""`--method remove`: how close the removed regions come to the true background, and what a detector still finds.

1. **Composite with a known background** (`privis.audit.walkers.car_park_scene`, shared
   with the counting benchmark): three people cut from frames of the people video by
   privis's person outline walk across an empty frame of the car-park video, another
   camera, and one stands still for four seconds; 240 frames at 10 fps. PSNR of the output
   against the empty frame over the people's pixels (grown by 4 px), and over the standing
   person's alone (a ghost would show there; 100 dB means identical pixels). Then the same
   people at full size walking in and out through the frame's sides within 60 frames,
   where a third of the frames show someone cut in half by the edge: once from the first
   frame (a cold start) and once after 2 s of the empty scene.
2. **The people video** (1394 frames): the removed regions against the empty room (the
   video's first frame, nobody in it) on the frames where someone stands at the table
   (x 330-620), written by ``privis anonymize`` (H.264), and, with ``--hog-python`` (a scratch
   venv with OpenCV 4: OpenCV 5 has no HOG), OpenCV's HOG people detector, independent of
   privis's, on input and output: the share of frames where it finds someone in the output
   among those where it finds someone in the input.
3. Frames per second of `--targets person --method remove` (detection, tracking, plate, inpainting).

Usage::

    python benchmarks/removal.py [--hog-python PY] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, PRIVIS, emit, markdown_table

from privis.audit.similarity import psnr
from privis.audit.walkers import removal_scenes
from privis.media.video import read_frames

PEOPLE = "intel_one-by-one-person-detection.mp4"
CARS = "intel_car-detection.mp4"


def hog_people(python: str, video: Path) -> list[bool]:
    """Per frame of `video`, whether OpenCV's HOG people detector finds anyone (`hog_people.py`
    under `python`, a venv with OpenCV 4)."""
    done = subprocess.run([python, str(Path(__file__).with_name("hog_people.py")), str(video)], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "videos")
    ap.add_argument("--hog-python", help="a Python with opencv-python-headless<5, for the HOG check")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    people = read_frames(args.data / PEOPLE)
    background = read_frames(args.data / CARS, limit=26)[25]  # an empty car park
    rows = removal_scenes(people, background)
    for row in rows:
        print(row, file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "removed.mp4"
        start = time.perf_counter()
        subprocess.run([*PRIVIS, "anonymize", str(args.data / PEOPLE), "-o", str(video), "--targets", "person",
                        "--method", "remove", "--quiet"], check=True)  # fmt: skip
        seconds = time.perf_counter() - start
        out = read_frames(video)
        hog = None
        if args.hog_python:
            hog_in, hog_out = hog_people(args.hog_python, args.data / PEOPLE), hog_people(args.hog_python, video)
            with_people = [i for i, f in enumerate(hog_in) if f]
            hog = {"frames_with_hog_person_in": len(with_people),
                   "of_them_with_hog_person_out": int(sum(hog_out[i] for i in with_people)),
                   "share": round(sum(hog_out[i] for i in with_people) / max(len(with_people), 1), 4),
                   "frames_with_hog_person_out": int(sum(hog_out))}  # fmt: skip
    empty = people[0]
    table = np.zeros(empty.shape[:2], bool)
    table[150:432, 330:620] = True  # where people stand and read
    changed = [np.abs(o.astype(int) - p.astype(int)).max(axis=2) > 40 for o, p in zip(out, people, strict=True)]
    at_table = [i for i, c in enumerate(changed) if (c & table).sum() > 5000]
    rows.append({"scene": "people video (privis anonymize, H.264): removed pixels at the table vs the empty room",
                 "frames": len(at_table),
                 "psnr_db": psnr([out[i] for i in at_table], [empty] * len(at_table),
                                 [changed[i] & table for i in at_table]),
                 "psnr_standing_db": None, "fps": round(len(people) / seconds, 2)})  # fmt: skip
    print(rows[-1], hog, file=sys.stderr)
    text = markdown_table(
        ["scene", "frames", "PSNR vs true background (dB)", "standing person only (dB)", "fps"],
        [[r["scene"], r["frames"], r["psnr_db"], r["psnr_standing_db"], r["fps"]] for r in rows],
    )
    if hog is not None:
        text += "\n\n" + markdown_table(
            ["frames where HOG finds a person in the input", "of them, in the output", "share"],
            [[hog["frames_with_hog_person_in"], hog["of_them_with_hog_person_out"], hog["share"]]],
        )
    emit("removal", {"rows": rows, "hog": hog}, text, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
