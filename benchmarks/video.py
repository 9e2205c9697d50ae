"""Video: leak rate on moving-camera clips with known boxes, and end-to-end speed, privis against deface.

Leak rate (DESIGN.md): clips pan and zoom across labelled faces_wider photos
(`privis.audit.synthetic.pan_zoom_clip`), so every frame's boxes are known; both tools
paint faces black with box masks (deface can paint only black, and a saturated colour
would bleed under the codec's 4:2:0 chroma and count against privis) and a (face,
frame) pair leaks when under 90 % of the face is painted. Speed: whole-process wall time of each tool on the real
videos in ../shared/data/videos, same run, default settings (deface: ``--boxes
--replacewith solid``; privis: ``--method fill --shape box``).

Usage::

    python benchmarks/video.py [--data ../shared/data] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, emit, markdown_table, privis_anonymize
from faces import ensure_deface

from privis.audit.detection_eval import leak_rate, load_box_labels
from privis.audit.synthetic import CLIP_SIZE, crowd_photos, pan_zoom_clip
from privis.media.image import read_image
from privis.media.video import write_video

VIDEOS = ("intel_one-by-one-person-detection.mp4", "egoblur_gen1_test_video.mp4")
PRIVIS_VARIANTS = {
    "privis": [],
    "privis, no tracking": ["--linger", "0", "--lookahead", "0"],
    "privis --small-faces auto": ["--small-faces", "auto"],
    "privis --detect-every 2": ["--detect-every", "2"],
    "privis --small-faces never --mask-scale 1.3": ["--small-faces", "never", "--mask-scale", "1.3"],
}
BLACK = ["--fill-color", "0,0,0"]


def run(cmd: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - t


def privis_cmd(src: Path, dst: Path, extra: list[str]) -> list[str]:
    return privis_anonymize(src, dst, "--overwrite", *extra)


def deface_cmd(exe: Path, src: Path, dst: Path) -> list[str]:
    return [str(exe), str(src), "-o", str(dst), "--boxes", "--replacewith", "solid"]


def probe(path: Path) -> tuple[int, float]:
    import av

    with av.open(str(path)) as c:
        n = sum(1 for _ in c.decode(video=0))
        return n, float(c.duration / 1e6) if c.duration else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--frames", type=int, default=90, help="frames per synthetic clip")
    ap.add_argument("--clip-set", default="faces_wider", help="labelled set the clips are made from")
    ap.add_argument("--clips", type=int, default=5, help="number of clips")
    ap.add_argument("--clip-size", default="x".join(map(str, CLIP_SIZE)), help="clip frame size WxH")
    ap.add_argument("--variant", action="append", help="privis variants to run (default: all)")
    ap.add_argument("--skip-speed", action="store_true", help="only the leak-rate part")
    ap.add_argument("--skip-leak", action="store_true", help="only the speed part")
    ap.add_argument("--repeat", type=int, default=3, help="speed: runs per tool, alternating; the median is reported")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    deface = ensure_deface()
    leak_rows, speed_rows = [], []
    with tempfile.TemporaryDirectory(prefix="privis-video-bench-") as tmp:
        tmp = Path(tmp)
        labels = load_box_labels(args.data / args.clip_set / "labels.csv")
        totals: dict[str, list[int]] = {}
        size = tuple(int(v) for v in args.clip_size.lower().split("x"))
        for name in [] if args.skip_leak else crowd_photos(labels, args.clips):
            stem = Path(name).stem
            image = read_image(args.data / args.clip_set / name).rgb
            clip = list(pan_zoom_clip(image, labels[name].boxes, frames=args.frames, size=size))
            src = write_video(tmp / f"{stem}.mp4", [f for f, _ in clip], fps=30)
            truth = [b for _, b in clip]
            outs = {
                tool: (tmp / f"{stem}.{i}.mp4", privis_cmd(src, tmp / f"{stem}.{i}.mp4", [*BLACK, *extra]), (0, 0, 0))
                for i, (tool, extra) in enumerate(PRIVIS_VARIANTS.items())
                if not args.variant or tool in args.variant
            }
            outs["deface"] = (
                tmp / f"{stem}.deface.mp4",
                deface_cmd(deface, src, tmp / f"{stem}.deface.mp4"),
                (0, 0, 0),
            )
            for tool, (dst, cmd, color) in outs.items():
                run(cmd)
                r = leak_rate(dst, truth, color)
                t = totals.setdefault(tool, [0, 0])
                t[0] += r["leaked"]
                t[1] += r["pairs"]
                print(f"{stem} {tool}: {r}", file=sys.stderr)
        for tool, (leaked, pairs) in totals.items():
            leak_rows.append({"tool": tool, "pairs": pairs, "leaked": leaked, "leak_rate": round(leaked / pairs, 4)})
        if not args.skip_speed:
            for video in VIDEOS:
                src = args.data / "videos" / video
                n_in, dur_in = probe(src)
                cmds = {
                    "privis": privis_cmd(src, tmp / "p.mp4", []),
                    "deface": deface_cmd(deface, src, tmp / "d.mp4"),
                }
                walls: dict[str, list[float]] = {tool: [] for tool in cmds}
                for _ in range(args.repeat):  # alternate, so that both see the same machine
                    for tool, cmd in cmds.items():
                        walls[tool].append(run(cmd))
                for tool in cmds:
                    wall = float(np.median(walls[tool]))
                    n_out, dur_out = probe(tmp / ("p.mp4" if tool == "privis" else "d.mp4"))
                    speed_rows.append(
                        {
                            "video": video,
                            "tool": tool,
                            "frames_in": n_in,
                            "frames_out": n_out,
                            "duration_in": round(dur_in, 3),
                            "duration_out": round(dur_out, 3),
                            "wall_s": round(wall, 2),
                            "walls_s": [round(w, 2) for w in walls[tool]],
                            "fps": round(n_in / wall, 1),
                        }
                    )
                    print(speed_rows[-1], file=sys.stderr)
    table = ""
    if leak_rows:
        table = f"Leak rate on pan/zoom clips of {args.clips} {args.clip_set} photos:\n\n" + markdown_table(
            ["tool", "(face, frame) pairs", "leaked", "leak rate"],
            [[r["tool"], r["pairs"], r["leaked"], r["leak_rate"]] for r in leak_rows],
        )
    if speed_rows:
        table += f"\n\nEnd-to-end speed (median of {args.repeat} alternating runs):\n\n" + markdown_table(
            ["video", "tool", "frames in", "frames out", "duration in s", "duration out s", "wall s", "fps"],
            [
                [
                    r["video"],
                    r["tool"],
                    r["frames_in"],
                    r["frames_out"],
                    r["duration_in"],
                    r["duration_out"],
                    r["wall_s"],
                    r["fps"],
                ]
                for r in speed_rows
            ],
        )
    emit("video", {"leak": leak_rows, "speed": speed_rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
