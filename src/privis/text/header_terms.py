"""What a DICOM header says about the patient, as a viewer would burn it into the pixels.

A scanner or viewer writes the header's identifying values into the image corners in
its own forms: ``KOWALSKI^JAN`` as ``KOWALSKI JAN``, ``Jan Kowalski`` or ``KOWALSKI, J``;
``19850312`` as ``12.03.1985``, ``03/12/1985`` or ``12-Mar-1985``; sex as ``[F]``. The
name rules of `privis.text.pii` cannot know a Vietnamese or Polish surname, but the
header does: `header_terms` lists every form of every value, and `find_terms` finds them
in OCR text, allowing OCR errors (an edit distance that grows with the length).

Examples
--------
>>> import pydicom
>>> ds = pydicom.Dataset()
>>> ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "NGUYEN^THI", "19850312", "F"
>>> terms = header_terms(ds)
>>> [t.text for t in terms if t.entity == "PERSON"][:3]
['NGUYEN THI', 'THI NGUYEN', 'NGUYEN, THI']
>>> [(e.type, e.value) for e in find_terms("Pt: NGUYEN TH1  DOB 12.03.1985 [F]", terms)]
[('PERSON', 'NGUYEN TH1'), ('DATE', '12.03.1985'), ('SEX', '[F]')]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from privis.text.pii import Entity

# Person-name attributes (PN) and the other identifying values a viewer may burn in.
NAME_KEYWORDS = ("PatientName", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
                 "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy", "OtherPatientNames",
                 "PatientMotherBirthName")  # fmt: skip
ID_KEYWORDS = ("PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID", "IssuerOfPatientID",
               "InstitutionName", "InstitutionAddress", "StationName")  # fmt: skip
DATE_KEYWORDS = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class Term:
    """One form of one header value: the entity type it counts as, and the text a viewer writes."""

    entity: str
    text: str


def name_forms(value: str) -> list[str]:
    """The ways a viewer writes a DICOM person name ``FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX``.

    >>> name_forms("KOWALSKI^JAN")[:5]
    ['KOWALSKI JAN', 'JAN KOWALSKI', 'KOWALSKI, JAN', 'KOWALSKI^JAN', 'J. KOWALSKI']
    """
    parts = [p.strip() for p in str(value).split("^")]
    family, given = (parts + ["", ""])[:2]
    middle = parts[2] if len(parts) > 2 else ""
    forms: list[str] = []
    if family and given:
        forms += [f"{family} {given}", f"{given} {family}", f"{family}, {given}", f"{family}^{given}",
                  f"{given[0]}. {family}", f"{family} {given[0]}", f"{family}, {given[0]}"]  # fmt: skip
        if middle:
            forms += [f"{family} {given} {middle}", f"{given} {middle} {family}"]
    forms += [p for p in (family, given, middle) if len(p) >= 2]  # each alone: the header names this patient
    return list(dict.fromkeys(forms))


def date_forms(value: str) -> list[str]:
    """A DICOM date ``YYYYMMDD`` in the forms viewers print it.

    >>> date_forms("19850312")[:4]
    ['19850312', '1985-03-12', '1985/03/12', '1985.03.12']
    """
    m = re.fullmatch(r"\s*(\d{4})(\d{2})(\d{2})\s*", str(value))
    if not m:
        return [str(value).strip()] if str(value).strip() else []
    y, mo, d = m.groups()
    mon = MONTHS[int(mo) - 1] if 1 <= int(mo) <= 12 else mo
    forms = [f"{y}{mo}{d}", f"{y}-{mo}-{d}", f"{y}/{mo}/{d}", f"{y}.{mo}.{d}"]
    for sep in ("/", ".", "-"):
        forms += [
            f"{d}{sep}{mo}{sep}{y}",
            f"{mo}{sep}{d}{sep}{y}",
            f"{d}{sep}{mo}{sep}{y[2:]}",
            f"{mo}{sep}{d}{sep}{y[2:]}",
        ]
    forms += [f"{d}-{mon}-{y}", f"{d} {mon} {y}", f"{mon} {d} {y}", f"{mon} {d}, {y}", f"{d}{mon.upper()}{y}"]
    return list(dict.fromkeys(forms))


def header_terms(dataset: Any) -> list[Term]:
    """Every identifying value of a pydicom `dataset`, in every form a viewer may burn it in."""
    terms: list[Term] = []

    def values(keyword: str) -> Iterable[str]:
        elem = dataset.get(keyword)
        if elem is None or elem == "":
            return []
        many = elem if isinstance(elem, list | tuple) or type(elem).__name__ == "MultiValue" else [elem]
        return [str(v) for v in many if str(v).strip()]

    for keyword in NAME_KEYWORDS:
        for v in values(keyword):
            terms += [Term("PERSON", form) for form in name_forms(v)]
    for keyword in ID_KEYWORDS:
        for v in values(keyword):
            terms.append(Term("INSTITUTION" if keyword.startswith(("Institution", "Station")) else "ID", v.strip()))
    for keyword in DATE_KEYWORDS:
        for v in values(keyword):
            terms += [Term("DATE", form) for form in date_forms(v)]
    for sex in values("PatientSex"):
        s = sex.strip().upper()[:1]
        terms += [Term("SEX", f) for f in (f"[{s}]", f"({s})", f"Sex: {s}", f"Sex:{s}", f"{s}/")]
    for age in values("PatientAge"):
        m = re.fullmatch(r"0*(\d+)([DWMY])", age.strip())
        if m:
            terms += [Term("AGE", f) for f in (age.strip(), f"{m[1]}{m[2]}", f"{m[1]} {m[2]}")]
    return list(dict.fromkeys(t for t in terms if t.text))


def _tolerance(length: int) -> int:
    """Edits an OCR'd form may differ by: none up to 4 characters, then one per 6."""
    return 0 if length <= 4 else max(1, length // 6)


def find_terms(text: str, terms: Sequence[Term]) -> list[Entity]:
    """The spans of `text` that are one of `terms`, up to OCR errors: a run of words with as
    many words as the form, within an edit distance that grows with its length (case and
    surrounding punctuation ignored). Longer forms win where spans overlap."""
    from rapidfuzz.distance import Levenshtein

    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for term in sorted(terms, key=lambda t: -len(t.text)):
        want = _norm(term.text)
        n = len(term.text.split())
        limit = _tolerance(len(want))
        for i in range(len(tokens) - n + 1):
            start, end = tokens[i][0], tokens[i + n - 1][1]
            if "\n" in text[start:end] or any(s < end and start < e for s, e in taken):
                continue
            got = _norm(text[start:end])
            if got and abs(len(got) - len(want)) <= limit and Levenshtein.distance(got, want) <= limit:
                score = 1.0 - Levenshtein.distance(got, want) / max(len(want), 1)
                found.append(Entity(term.entity, start, end, round(0.7 + 0.3 * score, 3), text[start:end]))
                taken.append((start, end))
    return sorted(found, key=lambda e: e.start)


# Characters OCR confuses, folded alike on both sides of a comparison (O and 0, l and 1...).
_CONFUSABLE = str.maketrans({"o": "0", "i": "1", "l": "1", "|": "1", "s": "5", "b": "8", "z": "2"})


def _norm(text: str) -> str:
    """Case, accents (OCR often drops them: ``ÖZTÜRK`` read as ``OZTURK``) and OCR-confusable
    characters folded, the punctuation OCR puts around words dropped (brackets kept: ``[F]``)."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return bare.casefold().strip(" .,;:'\"").translate(_CONFUSABLE)
