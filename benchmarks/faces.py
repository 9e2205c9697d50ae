"""Face anonymization recall and speed: privis against deface, same images, same run.

Both tools paint faces in a solid colour with box masks (privis: magenta through
``privis anonymize --method fill --fill-color 255,0,255 --shape box --format png``;
deface: black through ``deface --boxes --replacewith solid``, defaults otherwise), and
``privis eval faces --outputs`` scores the files each wrote: a labelled face counts when
at least 90 % of its pixels are painted. Wall time is the whole process of each command.

Precision beside recall: on the labelled sets, painted regions touching no labelled face
(false, though a set may hold a few unlabelled faces); on ``--negatives`` (default
``scenes_empty``: photos with nobody in them), every painted region is false.

deface runs from its own virtual environment (``.bench/deface-venv``, created on first
use with ``pip install deface==1.5.0 onnx onnxruntime``) so its OpenCV never meets ours.

Usage::

    python benchmarks/faces.py [--data ../shared/data] [--sets faces_masks,faces_dlib,faces_wider,faces_afw]
                               [--negatives scenes_empty] [--json] [--out benchmarks/results]
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
SETS = ("faces_masks", "faces_dlib", "faces_wider", "faces_afw")


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
    from PIL import Image, ImageOps

    scratch.mkdir(parents=True)
    inputs = []
    for f in sorted(images.iterdir()):
        if f.suffix.lower() == ".png":
            (scratch / f.name).symlink_to(f)
        elif f.suffix.lower() in (".jpg", ".jpeg"):
            # JPEG in, JPEG out would blur the painted colour: hand deface the same pixels as PNG,
            # upright as privis reads them (deface would see a rotated photo's raw pixels)
            ImageOps.exif_transpose(Image.open(f)).convert("RGB").save(scratch / (f.stem + ".png"), compress_level=1)
        else:
            continue
        inputs.append(scratch / (f.stem + ".png"))
    dt = timed([str(exe), *map(str, inputs), "--boxes", "--replacewith", "solid"], cwd=scratch)
    out.mkdir(parents=True)
    for f in inputs:
        shutil.move(scratch / (f.stem + "_anonymized.png"), out / (f.stem + ".png"))
    return dt


def score(root: Path, outputs: Path, color: str, negatives: bool = False) -> dict:
    """`privis eval faces` on the files a tool wrote: on a labelled set, or (`negatives`) a folder of them."""
    what = (["--negatives", str(root), "--negative-outputs", str(outputs)] if negatives
            else ["--labels", str(root / "labels.csv"), "--images", str(root), "--outputs", str(outputs)])  # fmt: skip
    proc = subprocess.run(
        [*PRIVIS, "eval", "faces", *what, "--fill-color", color, "--json"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"eval failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--negatives", default="scenes_empty", help="a folder of photos with no face ('' for none)")
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
                        "false_regions": s["false_regions"],
                        "false_per_mp": s["false_regions_per_megapixel"],
                        "faces": s["faces"],
                        "by_height": {k: v["recall"] for k, v in s["by_height"].items()},
                    }
                )
                print(
                    f"{name:12s} {tool:7s} recall {s['recall']}  false {s['false_obfuscated_share']}  {t:.2f} s",
                    file=sys.stderr,
                )
        negatives = []
        if args.negatives:
            images = args.data / args.negatives / "images"
            n = len([p for p in images.iterdir() if p.is_file()])
            p_out, d_out = Path(tmp) / "neg" / "privis", Path(tmp) / "neg" / "deface"
            t_privis = run_privis(images, p_out)
            t_deface = run_deface(deface, images, d_out, Path(tmp) / "neg" / "deface-in")
            for tool, t, out, color in (("privis", t_privis, p_out, "255,0,255"), ("deface", t_deface, d_out, "0,0,0")):
                s = score(images, out, color, negatives=True)["negatives"]
                negatives.append({"set": args.negatives, "tool": tool, "images": n, "megapixels": s["megapixels"],
                                  "false_regions": s["false_regions"], "per_image": s["false_regions_per_image"],
                                  "per_mp": s["false_regions_per_megapixel"], "by_height": s["false_regions_by_height"],
                                  "false_share": s["false_obfuscated_share"], "wall_s": round(t, 2)})  # fmt: skip
                print(f"{args.negatives} {tool:7s} false regions {s['false_regions']}  {t:.2f} s", file=sys.stderr)
    buckets = list(results[0]["by_height"]) if results else []
    header = ["set", "tool", "images", "faces", "recall", *(f"h {b}" for b in buckets), "false regions",
              "false / MP", "false share", "wall s"]  # fmt: skip
    cells = [
        [
            r["set"],
            r["tool"],
            r["images"],
            r["faces"],
            r["recall"],
            *(r["by_height"][b] for b in buckets),
            r["false_regions"],
            r["false_per_mp"],
            r["false_share"],
            r["wall_s"],
        ]  # fmt: skip
        for r in results
    ]
    table = markdown_table(header, cells)
    if negatives:
        kinds = list(negatives[0]["by_height"])
        table += "\n\nNegatives: photos with nobody in them; every painted region is false.\n\n" + markdown_table(
            ["set", "tool", "images", "MP", "false regions", "per image", "per MP", *(f"h {b}" for b in kinds),
             "false share", "wall s"],
            [[r["set"], r["tool"], r["images"], r["megapixels"], r["false_regions"], r["per_image"], r["per_mp"],
              *(r["by_height"][b] for b in kinds), r["false_share"], r["wall_s"]] for r in negatives],
        )  # fmt: skip
    emit("faces", {"results": results, "negatives": negatives}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
