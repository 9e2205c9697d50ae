"""Issue 23's adversarial probe, kept as tests: each leak or hang it found, on generated files.

A marked secret (`SECRET`) is hidden wherever a format allows; a fixed writer lets none of
its bytes through. Hypothesis varies where and how it is hidden.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.hostile_files import SECRET, dicom_with_secrets, jpeg_with_secrets, secret_hits

pydicom = pytest.importorskip("pydicom")
PRIVIS = [sys.executable, "-m", "privis.cli"]


def privis(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (a hang fails the test by its timeout instead of hanging it)."""
    code = "from privis.cli import run; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


# --- 1. DICOM ---------------------------------------------------------------------------------


def test_a_dicom_with_the_secret_in_30_places_comes_out_with_none(tmp_path):
    from tests.conftest import skip_without_tesseract

    skip_without_tesseract()
    src, out, audit = tmp_path / "s.dcm", tmp_path / "o.dcm", tmp_path / "audit.jsonl"
    places = dicom_with_secrets(src)
    assert len(places) >= 30 and secret_hits(src.read_bytes()) >= 25
    result = privis("redact-text", str(src), "-o", str(out), "--ocr", "tesseract", "--deny", SECRET,
                    "--audit", str(audit), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["by_entity"] == {"DENY": 2, "EMAIL": 2, "PERSON": 2}
    assert secret_hits(out.read_bytes()) == 0  # no header, sequence, tag, preamble or meta byte
    from privis.media.dicom import read_dicom
    from privis.text.ocr import create_ocr

    loaded = read_dicom(out)
    assert int(loaded.frames.max()) < 1 << 12  # nothing above BitsStored
    for rgb in loaded.rgb_frames():
        read = " ".join(w.text for w in create_ocr("tesseract").read(rgb))
        assert "SECRET" not in read.upper() and "Smith" not in read and "@" not in read
    ds = loaded.dataset
    assert ds.PatientIdentityRemoved == "YES" and str(ds.PatientName) == "" and ds.Modality == "OT"
    assert ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing == [0.5, 0.5]
    log = audit.read_text()
    assert secret_hits(log.encode()) == 0
    done = next(json.loads(x) for x in log.splitlines() if json.loads(x).get("event") == "dicom_deidentified")
    for name in ("IconImageSequence", "RequestAttributesSequence", "(0009,1010) private", "OverlayData", "CurveData"):
        assert name in done["removed"]
    assert "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].ImageComments" in done["removed"]


_TEXT_VRS = ("LO", "SH", "PN", "LT", "ST", "UT", "CS", "AE", "DS", "IS", "UN", "OB")


def _dicom_keywords() -> list[str]:
    from pydicom.datadict import DicomDictionary

    return sorted(v[4] for k, v in DicomDictionary.items() if v[4] and v[0] in _TEXT_VRS + ("SQ",) and k >> 16 != 2)


@st.composite
def _hostile_dataset(draw, depth: int = 0):
    ds = pydicom.Dataset()
    for keyword in draw(st.lists(st.sampled_from(_dicom_keywords()), max_size=6, unique=True)):
        vr = pydicom.datadict.dictionary_VR(keyword)
        if vr == "SQ":
            if depth < 2:
                setattr(ds, keyword, pydicom.sequence.Sequence([draw(_hostile_dataset(depth + 1))]))
        elif vr in ("OB", "UN", "DS", "IS"):  # a number attribute holding text comes in as raw bytes
            tag = pydicom.tag.Tag(pydicom.datadict.tag_for_keyword(keyword))
            ds[tag] = pydicom.dataelem.RawDataElement(tag, "UN", len(SECRET), SECRET.encode(), 0, True, True)
        else:
            setattr(ds, keyword, SECRET)
    for group in draw(st.lists(st.sampled_from([0x0009, 0x0011, 0x6000, 0x5000, 0x0077]), max_size=3, unique=True)):
        ds.add_new((group << 16) | 0x1010, "LO", SECRET)
    return ds


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_dataset())
def test_fuzz_deidentified_dicom_headers_hold_no_byte_of_the_secret(ds):
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    from privis.media.dicom import deidentify

    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.SourceApplicationEntityTitle = SECRET
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.preamble = SECRET.encode().ljust(128, b"\0")
    clean, done = deidentify(ds)
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, clean, enforce_file_format=True)
    assert secret_hits(buf.getvalue()) == 0
    assert secret_hits(json.dumps(done.__dict__).encode()) == 0  # the audit lists names, never values


def test_a_dicom_keeps_the_header_with_keep_metadata_only(tmp_path):
    from privis.media.dicom import deidentify

    ds = pydicom.Dataset()
    ds.PatientName, ds.Rows, ds.SOPInstanceUID = "Doe^Jane", 4, "1.2.3"
    clean, done = deidentify(ds)
    assert clean.SOPInstanceUID != "1.2.3" and done.replaced == ["SOPInstanceUID"]
    again, _ = deidentify(ds)
    assert again.SOPInstanceUID == clean.SOPInstanceUID  # one run maps one UID to one new UID


# --- 2. JPEG ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["anonymize", "redact-text"])
def test_a_jpeg_with_trailers_thumbnails_and_app_segments_comes_out_with_none(tmp_path, command):
    src, out = tmp_path / "motion.jpg", tmp_path / "out.jpg"
    places = jpeg_with_secrets(src)
    data = src.read_bytes()
    assert secret_hits(data) >= len(places) - 2 and data.count(b"\xff\xd8") >= 3
    extra = ["--ocr", "tesseract"] if command == "redact-text" else []
    if command == "redact-text":
        from tests.conftest import skip_without_tesseract

        skip_without_tesseract()
    result = privis(command, str(src), "-o", str(out), "-q", *extra)
    assert result.returncode == 0, result.stderr
    copy = out.read_bytes()
    assert secret_hits(copy) == 0
    assert copy.count(b"\xff\xd8") == 1 and copy.endswith(b"\xff\xd9")  # one image: no thumbnail, no trailer
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(io.BytesIO(data))))


def _scans(jpeg: bytes) -> tuple[bytes, list[bytes], bytes]:
    """A JPEG cut into its head (SOI), marker segments and entropy data up to EOI, and EOI."""
    parts, i = [], 2
    while jpeg[i + 1] != 0xD9:
        length = struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
        end = i + 2 + length
        if jpeg[i + 1] == 0xDA:
            j = end
            while not (jpeg[j] == 0xFF and jpeg[j + 1] not in (0x00, *range(0xD0, 0xD8))):
                j += 1
            end = j
        parts.append(jpeg[i:end])
        i = end
    return jpeg[:2], parts, jpeg[i:]


_JUNK = st.sampled_from([0xE0, 0xE1, 0xE2, 0xE9, 0xEC, 0xED, 0xEE, 0xEF, 0xFE])


@settings(max_examples=80, deadline=None)
@given(
    progressive=st.booleans(),
    inserts=st.lists(st.tuples(st.integers(0, 30), _JUNK, st.binary(max_size=40)), max_size=6),
    trailer=st.binary(max_size=64),
    fill=st.integers(0, 3),
)
def test_fuzz_stripped_jpegs_hold_no_byte_of_the_secret_and_decode_the_same(progressive, inserts, trailer, fill):
    from privis.media.image import strip_jpeg_metadata

    rng = np.random.default_rng(len(inserts))
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(buf, "JPEG", progressive=progressive)
    head, parts, eoi = _scans(buf.getvalue())
    for at, marker, junk in inserts:  # anywhere between segments, also between progressive scans
        payload = junk + SECRET.encode() + junk
        parts.insert(
            min(at, len(parts)), b"\xff" * fill + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
        )
    data = head + b"".join(parts) + eoi + trailer + SECRET.encode()
    stripped = strip_jpeg_metadata(data)
    assert secret_hits(stripped) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(stripped))), np.asarray(Image.open(buf)))


def test_keep_metadata_still_drops_the_exif_thumbnail(tmp_path):
    from tests.hostile_files import face_crop

    thumb = io.BytesIO()
    Image.fromarray(face_crop(48)).save(thumb, "JPEG")
    src = tmp_path / "a.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Maker"
    exif.get_ifd(0x8769)[0x9003] = "2024:01:01 10:00:00"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        src, exif=_exif_with_thumbnail(exif.tobytes(), thumb.getvalue())
    )
    assert thumb.getvalue()[2:200] in src.read_bytes()
    out = tmp_path / "b.jpg"
    result = privis("anonymize", str(src), "-o", str(out), "-q", "--keep-metadata", "--format", "jpg")
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert b"Maker" in data and thumb.getvalue()[2:200] not in data and data.count(b"\xff\xd8") == 1


def _exif_with_thumbnail(exif: bytes, jpeg: bytes) -> bytes:
    """EXIF bytes (from Pillow) with an IFD1 holding `jpeg` as its thumbnail."""
    raw = exif[6:] if exif.startswith(b"Exif\0\0") else exif
    # IFD0 ends with the offset of the next IFD: point it at a thumbnail IFD appended at the end.
    first = struct.unpack("<I" if raw[:2] == b"II" else ">I", raw[4:8])[0]
    count = struct.unpack("<H" if raw[:2] == b"II" else ">H", raw[first : first + 2])[0]
    next_at = first + 2 + 12 * count
    endian = "<" if raw[:2] == b"II" else ">"
    ifd1_at = len(raw)
    entries = [(0x0201, 4, 1, ifd1_at + 2 + 12 * 2 + 4), (0x0202, 4, 1, len(jpeg))]
    ifd1 = struct.pack(endian + "H", len(entries))
    for tag, typ, n, value in entries:
        ifd1 += struct.pack(endian + "HHII", tag, typ, n, value)
    ifd1 += struct.pack(endian + "I", 0) + jpeg
    body = bytearray(raw)
    body[next_at : next_at + 4] = struct.pack(endian + "I", ifd1_at)
    return b"Exif\0\0" + bytes(body) + ifd1


# --- 3. hangs ---------------------------------------------------------------------------------


def _first_frame_damaged(path: Path) -> None:
    from privis.media.video import write_video

    rng = np.random.default_rng(0)
    write_video(path, [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(10)])
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat") + 8
    for k in range(start, start + 3000):
        data[k] = (k * 7) & 0xFF
    path.write_bytes(bytes(data))


def test_videos_that_used_to_hang_fail_in_a_batch_that_goes_on(tmp_path):
    from privis.media.video import write_video

    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (1, 1), (9, 9, 9)).save(folder / "a_tiny.gif")
    _first_frame_damaged(folder / "b_damaged.mp4")
    write_video(folder / "c_good.mp4", [np.full((64, 96, 3), 40 * i, np.uint8) for i in range(5)])
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(folder / "d_plain.png")
    result = privis("anonymize", str(folder), "-o", str(tmp_path / "out"), "-q", timeout=60)
    assert result.returncode == 1, result.stderr
    assert "2 file(s) done" in result.stderr and "2 failed" in result.stderr
    assert "too small to encode" in result.stderr and "cannot decode video" in result.stderr
    left = sorted(p.name for p in (tmp_path / "out").rglob("*"))
    assert left == ["c_good.mp4", "d_plain.png"]  # no .privis-* temp file
