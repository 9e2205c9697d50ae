import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from privis.cli import app
from tests.conftest import skip_without_tesseract, text_page

skip_without_tesseract()
runner = CliRunner()


def test_redact_text_folder_json_report_and_audit(tmp_path):
    src = tmp_path / "scans"
    src.mkdir()
    page, _ = text_page(["Contact: jane.doe@example.org", "Card: 4111 1111 1111 1111"], size=(1000, 260))
    Image.fromarray(page).save(src / "form.png")
    (src / "broken.png").write_bytes(b"not a png")
    audit = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["redact-text", str(src), "--ocr", "tesseract", "--audit", str(audit), "--json"])
    assert result.exit_code == 1  # the broken file is reported, the batch goes on
    report = json.loads(result.stdout)
    assert report["files"] == 1 and report["by_entity"] == {"CREDIT_CARD": 1, "EMAIL": 1}
    assert report["failed"][0]["file"].endswith("broken.png")
    out = np.asarray(Image.open(tmp_path / "scans_redacted" / "form.png"))
    assert (out != page).any()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    regions = [r for r in records if "entity" in r]
    assert {r["entity"] for r in regions} == {"EMAIL", "CREDIT_CARD"}
    assert "jane" not in audit.read_text()  # types and boxes, never the text


def test_redact_text_unknown_entity_is_one_line():
    result = runner.invoke(app, ["redact-text", "x.png", "--entities", "shoe_size"])
    assert result.exit_code == 2
    assert "unknown entity type(s) SHOE_SIZE" in result.output and "Traceback" not in result.output


def test_text_out_links_documents_by_keyed_pseudonyms(tmp_path, monkeypatch):
    for i, other in enumerate(["Card: 4111 1111 1111 1111", "Meeting at noon"]):
        page, _ = text_page(["Contact: jane.doe@example.org", other], size=(1000, 260))
        Image.fromarray(page).save(tmp_path / f"doc{i}.png")
    inputs = [str(tmp_path / "doc0.png"), str(tmp_path / "doc1.png"), "-o", str(tmp_path / "out")]
    text_out = tmp_path / "text.txt"
    result = runner.invoke(app, ["redact-text", *inputs, "--ocr", "tesseract", "--text-out", str(text_out)])
    assert result.exit_code == 2 and "secret key" in result.output  # no key, no pseudonyms
    monkeypatch.setenv("PRIVIS_PSEUDONYM_KEY", "correct horse battery staple")
    result = runner.invoke(app, ["redact-text", *inputs, "--ocr", "tesseract", "--text-out", str(text_out)])
    assert result.exit_code == 0, result.output
    text = text_out.read_text()
    assert "jane" not in text and "4111" not in text and "Meeting at noon" in text
    emails = [line.split("Contact: ")[1] for line in text.splitlines() if line.startswith("Contact:")]
    assert len(emails) == 2 and emails[0] == emails[1] and emails[0].startswith("<EMAIL:")


def test_anonymize_targets_text_in_a_video(tmp_path):
    import av

    from privis.media.video import write_video

    page, boxes = text_page(["Call (212) 555-1234 today"], size=(640, 160))
    src = write_video(tmp_path / "sign.mp4", [page] * 4, fps=4)
    out = tmp_path / "out.mp4"
    args = [str(src), "-o", str(out), "--targets", "text", "--ocr", "tesseract", "--method", "fill", "--shape", "box"]
    result = runner.invoke(app, ["anonymize", *args, "-q"])
    assert result.exit_code == 0, result.output
    x1, y1, x2, y2 = (int(v) for v in boxes["555-1234"])
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 4
    ink = page[y1:y2, x1:x2].min(axis=2) < 128
    call = page[y1:y2, 30:99].min(axis=2) < 128
    for f in frames:
        assert f[y1:y2, x1:x2][ink].mean() < 40  # the number's ink is painted black in every frame
        assert f[y1:y2, 30:99][call].mean() < 100 and f[y1:y2, 30:99][~call].mean() > 200  # "Call" is left as is
