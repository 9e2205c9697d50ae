"""People counting in real time: `privis stream --count` on the 768x432, 10 fps people video.

Runs the command twice on ../shared/data/videos/intel_one-by-one-person-detection.mp4 with
vertical lines at x = 200, 300, 400, 500, 560, 650 and 700 (issue 19; my own count is six
people leaving left to right, see tests/eval/test_counting_video.py), and at x = 450, where
people stand at the table for up to 25 s (each passes it once): as fast as it can go
(the processing rate) and paced like a live camera at the file's own 10 fps (frames that
arrive while the previous one is still processed are dropped and counted), and at live
pace pinned to one core with faces, plates and people all detected, so that about half the
frames are dropped. Real time means a processing rate of at least 10 fps and nothing dropped.
Which frames a live run drops changes from run to run; so the video is also replayed keeping
every second and every third frame at its own time (`walkers.count_frames`), the same on
every run.

Then a scene of known truth (`privis.audit.walkers.car_park_scene`): people cut from the
people video walk across an empty car-park frame in three directions, pass each other, and
one stands in a spot for four seconds; lines at x = 200, 400 and 600 and a zone round the
spot, counted as the video is anonymized, against the truth from the paths; and the same
scene with a sign board hanging in front of its middle, under which people show only their
legs or feet (`walkers.SIGN_LEGS`), or only their feet or nothing (`walkers.SIGN_FEET`), for
over a second; and the open scene with every second and every third frame kept.

Usage::

    python benchmarks/counting.py [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import os
import sys
import tempfile

from _common import PRIVIS, emit, markdown_table, run_json, video_args

from privis.analytics.counting import CountConfig, parse_line
from privis.audit.walkers import SIGN_FEET, SIGN_LEGS, count_frames, scene_counts
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
    video = read_frames(args.data / VIDEO)
    config = CountConfig(lines=tuple(parse_line(f"x{x}={x},0,{x},432") for x in XS))
    for step, which in ((2, "second"), (3, "third")):
        crossings = count_frames(video, config, step=step)["lines"]
        kept = len(range(0, len(video), step))
        rows.append({"mode": f"every {which} frame kept (replayed)", "frames": kept, "dropped": len(video) - kept,
                     "fps": None, "seconds": None, "lines": {f"x{x}": crossings[f"x{x}"] for x in XS}})  # fmt: skip
        print(rows[-1], file=sys.stderr)
    people = video[:700]  # the scene's walkers are cut from its first 700 frames
    del video
    table = markdown_table(
        ["mode", "frames", "dropped", "frames per second", *[f"x = {x} (fwd / back)" for x in XS]],
        [[r["mode"], r["frames"], r["dropped"], r["fps"] or "",
          *[f"{r['lines'][f'x{x}']['forward']} / {r['lines'][f'x{x}']['backward']}" for x in XS]] for r in rows],
    )  # fmt: skip
    background = read_frames(args.data / "intel_car-detection.mp4", 26)[25]
    scene = scene_counts(people, background)
    legs, feet = (scene_counts(people, background, sign=s) for s in (SIGN_LEGS, SIGN_FEET))
    second, third = (scene_counts(people, background, step=k) for k in (2, 3))
    print(scene, legs, feet, second, third, file=sys.stderr)
    table += "\n\n" + markdown_table(
        ["scene: what", "truth", "counted", "behind a sign: legs seen", "behind a sign: feet or nothing seen",
         "every second frame kept", "every third frame kept"],
        [[r["what"], r["truth"], r["counted"], a["counted"], b["counted"], c["counted"], d["counted"]]
         for r, a, b, c, d in zip(scene, legs, feet, second, third, strict=True)],
    )  # fmt: skip
    emit("counting", {"video": VIDEO, "lines_x": list(XS), "my_count": 6, "runs": rows, "scene": scene,
                      "scene_sign_legs": legs, "scene_sign_feet": feet, "scene_every_second_frame": second,
                      "scene_every_third_frame": third}, table, args.out, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
