import numpy as np
import pytest

from privis.errors import PrivisError
from privis.text import Word, create_ocr, words_text
from tests.conftest import skip_without_tesseract, text_page


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_engines_read_words_with_their_boxes(engine):
    if engine == "tesseract":
        skip_without_tesseract()
    else:
        pytest.importorskip("rapidocr")
    page, truth = text_page(["Contact John Smith today", "Phone 555 0100"])
    words = create_ocr(engine).read(page)
    found = {w.text: w for w in words}
    assert {"John", "Smith", "Phone"} <= set(found), words_text(words)
    for name in ("John", "Smith"):
        x1, y1, x2, y2 = found[name].box
        tx1, ty1, tx2, ty2 = truth[name]
        assert abs((x1 + x2) / 2 - (tx1 + tx2) / 2) < 25 and y1 < ty2 and y2 > ty1
        assert 0 < found[name].score <= 1
    assert found["John"].line == found["Smith"].line != found["Phone"].line


def test_auto_reads_a_blank_page_as_nothing():
    skip_without_tesseract()
    pytest.importorskip("rapidocr")
    assert create_ocr("auto").read(np.full((200, 300, 3), 255, np.uint8)) == []


def test_words_text_joins_lines():
    words = [Word("a", (0, 0, 1, 1), 1, 0), Word("b", (2, 0, 3, 1), 1, 0), Word("c", (0, 2, 1, 3), 1, 1)]
    assert words_text(words) == "a b\nc"


def test_bad_input_and_unknown_engine_are_clear_errors():
    with pytest.raises(PrivisError, match="unknown OCR engine 'easyocr'"):
        create_ocr("easyocr")
    skip_without_tesseract()
    with pytest.raises(PrivisError, match="RGB uint8"):
        create_ocr("tesseract").read(np.zeros((10, 10), np.float32))


def test_merged_words_are_split_with_proportional_boxes():
    from privis.text.ocr import _split_spaces

    quad = np.array([[0, 10], [100, 10], [100, 30], [0, 30]], float)
    pieces = _split_spaces("ab cd", quad)
    assert [p for p, _ in pieces] == ["ab", "cd"]
    assert pieces[0][1] == (0.0, 10.0, 40.0, 30.0) and pieces[1][1] == (60.0, 10.0, 100.0, 30.0)


def test_auto_reads_white_text_over_texture_with_pp_ocr_too():
    """Tesseract reads nothing of a scan's white overlay over a photo's texture; PP-OCR does."""
    skip_without_tesseract()
    pytest.importorskip("rapidocr")
    from PIL import Image, ImageDraw
    from skimage import data

    from privis.audit.dicom_set import _font

    field = Image.fromarray((np.asarray(Image.fromarray(data.camera()).resize((640, 640))) * 0.55).astype(np.uint8))
    draw = ImageDraw.Draw(field)
    font = _font("DejaVuSerif.ttf", 18)
    for j, line in enumerate(("OKAFOR, EMEKA", "DOB: 1972/04/19", "MRN: 00458823")):
        draw.text((12, 12 + 27 * j), line, fill=255, font=font)
    rgb = np.stack([np.asarray(field)] * 3, -1)
    text = words_text(create_ocr("auto").read(rgb))
    assert "OKAFOR" in text and "00458823" in text, text


def test_merged_readings_keep_the_heavier_and_add_what_lies_outside_it():
    from privis.text.ocr import merge_readings

    a = [Word("KOWALSKI", (10, 10, 90, 24), 0.9, 0), Word("JAN", (96, 10, 126, 24), 0.9, 0)]
    b = [Word("KOWALSK1", (10, 10, 90, 24), 0.5, 0), Word("[F]", (300, 10, 330, 24), 0.8, 0)]
    merged = merge_readings(b, a)
    assert [w.text for w in merged] == ["KOWALSKI", "JAN", "[F]"]
    assert merged[2].line == 1  # after the first reading's lines
