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
from fractions import Fraction
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, PRIVIS, emit, markdown_table

from privis import Anonymizer
from privis.audit.walkers import CUT_FROM, SCENE_STANDING, Walk, car_park_scene, cutouts, walking_scene
from privis.media.video import Frame, read_frames

PEOPLE = "intel_one-by-one-person-detection.mp4"
CARS = "intel_car-detection.mp4"


def remove_people(frames: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """`frames` through `--targets person --method remove` as a 10 fps video; outputs and seconds."""
    anonymizer = Anonymizer(targets="person", method="remove").for_media("video")
    stream = (Frame(rgb, i, i, Fraction(1, 10)) for i, rgb in enumerate(frames))
    start = time.perf_counter()
    out = [rgb for _, rgb in anonymizer.frames(stream)]
    return out, time.perf_counter() - start


def psnr(a: list[np.ndarray], b: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """PSNR (dB) of `a` against `b` over the masked pixels of all frames together."""
    err = [(x[m].astype(np.float64) - y[m].astype(np.float64)) ** 2 for x, y, m in zip(a, b, masks, strict=True)]
    total = np.concatenate([e.ravel() for e in err]) if err else np.zeros(1)
    mse = float(total.mean()) if total.size else 0.0
    return round(10 * np.log10(255.0**2 / mse), 2) if mse > 0 else 100.0  # 100: identical pixels


def hog_people(python: str, video: Path) -> list[bool]:
    """Per frame of `video`, whether OpenCV's HOG people detector finds anyone (`hog_people.py`
    under `python`, a venv with OpenCV 4)."""
    done = subprocess.run([python, str(Path(__file__).with_name("hog_people.py")), str(video)], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout)


def main() -> int:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "videos")
    ap.add_argument("--hog-python", help="a Python with opencv-python-headless<5, for the HOG check")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    people = read_frames(args.data / PEOPLE)
    background = read_frames(args.data / CARS, limit=26)[25]  # an empty car park
    frames, pasted = car_park_scene(people, background)
    masks = [cv2.dilate(m.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 for m in pasted]
    removed, seconds = remove_people(frames)
    truth = [background] * len(frames)
    a, b = SCENE_STANDING
    rows = [{"scene": f"composite: {len(frames)} frames, people walking and standing on an empty car-park frame",
             "frames": len(frames), "psnr_db": psnr(removed, truth, masks),
             "psnr_standing_db": psnr(removed[a:b], truth[a:b], masks[a:b]),
             "fps": round(len(frames) / seconds, 2)}]  # fmt: skip
    print(rows[-1], file=sys.stderr)
    # The same people at full size, two walking in and out through the frame's sides within 6 s:
    # a third of the frames show someone cut in half by the edge. First from the very first
    # frame (a cold start: the plate has seen nothing behind them yet), then after 2 s of the
    # empty scene, as a camera that has been running sees them.
    cut = cutouts(people, CUT_FROM)
    for start, what in ((0, "from the first frame"), (20, "after 2 s of the empty scene")):
        edge_walks = [Walk(0, ((start, -40, 422), (start + 59, 808, 422))),
                      Walk(1, ((start, 808, 392), (start + 59, -40, 392))),
                      Walk(2, ((start + 15, 384, 412), (start + 44, 384, 412)))]  # fmt: skip
        frames, pasted = walking_scene(background, cut, edge_walks, start + 60)
        masks = [cv2.dilate(m.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 for m in pasted]
        removed, seconds = remove_people(frames)
        truth = [background] * len(frames)
        a, b = start + 15, start + 44
        rows.append({"scene": f"composite: full-size people walking in and out through the sides, {what}",
                     "frames": 60, "psnr_db": psnr(removed[start:], truth[start:], masks[start:]),
                     "psnr_standing_db": psnr(removed[a:b], truth[a:b], masks[a:b]),
                     "fps": round(len(frames) / seconds, 2)})  # fmt: skip
        print(rows[-1], file=sys.stderr)

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
