"""Burned-in text in DICOM files: what privis hides, with the header and without it, beside Presidio.

The set is generated (`privis.audit.dicom_set`): 60 scans of six modalities at 8, 12
and 16 bits (some multi-frame), corner overlays in four layouts and fonts carrying the
header's name (eighteen countries), ID, dates (five forms), sex and institution, the labels
before them, and text that identifies nobody (L/R, kV, mAs, a scale). A value counts as
hidden when 90 % of its ink changed in every frame, and a kept item or label as kept when
under 10 % did. Recall is over the values; labels are reported apart (no policy must keep them).

- **with the header**: ``privis redact-text`` on the DICOM files, by default (all text but
  markers and acquisition values) and with ``--text pii`` (personal data: the recognizers
  plus the header's values up to OCR errors);
- **without it**: the first frame's 8-bit pixels saved as PNG, ``redact-text`` by default
  (personal data) and with ``--preset medical`` (all text but the keep list);
- **Presidio** (with ``--presidio-python``, a scratch venv's Python holding
  ``presidio-image-redactor``): its ``DicomImageRedactorEngine`` with ``use_metadata`` on the
  DICOM files and its ``ImageRedactorEngine`` on the PNGs (see ``presidio_dicom.py``). A file
  it fails on counts as nothing hidden.

Usage::

    python benchmarks/dicom_text.py [--count 60] [--presidio-python PY] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import PRIVIS, emit, markdown_table

from privis.audit.dicom_set import save_first_frames, score_items, write_dicom_set


def _redact(src: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([*PRIVIS, "redact-text", str(src), "-o", str(out), "-q", *extra],
                   check=False, capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def _presidio(python: str, mode: str, src: Path, out: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([python, str(Path(__file__).with_name("presidio_dicom.py")), mode, str(src), str(out)],
                          check=False, capture_output=True, text=True)  # fmt: skip
    print(done.stderr[-2000:], file=sys.stderr)
    return time.perf_counter() - start


def main() -> int:
    import pydicom
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--presidio-python", help="a Python with presidio-image-redactor, for the side-by-side rows")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = write_dicom_set(root / "dicom", count=args.count)
        files = sorted({r["file"] for r in rows})
        frames = sum(int(getattr(pydicom.dcmread(root / "dicom" / f), "NumberOfFrames", 1) or 1) for f in files)
        save_first_frames(root / "dicom", root / "png")

        def dicom_frames(name: str, out: Path):  # noqa: ANN202
            a = pydicom.dcmread(root / "dicom" / name).pixel_array
            b = pydicom.dcmread(out / name).pixel_array if (out / name).exists() else a
            return (a, b) if a.ndim == 3 else ([a], [b])

        def png_frames(name: str, out: Path):  # noqa: ANN202
            png = name.replace(".dcm", ".png")
            before = np.asarray(Image.open(root / "png" / png))
            return [before], [np.asarray(Image.open(out / png)) if (out / png).exists() else before]

        runs = [("privis, DICOM with the header (default: all text)", "dicom", ()),
                ("privis, DICOM with the header, --text pii", "dicom", ("--text", "pii")),
                ("privis, PNG without it (default: personal data)", "png", ()),
                ("privis, PNG without it, --preset medical", "png", ("--preset", "medical"))]  # fmt: skip
        if args.presidio_python:
            runs += [("Presidio DicomImageRedactorEngine, use_metadata", "dicom", None),
                     ("Presidio ImageRedactorEngine, PNG", "png", None)]  # fmt: skip
        for k, (label, kind, extra) in enumerate(runs):
            out = root / f"out{k}"
            if extra is None:
                seconds = _presidio(args.presidio_python, "dicom" if kind == "dicom" else "image", root / kind, out)
            else:
                seconds = _redact(root / kind, out, *extra)
            count = frames if kind == "dicom" else len(files)
            frames_of = dicom_frames if kind == "dicom" else png_frames
            results.append({"run": label, **score_items(rows, lambda n, o=out, f=frames_of: f(n, o)),
                            "s_per_frame": round(seconds / count, 2)})  # fmt: skip
            print(results[-1], file=sys.stderr)
    kinds = sorted(results[0]["by_kind"])
    table = markdown_table(
        ["run", "identifying recall", "non-identifying kept", "labels kept", *[f"hidden: {k}" for k in kinds],
         "s / frame"],
        [[r["run"], r["identifying_recall"], r["kept_share"], r["labels_kept"], *[r["by_kind"].get(k) for k in kinds],
          r["s_per_frame"]] for r in results],
    )  # fmt: skip
    emit("dicom_text", {"files": len(files), "frames": frames, "items": len(rows), "results": results}, table,
         args.out, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
