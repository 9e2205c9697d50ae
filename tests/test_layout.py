from privis.text import Word
from privis.text.layout import pieces, pieces_text, stacked
from privis.text.ocr import words_text


def _overlay():
    """A scan's top corners as Tesseract returns them: left and right columns on shared lines."""
    rows = [[("KOWALSKI", 10), ("JAN", 100), ("CITY", 400), ("HOSPITAL", 450)], [("ID:", 10), ("PX77310", 40)],
            [("DOB", 10), ("12.03.1985", 50), ("2024-05-04", 420)]]  # fmt: skip
    words = []
    for line, row in enumerate(rows):
        for text, x in row:
            words.append(Word(text, (x, 10 + 24 * line, x + 9 * len(text), 24 + 24 * line), 0.9, line))
    return words


def test_wide_gaps_part_columns_and_offsets_stay_those_of_words_text():
    words = _overlay()
    parts = pieces(words)
    assert pieces_text(words, parts, gap="\n") == "KOWALSKI JAN\nCITY HOSPITAL\nID: PX77310\nDOB 12.03.1985\n2024-05-04"
    assert pieces_text(words, parts) == "KOWALSKI JAN|CITY HOSPITAL\nID: PX77310\nDOB 12.03.1985|2024-05-04"
    assert len(pieces_text(words, parts, gap="\n")) == len(words_text(words)) == len(pieces_text(words, parts))


def test_stacked_pieces_are_those_directly_above_and_below():
    parts = pieces(_overlay())
    beside = stacked(parts)
    assert beside[0] == [2]  # the name over the ID, not the hospital beside it
    assert beside[1] == []  # the study date is two lines under the hospital
    assert sorted(beside[2]) == [0, 3]


def test_ordinary_spaces_do_not_part_a_line():
    words = [Word("Jessica", (10, 10, 70, 24), 0.9, 0), Word("Smith", (76, 10, 120, 24), 0.9, 0)]
    assert len(pieces(words)) == 1
