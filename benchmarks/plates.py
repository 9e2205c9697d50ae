"""Licence plates on plates_openalpr: recall, false-obfuscated share and time, as DESIGN.md measures faces.

Recall is measured the way the issue states it: ``privis anonymize`` over the whole set
with ``--targets plate --method fill --fill-color 255,0,255 --shape box --format png``,
then ``privis eval plates --outputs`` reads the magenta pixels back. A labelled plate
counts when at least 90 % of its box is painted. Only one plate per image is labelled,
so other cars' plates count as false here: the false share is an upper bound. Then
times ``--targets face,plate`` per 1280x720 image (detection and painting, in memory)
with the default small-face mode for that target list and with each mode named.

Usage::

    python benchmarks/plates.py [--modes auto,crowd,never] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, PRIVIS, emit, markdown_table, privis_anonymize, run_json

import privis
from privis.media.image import read_image
from privis.pipeline import defaults_for


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "plates_openalpr")
    ap.add_argument("--modes", default="auto,crowd,never", help="--small-faces modes to time face,plate with")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    labels = args.data / "labels.csv"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(privis_anonymize(args.data, Path(tmp), "--targets", "plate", "--format", "png"), check=True)
        seconds = time.perf_counter() - start
        score = [*PRIVIS, "eval", "plates", "--labels", str(labels), "--images", str(args.data), "--outputs", tmp]
        recall = run_json([*score, "--json"])
    recall["anonymize_seconds"] = round(seconds, 1)
    print({k: recall[k] for k in ("recall", "by_region", "false_obfuscated_share")}, file=sys.stderr)
    rows = list(csv.DictReader(labels.open()))
    hd = [args.data / r["image"] for r in rows if (r["img_w"], r["img_h"]) == ("1280", "720")]
    images = [read_image(p).rgb for p in hd]
    default_mode = defaults_for("image", ["face", "plate"])["small_faces"]
    timing = []
    for mode in ["default", *args.modes.split(",")]:
        chosen = default_mode if mode == "default" else mode
        both = privis.Anonymizer(targets="face,plate", method="fill", shape="box", small_faces=chosen)
        ms = []
        for img in images:
            start = time.perf_counter()
            both.process(img)
            ms.append(1000 * (time.perf_counter() - start))
        name = mode if mode != "default" else f"default ({chosen})"
        timing.append({"small_faces": name, "images": len(ms), "median_ms": round(float(np.median(ms))),
                       "p90_ms": round(float(np.percentile(ms, 90)))})  # fmt: skip
        print(timing[-1], file=sys.stderr)
    region = recall.get("by_region", {})
    table = markdown_table(
        ["images", "recall", "US", "EU", "false share", "anonymize (s, whole set)"],
        [[recall["images"], recall["recall"], region.get("us", {}).get("recall"), region.get("eu", {}).get("recall"),
          recall["false_obfuscated_share"], recall["anonymize_seconds"]]],
    ) + "\n\n" + markdown_table(
        ["plate height (px)", "plates", "recall"],
        [[name, b["plates"], b["recall"]] for name, b in recall["by_height"].items()],
    ) + "\n\n" + markdown_table(
        ["face,plate at 1280x720: --small-faces", "images", "median ms", "p90 ms"],
        [[t["small_faces"], t["images"], t["median_ms"], t["p90_ms"]] for t in timing],
    )  # fmt: skip
    emit("plates", {"recall": recall, "face_plate_720p": timing}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
