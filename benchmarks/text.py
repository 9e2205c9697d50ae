"""Seconds per A4 page at 300 dpi for each OCR engine, and what each finds on the page.

Renders an A4 form at 300 dpi (2480x3508) holding a name, e-mail, phone, IBAN, card,
SSN and date of birth between paragraphs of ordinary prose, and runs the text-pii
detector (OCR + recognizers) with each engine, best of `--repeat` runs. An entity counts
as found when boxes of its type cover at least 90 % of the ink of each of its words.

Usage::

    python benchmarks/text.py [--engines tesseract,rapidocr,auto] [--repeat 2] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _common import emit, markdown_table

from privis.audit.synthetic import A4_300DPI
from privis.audit.text_eval import form_case
from privis.detect import create_detector


def form() -> tuple[np.ndarray, dict[str, list[tuple[float, float, float, float]]]]:
    """`privis eval text`'s rendered form on an A4 page at 300 dpi, with each entity's word ink boxes."""
    case = form_case(size=A4_300DPI, font_px=50, extra_prose=5)
    truth: dict[str, list[tuple[float, float, float, float]]] = {}
    for kind, box in zip(case.types, case.boxes, strict=True):
        truth.setdefault(kind, []).append(tuple(box))
    return case.rgb, truth


def covered(found, word_box, kind: str) -> bool:
    x1, y1, x2, y2 = word_box
    area = max((x2 - x1) * (y2 - y1), 1.0)
    for (a1, b1, a2, b2), k in zip(found.xyxy, found.data.get("entity", []), strict=False):
        if k == kind:
            inter = max(0.0, min(x2, a2) - max(x1, a1)) * max(0.0, min(y2, b2) - max(y1, b1))
            if inter / area >= 0.9:
                return True
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", default="tesseract,rapidocr,auto")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    page, truth = form()
    rows = []
    for engine in args.engines.split(","):
        detector = create_detector("text-pii", ocr=engine)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            found = detector(page)
            times.append(time.perf_counter() - start)
        hits = sorted(k for k, words in truth.items() if all(covered(found, b, k) for b in words))
        rows.append(
            {
                "engine": engine,
                "seconds_per_page": round(min(times), 2),
                "entities_found": len(hits),
                "entities": len(truth),
                "missed": sorted(set(truth) - set(hits)),
                "boxes": len(found),
            }
        )
        print(rows[-1], file=sys.stderr)
    table = markdown_table(
        ["engine", "s per A4 page (300 dpi)", "entities redacted", "missed", "boxes"],
        [
            [r["engine"], r["seconds_per_page"], f"{r['entities_found']}/{r['entities']}",
             ", ".join(r["missed"]) or "-", r["boxes"]]
            for r in rows
        ],
    )  # fmt: skip
    emit("text", {"page": list(A4_300DPI), "repeat": args.repeat, "results": rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
