"""Encrypted inference (CKKS, TenSEAL): the server computes on ciphertexts with the public context only."""

import dataclasses
import json
import os

import numpy as np
import pytest

pytest.importorskip("tenseal")
torch = pytest.importorskip("torch")
pytest.importorskip("fastapi")

from typer.testing import CliRunner  # noqa: E402

from privis.cli import app  # noqa: E402
from privis.errors import PrivisError  # noqa: E402
from privis.learn.data import ImageSet  # noqa: E402
from privis.learn.dp_train import train_classifier  # noqa: E402
from privis.learn.encrypted import (  # noqa: E402
    HE_TRAINING,
    EncryptedClient,
    EncryptedServer,
    evaluate_encrypted,
    export_weights,
    he_parameters,
    load_client,
    normalize,
    save_keys,
)  # fmt: skip
from privis.server.encrypted import EncryptedService, create_app  # noqa: E402
from privis.server.http import running  # noqa: E402


def _digits28():
    """scikit-learn's digits scaled to 28×28 (the network's input), 300 of them."""
    import cv2
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.stack([cv2.resize(im / 16.0, (28, 28), interpolation=cv2.INTER_LINEAR) for im in d.images[:300]])
    return x.astype(np.float32), d.target[:300]


@pytest.fixture(scope="module")
def digits28():
    return _digits28()


@pytest.fixture(scope="module")
def he_model(digits28):
    x, y = digits28
    data = ImageSet("digits28", x[:, None], y.astype(np.int64), [str(c) for c in range(10)],
                    np.arange(250), np.arange(250, 300), 0)  # fmt: skip
    return train_classifier(data, dataclasses.replace(HE_TRAINING, epochs=4, shift=0)).model


@pytest.fixture(scope="module")
def client():
    return EncryptedClient()


def test_parameters_follow_the_depth():
    small = he_parameters(depth=5, slots=3136)
    assert small.poly_modulus_degree == 8192 and len(small.coeff_mod_bit_sizes) == 7
    assert he_parameters(depth=12, slots=3136).poly_modulus_degree == 16384
    assert he_parameters(depth=5, slots=3136, scale_bits=26, outer_bits=31).coeff_mod_bit_sizes[1] == 26
    with pytest.raises(PrivisError, match="no 128-bit-secure"):
        he_parameters(depth=40, slots=3136)


def test_encrypted_logits_match_the_plaintext_network(digits28, client, he_model):
    x, _ = digits28
    server = EncryptedServer(client.public_context(), export_weights(he_model))
    with torch.no_grad():
        plain = he_model(torch.from_numpy(normalize(x[:3]))).numpy()
    for image, expected in zip(x[:3], plain, strict=True):
        got = client.decrypt(server.infer(client.encrypt(image)))
        # within 2 % of the largest logit (26-bit scales drifted 2.5 %: learn/encrypted.py)
        assert np.abs(got - expected).max() <= 0.02 * np.abs(expected).max()
        assert got.argmax() == expected.argmax()


def test_the_server_refuses_a_secret_key_and_bad_bytes(client, he_model):
    import tenseal as ts

    assert not ts.context_from(client.public_context()).has_secret_key()
    with pytest.raises(PrivisError, match="secret key"):
        EncryptedServer(client.secret_context(), export_weights(he_model))
    with pytest.raises(PrivisError, match="not a TenSEAL context"):
        EncryptedServer(b"not a context", export_weights(he_model))
    server = EncryptedServer(client.public_context(), export_weights(he_model))
    with pytest.raises(PrivisError, match="not a CKKS ciphertext"):
        server.infer(b"\x00" * 100)
    small = ts.ckks_vector(client.context, [1.0, 2.0]).serialize()
    with pytest.raises(PrivisError, match="im2col-encoded"):
        server.infer(small)


def test_a_model_that_is_not_polynomial_is_refused():
    from privis.learn.models import create_model

    with pytest.raises(PrivisError, match="he-cnn"):
        export_weights(create_model("small-cnn", (1, 28, 28), 10))
    with pytest.raises(PrivisError, match="28×28"):
        create_model("he-cnn", (1, 8, 8), 10)


def test_only_28_by_28_images():
    with pytest.raises(PrivisError, match="28×28"):
        normalize(np.zeros((1, 8, 8)))


class Recorder:
    """ASGI middleware that keeps every request body the server receives."""

    def __init__(self, app):
        self.app, self.bodies = app, []

    async def __call__(self, scope, receive, send):
        chunks = []

        async def recorded():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self.bodies.append(b"".join(chunks))
            return message

        await self.app(scope, recorded if scope["type"] == "http" else receive, send)


def test_over_http_the_server_never_receives_the_secret_key(digits28, client, he_model):
    """The whole protocol on loopback; everything the server got is public and decrypts nothing."""
    import tenseal as ts

    x, y = digits28
    recorder = Recorder(create_app(he_model))
    with running(recorder) as url:
        service = EncryptedService(url)
        assert service.describe()["parameters"]["poly_modulus_degree"] == client.params.poly_modulus_degree
        summary = evaluate_encrypted(he_model, x[:2], y[:2], client=client, connect=service.connect)
    assert summary["agreement"] == 1.0 and summary["n_images"] == 2
    assert summary["bytes_up_per_image"] > 100_000 and summary["context_bytes"] > 10_000_000
    received = [b for b in recorder.bodies if b]
    assert len(received) == 3  # one public context, two encrypted images: nothing else
    public = ts.context_from(received[0])
    assert len(received[0]) == summary["context_bytes"]
    assert public.is_public() and not public.has_secret_key()
    for body in received[1:]:
        with pytest.raises(ValueError):  # not a context of any kind, let alone one with a secret key
            ts.context_from(body)
        with pytest.raises(ValueError, match="secret"):  # and what the server holds cannot decrypt it
            ts.ckks_vector_from(public, body).decrypt()


def test_http_errors_are_one_line(he_model, monkeypatch):
    with running(create_app(he_model)) as url:
        infer = EncryptedService(url).connect(EncryptedClient().public_context())
        with pytest.raises(PrivisError, match="refused: not a CKKS ciphertext"):
            infer(b"garbage")
        monkeypatch.setattr("privis.server.encrypted.MAX_CIPHERTEXT_BYTES", 1000)
        with pytest.raises(PrivisError, match="over the 1000-byte limit"):
            infer(b"x" * 5000)
        with pytest.raises(PrivisError, match="refused: the context sent to the server holds the secret key"):
            EncryptedService(url).connect(EncryptedClient().secret_context())
        with pytest.raises(PrivisError, match="refused: no session"):
            EncryptedService(url)._request("POST", "/sessions/nope/infer", b"x")
    with pytest.raises(PrivisError, match="cannot reach the server"):
        EncryptedService(url).describe()


def test_keys_are_saved_with_the_secret_owner_only(tmp_path, client):
    paths = save_keys(client, tmp_path / "keys")
    assert os.stat(paths["secret.ctx"]).st_mode & 0o077 == 0
    assert os.stat(paths["public.ctx"]).st_mode & 0o044 == 0o044
    with pytest.raises(PrivisError, match="exists"):
        save_keys(client, tmp_path / "keys")
    loaded = load_client(tmp_path / "keys")
    assert loaded.params == client.params
    ciphertext = client.encrypt(np.zeros((28, 28)))
    assert loaded.context.has_secret_key()
    import tenseal as ts

    assert np.allclose(ts.ckks_vector_from(loaded.context, ciphertext).decrypt()[:3], -1.0, atol=1e-3)
    with pytest.raises(PrivisError, match="keygen"):
        load_client(tmp_path / "none")


def test_cli_trains_makes_keys_and_runs_the_protocol(tmp_path, digits28):
    """`privis encrypted train`, `keygen` and `infer` (a server on loopback), end to end on a folder of digits."""
    from PIL import Image

    x, y = digits28
    for i, (image, label) in enumerate(zip(x[:200], y[:200], strict=True)):
        (tmp_path / "digits" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255).astype(np.uint8)).save(tmp_path / "digits" / str(label) / f"{i}.png")
    runner = CliRunner()
    model = tmp_path / "he.pt"
    out = runner.invoke(app, ["encrypted", "train", str(tmp_path / "digits"), "-o", str(model), "--epochs", "3",
                              "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["model"] == "he-cnn"
    out = runner.invoke(app, ["encrypted", "keygen", "-o", str(tmp_path / "keys"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["public.ctx"]["bytes"] > 10_000_000
    out = runner.invoke(app, ["encrypted", "infer", "--dataset", str(tmp_path / "digits"), "--n", "2", "--model",
                              str(model), "--keys", str(tmp_path / "keys"), "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    for key in ("encrypted_accuracy", "plaintext_accuracy", "n_images", "seconds_per_image", "bytes_up_per_image",
                "bytes_down_per_image", "context_bytes"):  # fmt: skip
        assert key in summary
    assert summary["n_images"] == 2 and summary["agreement"] == 1.0 and summary["server"] == "loopback"
    out = runner.invoke(app, ["encrypted", "infer", "--dataset", "digits", "--n", "2"])
    assert out.exit_code == 2 and "28×28" in out.output
    out = runner.invoke(app, ["encrypted", "infer", str(model)])
    assert out.exit_code == 2 and "--url and --keys" in out.output


def test_the_extraction_audit_queries_the_real_service_and_reads_its_logits(digits28, he_model):
    from privis.audit.extraction import encrypted_oracle

    x, _ = digits28
    with torch.no_grad():
        plain = he_model(torch.from_numpy(normalize(x[:2]))).numpy()
    with encrypted_oracle(he_model) as ask:  # a CKKS service on loopback, the attacker's own keys
        got = ask(x[:2, None])
    assert got.shape == plain.shape
    assert np.abs(got - plain).max() <= 0.02 * np.abs(plain).max()
