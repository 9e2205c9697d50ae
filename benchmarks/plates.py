"""Licence plates on plates_openalpr: recall, false-obfuscated share and time, as DESIGN.md measures faces.

A labelled plate counts when at least 90 % of its box lies under the hidden boxes (the
detector's boxes grown by the image margins, 1.3 and 2 px). The false-obfuscated share
is the hidden area outside the labelled plate over the frame's area. Only one plate per
image is labelled, so other cars' plates count as false here: the share is an upper
bound. Also times ``--targets face,plate`` per 1280x720 image for each small-face mode.

Usage::

    python benchmarks/plates.py [--modes auto,crowd,never] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, emit, markdown_table

import privis
from privis.media.image import read_image
from privis.pipeline import Policy


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "plates_openalpr")
    ap.add_argument("--modes", default="auto,crowd,never", help="--small-faces modes to time face,plate with")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = list(csv.DictReader((args.data / "labels.csv").open()))
    plates = privis.Anonymizer(targets="plate")
    policy = Policy(mask_scale=1.3, mask_pad=2.0)
    hits: dict[str, list[bool]] = {}
    false_share, times = [], []
    for r in rows:
        img = read_image(args.data / r["image"]).rgb
        start = time.perf_counter()
        found = plates.detect(img)
        times.append(time.perf_counter() - start)
        hidden = np.zeros(img.shape[:2], bool)
        for x1, y1, x2, y2 in policy.apply(found, *img.shape[:2]).xyxy.astype(int):
            hidden[max(y1, 0) : y2, max(x1, 0) : x2] = True
        x1, y1, x2, y2 = (int(r[k]) for k in ("x1", "y1", "x2", "y2"))
        hits.setdefault(r["region"], []).append(bool(hidden[y1:y2, x1:x2].mean() >= 0.9))
        hidden[y1:y2, x1:x2] = False
        false_share.append(float(hidden.mean()))
    every = [h for v in hits.values() for h in v]
    recall = {
        "images": len(every),
        "recall": round(float(np.mean(every)), 4),
        "by_region": {k: round(float(np.mean(v)), 4) for k, v in sorted(hits.items())},
        "false_obfuscated_share": round(float(np.mean(false_share)), 4),
        "plate_ms_median": round(1000 * float(np.median(times)), 1),
    }
    print(recall, file=sys.stderr)
    hd = [r for r in rows if (r["img_w"], r["img_h"]) == ("1280", "720")]
    timing = []
    for mode in args.modes.split(","):
        both = privis.Anonymizer(targets="face,plate", method="fill", shape="box", small_faces=mode)
        ms = []
        for r in hd:
            img = read_image(args.data / r["image"]).rgb
            start = time.perf_counter()
            both.process(img)
            ms.append(1000 * (time.perf_counter() - start))
        timing.append({"small_faces": mode, "images": len(hd), "median_ms": round(float(np.median(ms))),
                       "p90_ms": round(float(np.percentile(ms, 90)))})  # fmt: skip
        print(timing[-1], file=sys.stderr)
    table = markdown_table(
        ["images", "recall", "US", "EU", "false share", "plate ms (median)"],
        [[recall["images"], recall["recall"], recall["by_region"].get("us"), recall["by_region"].get("eu"),
          recall["false_obfuscated_share"], recall["plate_ms_median"]]],
    ) + "\n\n" + markdown_table(
        ["face,plate at 1280x720: --small-faces", "images", "median ms", "p90 ms"],
        [[t["small_faces"], t["images"], t["median_ms"], t["p90_ms"]] for t in timing],
    )  # fmt: skip
    emit("plates", {"recall": recall, "face_plate_720p": timing}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
