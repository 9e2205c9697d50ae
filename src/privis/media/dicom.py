"""DICOM files: every frame's pixels out and back in, and the patient's tags scrubbed.

Burned-in text (names, dates of birth, IDs) sits in the pixels of X-rays and
ultrasound frames; the same facts sit in the header. Presidio's DICOM redactor fills
the pixels of the first frame and leaves the header; privis does every frame and blanks
the tags that identify the patient (`PATIENT_TAGS`), keeping the ones a viewer needs.

Usage::

    loaded = read_dicom("scan.dcm")            # frames: (N, H, W) or (N, H, W, 3)
    regions = [anonymizer.detect(rgb) for rgb in loaded.rgb_frames()]
    frames = [anonymizer.hide(f, r) for f, r in zip(loaded.frames, regions)]
    scrub_patient_tags(loaded.dataset)
    write_dicom("scan_redacted.dcm", loaded, frames)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import MediaError, OutputExistsError, PrivisError
from privis.media.files import write_atomically

DICOM_SUFFIXES = (".dcm", ".dicom")

# DICOM PS3.15 Basic Profile attributes about the patient and the people around the study.
PATIENT_TAGS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "OtherPatientIDsSequence",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientAge",
    "PatientSex",
    "PatientSize",
    "PatientWeight",
    "MedicalRecordLocator",
    "EthnicGroup",
    "Occupation",
    "AdditionalPatientHistory",
    "PatientComments",
    "ReferringPhysicianName",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PerformingPhysicianName",
    "OperatorsName",
    "NameOfPhysiciansReadingStudy",
    "RequestingPhysician",
    "InstitutionName",
    "InstitutionAddress",
    "AccessionNumber",
    "StudyID",
)


def is_dicom_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` has a DICOM suffix."""
    return Path(path).suffix.lower() in DICOM_SUFFIXES


@dataclass
class LoadedDicom:
    """A DICOM dataset and its frames as stored: (N, H, W) grey or (N, H, W, 3) RGB."""

    dataset: Any  # pydicom.Dataset
    frames: np.ndarray

    def rgb_frames(self) -> Iterator[np.ndarray]:
        """Each frame as RGB uint8 for detectors, one at a time (grey scaled to its own range,
        inverted for MONOCHROME1)."""
        for f in self.frames:
            if f.ndim == 3:
                yield np.ascontiguousarray(f.astype(np.uint8))
                continue
            g = f.astype(np.float32)
            lo, hi = float(g.min()), float(g.max())
            g = (g - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(g)
            if getattr(self.dataset, "PhotometricInterpretation", "") == "MONOCHROME1":
                g = 255 - g
            yield np.repeat(g.round().astype(np.uint8)[..., None], 3, axis=2)


def read_dicom(path: str | os.PathLike[str]) -> LoadedDicom:
    """Read a DICOM file and decode all its frames."""
    try:
        import pydicom
    except ImportError:
        raise PrivisError("DICOM needs pydicom: pip install 'privis[ocr]'") from None
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except Exception as exc:
        raise MediaError(f"{path}: cannot read DICOM pixels ({exc.__class__.__name__}: {exc})") from None
    frames_n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    rgb = getattr(ds, "SamplesPerPixel", 1) == 3
    if frames_n == 1:
        pixels = pixels[None]
    if pixels.ndim != (4 if rgb else 3):
        raise MediaError(f"{path}: unexpected pixel array shape {pixels.shape}")
    return LoadedDicom(ds, pixels)


def scrub_patient_tags(dataset: Any, tags: Sequence[str] = PATIENT_TAGS) -> list[str]:
    """Blank the identifying tags present in `dataset` (in place); returns their names."""
    blanked = []
    for name in tags:
        if name in dataset:
            elem = dataset.data_element(name)
            elem.value = [] if elem.VR == "SQ" else ""
            blanked.append(name)
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "privis: patient tags blanked, burned-in text redacted"
    return blanked


def write_dicom(
    path: str | os.PathLike[str], loaded: LoadedDicom, frames: Sequence[np.ndarray], *, overwrite: bool = False
) -> Path:
    """Write `loaded` with new `frames` (in the stored layout and dtype) to `path`,
    uncompressed and atomically."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
    out = np.stack([np.asarray(f) for f in frames])
    if out.shape != loaded.frames.shape or out.dtype != loaded.frames.dtype:
        raise PrivisError(f"frames must match the stored {loaded.frames.shape} {loaded.frames.dtype}, got {out.shape}")
    ds = loaded.dataset
    ds.PixelData = (out[0] if len(out) == 1 else out).tobytes()
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return write_atomically(path, lambda tmp: pydicom.dcmwrite(tmp, ds, enforce_file_format=True), overwrite=overwrite)
