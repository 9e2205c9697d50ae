"""Licence plates on plates_openalpr: recall, false-obfuscated share and time, as DESIGN.md measures faces.

Recall is measured the way the issue states it: ``privis anonymize`` over the whole set
with ``--targets plate --method fill --fill-color 255,0,255 --shape box --format png``,
then ``privis eval plates --outputs`` reads the magenta pixels back. A labelled plate
counts when at least 90 % of its box is painted. Only one plate per image is labelled,
so other cars' plates count as false here: the false share is an upper bound. Then the
same photos made hard (`privis.audit.harden`: turned 15 and 30 degrees, fisheye, scaled
down to plates 12-20 px tall, night), each kind in its own row, scored in memory with
``privis eval plates``; false plate regions on ``scenes_empty`` (nobody, no car); and
times ``--targets face,plate`` per 1280x720 image (detection and painting, in memory)
with the default small-face mode for that target list and with each mode named.

Usage::

    python benchmarks/plates.py [--modes auto,crowd,never] [--hard rotate15,...] [--json] [--out benchmarks/results]
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
from privis.audit.harden import HARD_KINDS, write_hard_set
from privis.config import Settings
from privis.media.image import read_image


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "plates_openalpr")
    ap.add_argument("--modes", default="auto,crowd,never", help="--small-faces modes to time face,plate with")
    ap.add_argument("--hard", default=",".join(HARD_KINDS), help="hard kinds to score, '' for none")
    ap.add_argument("--negatives", type=Path, default=DEFAULT_DATA / "scenes_empty")
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
    hard = []
    for kind in filter(None, args.hard.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            made = write_hard_set(labels, args.data, Path(tmp), kind)
            start = time.perf_counter()
            got = run_json([*PRIVIS, "eval", "plates", "--labels", str(made), "--images", tmp, "--json", "-q"])
            got.update(kind=kind, seconds=round(time.perf_counter() - start, 1))
        hard.append(got)
        print(kind, got["recall"], file=sys.stderr)
    negatives = run_json([*PRIVIS, "eval", "plates", "--negatives", str(args.negatives), "--json", "-q"])["negatives"]
    print("negatives", negatives["false_regions_per_image"], file=sys.stderr)
    rows = list(csv.DictReader(labels.open()))
    hd = [args.data / r["image"] for r in rows if (r["img_w"], r["img_h"]) == ("1280", "720")]
    images = [read_image(p).rgb for p in hd]
    default_mode = Settings(targets="face,plate").resolved("image").face.detector_options["small_faces"]
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
        ["made hard", "plates", "recall", "US", "EU", "unknown regions / image", "eval s"],
        [[h["kind"], h["plates"], h["recall"], h["by_region"]["us"]["recall"], h["by_region"]["eu"]["recall"],
          h["unknown_regions_per_image"], h["seconds"]] for h in hard],
    ) + "\n\n" + markdown_table(
        ["negatives", "images", "megapixels", "false regions", "per image", "per MP", "ms / MP"],
        [[args.negatives.name, negatives["images"], negatives["megapixels"], negatives["false_regions"],
          negatives["false_regions_per_image"], negatives["false_regions_per_megapixel"],
          negatives.get("ms_per_megapixel")]],
    ) + "\n\n" + markdown_table(
        ["face,plate at 1280x720: --small-faces", "images", "median ms", "p90 ms"],
        [[t["small_faces"], t["images"], t["median_ms"], t["p90_ms"]] for t in timing],
    )  # fmt: skip
    report = {"recall": recall, "hard": hard, "negatives": negatives, "face_plate_720p": timing}
    emit("plates", report, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
