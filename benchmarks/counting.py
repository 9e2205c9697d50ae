"""People counting in real time: `privis stream --count` on the 768x432, 10 fps people video.

Runs the command twice on ../shared/data/videos/intel_one-by-one-person-detection.mp4 with
vertical lines at x = 200, 300, 400, 500, 560, 650 and 700 (issue 19; my own count is six
people leaving left to right, see tests/eval/test_counting_video.py), and at x = 450, where
people stand at the table for up to 25 s (each passes it once): as fast as it can go
(the processing rate) and paced like a live camera at the file's own 10 fps (frames that
arrive while the previous one is still processed are dropped and counted), and at live
pace pinned to one core with faces, plates and people all detected, so that about half the
frames are dropped. Real time means a processing rate of at least 10 fps and nothing dropped.

Then a scene of known truth (`privis.audit.walkers.car_park_scene`): people cut from the
people video walk across an empty car-park frame in three directions, pass each other, and
one stands in a spot for four seconds; lines at x = 200, 400 and 600 and a zone round the
spot, counted as the video is anonymized, against the truth from the paths; and the same
scene with a sign board hanging in front of its middle, under which people show only their
legs or feet (`walkers.SIGN_LEGS`), or only their feet or nothing (`walkers.SIGN_FEET`), for
over a second.

Usage::

    python benchmarks/counting.py [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import os
import sys
import tempfile

from _common import PRIVIS, emit, markdown_table, run_json, video_args

from privis.audit.walkers import SIGN_FEET, SIGN_LEGS, scene_counts
from privis.media.video import read_frames

VIDEO = "intel_one-by-one-person-detection.mp4"
XS = (200, 300, 400, 450, 500, 560, 650, 700)


def main() -> int:
    args = video_args(__doc__)
    lines = [arg for x in XS for arg in ("--line", f"x{x}={x},0,{x},432")]
    rows = []
    modes = (("as fast as possible", ["--as-fast-as-possible"], None), ("live pace (10 fps)", [], None),
             ("live pace, one core, faces, plates and people (frames dropped)", ["--targets", "face,plate,person"],
              {0}))  # fmt: skip
    for mode, extra, cores in modes:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*PRIVIS, "stream", str(args.data / VIDEO), "--count", *lines, "--json", *extra]
            pin = (lambda c=cores: os.sched_setaffinity(0, c)) if cores else None  # noqa: E731
            report = run_json(cmd, cwd=tmp, preexec_fn=pin)
        crossings = report["counts"]["lines"]
        rows.append({"mode": mode, "frames": report["frames"], "dropped": report["dropped"], "fps": report["fps"],
                     "seconds": report["seconds"],
                     "lines": {f"x{x}": crossings[f"x{x}"] for x in XS}})  # fmt: skip
        print(rows[-1], file=sys.stderr)
    table = markdown_table(
        ["mode", "frames", "dropped", "frames per second", *[f"x = {x} (fwd / back)" for x in XS]],
        [[r["mode"], r["frames"], r["dropped"], r["fps"],
          *[f"{r['lines'][f'x{x}']['forward']} / {r['lines'][f'x{x}']['backward']}" for x in XS]] for r in rows],
    )  # fmt: skip
    people, background = read_frames(args.data / VIDEO, 700), read_frames(args.data / "intel_car-detection.mp4", 26)[25]
    scene = scene_counts(people, background)
    legs, feet = (scene_counts(people, background, sign=s) for s in (SIGN_LEGS, SIGN_FEET))
    print(scene, legs, feet, file=sys.stderr)
    table += "\n\n" + markdown_table(
        ["scene: what", "truth", "counted", "behind a sign: legs seen", "behind a sign: feet or nothing seen"],
        [[r["what"], r["truth"], r["counted"], a["counted"], b["counted"]]
         for r, a, b in zip(scene, legs, feet, strict=True)],
    )  # fmt: skip
    emit("counting", {"video": VIDEO, "lines_x": list(XS), "my_count": 6, "runs": rows, "scene": scene,
                      "scene_sign_legs": legs, "scene_sign_feet": feet}, table, args.out, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
