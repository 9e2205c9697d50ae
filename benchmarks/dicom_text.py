"""Burned-in text in DICOM files: what privis hides, with the header and without it.

The set is generated (`privis.audit.dicom_set`): 60 scans of six modalities at 8, 12
and 16 bits (some multi-frame), corner overlays in four layouts and fonts carrying the
header's name (twelve countries), ID, dates (five forms), sex and institution, plus text
that identifies nobody (L/R, kV, mAs, a scale). An overlay item counts as hidden when 90 %
of its ink changed in every frame, and as kept when under 10 % did.

- **with the header**: ``privis redact-text`` on the DICOM files (default ``--text auto``:
  all text but markers and acquisition values, plus the header's values up to OCR errors);
- **without it**: the same 8-bit pixels saved as PNG, ``redact-text`` with its default
  (personal data only) and with ``--preset medical`` (all text but the keep list).

Usage::

    python benchmarks/dicom_text.py [--count 60] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import PRIVIS, emit, markdown_table

from privis.audit.dicom_set import ink_hidden, write_dicom_set


def _score(rows: list[dict], frames_of) -> dict:  # noqa: ANN001
    """Recall of identifying items, kept share of the others, by kind."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        before, after = frames_of(r["file"])
        share = min(ink_hidden(b, a, r["box"]) for b, a in zip(before, after, strict=True))
        by_kind[r["kind"]].append(share)
    ident = [s for k, v in by_kind.items() if k != "keep" for s in v]
    keep = by_kind.get("keep", [])
    return {
        "identifying_recall": round(float(np.mean([s >= 0.9 for s in ident])), 4),
        "kept_share": round(float(np.mean([s <= 0.1 for s in keep])), 4),
        "by_kind": {k: round(float(np.mean([s >= 0.9 for s in v])), 4) for k, v in sorted(by_kind.items())},
        "items": len(rows),
    }


def _redact(src: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([*PRIVIS, "redact-text", str(src), "-o", str(out), "--ocr", "tesseract", "-q", *extra],
                   check=False, capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def main() -> int:
    import pydicom
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = write_dicom_set(root / "dicom", count=args.count)
        files = sorted({r["file"] for r in rows})
        frames = sum(int(getattr(pydicom.dcmread(root / "dicom" / f), "NumberOfFrames", 1) or 1) for f in files)
        (root / "png").mkdir()
        for f in files:
            px = pydicom.dcmread(root / "dicom" / f).pixel_array
            first = px[0] if px.ndim == 3 else px
            Image.fromarray((first.astype(np.float64) * 255 / max(int(first.max()), 1)).astype(np.uint8)).save(
                root / "png" / f.replace(".dcm", ".png")
            )
        seconds = _redact(root / "dicom", root / "dicom_out")

        def dicom_frames(name: str):  # noqa: ANN202
            a, b = pydicom.dcmread(root / "dicom" / name).pixel_array, pydicom.dcmread(root / "dicom_out" / name)
            b = b.pixel_array
            return (a, b) if a.ndim == 3 else ([a], [b])

        results = [{"run": "DICOM, with the header (default)", **_score(rows, dicom_frames),
                    "s_per_frame": round(seconds / frames, 2)}]  # fmt: skip
        for label, extra in (("PNG, no header (default: personal data)", ()),
                             ("PNG, no header, --preset medical", ("--preset", "medical"))):  # fmt: skip
            out = root / ("png_out" + str(len(results)))
            seconds = _redact(root / "png", out, *extra)

            def png_frames(name: str, out: Path = out):  # noqa: ANN202
                png = name.replace(".dcm", ".png")
                return [np.asarray(Image.open(root / "png" / png))], [np.asarray(Image.open(out / png))]

            results.append({"run": label, **_score(rows, png_frames), "s_per_frame": round(seconds / len(files), 2)})
            print(results[-1], file=sys.stderr)
        print(results[0], file=sys.stderr)
    kinds = sorted(results[0]["by_kind"])
    table = markdown_table(
        ["run", "identifying recall", "non-identifying kept", *[f"hidden: {k}" for k in kinds], "s / frame"],
        [[r["run"], r["identifying_recall"], r["kept_share"], *[r["by_kind"].get(k) for k in kinds], r["s_per_frame"]]
         for r in results],
    )  # fmt: skip
    emit("dicom_text", {"files": len(files), "frames": frames, "items": len(rows), "results": results}, table,
         args.out, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
