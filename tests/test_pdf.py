import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from privis.cli import app
from tests.conftest import skip_without_tesseract, text_page

pdfium = pytest.importorskip("pypdfium2")
skip_without_tesseract()
runner = CliRunner()


def test_pdf_pages_are_redacted_and_written_without_a_text_layer(tmp_path):
    from privis.media.pdf import read_pdf

    pages = [
        text_page(["Name: Jessica Smith", "E-mail: jessica.smith@example.com"], size=(1100, 300))[0],
        text_page(["Minutes of the meeting", "Card: 4111 1111 1111 1111"], size=(1100, 300))[0],
    ]
    src = tmp_path / "form.pdf"
    Image.fromarray(pages[0]).save(
        src, "PDF", save_all=True, append_images=[Image.fromarray(pages[1])], resolution=72.0
    )
    result = runner.invoke(app, ["redact-text", str(src), "--ocr", "tesseract", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["by_entity"] == {"CREDIT_CARD": 1, "EMAIL": 1, "PERSON": 1}
    out = tmp_path / "form_redacted.pdf"
    rendered = list(read_pdf(out, dpi=72))
    assert len(rendered) == 2  # same pages, same physical size (within a pixel of rounding)
    assert all(
        abs(r.shape[0] - p.shape[0]) <= 1 and abs(r.shape[1] - p.shape[1]) <= 1
        for r, p in zip(rendered, pages, strict=True)
    )
    h, w = (min(a, b) for a, b in zip(rendered[1].shape[:2], pages[1].shape[:2], strict=True))
    diff = np.abs(rendered[1][:h, :w].astype(int) - pages[1][:h, :w]).max(axis=2) > 100
    assert diff.mean() > 0.005  # the card is painted
    doc = pdfium.PdfDocument(str(out))
    assert all(page.get_textpage().get_text_range().strip() == "" for page in doc)  # no text layer
    doc.close()


def test_a_truncated_pdf_is_one_line(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj")
    result = runner.invoke(app, ["redact-text", str(bad), "--ocr", "tesseract"])
    assert result.exit_code == 1 and "cannot open PDF" in result.output
