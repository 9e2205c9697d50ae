"""A generated DICOM test set with burned-in patient data whose every box is known.

Each file is a synthetic scan (smooth noise shaped like anatomy) of one modality and bit
depth, with corner overlays a viewer would burn in, laid out one of several ways in one of
matplotlib's DejaVu fonts: the header's patient name (surname first, comma, given name
first or DICOM's caret form), ID, date of birth and study date (five date forms), sex
marker, institution; and text that identifies nobody (``L``/``R``, kV, mAs, a scale).
Names come from twelve countries. `write_dicom_set` writes the files and a ``labels.csv``
of every overlay item's box with ``identifying`` 1 or 0.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     rows = write_dicom_set(pathlib.Path(d), count=3)
>>> len(rows), sum(r["identifying"] for r in rows)  # 9 overlay items a scan, 5 of them identifying
(27, 15)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

NAMES = [("KOWALSKI", "JAN"), ("NGUYEN", "THI MAI"), ("OKONKWO", "CHIDI"), ("SATO", "YUKI"), ("MÜLLER", "JÜRGEN"),
         ("GARCÍA", "MARÍA"), ("HAUGEN", "INGRID"), ("ÖZTÜRK", "MEHMET"), ("PETROVA", "ANASTASIA"),
         ("SILVA", "JOÃO"), ("KIM", "MINJUN"), ("ADEYEMI", "FOLAKE")]  # fmt: skip
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# (modality, bits stored, frames)
KINDS = [("CT", 12, 1), ("MR", 12, 1), ("CR", 16, 1), ("DX", 16, 1), ("US", 8, 1), ("XA", 12, 3)]
FONTS = ("DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf")


def _date(y: int, m: int, d: int, form: int) -> str:
    return [f"{d:02d}.{m:02d}.{y}", f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}-{MONTHS[m - 1]}-{y}",
            f"{y}{m:02d}{d:02d}"][form % 5]  # fmt: skip


def _name(family: str, given: str, form: int) -> str:
    return [f"{family} {given}", f"{family}, {given}", f"{given.title()} {family.title()}",
            f"{family}^{given}"][form % 4]  # fmt: skip


def _font(name: str, size: int) -> Any:
    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _anatomy(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth bright body on a dark field, in [0, 1]."""
    import cv2

    noise = cv2.resize(rng.random((h // 32 + 1, w // 32 + 1)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[:h, :w]
    body = np.exp(-(((yy - h / 2) / (h * 0.3)) ** 2 + ((xx - w / 2) / (w * 0.25)) ** 2))
    return np.clip(0.6 * body * (0.6 + 0.4 * noise), 0, 1).astype(np.float32)


def make_scan(index: int, rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray, list[dict[str, Any]]]:
    """One scan: its header values, its 8-bit frame (overlay burned in) and the overlay's items."""
    from PIL import Image, ImageDraw

    family, given = NAMES[index % len(NAMES)]
    y, m, d = int(rng.integers(1930, 2015)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    sy, sm, sd = 2024, int(rng.integers(1, 13)), int(rng.integers(1, 29))
    sex = "FM"[index % 2]
    pid = f"PX{int(rng.integers(10_000, 99_999))}"
    header = {"PatientName": f"{family}^{given}", "PatientID": pid, "PatientBirthDate": f"{y}{m:02d}{d:02d}",
              "StudyDate": f"{sy}{sm:02d}{sd:02d}", "PatientSex": sex, "InstitutionName": "ST ELSEWHERE"}  # fmt: skip
    h, w = (512, 512) if index % 3 else (600, 800)
    canvas = Image.fromarray((_anatomy(rng, h, w) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    font = _font(FONTS[index % len(FONTS)], int(rng.integers(14, 22)))
    form = index // 2
    left = [("name", _name(family, given, form)), ("id", f"ID: {pid}"),
            ("date", f"DOB {_date(y, m, d, form)} [{sex}]")]  # fmt: skip
    right = [("site", "ST ELSEWHERE"), ("date", _date(sy, sm, sd, form + 1))]
    bottom = [("keep", "120kV"), ("keep", f"{int(rng.integers(50, 400))}mAs"), ("keep", "5cm")]
    items: list[dict[str, Any]] = []
    step = int(font.size * 1.5)
    for col, lines in (("left", left), ("right", right), ("bottom", bottom)):
        for j, (kind, text) in enumerate(lines):
            width = draw.textlength(text, font=font)
            x = 10 if col != "right" else w - 10 - width
            yy = 10 + j * step if col != "bottom" else h - 10 - (len(lines) - j) * step
            draw.text((x, yy), text, fill=255, font=font)
            x1, y1, x2, y2 = draw.textbbox((x, yy), text, font=font)
            items.append({"kind": kind, "text": text, "box": (x1, y1, x2, y2)})
    marker = "LR"[index % 2]
    draw.text((w - 40, h // 2), marker, fill=255, font=font)
    items.append({"kind": "keep", "text": marker, "box": draw.textbbox((w - 40, h // 2), marker, font=font)})
    return header, np.asarray(canvas), items


def write_dicom_set(out: Path, count: int = 60, seed: int = 0) -> list[dict[str, Any]]:
    """`count` DICOM files under `out` (modalities, depths and frame counts cycling through
    `KINDS`) and ``labels.csv``; returns its rows (file, kind, text, identifying, box)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        header, frame8, items = make_scan(i, rng)
        modality, bits, frames = KINDS[i % len(KINDS)]
        name = f"scan_{i:03d}_{modality.lower()}_{bits}bit.dcm"
        save_scan(out / name, frame8, header, modality=modality, bits=bits, frames=frames)
        for item in items:
            rows.append({"file": name, "kind": item["kind"], "text": item["text"],
                         "identifying": int(item["kind"] != "keep"), "box": item["box"]})  # fmt: skip
    with (out / "labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "kind", "text", "identifying", "x1", "y1", "x2", "y2"])
        for r in rows:
            writer.writerow([r["file"], r["kind"], r["text"], r["identifying"], *r["box"]])
    return rows


def save_scan(path: Path, frame8: np.ndarray, header: dict[str, Any], *, modality: str = "CT", bits: int = 12,
              frames: int = 1) -> None:  # fmt: skip
    """Write an 8-bit grey `frame8` as a MONOCHROME2 DICOM file at `bits` stored bits (8: one
    byte a pixel), repeated over `frames`, with the `header` values (keyword: value)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    allocated = 8 if bits == 8 else 16
    pixels = frame8.astype(np.int64) * ((1 << bits) - 1) // 255
    stack = np.stack([pixels] * frames).astype(np.uint8 if allocated == 8 else np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    for key, value in header.items():
        setattr(ds, key, value)
    ds.Modality = modality
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = *frame8.shape, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = allocated, bits, bits - 1, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = (stack if frames > 1 else stack[0]).tobytes()
    ds.save_as(path, enforce_file_format=True)


def ink_hidden(before: np.ndarray, after: np.ndarray, box: Sequence[float]) -> float:
    """Share of the overlay's ink pixels in `box` that changed (the text's pixels, not the field's)."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    b, a = before[y1:y2, x1:x2].astype(np.int64), after[y1:y2, x1:x2].astype(np.int64)
    ink = b >= 0.8 * int(before.max())
    return float((a[ink] != b[ink]).mean()) if ink.any() else 1.0
