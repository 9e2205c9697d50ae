"""`privis serve` (issue 20, first part): /v1/anonymize, tokens, limits, errors, /metrics."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from privis.cli import app as cli  # noqa: E402
from privis.server.app import ServeLimits, create_app  # noqa: E402
from privis.server.tokens import TokenStore  # noqa: E402


def _png(w: int = 64, h: int = 48, colour=(40, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_png(w: int, h: int) -> bytes:
    """A valid PNG header claiming w×h pixels and a tiny zlib stream: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture()
def store() -> TokenStore:
    return TokenStore(":memory:")


@pytest.fixture()
def client(store: TokenStore):
    app = create_app(tokens=store, limits=ServeLimits(max_upload_bytes=1 << 20, max_pixels=4_000_000,
                                                      rate_per_minute=1000))  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as c:
        c.token = store.create("tests")
        yield c


def _post(client, body: bytes, *, token: str | None = "own", kind: str = "image/png", **params):
    headers = {"Content-Type": kind}
    if token:
        headers["Authorization"] = f"Bearer {client.token if token == 'own' else token}"
    return client.post("/v1/anonymize", content=body, headers=headers, params=params)


def test_a_face_photo_comes_back_hidden_in_its_own_format(client):
    from skimage import data

    face = np.asarray(data.astronaut())
    buf = io.BytesIO()
    Image.fromarray(face).save(buf, format="JPEG", quality=95)
    answer = _post(client, buf.getvalue(), kind="image/jpeg", method="fill")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert int(answer.headers["x-privis-regions"]) >= 1
    out = np.asarray(Image.open(io.BytesIO(answer.content)))
    assert out.shape == face.shape and np.abs(out.astype(int) - face).max() > 100  # something was painted
    regions = _post(client, buf.getvalue(), kind="image/jpeg", output="json").json()
    assert regions["width"] == 512 and regions["regions"][0]["label"] == "face"


def test_tokens_are_needed_checked_and_revocable(client, store):
    assert _post(client, _png(), token=None).status_code == 401
    assert _post(client, _png(), token="pv_not-a-token").status_code == 401
    assert _post(client, _png()).status_code == 200
    store.revoke("tests")
    assert _post(client, _png()).status_code == 401
    assert client.get("/healthz").status_code == 200  # liveness needs none


def test_the_database_holds_only_hashes(tmp_path):
    store = TokenStore(tmp_path / "serve.sqlite")
    token = store.create("desk")
    store.close()
    assert token.encode() not in (tmp_path / "serve.sqlite").read_bytes()
    assert TokenStore(tmp_path / "serve.sqlite").check(token) == "desk"


@pytest.mark.parametrize(
    ("body", "kind", "status"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png", 422),  # truncated
        (b"GIF89a not really", "image/png", 422),  # corrupt
        (b"", "image/png", 400),  # empty
        (b"hello", "text/plain", 415),  # wrong content type
        (b"x" * (2 << 20), "image/png", 413),  # over the upload limit
    ],
)
def test_bad_uploads_get_a_4xx_and_one_line(client, body, kind, status):
    answer = _post(client, body, kind=kind)
    assert answer.status_code == status
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail


def test_a_decompression_bomb_is_refused_before_decoding(client):
    bomb = _bomb_png(30_000, 30_000)  # 900 MP declared in a few hundred bytes
    assert len(bomb) < 2000
    answer = _post(client, bomb)
    assert answer.status_code == 413
    assert _post(client, _bomb_png(3000, 2000)).status_code == 413  # 6 MP: over this server's 4 MP limit


def test_bad_parameters_are_422_not_500(client):
    assert _post(client, _png(), targets="face;rm -rf").status_code == 422
    assert _post(client, _png(), targets="wings").status_code == 422
    assert _post(client, _png(), output="pdf").status_code == 422


def test_rate_limit_per_token(store):
    app = create_app(tokens=store, limits=ServeLimits(rate_per_minute=2))
    token = store.create("slow")
    with TestClient(app) as c:
        codes = [c.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[2] == 429


def test_metrics_count_requests_and_regions(client):
    _post(client, _png())
    text = client.get("/metrics", headers={"Authorization": f"Bearer {client.token}"}).text
    assert 'privis_requests_total{endpoint="/v1/anonymize",status="200"} 1.0' in text


def test_openapi_describes_the_endpoint(client):
    schema = client.get("/openapi.json").json()
    assert "/v1/anonymize" in schema["paths"]


def test_token_commands(tmp_path):
    runner = CliRunner()
    made = runner.invoke(cli, ["serve", "token", "create", "desk", "--state", str(tmp_path)])
    assert made.exit_code == 0 and made.stdout.strip().startswith("pv_")
    listed = runner.invoke(cli, ["serve", "token", "list", "--state", str(tmp_path), "--json"])
    assert json.loads(listed.stdout)["tokens"][0]["name"] == "desk" and "pv_" not in listed.stdout
    assert runner.invoke(cli, ["serve", "token", "revoke", "desk", "--state", str(tmp_path)]).exit_code == 0
    again = runner.invoke(cli, ["serve", "token", "revoke", "desk", "--state", str(tmp_path)])
    assert again.exit_code == 2 and "no live token" in again.output


def test_no_auth_is_refused_off_loopback(tmp_path):
    out = CliRunner().invoke(cli, ["serve", "--no-auth", "--host", "0.0.0.0", "--state", str(tmp_path)])
    assert out.exit_code == 2 and "--no-auth" in out.output


def test_text_is_redacted_in_images_pdfs_and_dicom(client, tmp_path):
    from privis.audit.synthetic import text_page

    page, _ = text_page(["Call Maria Lopez on +1 415 555 0199", "Nothing personal on this line"])
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, format="PNG")
    answer = _post_to(client, "/v1/redact-text", buf.getvalue(), "image/png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert int(answer.headers["x-privis-regions"]) >= 2  # the name and the number
    out = np.asarray(Image.open(io.BytesIO(answer.content)))
    assert out.shape == page.shape and (out == 0).all(axis=-1).sum() > 500  # black boxes
    pdf = tmp_path / "letter.pdf"
    Image.fromarray(page).save(pdf, format="PDF", resolution=150)
    answer = _post_to(client, "/v1/redact-text", pdf.read_bytes(), "application/pdf")
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    assert int(answer.headers["x-privis-regions"]) >= 2
    assert _post_to(client, "/v1/redact-text", b"%PDF-1.7 broken", "application/pdf").status_code == 422
    assert _post_to(client, "/v1/redact-text", b"\0" * 300, "application/dicom").status_code == 422


def _post_to(client, path: str, body: bytes, kind: str):
    return client.post(path, content=body, headers={"Content-Type": kind, "Authorization": f"Bearer {client.token}"})


def test_a_dicom_comes_back_with_its_burned_in_name_hidden_and_header_cleared(client, tmp_path):
    import pydicom

    from privis.audit.dicom_set import make_scan, save_scan

    header, frame, items = make_scan(0, np.random.default_rng(0))
    path = tmp_path / "scan.dcm"
    save_scan(path, frame, header)
    answer = _post_to(client, "/v1/redact-text", path.read_bytes(), "application/dicom")
    assert answer.status_code == 200 and int(answer.headers["x-privis-regions"]) >= 1
    out = pydicom.dcmread(io.BytesIO(answer.content))
    assert str(out.get("PatientName", "")) != str(header.get("PatientName", "x"))


def test_the_encrypted_inference_routes_are_part_of_the_service(store):
    ts = pytest.importorskip("tenseal")
    pytest.importorskip("torch")
    from privis.learn.models import create_model
    from privis.server.encrypted import create_router

    router, _ = create_router(create_model("he-cnn", (1, 28, 28), 10))
    app = create_app(tokens=store, routers=[router])
    context = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 60])
    context.make_context_public()
    with TestClient(app) as c:
        assert c.get("/v1/encrypted").json()["model"] == "he-cnn"
        opened = c.post("/v1/encrypted/sessions", content=context.serialize(),
                        headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert opened.status_code == 200 and opened.json()["session"]
        assert "/v1/encrypted/sessions" in c.get("/openapi.json").json()["paths"]
