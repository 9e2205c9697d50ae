"""Redact personal data written in an image: OCR the words, recognize entities, fill their boxes.

`TextRedactor` is the one object behind ``privis redact-text``: it returns the redacted
pixels and a `Regions` whose labels are entity types (``EMAIL``, ``PERSON``...), so the
audit log records what kind of data was hidden and where, never the text itself.

Usage::

    redactor = TextRedactor(ocr="tesseract", entities=["EMAIL", "PHONE", "PERSON"])
    out, found = redactor.redact(rgb)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from privis.regions import Regions
from privis.text.ocr import OcrEngine, create_ocr, words_text
from privis.text.pii import PHONE_REGIONS, entity_boxes, find_entities


class TextRedactor:
    """Find and fill the boxes of personal data in an image's text.

    Parameters
    ----------
    ocr : str or OcrEngine, default 'auto'
        Engine name (``tesseract``, ``rapidocr``, ``auto``) or an engine.
    entities : sequence of str, optional
        Entity types to redact (default: all that `privis.text.pii` knows).
    allow, deny : sequence of str
        Values never redacted; words or phrases always redacted.
    fill : (r, g, b), default black
    pad : int, default 2
        Pixels added on every side of each box: OCR boxes hug the ink.
    min_score : float, default 0.0
        Entities scored below this are left.
    phone_regions : sequence of str
        Countries whose national phone formats are recognized.
    """

    def __init__(
        self,
        *,
        ocr: str | OcrEngine = "auto",
        entities: Sequence[str] | None = None,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        fill: tuple[int, int, int] = (0, 0, 0),
        pad: int = 2,
        min_score: float = 0.0,
        phone_regions: Sequence[str] = PHONE_REGIONS,
    ) -> None:
        from privis.obfuscate import create_obfuscator

        self.ocr = create_ocr(ocr) if isinstance(ocr, str) else ocr
        self.entities = None if entities is None else list(entities)
        find_entities("", self.entities)  # unknown types fail now, not on the first page
        self.allow, self.deny = list(allow), list(deny)
        self.pad, self.min_score, self.phone_regions = int(pad), float(min_score), list(phone_regions)
        self._fill = create_obfuscator("fill", color=tuple(fill), shape="box")

    def find(self, rgb: np.ndarray) -> Regions:
        """Boxes of personal data in an RGB uint8 image, labelled with the entity type."""
        words = self.ocr.read(rgb)
        if not words:
            return Regions.empty()
        text = words_text(words)
        # Entities may run across a line break (a name or an IBAN wrapped onto the next line).
        flat = text.replace("\n", " ")
        found = find_entities(
            flat,
            self.entities,
            allow=self.allow,
            deny=self.deny,
            min_score=self.min_score,
            phone_regions=self.phone_regions,
        )
        pairs = entity_boxes(words, found, text)
        if not pairs:
            return Regions.empty()
        h, w = rgb.shape[:2]
        boxes = np.array([b for _, b in pairs], np.float32) + np.array([-1, -1, 1, 1], np.float32) * self.pad
        boxes = np.clip(boxes, 0, [w, h, w, h])
        return Regions(boxes, label=[e.type for e, _ in pairs], score=[e.score for e, _ in pairs])

    def redact(self, rgb: np.ndarray, pixels: np.ndarray | None = None) -> tuple[np.ndarray, Regions]:
        """`pixels` (default `rgb`) with every found box filled, and the boxes."""
        found = self.find(rgb)
        target = rgb if pixels is None else pixels
        return (self._fill.apply(target, found) if len(found) else target.copy()), found

    def params(self) -> dict[str, Any]:
        """Settings for the audit log."""
        return {"ocr": self.ocr.name, "entities": self.entities or "all", "pad": self.pad}
