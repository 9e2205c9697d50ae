"""Burned-in patient data over texture, in layouts and fonts the DICOM set does not use.

A check kept apart from `dicom_text.py`'s generated set: six overlays (label-first,
surname-first with a comma, everything on one line, black-on-texture bold, a bitmap font
with no labels at all, a long hyphenated name) drawn in white over scikit-image's camera
photo (texture where the set has smooth anatomy), in matplotlib's STIX and Computer Modern
fonts and Pillow's bitmap font. `redact-text`'s default policy (personal data) is run with
Tesseract alone and with the default OCR; a value counts as hidden when 90 % of its ink
changed, a label or kept item as kept when under 10 % did.

Usage::

    python benchmarks/overlay_texture.py [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from _common import emit, markdown_table

from privis.audit.dicom_set import ink_hidden
from privis.detect.text_pii import TextPiiDetector

Part = tuple[str, str]  # (kind, text)
CASES: dict[str, tuple[str | None, int, list[tuple[str, list[list[Part]]]]]] = {
    "labels first": ("STIXGeneral.ttf", 18, [
        ("tl", [[("label", "Name:"), ("name", "OKAFOR, EMEKA")],
                [("label", "Sex:"), ("sex", "M"), ("label", "Age:"), ("age", "052Y")],
                [("label", "DOB:"), ("date", "1972/04/19")], [("label", "MRN:"), ("id", "00458823")]]),
        ("tr", [[("site", "ST. JUDE MEDICAL CENTRE")], [("label", "Acc:"), ("id", "A2024-5512")]])]),
    "one line": ("cmss10.ttf", 20, [
        ("tl", [[("name", "LINDQVIST ASTRID"), ("sex", "[F]"), ("date", "19560312"), ("label", "ID"),
                 ("id", "77812345")]])]),
    "bottom, bold": ("STIXGeneralBol.ttf", 16, [
        ("bl", [[("name", "PATEL RAHUL"), ("sex", "(M)"), ("date", "03-APR-1988")], [("site", "Royal Infirmary")]])]),
    "title case": ("cmr10.ttf", 18, [
        ("tl", [[("label", "Patient:"), ("name", "Tanaka Hiroshi")], [("label", "Birth date:"), ("date", "3 Apr 1988")],
                [("label", "Pat. No."), ("id", "JP-449120")]])]),
    "bitmap, no labels": (None, 11, [
        ("tr", [[("name", "MORALES GOMEZ LUCIA")], [("id", "HC4471203")], [("date", "07/22/1990"), ("sex", "F")],
                [("site", "HOSPITAL GENERAL LA PAZ")]])]),
    "hyphenated name": ("STIXGeneral.ttf", 22, [
        ("tl", [[("name", "ABERNATHY-QUINN, SIOBHAN")], [("label", "DOB"), ("date", "1949-11-30"), ("label", "Sex:"),
                ("sex", "F")]]), ("br", [[("keep", "80kVp")], [("keep", "12mAs")]])]),
}  # fmt: skip


def render(font_name: str | None, size: int, corners: list[tuple[str, list[list[Part]]]]):  # noqa: ANN201
    """The overlay drawn over the camera photo (darkened): the 8-bit frame and its items."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont
    from skimage import data

    field = np.asarray(Image.fromarray(data.camera()).resize((640, 640))).astype(np.float32) * 0.55
    canvas = Image.fromarray(field.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    font = ImageFont.truetype(str(fonts / font_name), size) if font_name else ImageFont.load_default()
    items = []
    for corner, lines in corners:
        for j, parts in enumerate(lines):
            width = draw.textlength("  ".join(t for _, t in parts), font=font)
            x = 640 - 12 - width if corner in ("tr", "br") else 12
            y = 12 + j * int(size * 1.5) if corner in ("tl", "tr") else 640 - 12 - (len(lines) - j) * int(size * 1.5)
            for kind, text in parts:
                draw.text((x, y), text, fill=255, font=font)
                items.append((kind, text, draw.textbbox((x, y), text, font=font)))
                x += draw.textlength(text + "  ", font=font)
    return np.asarray(canvas), items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for engine in ("tesseract", "auto"):
        detector = TextPiiDetector(ocr=engine, text="pii")
        values, kept, missed = [], [], []
        for name, (font, size, corners) in CASES.items():
            frame, items = render(font, size, corners)
            regions = detector.detect(np.stack([frame] * 3, -1))
            after = frame.copy()
            for x1, y1, x2, y2 in np.round(regions.xyxy).astype(int):
                after[y1:y2, x1:x2] = 0
            for kind, text, box in items:
                share = ink_hidden(frame, after, box)
                if kind in ("keep", "label"):
                    kept.append(share <= 0.1)
                else:
                    values.append(share >= 0.9)
                    if share < 0.9:
                        missed.append(f"{name}: {text}")
        rows.append({"ocr": engine, "values": len(values), "hidden": int(sum(values)), "kept": int(sum(kept)),
                     "kept_of": len(kept), "missed": missed})  # fmt: skip
        print(rows[-1], file=sys.stderr)
    table = markdown_table(
        ["OCR", "values hidden", "labels and kept text kept", "missed"],
        [[r["ocr"], f"{r['hidden']} / {r['values']}", f"{r['kept']} / {r['kept_of']}", "; ".join(r["missed"]) or "-"]
         for r in rows],
    )  # fmt: skip
    emit("overlay_texture", {"cases": len(CASES), "runs": rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
