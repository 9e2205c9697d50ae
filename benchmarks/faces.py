"""Face anonymization recall and speed: privis against deface, same images, same run.

Both tools paint faces in a solid colour with box masks (privis: magenta through
``privis anonymize --method fill --fill-color 255,0,255 --shape box --format png``;
deface: black through ``deface --boxes --replacewith solid``, defaults otherwise), and
``privis eval faces --outputs`` scores the files each wrote: a labelled face counts when
at least 90 % of its pixels are painted. Wall time is the whole process of each command.

deface runs from its own virtual environment (``.bench/deface-venv``, created on first
use with ``pip install deface==1.5.0 onnx onnxruntime``) so its OpenCV never meets ours.

Usage::

    python benchmarks/faces.py [--data ../shared/data] [--sets faces_masks,faces_dlib,faces_wider]
                               [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, PRIVIS, REPO, emit, markdown_table, privis_anonymize

DEFACE_VENV = REPO / ".bench" / "deface-venv"
SETS = ("faces_masks", "faces_dlib", "faces_wider")


def ensure_deface() -> Path:
    exe = DEFACE_VENV / "bin" / "deface"
    if not exe.exists():
        print("creating", DEFACE_VENV, "(deface 1.5.0 + onnxruntime)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(DEFACE_VENV)], check=True)
        subprocess.run(
            [str(DEFACE_VENV / "bin" / "pip"), "install", "-q", "deface==1.5.0", "onnx", "onnxruntime"], check=True
        )
    return exe


def timed(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
    dt = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return dt


def run_privis(images: Path, out: Path) -> float:
    return timed(privis_anonymize(images, out, "--format", "png"))


def run_deface(exe: Path, images: Path, out: Path, scratch: Path) -> float:
    """deface writes `<name>_anonymized.<ext>` beside each input: give it PNG links (or lossless copies)."""
    from PIL import Image

    scratch.mkdir(parents=True)
    inputs = []
    for f in sorted(images.iterdir()):
        if f.suffix.lower() == ".png":
            (scratch / f.name).symlink_to(f)
        else:  # JPEG in, JPEG out would blur the painted colour: hand deface the same pixels as PNG
            Image.open(f).convert("RGB").save(scratch / (f.stem + ".png"), compress_level=1)
        inputs.append(scratch / (f.stem + ".png"))
    dt = timed([str(exe), *map(str, inputs), "--boxes", "--replacewith", "solid"], cwd=scratch)
    out.mkdir(parents=True)
    for f in inputs:
        shutil.move(scratch / (f.stem + "_anonymized.png"), out / (f.stem + ".png"))
    return dt


def score(root: Path, outputs: Path, color: str) -> dict:
    proc = subprocess.run(
        [
            *PRIVIS,
            "eval",
            "faces",
            "--labels",
            str(root / "labels.csv"),
            "--images",
            str(root),
            "--outputs",
            str(outputs),
            "--fill-color",
            color,
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"eval failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--out", type=Path, help="write faces.md and faces.json here")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"data folder not found: {args.data} (set PRIVIS_DATA)")
    deface = ensure_deface()
    results = []
    with tempfile.TemporaryDirectory(prefix="privis-bench-") as tmp:
        for name in args.sets.split(","):
            root = args.data / name
            images = root / "images"
            n = len([p for p in images.iterdir() if p.is_file()])
            p_out, d_out = Path(tmp) / name / "privis" / "images", Path(tmp) / name / "deface" / "images"
            t_privis = run_privis(images, p_out)
            t_deface = run_deface(deface, images, d_out, Path(tmp) / name / "deface-in")
            for tool, t, out, color in (("privis", t_privis, p_out, "255,0,255"), ("deface", t_deface, d_out, "0,0,0")):
                s = score(root, out.parent, color)
                results.append(
                    {
                        "set": name,
                        "tool": tool,
                        "images": n,
                        "wall_s": round(t, 2),
                        "recall": s["recall"],
                        "false_share": s["false_obfuscated_share"],
                        "faces": s["faces"],
                        "by_height": {k: v["recall"] for k, v in s["by_height"].items()},
                    }
                )
                print(
                    f"{name:12s} {tool:7s} recall {s['recall']}  false {s['false_obfuscated_share']}  {t:.2f} s",
                    file=sys.stderr,
                )
    buckets = list(results[0]["by_height"]) if results else []
    header = ["set", "tool", "images", "faces", "recall", "false share", *(f"h {b}" for b in buckets), "wall s"]
    cells = [
        [
            r["set"],
            r["tool"],
            r["images"],
            r["faces"],
            r["recall"],
            r["false_share"],
            *(r["by_height"][b] for b in buckets),
            r["wall_s"],
        ]
        for r in results
    ]
    emit("faces", {"results": results}, markdown_table(header, cells), args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
