"""DICOM files: every frame's pixels out and back in, and the header de-identified.

Burned-in text (names, dates of birth, IDs) sits in the pixels of X-rays and
ultrasound frames; the same facts sit in the header, in nested sequences, private tags,
overlay planes, icon thumbnails and the preamble. Presidio's DICOM redactor fills the
pixels of the first frame and leaves the header; privis does every frame and rebuilds
the header from what a viewer needs (`deidentify`), so that nothing else survives.

Usage::

    loaded = read_dicom("scan.dcm")            # frames: (N, H, W) or (N, H, W, 3)
    regions = [anonymizer.detect(rgb) for rgb in loaded.rgb_frames()]
    frames = [anonymizer.hide(f, r) for f, r in zip(loaded.frames, regions)]
    loaded.dataset, done = deidentify(loaded.dataset)
    write_dicom("scan_redacted.dcm", loaded, frames)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from privis.errors import MediaError, OutputExistsError, PrivisError
from privis.media.files import write_atomically

if TYPE_CHECKING:
    from privis.pipeline import Anonymizer

DICOM_SUFFIXES = (".dcm", ".dicom")

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_ORIENTATION = re.compile(r"^[ALPHRF]{0,3}$")
_CHARSET = re.compile(r"^(ISO_IR \d+|ISO 2022 IR \d+|GB18030|GBK)?$")
# DICOM defined terms of the few code-string attributes kept; any other value is dropped.
_MODALITIES = frozenset(
    "AR ASMT AU BDUS BI BMD CR CT CTPROTOCOL DG DOC DX ECG EEG EMG EOG EPS ES FID GM HC HD IO IOL IVOCT IVUS KER "
    "KO LEN LS MG MR M3D NM OAM OCT OP OPM OPT OPTBSV OPTENF OPV OSS OT PLAN PR PT PX REG RESP RF RG RTDOSE "
    "RTIMAGE RTPLAN RTRECORD RTSTRUCT RWV SEG SM SMR SR SRF STAIN TEXTUREMAP TG US VA XA XC".split()
)
_CODES: dict[str, frozenset[str]] = {
    "PhotometricInterpretation": frozenset(
        "MONOCHROME1 MONOCHROME2 PALETTE RGB YBR_FULL YBR_FULL_422 YBR_PARTIAL_420 YBR_ICT YBR_RCT".split()
        + ["PALETTE COLOR"]
    ),
    "Modality": _MODALITIES,
    "ImageType": frozenset("ORIGINAL DERIVED PRIMARY SECONDARY".split()),
    "Laterality": frozenset("R L U B".split()),
    "ImageLaterality": frozenset("R L U B".split()),
    "ViewPosition": frozenset("AP PA LL RL RLD LLD RLO LLO LAT".split()),
    "VOILUTFunction": frozenset("LINEAR LINEAR_EXACT SIGMOID".split()),
    "PresentationLUTShape": frozenset("IDENTITY INVERSE".split()),
    "PixelIntensityRelationship": frozenset("LIN LOG DISP".split()),
    "LossyImageCompression": frozenset(["00", "01"]),
    "LossyImageCompressionMethod": frozenset("ISO_10918_1 ISO_14495_1 ISO_15444_1 ISO_13818_2 ISO_14496_10".split()),
    "ConversionType": frozenset("DV DI DF WSD SD SI DRW SYN".split()),
}
# What a viewer needs to show and measure the image: pixels, geometry, grey levels, the kind of
# image. Every other attribute is removed (names, dates, devices, places, free text, private
# tags, overlays, curves, icon images), so that data in tags privis has never heard of goes too.
_KEPT = frozenset(
    """SpecificCharacterSet SOPClassUID Modality ImageType ConversionType
    SamplesPerPixel PhotometricInterpretation Rows Columns BitsAllocated BitsStored HighBit PixelRepresentation
    PlanarConfiguration PixelAspectRatio SmallestImagePixelValue LargestImagePixelValue PixelData NumberOfFrames
    FrameIncrementPointer FrameTime
    RedPaletteColorLookupTableDescriptor GreenPaletteColorLookupTableDescriptor BluePaletteColorLookupTableDescriptor
    RedPaletteColorLookupTableData GreenPaletteColorLookupTableData BluePaletteColorLookupTableData
    PixelSpacing ImagerPixelSpacing NominalScannedPixelSpacing SliceThickness SpacingBetweenSlices SliceLocation
    ImagePositionPatient ImageOrientationPatient PatientOrientation Laterality ImageLaterality ViewPosition
    WindowCenter WindowWidth RescaleIntercept RescaleSlope VOILUTFunction PresentationLUTShape
    PixelIntensityRelationship PixelIntensityRelationshipSign LossyImageCompression LossyImageCompressionRatio
    LossyImageCompressionMethod KVP ExposureTime XRayTubeCurrent Exposure DistanceSourceToDetector
    DistanceSourceToPatient EstimatedRadiographicMagnificationFactor BodyPartThickness
    InstanceNumber SeriesNumber AcquisitionNumber
    SharedFunctionalGroupsSequence PerFrameFunctionalGroupsSequence PixelMeasuresSequence PlanePositionSequence
    PlaneOrientationSequence FrameVOILUTSequence PixelValueTransformationSequence""".split()
)
# Type 2 attributes of the patient and study: present but empty (PS3.15 action Z).
_EMPTIED = (
    "PatientName PatientID PatientBirthDate PatientSex StudyDate StudyTime ReferringPhysicianName StudyID "
    "AccessionNumber"
).split()
# Instance UIDs: replaced by new ones (action U), the same within one run so a study's files stay together.
_REPLACED = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
_UID_KEY = secrets.token_bytes(32)  # per process: new UIDs cannot be linked back to the old ones


@dataclass
class Deidentified:
    """What `deidentify` did to a header: attribute names only, never their values."""

    removed: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


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


def deidentify(dataset: Any, *, clean_pixels: bool = False) -> tuple[Any, Deidentified]:
    """A new header for `dataset` under DICOM PS3.15's Basic Application Level Confidentiality
    Profile, applied as an allowlist; returns it with what was removed, emptied and replaced.

    Only the attributes a viewer needs are kept (`_KEPT`), each only when its value has the
    expected form; kept sequences are cleaned item by item in the same way. Patient and study
    attributes of type 2 stay present but empty, instance UIDs are replaced, and the file
    meta information and preamble are written anew. `clean_pixels` records that burned-in
    text was redacted (the Clean Pixel Data Option).

    >>> import pydicom
    >>> ds = pydicom.Dataset(); ds.PatientName = "Doe^Jane"; ds.StationName = "CT-ROOM-3"; ds.Rows = 8
    >>> ds.add_new(0x00091010, "LO", "MRN 42")
    >>> clean, done = deidentify(ds)
    >>> str(clean.PatientName), "StationName" in clean, clean.Rows, done.removed
    ('', False, 8, ['StationName', '(0009,1010) private'])
    """
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.sequence import Sequence as DicomSequence

    done = Deidentified()
    clean = _cleaned(dataset, done, "")
    for name in _EMPTIED:
        setattr(clean, name, "")
        if name in dataset and dataset.data_element(name).value not in ("", None):
            done.emptied.append(name)
    for name in _REPLACED:
        if name in dataset or name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            setattr(clean, name, _new_uid(str(dataset.get(name, "")) or secrets.token_hex(16)))
            if name in dataset:
                done.replaced.append(name)
    if "SOPClassUID" not in clean:
        clean.SOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
    clean.PatientIdentityRemoved = "YES"
    clean.DeidentificationMethod = "privis: PS3.15 Basic Profile, allowlist" + (
        "; text redacted" if clean_pixels else ""
    )
    codes = [("113100", "Basic Application Confidentiality Profile")]
    if clean_pixels:
        codes.append(("113101", "Clean Pixel Data Option"))
    items = []
    for value, meaning in codes:
        item = pydicom.Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    clean.DeidentificationMethodCodeSequence = DicomSequence(items)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = clean.SOPClassUID
    meta.MediaStorageSOPInstanceUID = clean.SOPInstanceUID
    old_meta = getattr(dataset, "file_meta", None)
    meta.TransferSyntaxUID = getattr(old_meta, "TransferSyntaxUID", None) or pydicom.uid.ExplicitVRLittleEndian
    clean.file_meta = meta
    clean.preamble = b"\0" * 128  # the 128 bytes before "DICM" are free for any data: never copied
    return clean, done


def _cleaned(dataset: Any, done: Deidentified, path: str) -> Any:
    """A copy of `dataset` holding only the kept attributes whose values look as they should.

    Attributes are looked at by tag, and only kept ones are decoded, so a value that does
    not even parse (text in a number attribute) is dropped rather than failing the file.
    """
    import pydicom
    from pydicom.datadict import keyword_for_tag
    from pydicom.sequence import Sequence as DicomSequence

    out = pydicom.Dataset()
    for tag in list(dataset.keys()):
        keyword = keyword_for_tag(tag) if not tag.is_private else ""
        where = f"{path}{keyword or _tag_name(tag)}"
        if keyword not in _KEPT:
            if not (path == "" and keyword in _EMPTIED + list(_REPLACED)):  # those are listed as emptied/replaced
                done.removed.append(where)
            continue
        try:
            elem = dataset[tag]
            if elem.VR == "SQ":
                items = [_cleaned(item, done, f"{where}[{i}].") for i, item in enumerate(elem.value)]
                out[tag] = pydicom.DataElement(tag, "SQ", DicomSequence(items))
                continue
            ok = _value_ok(keyword, elem)
        except (ValueError, TypeError, KeyError, OverflowError):  # undecodable: it cannot be shown either
            ok = False
        if ok:
            out[tag] = pydicom.DataElement(tag, elem.VR, elem.value)
        else:
            done.removed.append(where)
    return out


def _value_ok(keyword: str, elem: Any) -> bool:
    """Whether a kept attribute's value has the form its attribute allows (else it may hide text)."""
    from pydicom.multival import MultiValue

    values = elem.value if isinstance(elem.value, (list, tuple, MultiValue)) else [elem.value]
    texts = [str(v) for v in values]
    if keyword in _CODES:
        return all(t.strip() in _CODES[keyword] for t in texts)
    if keyword == "SOPClassUID":
        return bool(_UID.match(texts[0])) and texts[0] in pydicom_uid_names()
    if keyword == "SpecificCharacterSet":
        return all(_CHARSET.match(t.strip()) for t in texts)
    if keyword == "PatientOrientation":
        return all(_ORIENTATION.match(t.strip()) for t in texts)
    if elem.VR in ("DS", "IS"):
        return all(t.strip() == "" or _NUMBER.match(t) for t in texts)
    return elem.VR in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT", "OB", "OW", "OF", "OD", "OL", "OV")


def pydicom_uid_names() -> frozenset[str]:
    """The UIDs the DICOM standard registers (SOP classes, transfer syntaxes), as pydicom knows them."""
    from pydicom._uid_dict import UID_dictionary

    return frozenset(UID_dictionary)


def _tag_name(tag: Any) -> str:
    group = tag.group
    name = f"({group:04X},{tag.element:04X})"
    if tag.is_private:
        return name + " private"
    if 0x6000 <= group <= 0x60FF and group % 2 == 0:
        return name + " overlay"
    if 0x5000 <= group <= 0x50FF and group % 2 == 0:
        return name + " curve"
    return name


def _new_uid(old: str) -> str:
    """A new UID under the 2.25 root, keyed per process so equal old UIDs map to equal new ones."""
    digest = hmac.new(_UID_KEY, old.encode(), hashlib.sha256).digest()[:16]
    return "2.25." + str(int.from_bytes(digest, "big"))


def _stored_bits_only(pixels: np.ndarray, ds: Any) -> np.ndarray:
    """Unsigned pixels with the bits outside BitsStored cleared: old files hide overlays there."""
    allocated, stored = int(getattr(ds, "BitsAllocated", 8)), int(getattr(ds, "BitsStored", 8))
    if getattr(ds, "PixelRepresentation", 0) or stored >= allocated or pixels.dtype.kind != "u":
        return pixels
    high = int(getattr(ds, "HighBit", stored - 1))
    mask = ((1 << stored) - 1) << (high + 1 - stored)
    return pixels & np.asarray(mask, pixels.dtype)


def write_dicom(
    path: str | os.PathLike[str], loaded: LoadedDicom, frames: Sequence[np.ndarray], *, overwrite: bool = False
) -> Path:
    """Write `loaded` with new `frames` (in the stored layout and dtype) to `path`,
    uncompressed and atomically."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
    out = np.stack([np.asarray(f) for f in frames])
    if out.shape != loaded.frames.shape or out.dtype != loaded.frames.dtype:
        raise PrivisError(f"frames must match the stored {loaded.frames.shape} {loaded.frames.dtype}, got {out.shape}")
    ds = loaded.dataset
    out = _stored_bits_only(out, ds)
    ds.PixelData = (out[0] if len(out) == 1 else out).tobytes()
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return write_atomically(path, lambda tmp: pydicom.dcmwrite(tmp, ds, enforce_file_format=True), overwrite=overwrite)


def anonymize_dicom(
    anonymizer: Anonymizer,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None,
    *,
    overwrite: bool = False,
    keep_metadata: bool = False,
    name: str | None = None,
) -> int:
    """Anonymize every frame of a DICOM file and de-identify its header (unless
    `keep_metadata`); returns the number of regions hidden. With `dst` None, only detect.

    Frames are detected on an 8-bit view and hidden in the stored pixels, so depth
    and photometry are kept. A frame whose detection fails fails the whole file. The
    audit log lists the attributes removed, emptied and replaced (names, never values).
    """
    import dataclasses

    if dst is not None and Path(dst).exists() and not overwrite:
        raise OutputExistsError(f"{dst} exists; pass overwrite=True to replace it")
    from privis.text.header_terms import header_terms

    label = name or str(src)
    loaded = read_dicom(src)
    before = anonymizer.regions_hidden
    # The header names the patient: text detectors look for its values burned into the frames too,
    # and (their `auto` policy) hide every word of overlay text but markers and acquisition values.
    terms = header_terms(loaded.dataset)
    detectors = [d.for_dicom(terms) if hasattr(d, "for_dicom") else d for d in anonymizer.detectors]
    pages = zip(loaded.rgb_frames(), loaded.frames, strict=True)
    frames = list(anonymizer.pages(pages, label, detectors=detectors))
    if not keep_metadata:
        loaded.dataset, done = deidentify(loaded.dataset, clean_pixels="text" in anonymizer.targets)
        if anonymizer.audit is not None:
            anonymizer.audit.event(label, "dicom_deidentified", **dataclasses.asdict(done))
    if dst is not None:
        write_dicom(dst, loaded, frames, overwrite=overwrite)
    return anonymizer.regions_hidden - before
