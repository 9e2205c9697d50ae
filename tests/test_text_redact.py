import numpy as np
import pytest

from privis.errors import PrivisError
from tests.conftest import skip_without_tesseract, text_page, text_redactor

skip_without_tesseract()

FORM = [
    "Name: Jessica Smith",
    "E-mail: jessica.smith@example.com",
    "Phone: (212) 555-1234",
    "IBAN: GB82 WEST 1234 5698 7654 32",
    "Card: 4111 1111 1111 1111",
    "SSN: 078-05-1120",
    "Date of birth: 12/03/1985",
]
SECRETS = ["Jessica", "Smith", "jessica.smith@example.com", "(212)", "555-1234", "GB82", "WEST", "32",
           "4111", "078-05-1120", "12/03/1985"]  # fmt: skip


def test_every_personal_value_on_a_form_is_redacted():
    page, boxes = text_page(FORM, size=(1100, 760), font_px=34)
    out, found = text_redactor("tesseract").process(page)
    assert {"PERSON", "EMAIL", "PHONE", "IBAN", "CREDIT_CARD", "US_SSN", "DATE"} <= set(found.data["entity"])
    for word in SECRETS:
        x1, y1, x2, y2 = (int(v) for v in boxes[word])
        inked = page[y1:y2, x1:x2].min(axis=2) < 128  # the word's ink
        assert (out[y1:y2, x1:x2][inked] == 0).all(axis=-1).mean() >= 0.9, word
    # the labels stay readable
    x1, y1, x2, y2 = (int(v) for v in boxes["Name:"])
    np.testing.assert_array_equal(out[y1:y2, x1:x2], page[y1:y2, x1:x2])


def test_a_page_of_prose_is_left_alone():
    page, _ = text_page(
        [
            "The committee met on a quiet afternoon",
            "to review the budget for the coming year,",
            "and agreed on new lighting.",
        ],
        size=(1000, 330),
    )
    out, found = text_redactor("tesseract").process(page)
    assert len(found) == 0
    np.testing.assert_array_equal(out, page)


def test_unknown_entity_types_fail_before_any_page():
    with pytest.raises(PrivisError, match="unknown entity type"):
        text_redactor("tesseract", entities=["EMAIL", "SHOE_SIZE"])
