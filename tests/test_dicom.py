import json

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.cli import app
from tests.conftest import skip_without_tesseract, text_page

pydicom = pytest.importorskip("pydicom")
skip_without_tesseract()
runner = CliRunner()


def make_multiframe(path, frames=3):
    """A 16-bit MONOCHROME2 multi-frame file with a patient's name and ID burned into every frame."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    stack = []
    for i in range(frames):
        page, _ = text_page([f"Patient: Jessica Smith  frame {i}", "SSN: 078-05-1120"], size=(900, 260))
        grey = (255 - page[..., 0]).astype(np.uint16) * 16  # white text on black, 12-bit range
        stack.append(grey)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Smith^Jessica", "MRN-0042", "19850312"
    ds.InstitutionName, ds.Modality = "St Elsewhere", "OT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = stack[0].shape[0], stack[0].shape[1], frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.stack(stack).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return np.stack(stack)


def test_every_frame_redacted_and_patient_tags_blanked(tmp_path):
    src = tmp_path / "scan.dcm"
    before = make_multiframe(src)
    audit = tmp_path / "audit.jsonl"
    result = runner.invoke(
        app, ["redact-text", str(src), "--ocr", "tesseract", "--text", "pii", "--audit", str(audit), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["by_entity"] == {"PERSON": 3, "US_SSN": 3}  # in each of the three frames
    out = pydicom.dcmread(tmp_path / "scan_redacted.dcm")
    after = out.pixel_array
    assert after.shape == before.shape and after.dtype == before.dtype
    for frame_before, frame_after in zip(before, after, strict=True):
        text_rows = frame_before.max(axis=1) > 0
        changed = (frame_before != frame_after).any(axis=1)
        assert changed[text_rows].mean() > 0.5  # each frame's text lines were painted
    assert str(out.PatientName) == "" and out.PatientID == "" and out.PatientBirthDate == ""
    assert "InstitutionName" not in out and out.PatientIdentityRemoved == "YES"
    assert out.Modality == "OT"  # what a viewer needs stays
    log = audit.read_text()
    assert "Smith" not in log and "MRN" not in log
    events = [json.loads(line) for line in log.splitlines() if json.loads(line).get("event") == "dicom_deidentified"]
    assert "InstitutionName" in events[0]["removed"] and "PatientName" in events[0]["emptied"]


def test_a_corrupt_dicom_is_one_line(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"DICM" * 10)
    audit = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["redact-text", str(bad), "--ocr", "tesseract", "--audit", str(audit)])
    assert result.exit_code == 1
    assert "cannot read DICOM" in result.output and "Traceback" not in result.output
    assert json.loads(audit.read_text())["event"] == "failed"  # the log says so, as for images
