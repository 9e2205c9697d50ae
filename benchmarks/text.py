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

from privis.audit.synthetic import A4_300DPI, text_page
from privis.detect import create_detector

PROSE = "The committee met on a quiet afternoon to review the budget for the coming year."
FIELDS = {
    "PERSON": "Jessica Smith",
    "EMAIL": "jessica.smith@example.com",
    "PHONE": "(212) 555-1234",
    "IBAN": "GB82 WEST 1234 5698 7654 32",
    "CREDIT_CARD": "4539 1488 0343 6467",  # groups differ: word boxes are looked up by text
    "US_SSN": "078-05-1120",
    "DATE": "12/03/1985",
}


def form() -> tuple[np.ndarray, dict[str, list[tuple[float, float, float, float]]]]:
    lines, labels = [], []
    for (kind, value), label in zip(
        FIELDS.items(), ["Name", "E-mail", "Phone", "IBAN", "Card", "SSN", "Born"], strict=True
    ):
        lines += [PROSE, f"{label}: {value}"]
        labels.append((kind, value))
    lines += [PROSE] * 6
    page, boxes = text_page(lines, size=A4_300DPI, font_px=50)
    return page, {kind: [ink_box(page, boxes[w]) for w in value.split()] for kind, value in labels}


def ink_box(page: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The word's layout box shrunk to its dark pixels: what must be painted over."""
    x1, y1, x2, y2 = (int(v) for v in box)
    ys, xs = np.nonzero(page[y1:y2, x1:x2].min(axis=2) < 128)
    return (x1 + xs.min(), y1 + ys.min(), x1 + xs.max() + 1, y1 + ys.max() + 1)


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
