"""Peak memory of `privis anonymize` on long 1080p videos: it must stay flat with length.

Makes synthetic 1080p30 clips of the given lengths (scikit-image's astronaut sliding over
a textured background, so every frame holds a face), runs ``privis anonymize`` on each
and samples the process's resident memory once a second from /proc. Reports the peak
and the resident size at each quarter of the run; if memory grew with length, the
longer clip would show it.

Usage::

    python benchmarks/video_memory.py [--seconds 60,600] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import PRIVIS, emit, markdown_table, run_sampled


def make_clip(path: Path, seconds: int, fps: int = 30) -> Path:
    import av
    from skimage import data

    face = data.astronaut()
    rng = np.random.default_rng(0)
    background = rng.integers(60, 200, (1080, 1920, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps, options={"crf": "28", "preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(seconds * fps):
            frame = background.copy()
            x = (i * 7) % (1920 - 512)
            y = 200 + int(150 * np.sin(i / 40))
            frame[y : y + 512, x : x + 512] = face
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def measure(src: Path, dst: Path) -> dict:
    cmd = [*PRIVIS, "anonymize", str(src), "-o", str(dst), "--quiet", "--overwrite"]
    samples, wall = run_sampled(cmd)
    quarters = [samples[min(len(samples) - 1, int(q * len(samples)))] for q in (0.25, 0.5, 0.75)] + [samples[-1]]
    return {
        "peak_mib": round(max(samples), 1),
        "quarters_mib": [round(q, 1) for q in quarters],
        "wall_s": round(wall, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", default="60,600", help="clip lengths in seconds, comma-separated")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="privis-mem-") as tmp:
        for seconds in (int(s) for s in args.seconds.split(",")):
            src = make_clip(Path(tmp) / f"clip{seconds}.mp4", seconds)
            r = measure(src, Path(tmp) / f"out{seconds}.mp4")
            rows.append({"seconds": seconds, "frames": seconds * 30, **r})
            print(rows[-1], file=sys.stderr)
            src.unlink()
    table = markdown_table(
        ["clip (1080p30)", "frames", "peak RSS MiB", "RSS at 25/50/75/100 % MiB", "wall s"],
        [
            [f"{r['seconds']} s", r["frames"], r["peak_mib"], " / ".join(map(str, r["quarters_mib"])), r["wall_s"]]
            for r in rows
        ],
    )
    emit("video_memory", {"results": rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
