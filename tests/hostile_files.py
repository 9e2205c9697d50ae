"""Generated files that hide a marked secret wherever their formats allow (issue 23's probe).

Each maker returns the places it hid `SECRET` in, so a test can say which survived. The
tests and `benchmarks/hostile.py` share them.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

SECRET = "SECRETMARKER"  # upper case, so that it fits code-string (CS) attributes; plain letters OCR reads


def secret_hits(data: bytes, secret: str = SECRET) -> int:
    """How many times `secret` occurs in `data`, as ASCII, UTF-16 or in either case."""
    forms = {secret, secret.lower(), secret.title()}
    found = 0
    for form in forms:
        for encoded in (form.encode(), form.encode("utf-16-le"), form.encode("utf-16-be")):
            found += data.count(encoded)
    return found


def dicom_with_secrets(path: Path, *, frames: int = 2) -> list[str]:
    """A 16-bit multi-frame DICOM with `SECRET` in 30 places: burned into the pixels, in the
    high bits beyond BitsStored, an icon thumbnail, nested and kept sequences, private tags,
    overlays, curves, the preamble, the file meta and standard tags. Returns the places."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    from privis.audit.synthetic import text_page

    places: list[str] = []
    stack = []
    for i in range(frames):
        lines = [f"Patient Jane Smith {SECRET}", f"jane.smith@example.com frame {i}", "Scan of the left knee"]
        page, _ = text_page(lines, size=(900, 300))
        grey = (255 - page[..., 0]).astype(np.uint16) * 16  # 12-bit range
        grey |= 0x8000  # an old-style overlay bit above BitsStored: secret geometry in the high bits
        stack.append(grey)
    places += ["burned-in text", "overlay bits above BitsStored"]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = SECRET
    meta.add_new(0x00020100, "UI", "1.2.3")  # PrivateInformationCreatorUID
    meta.add_new(0x00020102, "OB", SECRET.encode())  # PrivateInformation
    places += ["file meta SourceApplicationEntityTitle", "file meta PrivateInformation"]
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.preamble = SECRET.encode().ljust(128, b"\0")
    places.append("preamble")
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    standard = {
        "PatientName": f"{SECRET}^Jane",
        "PatientID": SECRET,
        "OtherPatientNames": SECRET,
        "PatientAddress": f"1 {SECRET} Street",
        "CountryOfResidence": SECRET,
        "InstitutionName": SECRET,
        "StationName": SECRET,
        "DeviceSerialNumber": SECRET,
        "StudyDescription": SECRET,
        "SeriesDescription": SECRET,
        "ImageComments": SECRET,
        "PhysiciansOfRecord": SECRET,
        "OperatorsName": SECRET,
        "AccessionNumber": SECRET,
        "BodyPartExamined": SECRET,
        "Manufacturer": SECRET,
    }
    for name, value in standard.items():
        setattr(ds, name, value)
    places += [f"standard {name}" for name in standard]
    ds.ImageType = ["ORIGINAL", "PRIMARY", SECRET]  # a kept attribute with a value it should not have
    ds.WindowCenterWidthExplanation = SECRET
    places += ["kept ImageType with a foreign value", "standard WindowCenterWidthExplanation"]
    request = pydicom.Dataset()
    request.PatientName, request.RequestedProcedureID = SECRET, SECRET
    ds.RequestAttributesSequence = Sequence([request])
    places.append("nested RequestAttributesSequence")
    measures = pydicom.Dataset()
    measures.PixelSpacing = [0.5, 0.5]
    measures.ImageComments = SECRET  # inside a sequence privis keeps: cleaned item by item
    shared = pydicom.Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    places.append("kept SharedFunctionalGroupsSequence item")
    ds.add_new(0x00090010, "LO", SECRET)  # private creator
    ds.add_new(0x00091010, "LO", SECRET)
    ds.add_new(0x00111001, "OB", SECRET.encode())
    places += ["private creator (0009,0010)", "private (0009,1010)", "private (0011,1001)"]
    ds.add_new(0x60000010, "US", 16)
    ds.add_new(0x60000011, "US", 16)
    ds.add_new(0x60000022, "LO", SECRET)  # OverlayDescription
    ds.add_new(0x60003000, "OW", SECRET.encode().ljust(32, b"\0"))  # OverlayData
    ds.add_new(0x50003000, "OW", SECRET.encode().ljust(16, b"\0"))  # a retired curve
    places += ["overlay description (6000,0022)", "overlay data (6000,3000)", "curve data (5000,3000)"]
    icon = pydicom.Dataset()
    icon.Rows, icon.Columns, icon.SamplesPerPixel, icon.PhotometricInterpretation = 2, 8, 1, "MONOCHROME2"
    icon.BitsAllocated, icon.BitsStored, icon.HighBit, icon.PixelRepresentation = 8, 8, 7, 0
    icon.PixelData = SECRET.encode().ljust(16, b"\0")
    ds.IconImageSequence = Sequence([icon])
    places.append("icon thumbnail")
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = stack[0].shape[0], stack[0].shape[1], frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.stack(stack).tobytes()
    ds.add_new(0xFFFCFFFC, "OB", SECRET.encode().ljust(16, b"\0"))  # data set trailing padding
    places.append("trailing padding (FFFC,FFFC)")
    ds.save_as(path, enforce_file_format=True)
    return places


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def face_crop(size: int = 96) -> np.ndarray:
    """A real face (scikit-image's astronaut), the 'marked face' a thumbnail or trailer carries."""
    from PIL import Image
    from skimage import data

    face = data.astronaut()[20:200, 150:330]
    return np.asarray(Image.fromarray(face).resize((size, size)))


def jpeg_with_secrets(path: Path, *, quality: int = 90) -> list[str]:
    """A plain JPEG (noise, nothing to find) carrying `SECRET` and a face in every place a JPEG
    file holds data beside its pixels: EXIF with a thumbnail, a JFXX thumbnail of a face in
    APP0, XMP, IPTC, ICC, comments, an unknown APP segment, and a motion-photo trailer after
    EOI that holds a second JPEG with a face and GPS. Returns the places."""
    from PIL import Image

    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=quality)
    plain = buf.getvalue()
    face = Image.fromarray(face_crop(64))
    thumb = io.BytesIO()
    face.save(thumb, "JPEG", quality=80)
    exif = Image.Exif()
    exif[0x010F] = SECRET  # Make
    exif[0x0112] = 1
    exif_bytes = exif.tobytes()
    jfxx = b"JFXX\0" + b"\x10" + thumb.getvalue()  # extension code 0x10: a JPEG thumbnail
    segments = [
        _segment(0xE0, b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x00\x00"),
        _segment(0xE0, jfxx),
        _segment(0xE1, exif_bytes),
        _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + f"<x:xmpmeta>{SECRET}</x:xmpmeta>".encode()),
        _segment(0xED, b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0e\x1c\x02\x50\0\x09" + SECRET.encode()),
        _segment(0xE2, b"ICC_PROFILE\0\x01\x01" + SECRET.encode()),
        _segment(0xFE, SECRET.encode()),
        _segment(0xE9, SECRET.encode() + b"\0" + thumb.getvalue()),  # an APP segment no reader knows
    ]
    # The encoder's own header (APP0) is replaced by ours: keep its tables, frame and scan.
    body = _after_app_segments(plain)
    trailer_face = io.BytesIO()
    gps = Image.Exif()
    gps[0x010F] = SECRET
    face.save(trailer_face, "JPEG", quality=80, exif=gps.tobytes(), comment=SECRET.encode())
    data = b"\xff\xd8" + b"".join(segments) + body + trailer_face.getvalue() + b"MotionPhoto_Data" + SECRET.encode()
    path.write_bytes(data)
    return [
        "EXIF Make", "JFXX face thumbnail", "XMP", "IPTC", "ICC profile", "comment", "unknown APP9 with a face",
        "motion-photo trailer with a face, EXIF and comment", "bytes after EOI",
    ]  # fmt: skip


def _after_app_segments(jpeg: bytes) -> bytes:
    """The part of `jpeg` from its first non-APP, non-comment marker on (tables, frame, scan, EOI)."""
    i = 2
    while jpeg[i] == 0xFF and (0xE0 <= jpeg[i + 1] <= 0xEF or jpeg[i + 1] == 0xFE):
        i += 2 + struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
    return jpeg[i:]
