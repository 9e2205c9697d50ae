"""Reading and writing image files at the I/O edge: orientation, bit depth, metadata.

Inside privis a frame is RGB uint8. Files come in grey, RGBA, 16-bit, rotated by an
EXIF tag and carrying EXIF/GPS/XMP/ICC metadata; this module turns them into a frame
for detection while keeping the original pixels for obfuscation, and writes results
back without metadata unless asked.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import ImageTooLargeError, MediaError, OutputExistsError, PrivisError
from privis.media.files import write_atomically

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
FORMATS = ("png", "jpg", "same")
_PIL_FORMAT = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
# Images larger than this are refused (decompression bombs, absurd uploads): 179 MP,
# the size at which Pillow itself refuses.
MAX_PIXELS = 178_956_970


@dataclass
class LoadedImage:
    """An image file's pixels, upright, plus what writing it back needs.

    Attributes
    ----------
    pixels : ndarray
        Upright pixels in the file's own layout: (H, W) grey, (H, W, 3) RGB or
        (H, W, 4) RGBA; uint8, or uint16 for 16-bit files. Obfuscation works on these.
    rgb : ndarray
        The same image as RGB uint8 (H, W, 3), for detectors.
    mode : str
        PIL mode of `pixels` when written back.
    metadata : dict
        ``exif``, ``icc_profile``, ``xmp`` bytes from the source, used only with
        ``keep_metadata``.
    lossless_copy : bool
        The file is a JPEG stored upright, so where nothing is hidden it can be copied
        with its metadata stripped instead of re-encoded (`jpeg_without_metadata`).
    """

    pixels: np.ndarray
    rgb: np.ndarray
    mode: str
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    lossless_copy: bool = False  # an upright JPEG file: with nothing hidden, copy it, do not re-encode
    format: str = ""  # the file's format as Pillow names it (JPEG, PNG, ...), empty for arrays


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` has a supported image suffix."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read an image file, apply its EXIF orientation and prepare an RGB uint8 frame.

    Raises `MediaError` with a one-line reason for a missing, empty, corrupt, huge or
    zero-size file.
    """
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file")
    if not p.is_file():
        raise MediaError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: empty file")
    loaded = _decode(p, str(p))
    loaded.path = p
    return loaded


def decode_image(data: bytes, name: str = "upload", *, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """`read_image` for an image held in memory (an upload): its size is read from the header
    and refused over `max_pixels` before any pixel is decoded.

    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (4, 3)).save(buf, format="PNG")
    >>> decode_image(buf.getvalue()).rgb.shape
    (3, 4, 3)
    """
    import io

    if not data:
        raise MediaError(f"{name}: empty file")
    return _decode(io.BytesIO(data), name, max_pixels=max_pixels)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image's header without decoding it, or None if no known format.

    Raises `ImageTooLargeError` for a header Pillow itself refuses as a decompression bomb.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.width, im.height
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the image is larger than privis accepts ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def _decode(source: Any, name: str, *, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Decode `source` (a path or a binary file object) upright; `name` in the messages."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = f"{max_pixels / 1e6:.0f} MP"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            with Image.open(source) as im:
                if im.width * im.height > max_pixels:
                    size = f"{im.width}x{im.height}"
                    raise ImageTooLargeError(f"{name}: {size} pixels is more than privis accepts ({limit})")
                im.load()
                source_format, orientation = im.format, im.getexif().get(0x0112, 1)
                upright = ImageOps.exif_transpose(im)  # upright pixels; the copy's EXIF has no orientation
                metadata = _metadata(upright)
    except MediaError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{name}: image is larger than privis accepts ({limit})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        why = re.sub(r" <_io\.\w+ object at 0x[0-9a-f]+>", "", str(exc))  # an upload's buffer says nothing
        raise MediaError(f"{name}: cannot read image ({exc.__class__.__name__}: {why})") from None
    if upright.width == 0 or upright.height == 0:
        raise MediaError(f"{name}: image has zero size")
    loaded = from_pil(upright)
    loaded.metadata = metadata
    # A JPEG stored upright can be passed on untouched when nothing in it is hidden.
    loaded.lossless_copy = source_format == "JPEG" and orientation == 1
    loaded.format = source_format or ""
    return loaded


# Markers of the segments that define how the pixels decode: tables, frame headers, restart
# interval, number of lines, expansion. Everything else (APPn, COM, unknown) is dropped.
_JPEG_KEPT = frozenset([0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDF, *range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC)]
                       + list(range(0xCD, 0xD0)))  # fmt: skip


def strip_jpeg_metadata(data: bytes) -> bytes:
    r"""The JPEG `data` as tables, frame and scans up to its end-of-image marker, and nothing else;
    the compressed pixels are copied as they are, so the image decodes to exactly the same values.

    Dropped: EXIF, XMP, ICC, IPTC, comments, every other APP segment, the JFIF and JFXX
    thumbnails, and all bytes after EOI (motion-photo trailers, appended files). A JFIF
    header and Adobe's APP14 (which says how to read the colours) are rewritten to their
    fixed fields only. Raises `MediaError` for a stream this parser does not understand.

    >>> strip_jpeg_metadata(b"\xff\xd8\xff\xfe\x00\x04hi\xff\xd9trailer")
    b'\xff\xd8\xff\xd9'
    """
    if data[:2] != b"\xff\xd8":
        raise MediaError("not a JPEG stream")
    out, i, n = [b"\xff\xd8"], 2, len(data)
    jfif = adobe = False
    while i + 2 <= n:
        if data[i] != 0xFF:
            raise MediaError("damaged JPEG header")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if i + 4 > n:
            break
        end = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if end > n:
            break
        payload = data[i + 4 : end]
        if marker == 0xE0 and payload[:5] == b"JFIF\0" and len(payload) >= 14 and not jfif:
            out.append(b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00")  # version, units, density; no thumbnail
            jfif = True
        elif marker == 0xEE and payload[:5] == b"Adobe" and len(payload) >= 12 and not adobe:
            out.append(b"\xff\xee\x00\x0e" + payload[:12])  # version, flags, colour transform
            adobe = True
        elif marker == 0xDA:  # start of scan: header, then entropy-coded data up to the next real marker
            out.append(data[i:end])
            j = end
            while True:
                j = data.find(b"\xff", j)
                if j < 0 or j + 1 >= n:
                    raise MediaError("JPEG stream ends inside its image data")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    j += 2
                    continue
                if following == 0xFF:
                    j += 1
                    continue
                break
            out.append(data[end:j])
            end = j
        elif marker in _JPEG_KEPT:
            out.append(data[i:end])
        elif not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            raise MediaError(f"unexpected JPEG marker 0x{marker:02X}")
        i = end
    raise MediaError("JPEG stream ends before its end-of-image marker")


def jpeg_without_metadata(data: bytes, *, expect: np.ndarray | None = None) -> bytes:
    """A JPEG file's bytes with everything but its pixels stripped; with `expect`, checked to
    decode to exactly those pixels (`MediaError` if not)."""
    stripped = strip_jpeg_metadata(data)
    if expect is not None and not _decodes_to(stripped, expect):
        raise MediaError("the stripped copy does not decode to the same pixels")
    return stripped


def _decodes_to(data: bytes, expect: np.ndarray) -> bool:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return bool(np.array_equal(from_pil(im).pixels, expect))
    except (OSError, SyntaxError, ValueError):
        return False


def from_pil(im: Any) -> LoadedImage:
    """A `LoadedImage` from a PIL image (any mode)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(im)
        if pixels.dtype != np.uint16:
            pixels = np.clip(pixels, 0, 65535).astype(np.uint16)
        rgb8 = (pixels >> 8).astype(np.uint8)
        return LoadedImage(pixels, np.repeat(rgb8[..., None], 3, axis=2), "I;16")
    if mode in ("L", "1"):
        pixels = np.asarray(im.convert("L"))
        return LoadedImage(pixels, np.repeat(pixels[..., None], 3, axis=2), "L")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        pixels = np.asarray(im.convert("RGBA"))
        return LoadedImage(pixels, np.ascontiguousarray(pixels[..., :3]), "RGBA")
    pixels = np.asarray(im.convert("RGB"))
    return LoadedImage(pixels, pixels, "RGB")


def from_array(array: np.ndarray) -> LoadedImage:
    """A `LoadedImage` from an in-memory array (grey, RGB or RGBA; uint8 or uint16)."""
    arr = np.asarray(array)
    if arr.size == 0:
        raise MediaError("image has zero size")
    if arr.dtype == np.uint16:
        rgb8 = (arr >> 8).astype(np.uint8)
    elif arr.dtype == np.uint8:
        rgb8 = arr
    elif np.issubdtype(arr.dtype, np.floating):
        rgb8 = (np.clip(arr, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    else:
        raise PrivisError(f"unsupported image dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")
    if arr.ndim == 2:
        return LoadedImage(arr, np.repeat(rgb8[..., None], 3, axis=2), "L")
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return LoadedImage(arr, np.ascontiguousarray(rgb8[..., :3]), "RGB" if arr.shape[2] == 3 else "RGBA")
    raise PrivisError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")


def _metadata(im: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    exif = im.getexif()
    if exif:
        if 0x0112 in exif:
            exif[0x0112] = 1  # pixels are written upright, so the orientation tag must say so
        meta["exif"] = exif.tobytes()
    for key in ("icc_profile", "xmp"):
        if im.info.get(key):
            meta[key] = im.info[key]
    return meta


def output_suffix(source: Path, fmt: str) -> str:
    """Suffix of the output for `source` under ``--format`` `fmt`."""
    if fmt not in FORMATS:
        raise PrivisError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "same":
        return source.suffix.lower() if source.suffix.lower() in IMAGE_SUFFIXES else ".png"
    return "." + fmt


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    mode: str = "RGB",
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
    quality: int = 95,
) -> Path:
    """Write `pixels` to `path` atomically; metadata only if given; never replace unless `overwrite`.

    JPEG cannot hold alpha or 16 bits: such images are flattened / reduced to 8 bits.
    """
    out = Path(path)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass overwrite=True to replace it")
    data = encode_image(pixels, out.suffix, mode=mode, metadata=metadata, quality=quality, name=str(out))
    return write_atomically(out, lambda tmp: Path(tmp).write_bytes(data), overwrite=overwrite)


def encode_image(
    pixels: np.ndarray,
    suffix: str,
    *,
    mode: str = "RGB",
    metadata: dict[str, Any] | None = None,
    quality: int = 95,
    name: str = "output",
) -> bytes:
    """The bytes `write_image` writes for a file ending in `suffix`: one encoder for files on
    disk and for results sent elsewhere (object storage, the service), so both are the same bytes.

    >>> encode_image(np.zeros((2, 2, 3), np.uint8), ".png")[:4]
    b'\\x89PNG'
    """
    import io

    from PIL import Image

    fmt = _PIL_FORMAT.get(suffix.lower())
    if fmt is None:
        raise PrivisError(f"{name}: unsupported output format {suffix.lower()!r}")
    im = _to_pil(pixels, mode)
    if fmt == "JPEG" and im.mode not in ("RGB", "L"):
        im = im.convert("RGB") if im.mode != "I;16" else Image.fromarray((pixels >> 8).astype(np.uint8))
    if fmt in ("WEBP",) and im.mode == "I;16":
        im = Image.fromarray((pixels >> 8).astype(np.uint8))
    kwargs: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    if fmt == "PNG":
        kwargs["compress_level"] = 1  # lossless either way; level 6 costs ~4x the CPU for ~10% smaller files
    for key, value in (metadata or {}).items():
        if key == "xmp" and fmt not in ("JPEG", "PNG", "WEBP", "TIFF"):
            continue
        kwargs[key] = value
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _to_pil(pixels: np.ndarray, mode: str) -> Any:
    from PIL import Image

    if mode == "I;16":
        return Image.fromarray(np.ascontiguousarray(pixels.astype(np.uint16)))
    return Image.fromarray(np.ascontiguousarray(pixels))
