"""Issue 23's adversarial probe, kept as tests: each leak or hang it found, on generated files.

A marked secret (`SECRET`) is hidden wherever a format allows; a fixed writer lets none of
its bytes through. Hypothesis varies where and how it is hidden.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import struct
import subprocess
import sys
import time
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
    found = json.loads(result.stdout)["by_entity"]  # a DICOM's overlay loses every word by default
    assert set(found) == {"TEXT"} and found["TEXT"] >= 6
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


# --- 4. PDF -----------------------------------------------------------------------------------


def _huge_page_pdf(path: Path, inches: int = 200) -> Path:
    """A valid PDF under 1 KB whose one page is `inches` square: 14 GB as a 300 dpi bitmap."""
    side = inches * 72
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {side} {side}] >>".encode()]  # fmt: skip
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_a_tiny_pdf_with_a_huge_page_is_rendered_within_the_page_pixel_cap(tmp_path):
    pytest.importorskip("pypdfium2")
    from privis.media.pdf import MAX_PAGE_PIXELS, pdf_pages

    src = _huge_page_pdf(tmp_path / "huge.pdf")
    assert src.stat().st_size < 2048
    (page, dpi), *rest = list(pdf_pages(src, dpi=300))
    assert not rest and page.shape[0] * page.shape[1] <= MAX_PAGE_PIXELS and dpi < 300
    result = privis("anonymize", str(src), "-o", str(tmp_path / "out.pdf"), "-q", "--small-faces", "never",
                    timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 file(s) done" in result.stderr


def test_an_output_pdf_carries_no_metadata(tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    from privis.media.pdf import write_pdf

    src = tmp_path / "in.pdf"
    Image.new("RGB", (200, 100), "white").save(src, "PDF", title="Alice Smith passport", resolution=72.0)
    result = privis("anonymize", str(src), "-o", str(tmp_path / "out.pdf"), "-q")
    assert result.returncode == 0, result.stderr
    out = (tmp_path / "out.pdf").read_bytes()
    assert b"Alice" not in out and b".privis" not in out and b"CreationDate" not in out and b"/Info" not in out
    doc = pdfium.PdfDocument(str(tmp_path / "out.pdf"))
    assert not any(doc.get_metadata_dict().values()) and len(doc) == 1
    doc.close()
    with pytest.raises(Exception, match="exists"):
        write_pdf(tmp_path / "out.pdf", [])  # never replaced unasked


# --- 6. --audit -------------------------------------------------------------------------------


def test_audit_refuses_a_file_that_is_not_an_audit_log_and_the_input_and_output(tmp_path, astronaut):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(astronaut).save(photo)
    before = photo.read_bytes()
    for target, why in ((photo, "also an input or output"), (tmp_path / "out.jpg", "also an input or output")):
        result = privis("anonymize", str(photo), "-o", str(tmp_path / "out.jpg"), "--audit", str(target), "-q")
        assert result.returncode != 0 and why in result.stderr, result.stderr
    other = tmp_path / "notes.txt"
    other.write_text("my own notes\n")
    result = privis("anonymize", str(photo), "-o", str(tmp_path / "out.jpg"), "--audit", str(other), "-q")
    assert result.returncode != 0 and "not a privis audit log" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert photo.read_bytes() == before and other.read_text() == "my own notes\n"
    assert not (tmp_path / "out.jpg").exists()


def test_the_audit_log_names_files_relative_to_the_input_and_is_private(tmp_path, astronaut):
    root = tmp_path / "Alice Smith passport"
    (root / "trip").mkdir(parents=True)
    Image.fromarray(astronaut).save(root / "trip" / "face.png")
    audit = tmp_path / "audit.jsonl"
    for _ in range(2):  # the second run appends to the log the first one made
        result = privis("anonymize", str(root), "-o", str(tmp_path / "out"), "--audit", str(audit), "-q",
                        "--overwrite")  # fmt: skip
        assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert records and {r["file"] for r in records} == {"trip/face.png"}
    assert "Alice" not in audit.read_text()
    assert audit.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out" / "trip" / "face.png").stat().st_mode & 0o777 == 0o600


# --- 7. smaller items -------------------------------------------------------------------------


def test_a_video_whose_every_frame_fails_detection_fails(tmp_path):
    from privis.media.video import write_video

    src = write_video(tmp_path / "v.mp4", [np.full((64, 96, 3), 60, np.uint8) for _ in range(4)])
    code = (
        "import sys\n"
        "from privis.cli import run\n"
        "def broken(*a, **k): raise RuntimeError('detector exploded')\n"
        "import privis.pipeline as p; p.Anonymizer.detect_upright = broken\n"
        "sys.argv = ['privis', *sys.argv[1:]]; run()\n"
    )
    audit = tmp_path / "audit.jsonl"
    result = subprocess.run([sys.executable, "-c", code, "anonymize", str(src), "-o", str(tmp_path / "o.mp4"),
                             "-q", "--audit", str(audit)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "0 file(s) done" in result.stderr and "1 failed" in result.stderr
    assert not (tmp_path / "o.mp4").exists()
    assert any(json.loads(line).get("event") for line in audit.read_text().splitlines())  # the failure is logged


def test_file_names_that_could_forge_lines_are_printed_escaped(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    forged = "x\n3 file(s) done, 0 region(s) hidden, 0 failed\x1b[2K.png"
    (folder / forged).write_bytes(b"not an image")
    (folder / ".hidden.png").write_bytes(b"\x89PNG")
    result = privis("anonymize", str(folder), "-o", str(tmp_path / "out"), "-q")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert not any(line.startswith("3 file(s) done") for line in lines) and "\x1b" not in result.stderr
    assert lines[-1].startswith("0 file(s) done")
    assert "x\\n3 file(s) done" in result.stderr  # the name, escaped, on one line
    assert ".hidden.png" in result.stderr  # skipped, and said so


def test_two_inputs_that_map_to_one_output_are_refused_even_with_overwrite(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        Image.new("RGB", (32, 32), "gray").save(folder / "same.png")
    result = privis("anonymize", str(a / "same.png"), str(b / "same.png"), "-o", str(tmp_path / "out"),
                    "--overwrite", "-q")  # fmt: skip
    assert result.returncode != 0 and "same.png" in result.stderr
    assert len(list((tmp_path / "out").glob("*"))) <= 1


def test_sigterm_leaves_no_temporary_file(tmp_path):
    from privis.media.video import write_video

    rng = np.random.default_rng(1)
    src = write_video(tmp_path / "long.mp4", [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(300)])
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "from privis.cli import run; run()", "anonymize", str(src),
                             "-o", str(out / "o.mp4"), "-q"], stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.glob(".privis-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert list(out.glob(".privis-*")), "the run never started writing"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    assert list(out.iterdir()) == []


def test_host_port_takes_ipv6_in_brackets_and_says_what_it_wants():
    from privis.errors import PrivisError
    from privis.hosts import parse_host_port

    assert parse_host_port("[::1]:8080") == ("::1", 8080)
    assert parse_host_port("0.0.0.0:0") == ("0.0.0.0", 0)
    for bad in ("::1:8080", "localhost", "host:99999", "[::1:80"):
        with pytest.raises(PrivisError, match="HOST:PORT|brackets"):
            parse_host_port(bad)


def test_the_live_view_warns_beyond_loopback_and_binds_ipv6(caplog):
    import socket
    import urllib.request

    from privis.media.stream import MjpegServer

    with caplog.at_level(logging.WARNING):
        server = MjpegServer("0.0.0.0", 0)
        server.close()
    assert "every network interface" in caplog.text and "no login" in caplog.text
    caplog.clear()
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = MjpegServer("::1", 0)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"cannot bind ::1 here ({exc})")
    try:
        assert server.url.startswith("http://[::1]:") and not caplog.text
        assert b"/stream.mjpg" in urllib.request.urlopen(server.url, timeout=10).read()
    finally:
        server.close()


def test_the_live_view_caps_its_viewers_and_drops_silent_ones():
    import socket
    import urllib.error
    import urllib.request

    from privis.media.stream import MjpegServer

    server = MjpegServer("127.0.0.1", 0, max_clients=2, timeout=1.0)
    host, port = server.address
    try:
        silent = [socket.create_connection((host, port), timeout=10) for _ in range(2)]  # never send a request
        time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as busy:
            urllib.request.urlopen(server.url, timeout=10)
        assert busy.value.code == 503
        for sock in silent:  # dropped after the timeout, which frees their slots
            assert sock.recv(1024) == b""
            sock.close()
        time.sleep(0.2)
        assert b"/stream.mjpg" in urllib.request.urlopen(server.url, timeout=10).read()
    finally:
        server.close()


def test_running_out_of_memory_is_reported_with_a_reason_and_the_batch_goes_on(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a_big.png", "b_small.png"):
        Image.new("RGB", (32, 32), "gray").save(folder / name)
    code = (
        "import sys\n"
        "import privis.batch as b\n"
        "real = b.read_image\n"
        "def read(path, *a, **k):\n"
        "    if 'big' in str(path): raise MemoryError()\n"
        "    return real(path, *a, **k)\n"
        "b.read_image = read\n"
        "from privis.cli import run\n"
        "sys.argv = ['privis', *sys.argv[1:]]; run()\n"
    )
    result = subprocess.run([sys.executable, "-c", code, "anonymize", str(folder), "-o", str(tmp_path / "out"), "-q"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert "a_big.png: out of memory" in result.stderr and "1 file(s) done" in result.stderr
