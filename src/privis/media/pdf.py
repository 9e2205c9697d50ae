"""PDF files: pages rasterized for detection, written back as an image-only PDF, a page at a time.

The redacted PDF holds pictures of the pages and nothing else: a PDF's text layer,
annotations, form fields and metadata (title, dates, author) would carry the very text
that was painted over, so none of them is copied, and the writer adds none of its own.

Pages are rendered, hidden and written one by one, so memory stays that of one page
whatever the length; a page whose bitmap would exceed `MAX_PAGE_PIXELS` (a tiny file can
declare a page 200 inches wide) is rendered at the lower resolution that fits.

Usage::

    pages = read_pdf("form.pdf", dpi=300)      # RGB uint8 arrays, one at a time
    write_pdf("form_redacted.pdf", ((redact(p), 300) for p in pages))
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from privis.errors import MediaError, OutputExistsError, PrivisError
from privis.media.files import write_atomically

if TYPE_CHECKING:
    from privis.pipeline import Anonymizer

log = logging.getLogger(__name__)

PDF_SUFFIXES = (".pdf",)
# 40 MP is a 20 x 20 inch page at 300 dpi (larger than A2): about 120 MB as RGB.
MAX_PAGE_PIXELS = 40_000_000


def is_pdf_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` has a PDF suffix."""
    return Path(path).suffix.lower() in PDF_SUFFIXES


def page_dpi(width_pt: float, height_pt: float, dpi: float, max_pixels: int = MAX_PAGE_PIXELS) -> float:
    """`dpi`, or the lower resolution at which a page of that size (in points) fits `max_pixels`.

    >>> page_dpi(612, 792, 300)                 # US letter: 8.4 MP at 300 dpi
    300
    >>> round(page_dpi(14400, 14400, 300), 1)   # 200 x 200 inches
    31.6
    """
    pixels = (width_pt / 72 * dpi) * (height_pt / 72 * dpi)
    if pixels <= max_pixels:
        return dpi
    used = dpi * math.sqrt(max_pixels / pixels)
    while math.ceil(width_pt / 72 * used) * math.ceil(height_pt / 72 * used) > max_pixels:
        used *= 0.999  # the renderer rounds each side up: shrink until the rounded bitmap fits
    return used


def pdf_pages(path: str | os.PathLike[str], *, dpi: int = 300) -> Iterator[tuple[np.ndarray, float]]:
    """Each page of `path` as ``(RGB uint8, dpi rendered at)``, one at a time."""
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
        for index in range(len(doc)):
            page = doc[index]
            try:
                width, height = page.get_size()
                used = page_dpi(width, height, dpi)
                if used < dpi:
                    log.warning("%s page %d: %.0f x %.0f in is too large at %d dpi; rendered at %.0f dpi",
                                path, index + 1, width / 72, height / 72, dpi, used)  # fmt: skip
                bitmap = page.render(scale=used / 72)
                rgb = np.array(bitmap.to_pil().convert("RGB"))
                bitmap.close()
            except MemoryError:
                raise MediaError(f"{path}: page {index + 1} does not fit in memory") from None
            except MediaError:
                raise
            except Exception as exc:
                raise MediaError(f"{path}: cannot render page {index + 1} ({exc})") from None
            finally:
                page.close()
            yield rgb, used
    finally:
        doc.close()


def read_pdf(path: str | os.PathLike[str], *, dpi: int = 300) -> Iterator[np.ndarray]:
    """Each page of `path` rendered at `dpi` (lower for huge pages) as RGB uint8, one at a time."""
    for rgb, _ in pdf_pages(path, dpi=dpi):
        yield rgb


def write_pdf(
    path: str | os.PathLike[str],
    pages: Iterable[tuple[np.ndarray, float]],
    *,
    overwrite: bool = False,
    quality: int = 92,
) -> Path:
    """Write ``(RGB page, dpi)`` pairs as an image-only PDF, consuming `pages` one at a time
    (atomically). Pages keep their physical size; the file has no metadata at all."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")

    def save(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            if not _ImagePdf(fh, quality).write(pages):
                raise PrivisError("write_pdf: no pages")

    return write_atomically(path, save, overwrite=overwrite)


class _ImagePdf:
    """The smallest valid PDF of JPEG pages: catalog, page tree, one image and one content
    stream per page, a cross-reference table; no Info dictionary, so no title or dates."""

    def __init__(self, fh: BinaryIO, quality: int) -> None:
        self.fh, self.quality = fh, quality
        self.offsets: dict[int, int] = {}

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.fh.tell()
        self.fh.write(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self.fh.write(b"\nstream\n" + stream + b"\nendstream")
        self.fh.write(b"\nendobj\n")

    def write(self, pages: Iterable[tuple[np.ndarray, float]]) -> int:
        import io

        from PIL import Image

        self.fh.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._object(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = []
        for i, (rgb, dpi) in enumerate(pages):
            rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
            h, w = rgb.shape[:2]
            jpeg = io.BytesIO()
            Image.fromarray(rgb).save(jpeg, "JPEG", quality=self.quality)
            image, content, page = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
            self._object(image, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                         b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>" % (w, h, jpeg.tell()),
                         jpeg.getvalue())  # fmt: skip
            pw, ph = w * 72 / dpi, h * 72 / dpi
            draw = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (pw, ph)
            self._object(content, b"<< /Length %d >>" % len(draw), draw)
            self._object(page, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Contents %d 0 R "
                         b"/Resources << /XObject << /Im0 %d 0 R >> >> >>" % (pw, ph, content, image))  # fmt: skip
            kids.append(page)
        if not kids:
            return 0
        refs = b" ".join(b"%d 0 R" % k for k in kids)
        self._object(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids)))
        size = max(self.offsets) + 1
        xref = self.fh.tell()
        self.fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for number in range(1, size):
            self.fh.write(b"%010d 00000 n \n" % self.offsets[number])
        self.fh.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
        return len(kids)


def anonymize_pdf(
    anonymizer: Anonymizer,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None,
    *,
    overwrite: bool = False,
    dpi: int = 300,
    name: str | None = None,
) -> int:
    """Anonymize every page of a PDF, rendered at `dpi`, into an image-only PDF (no text
    layer, forms or metadata survive); returns the regions hidden. With `dst` None, only detect.

    Pages go from the renderer through detection into the output one at a time, so
    memory is that of one page, however many there are.
    """
    if dst is not None and Path(dst).exists() and not overwrite:
        raise OutputExistsError(f"{dst} exists; pass overwrite=True to replace it")
    before = anonymizer.regions_hidden
    pages = pdf_pages(src, dpi=dpi)
    rendered: list[float] = []

    def views() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for rgb, used in pages:
            rendered.append(used)
            yield rgb, rgb

    redacted = anonymizer.pages(views(), name or str(src))
    if dst is None:
        for _ in redacted:
            pass
    else:
        write_pdf(dst, ((page, rendered[-1]) for page in redacted), overwrite=overwrite)
    return anonymizer.regions_hidden - before
