"""A generated DICOM test set with burned-in patient data whose every box is known.

Each file is a synthetic scan (smooth noise shaped like anatomy) of one modality and bit
depth, with corner overlays a viewer would burn in, in one of four layouts and one of
matplotlib's DejaVu fonts: the header's patient name (surname first, comma, given name
first or DICOM's caret form), ID, date of birth and study date (five date forms), sex
marker and institution (eleven, in several languages); the labels before them (``DOB``,
``MRN``, ``Sex:``); and text that identifies nobody (``L``/``R``, kV, mAs, a scale).
Names come from eighteen countries. `write_dicom_set` writes the files and a ``labels.csv``
of every overlay item's box with ``identifying`` 1 (a value) or 0 (a label or kept text).

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     rows = write_dicom_set(pathlib.Path(d), count=3)
>>> len(rows), sum(r["identifying"] for r in rows)  # values, labels and kept text; the values identify
(37, 18)
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

NAMES = [("KOWALSKI", "JAN"), ("NGUYEN", "THI MAI"), ("OKONKWO", "CHIDI"), ("SATO", "YUKI"), ("MÜLLER", "JÜRGEN"),
         ("GARCÍA", "MARÍA"), ("HAUGEN", "INGRID"), ("ÖZTÜRK", "MEHMET"), ("PETROVA", "ANASTASIA"),
         ("SILVA", "JOÃO"), ("KIM", "MINJUN"), ("ADEYEMI", "FOLAKE"), ("DUBOIS", "CAMILLE"), ("ROSSI", "GIULIA"),
         ("SHARMA", "PRIYA"), ("WANG", "XIUYING"), ("AL-FARSI", "AHMED"), ("NOVÁK", "PETR")]  # fmt: skip
# Institutions as scanners print them, most with a word that says what they are, one without.
SITES = ("ST ELSEWHERE", "KLINIKUM NORD", "HOPITAL SAINT-LOUIS", "OSPEDALE SAN PAOLO", "SZPITAL MIEJSKI",
         "CITY GENERAL HOSPITAL", "RIKSHOSPITALET", "LAGOS UNIVERSITY HOSPITAL", "SEOUL MEDICAL CENTER",
         "CLINICA SANTA ROSA", "ANKARA SEHIR HASTANESI")  # fmt: skip
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# (modality, bits stored, frames)
KINDS = [("CT", 12, 1), ("MR", 12, 1), ("CR", 16, 1), ("DX", 16, 1), ("US", 8, 1), ("XA", 12, 3)]
FONTS = ("DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf")
# Labels before a value: they identify nobody, and a policy may keep or hide them.
ID_LABELS = ("ID:", "MRN", "Patient ID:", "PID")
BIRTH_LABELS = ("DOB", "D.O.B.", "Born", "Birth:")


def _date(y: int, m: int, d: int, form: int) -> str:
    return [f"{d:02d}.{m:02d}.{y}", f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}-{MONTHS[m - 1]}-{y}",
            f"{y}{m:02d}{d:02d}"][form % 5]  # fmt: skip


def _name(family: str, given: str, form: int) -> str:
    return [f"{family} {given}", f"{family}, {given}", f"{given.title()} {family.title()}",
            f"{family}^{given}"][form % 4]  # fmt: skip


def _sex(sex: str, form: int) -> list[tuple[str, str]]:
    return [[("sex", f"[{sex}]")], [("sex", f"({sex})")], [("label", "Sex:"), ("sex", sex)]][form % 3]


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


Line = list[tuple[str, str]]  # (kind, text) parts written one space apart


def _layout(index: int, name: str, pid: str, birth: str, study: str, sex: str, site: str) -> dict[str, list[Line]]:
    """The overlay's lines by corner, in one of four layouts a viewer uses."""
    id_label, birth_label = ID_LABELS[index % 4], BIRTH_LABELS[(index // 4) % 4]
    sex_parts = _sex(sex, index // 3)
    layout = index % 4
    if layout == 0:  # name, ID, birth and sex down the left; site and study date on the right
        return {"left": [[("name", name)], [("label", id_label), ("id", pid)],
                         [("label", birth_label), ("date", birth), *sex_parts]],
                "right": [[("site", site)], [("date", study)]]}  # fmt: skip
    if layout == 1:  # sex beside the name; the study date under the ID
        return {"left": [[("name", name), *sex_parts], [("label", birth_label), ("date", birth)],
                         [("label", id_label), ("id", pid)]],
                "right": [[("site", site)], [("label", "Study"), ("date", study)]]}  # fmt: skip
    if layout == 2:  # everything in the top-right corner
        return {"right": [[("site", site)], [("name", name)], [("label", id_label), ("id", pid)],
                          [("label", birth_label), ("date", birth), *sex_parts], [("date", study)]]}  # fmt: skip
    # name over a line of ID and birth; site at the bottom left
    return {"left": [[("name", name)], [("label", id_label), ("id", pid), ("label", birth_label), ("date", birth)],
                     [*sex_parts]],
            "bottom_left": [[("site", site)], [("date", study)]]}  # fmt: skip


def make_scan(index: int, rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray, list[dict[str, Any]]]:
    """One scan: its header values, its 8-bit frame (overlay burned in) and the overlay's items.

    Items are the overlay's pieces: the identifying values (``name``, ``id``, ``date``,
    ``sex``, ``site``), their ``label`` words (``DOB``, ``ID:``) and the text that
    identifies nobody (``keep``: L or R, kV, mAs, a scale)."""
    from PIL import Image, ImageDraw

    family, given = NAMES[index % len(NAMES)]
    y, m, d = int(rng.integers(1930, 2015)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    sy, sm, sd = 2024, int(rng.integers(1, 13)), int(rng.integers(1, 29))
    sex = "FM"[index % 2]
    pid = f"{'PX' if index % 3 else ''}{int(rng.integers(10_000, 9_999_999))}"
    site = SITES[index % len(SITES)]
    header = {"PatientName": f"{family}^{given}", "PatientID": pid, "PatientBirthDate": f"{y}{m:02d}{d:02d}",
              "StudyDate": f"{sy}{sm:02d}{sd:02d}", "PatientSex": sex, "InstitutionName": site}  # fmt: skip
    h, w = (512, 512) if index % 3 else (600, 800)
    canvas = Image.fromarray((_anatomy(rng, h, w) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    font = _font(FONTS[index % len(FONTS)], int(rng.integers(14, 22)))
    form = index // 2
    corners = _layout(index, _name(family, given, form), pid, _date(y, m, d, form), _date(sy, sm, sd, form + 1),
                      sex, site)  # fmt: skip
    corners["bottom"] = [[("keep", "120kV")], [("keep", f"{int(rng.integers(50, 400))}mAs")], [("keep", "5cm")]]
    if "bottom_left" in corners:
        corners["bottom_right"] = corners.pop("bottom")
    items: list[dict[str, Any]] = []
    step, space = int(font.size * 1.5), draw.textlength(" ", font=font)
    for corner, lines in corners.items():
        for j, parts in enumerate(lines):
            width = draw.textlength(" ".join(t for _, t in parts), font=font)
            x = w - 10 - width if corner in ("right", "bottom_right") else 10
            yy = 10 + j * step if corner in ("left", "right") else h - 10 - (len(lines) - j) * step
            for kind, text in parts:
                draw.text((x, yy), text, fill=255, font=font)
                items.append({"kind": kind, "text": text, "box": draw.textbbox((x, yy), text, font=font)})
                x += draw.textlength(text, font=font) + space
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
                         "identifying": int(item["kind"] not in ("keep", "label")), "box": item["box"]})  # fmt: skip
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


def score_items(rows: Sequence[dict[str, Any]], frames_of: Callable[[str], tuple[Any, Any]]) -> dict[str, Any]:
    """How a redaction did on the set's `rows` (`write_dicom_set`'s): the share of identifying
    values hidden (90 % of their ink changed in every frame), of non-identifying items and of
    labels kept (under 10 % changed), and the hidden share by kind of value.

    `frames_of(file)` gives the file's frames before and after, as two sequences of arrays."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        before, after = frames_of(r["file"])
        by_kind[r["kind"]].append(min(ink_hidden(b, a, r["box"]) for b, a in zip(before, after, strict=True)))
    values = [s for k, v in by_kind.items() if k not in ("keep", "label") for s in v]

    def share(xs: Sequence[bool]) -> float:
        return round(float(np.mean(xs)), 4) if len(xs) else float("nan")

    return {
        "identifying_recall": share([s >= 0.9 for s in values]),
        "kept_share": share([s <= 0.1 for s in by_kind.get("keep", [])]),
        "labels_kept": share([s <= 0.1 for s in by_kind.get("label", [])]),
        "by_kind": {k: share([s >= 0.9 for s in v]) for k, v in sorted(by_kind.items()) if k not in ("keep", "label")},
        "items": len(rows),
    }


def save_first_frames(src: Path, dst: Path) -> list[Path]:
    """Each DICOM file's first frame under `src` as an 8-bit PNG in `dst` (same stem): the same
    pixels without the header, as a viewer's export or a screenshot carries them."""
    import pydicom
    from PIL import Image

    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for path in sorted(src.glob("*.dcm")):
        px = pydicom.dcmread(path).pixel_array
        first = px[0] if px.ndim == 3 else px
        png = dst / (path.stem + ".png")
        Image.fromarray((first.astype(np.float64) * 255 / max(int(first.max()), 1)).astype(np.uint8)).save(png)
        out.append(png)
    return out
