"""`text-pii`: personal data written in the picture, found by OCR and the recognizers of `privis.text`.

A detector like any other, so that ``privis anonymize --targets text`` hides it in photos
and videos with every method, and ``privis redact-text`` fills it in documents. Regions
are labelled ``text``; ``data["entity"]`` holds the entity type (``EMAIL``, ``PERSON``...),
which the audit log records. The text itself is never kept.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from privis.detect.base import Detector, register_detector
from privis.errors import PrivisError
from privis.regions import Regions

TEXT_POLICIES = ("auto", "pii", "all")
# Overlay text that identifies nobody: laterality markers and acquisition values with units.
MEDICAL_KEEP = (r"[LR]", r"\d+(?:[.,]\d+)?\s?(?:kVp?|mAs|mA|ms|cm|mm|HU|%)", r"(?:kVp?|mAs|mA|ms|cm|mm|HU)")


@register_detector("text-pii")
class TextPiiDetector(Detector):
    """Boxes of personal data in an image's text, one per entity and line.

    Parameters
    ----------
    ocr : str or OcrEngine, default 'auto'
        Engine name (``tesseract``, ``rapidocr``, ``auto``) or an engine.
    entities : sequence of str, optional
        Entity types to find (default: all that `privis.text.pii` knows).
    allow, deny : sequence of str
        Values never reported; words or phrases always reported.
    text_pad : int, default 2
        Pixels added on every side of each box: OCR boxes hug the ink.
    threshold : float, default 0.0
        Entities scored below this are left.
    phone_regions : sequence of str, optional
        Countries whose national phone formats are recognized (default: US, GB).
    pseudonym_key : bytes, optional
        When given, ``regions.meta["transcript"]`` holds the recognized text with every
        entity replaced by a keyed pseudonym (`privis.text.pii.pseudonym`).
    terms : sequence of Term, optional
        Values known to identify the person in this file, in the forms they may be
        written (a DICOM header's, `privis.text.header_terms`): found up to OCR errors,
        whatever the name rules know. `for_dicom` gives a copy for one file.
    text : {'auto', 'pii', 'all'}, default 'auto'
        What to hide: the personal data the recognizers find (``pii``), or every word but
        those `keep` matches (``all``: burned-in text in medical images, where any word may
        be the patient's). ``auto`` is ``all`` in DICOM frames and ``pii`` elsewhere.
    keep : sequence of str, optional
        With ``all``: regular expressions of words left in place (default `MEDICAL_KEEP`:
        the L and R markers and acquisition values with their units, such as ``120kV``).
    """

    labels = ("text",)

    def __init__(
        self,
        *,
        ocr: object = "auto",
        entities: Sequence[str] | None = None,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        text_pad: int = 2,
        threshold: float = 0.0,
        phone_regions: Sequence[str] | None = None,
        pseudonym_key: bytes | None = None,
        terms: Sequence[Any] = (),
        text: str = "auto",
        keep: Sequence[str] | None = None,
    ) -> None:
        from privis.text.ocr import create_ocr
        from privis.text.pii import PHONE_REGIONS, find_entities

        self.ocr: Any = create_ocr(ocr) if isinstance(ocr, str) else ocr
        self.entities = None if entities is None else [e.upper() for e in entities]
        find_entities("", self.entities)  # unknown types fail now, not on the first page
        self.allow, self.deny = list(allow), list(deny)
        self.pad, self.threshold = int(text_pad), float(threshold)
        self.phone_regions = list(PHONE_REGIONS if phone_regions is None else phone_regions)
        self.pseudonym_key = pseudonym_key
        self.terms = tuple(terms)
        if text not in TEXT_POLICIES:
            raise PrivisError(f"text must be one of {', '.join(TEXT_POLICIES)}, got {text!r}")
        self.text = text
        self.keep = [re.compile(k, re.IGNORECASE) for k in (MEDICAL_KEEP if keep is None else keep)]

    def for_dicom(self, terms: Sequence[Any]) -> TextPiiDetector:
        """This detector for one DICOM file: also finding `terms` (its header's values), and
        hiding all text where the policy is ``auto``. The OCR engine is shared."""
        twin = copy.copy(self)
        twin.terms = tuple(terms)
        if self.text == "auto":
            twin.text = "all"
        return twin

    def detect(self, frame: np.ndarray) -> Regions:
        from privis.text.ocr import words_text
        from privis.text.pii import entity_boxes, find_entities, pseudonymize

        words = self.ocr.read(frame)
        if not words:
            return self._with_transcript(Regions.empty(), "")
        if self.text == "all":
            return self._all_text(words, frame)
        from privis.text.layout import pieces, pieces_text, stacked

        text = words_text(words)
        parts = pieces(words)
        columns = pieces_text(words, parts, gap="\n")  # the same offsets, each piece a line
        found = find_entities(
            pieces_text(words, parts),  # entities may wrap onto the next line, never across a wide gap
            self.entities,
            allow=self.allow,
            deny=self.deny,
            min_score=self.threshold,
            phone_regions=self.phone_regions,
        )
        extra = []
        if self.entities is None or "PERSON" in self.entities:  # names known by the lines they stand among
            from privis.text.pii import context_names

            extra += [e for e in context_names(columns, stacked(parts)) if e.value not in self.allow]
        known = [t for t in self.terms if self.entities is None or t.entity in self.entities]
        if known:
            from privis.text.header_terms import find_terms

            extra += find_terms(columns, known)
        if extra:
            found = _outermost([*found, *extra])
        pairs = entity_boxes(words, found, text)
        transcript = pseudonymize(text, found, self.pseudonym_key) if self.pseudonym_key else ""
        regions = self._regions([b for _, b in pairs], [e.score for e, _ in pairs], [e.type for e, _ in pairs], frame)
        return self._with_transcript(regions, transcript)

    def _all_text(self, words: Sequence[Any], frame: np.ndarray) -> Regions:
        """Every word but those `keep` matches, one region each (entity ``TEXT``)."""
        hidden = [wd for wd in words if wd.text.strip() and not any(k.fullmatch(wd.text.strip()) for k in self.keep)]
        regions = self._regions([wd.box for wd in hidden], [wd.score for wd in hidden], ["TEXT"] * len(hidden), frame)
        return self._with_transcript(regions, "")

    def _regions(
        self, boxes: Sequence[Any], scores: Sequence[float], entities: Sequence[str], frame: np.ndarray
    ) -> Regions:
        """Text regions: `boxes` grown by the pad and clipped to `frame`, with their entity types."""
        if not len(boxes):
            return Regions.empty()
        h, w = frame.shape[:2]
        grown = np.array(boxes, np.float32) + np.array([-1, -1, 1, 1], np.float32) * self.pad
        # OCR boxes of one or two letters often miss part of a glyph (an M read 6 px wide):
        # boxes narrower than twice their height grow by a quarter of it on each side.
        tall = grown[:, 3] - grown[:, 1]
        narrow = (grown[:, 2] - grown[:, 0]) < 2 * tall
        grown[narrow, 0] -= 0.25 * tall[narrow]
        grown[narrow, 2] += 0.25 * tall[narrow]
        n = len(grown)
        return Regions(np.clip(grown, 0, [w, h, w, h]), label=["text"] * n, score=list(scores),
                       source=[self.name] * n, data={"entity": np.array(list(entities), dtype=object)})  # fmt: skip

    def _with_transcript(self, regions: Regions, transcript: str) -> Regions:
        if self.pseudonym_key:
            regions.meta["transcript"] = transcript
        return regions


def _outermost(entities: Sequence[Any]) -> list[Any]:
    """Entities sorted by start, less those lying within another (one span found by two rules)."""
    ordered = sorted(entities, key=lambda e: (e.start, -e.end))
    out: list[Any] = []
    for e in ordered:
        if not any(o.start <= e.start and e.end <= o.end for o in out):
            out.append(e)
    return out
