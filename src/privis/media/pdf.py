"""PDF files: pages rasterized for detection, written back as an image-only PDF.

The redacted PDF holds pictures of the pages and nothing else: a PDF's text layer,
annotations, form fields and metadata would carry the very text that was painted over,
so none of them is copied.

Usage::

    pages = read_pdf("form.pdf", dpi=300)      # RGB uint8 arrays, one per page
    write_pdf("form_redacted.pdf", [redact(p) for p in pages], dpi=300)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from privis.errors import MediaError, OutputExistsError, PrivisError
from privis.media.files import write_atomically

PDF_SUFFIXES = (".pdf",)


def is_pdf_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` has a PDF suffix."""
    return Path(path).suffix.lower() in PDF_SUFFIXES


def read_pdf(path: str | os.PathLike[str], *, dpi: int = 300) -> Iterator[np.ndarray]:
    """Each page of `path` rendered at `dpi` as RGB uint8, one at a time (pages are large)."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise PrivisError("PDF needs pypdfium2: pip install 'privis[ocr]'") from None
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    try:
        doc = pdfium.PdfDocument(str(path))
    except Exception as exc:
        raise MediaError(f"{path}: cannot open PDF ({exc})") from None
    try:
        if len(doc) == 0:
            raise MediaError(f"{path}: the PDF has no pages")
        for page in doc:
            bitmap = page.render(scale=dpi / 72)
            yield np.asarray(bitmap.to_pil().convert("RGB"))
            page.close()
    finally:
        doc.close()


def write_pdf(
    path: str | os.PathLike[str], pages: Sequence[np.ndarray], *, dpi: int = 300, overwrite: bool = False
) -> Path:
    """Write RGB `pages` as an image-only PDF at `dpi` (atomically)."""
    from PIL import Image

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
    if not pages:
        raise PrivisError("write_pdf: no pages")
    images = [Image.fromarray(np.asarray(p, np.uint8)) for p in pages]

    def save(tmp: str) -> None:
        images[0].save(tmp, "PDF", save_all=True, append_images=images[1:], resolution=float(dpi))

    return write_atomically(path, save, overwrite=overwrite)
