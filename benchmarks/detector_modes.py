"""Speed/recall trade-off of CenterFace's small-face passes (`--small-faces never|auto|always`).

For each labelled set, runs the detector in each mode on every image (decoded once,
beforehand) and reports recall as DESIGN.md defines it (box masks, default margins),
the false-obfuscated share, and detector milliseconds per image on this machine.

Usage::

    python benchmarks/detector_modes.py [--data ../shared/data] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import DEFAULT_DATA, detector_table, emit, recall_row

from privis.audit.detection_eval import RecallReport, load_box_labels
from privis.media.image import read_image
from privis.pipeline import Anonymizer

SETS = ("faces_masks", "faces_dlib", "faces_wider")
MODES = ("never", "auto", "always")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for name in SETS:
        root = args.data / name
        labels = load_box_labels(root / "labels.csv")
        frames = {n: read_image(root / n).rgb for n in labels}
        for mode in MODES:
            anon = Anonymizer(method="fill", shape="box", small_faces=mode)
            anon.detect(next(iter(frames.values())))  # warm-up
            report = RecallReport()
            spent = 0.0
            for n, rgb in frames.items():
                t = time.perf_counter()
                regions = anon.detect(rgb)
                spent += time.perf_counter() - t
                report.add(anon.hidden_mask(regions, *rgb.shape[:2]), labels[n])
            s = report.summary()
            rows.append(recall_row(name, mode, s, 1000 * spent / len(frames)))
            print(rows[-1], file=sys.stderr)
    emit("detector_modes", {"results": rows}, detector_table(rows, "--small-faces"), args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
