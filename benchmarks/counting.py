"""People counting in real time: `privis stream --count` on the 768x432, 10 fps people video.

Runs the command twice on ../shared/data/videos/intel_one-by-one-person-detection.mp4
with a line at x = 560 (issue 7; my own count is six people leaving left to right):
as fast as it can go (the processing rate) and paced like a live camera at the file's
own 10 fps (frames that arrive while the previous one is still processed are dropped
and counted). Real time means a processing rate of at least 10 fps and nothing dropped.

Usage::

    python benchmarks/counting.py [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import DEFAULT_DATA, PRIVIS, emit, markdown_table, run_json

VIDEO = "intel_one-by-one-person-detection.mp4"
LINE = "exit=560,0,560,432"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "videos")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for mode, extra in (("as fast as possible", ["--as-fast-as-possible"]), ("live pace (10 fps)", [])):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*PRIVIS, "stream", str(args.data / VIDEO), "--count", "--line", LINE, "--json", *extra]
            report = run_json(cmd, cwd=tmp)
        crossings = report["counts"]["lines"]["exit"]
        rows.append({"mode": mode, "frames": report["frames"], "dropped": report["dropped"], "fps": report["fps"],
                     "seconds": report["seconds"], "forward": crossings["forward"],
                     "backward": crossings["backward"]})  # fmt: skip
        print(rows[-1], file=sys.stderr)
    table = markdown_table(
        ["mode", "frames", "dropped", "frames per second", "seconds", "exit forward", "exit backward"],
        [[r["mode"], r["frames"], r["dropped"], r["fps"], r["seconds"], r["forward"], r["backward"]] for r in rows],
    )
    emit("counting", {"video": VIDEO, "line": LINE, "my_count": 6, "runs": rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
