"""How well text redaction works: recall and precision of redacted boxes against labelled ones.

A labelled box counts as redacted when at least 90 % of its area lies under redaction
boxes (DESIGN.md's rule for faces). A redaction box counts as correct when at least half
of it lies on labelled boxes; the rest is over-redaction, which precision measures.

The cases are Presidio's own image-redactor expectations (``ocr_test.png`` must lose the
name, URL, phone and e-mail; ``kwargs_test.jpg`` its name and phone; ``no_ocr.jpg`` must
come out unchanged) and a rendered form whose every value box is known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.regions import Regions

FORM = [
    ("Name", "PERSON", "Jessica Smith"),
    ("E-mail", "EMAIL", "jessica.smith@example.com"),
    ("Phone", "PHONE", "(212) 555-1234"),
    ("IBAN", "IBAN", "GB82 WEST 1234 5698 7654 32"),
    ("Card", "CREDIT_CARD", "4539 1488 0343 6467"),
    ("SSN", "US_SSN", "078-05-1120"),
    ("Born", "DATE", "12/03/1985"),
]
PROSE = "The committee met on a quiet afternoon to review the budget for the coming year."


@dataclass
class TextCase:
    """One image with the boxes (x1, y1, x2, y2) that must be redacted, or none at all."""

    name: str
    rgb: np.ndarray
    boxes: np.ndarray  # (n, 4)
    types: list[str] = field(default_factory=list)


def _mask(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    for x1, y1, x2, y2 in np.asarray(boxes).reshape(-1, 4):
        out[max(int(y1), 0) : max(int(np.ceil(y2)), 0), max(int(x1), 0) : max(int(np.ceil(x2)), 0)] = True
    return out


def score_case(case: TextCase, found: Regions) -> dict[str, Any]:
    """Recall, precision and per-box coverage of `found` (the redaction boxes) on `case`."""
    shape = case.rgb.shape[:2]
    redacted = _mask(found.xyxy, shape)
    coverage = [float(redacted[_mask(b[None], shape)].mean()) for b in case.boxes]
    truth = _mask(case.boxes, shape)
    on_truth = [float(truth[_mask(b[None], shape)].mean()) if len(case.boxes) else 0.0 for b in found.xyxy]
    hits = sum(c >= 0.9 for c in coverage)
    return {
        "case": case.name,
        "labelled": len(case.boxes),
        "redacted_boxes": len(found),
        "recall": round(hits / len(case.boxes), 4) if len(case.boxes) else None,
        "precision": round(sum(o >= 0.5 for o in on_truth) / len(found), 4) if len(found) else None,
        "missed": [t for t, c in zip(case.types, coverage, strict=True) if c < 0.9],
        "unchanged": bool(len(found) == 0) if not len(case.boxes) else None,
    }


def presidio_cases(root: str | Path) -> list[TextCase]:
    """Presidio's expectations from ``docs_presidio/resources``."""
    from privis.media.image import read_image

    res = Path(root) / "resources" if (Path(root) / "resources").is_dir() else Path(root)
    expected_file = res / "ocr_test_expected_entities.json"
    if not expected_file.is_file():
        raise PrivisError(f"{res}: no ocr_test_expected_entities.json (expected docs_presidio/resources)")
    expected = json.loads(expected_file.read_text())["resources/ocr_test.png"]
    boxes = np.array([[e["left"], e["top"], e["left"] + e["width"], e["top"] + e["height"]] for e in expected])
    cases = [
        TextCase("ocr_test.png", read_image(res / "ocr_test.png").rgb, boxes, [e["entity_type"] for e in expected])
    ]
    cases.append(TextCase("no_ocr.jpg", read_image(res / "no_ocr.jpg").rgb, np.zeros((0, 4))))
    return cases


def form_case(size: tuple[int, int] | None = None, font_px: int = 44, extra_prose: int = 0) -> TextCase:
    """A rendered form: seven kinds of personal data between lines of prose (and `extra_prose`
    more at the end), each value word's ink box known. `size` defaults to fit the lines."""
    from privis.audit.synthetic import ink_box, text_page

    lines = [PROSE]
    for label, _, value in FORM:
        lines += [f"{label}: {value}", PROSE]
    lines += [PROSE] * extra_prose
    page, boxes = text_page(lines, size=size or (1400, 125 * len(lines) + 60), font_px=font_px)
    words = [(kind, word) for _, kind, value in FORM for word in value.split()]
    ink = np.array([ink_box(page, boxes[word]) for _, word in words], float)
    return TextCase("rendered_form", page, ink, [kind for kind, _ in words])


def evaluate_text(cases: Sequence[TextCase], find: Callable[[np.ndarray], Regions]) -> dict[str, Any]:
    """Score `find` (image -> redaction boxes) on every case; totals over labelled boxes."""
    rows = [score_case(c, find(c.rgb)) for c in cases]
    labelled = sum(r["labelled"] for r in rows)
    hit = sum(round((r["recall"] or 0) * r["labelled"]) for r in rows)
    boxes = sum(r["redacted_boxes"] for r in rows)
    good = sum(round((r["precision"] or 0) * r["redacted_boxes"]) for r in rows)
    return {
        "cases": rows,
        "recall": round(hit / labelled, 4) if labelled else None,
        "precision": round(good / boxes, 4) if boxes else None,
        "untouched_negatives": all(r["unchanged"] for r in rows if r["unchanged"] is not None),
    }
