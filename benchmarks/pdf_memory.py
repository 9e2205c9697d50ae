"""Peak memory of `privis anonymize` on long PDFs: pages stream through, so it must not grow with length.

Writes image-only PDFs of the given page counts (US letter, a few lines of personal data
and scikit-image's astronaut's face on every page), runs ``privis anonymize`` on each
(pages rendered at 300 dpi, 8.4 MP each) and samples the process's resident memory
from /proc once a second.

Usage::

    python benchmarks/pdf_memory.py [--pages 50,500] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import PRIVIS, emit, markdown_table, run_sampled


def make_pdf(path: Path, pages: int) -> Path:
    from skimage import data

    from privis.audit.synthetic import text_page
    from privis.media.pdf import write_pdf

    lines = ["Patient: Jane Q. Example", "MRN 0042-1234", "Invoice 2026-11-30", "jane@example.org"]
    page, _ = text_page(lines, size=(612, 792))
    page = page.copy()
    page[500:700, 380:580] = data.astronaut()[0:200, 150:350]
    return write_pdf(path, ((page, 72) for _ in range(pages)), overwrite=True)


def measure(src: Path, dst: Path) -> dict:
    cmd = [*PRIVIS, "anonymize", str(src), "-o", str(dst), "--quiet", "--overwrite", "--small-faces", "never"]
    samples, wall = run_sampled(cmd)
    return {
        "peak_mib": round(max(samples), 1),
        "wall_s": round(wall, 1),
        "output_mb": round(dst.stat().st_size / 1e6, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", default="50,500", help="page counts, comma-separated")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="privis-pdf-") as tmp:
        for pages in (int(p) for p in args.pages.split(",")):
            src = make_pdf(Path(tmp) / f"doc{pages}.pdf", pages)
            r = measure(src, Path(tmp) / f"out{pages}.pdf")
            rows.append({"pages": pages, **r, "s_per_page": round(r["wall_s"] / pages, 2)})
            print(rows[-1], file=sys.stderr)
    table = markdown_table(
        ["pages (letter, 300 dpi)", "peak RSS MiB", "wall s", "s/page", "output MB"],
        [[r["pages"], r["peak_mib"], r["wall_s"], r["s_per_page"], r["output_mb"]] for r in rows],
    )
    emit("pdf_memory", {"results": rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
