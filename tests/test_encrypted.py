"""Encrypted inference (CKKS, TenSEAL): the server computes on ciphertexts with the public context only."""

import numpy as np
import pytest

pytest.importorskip("tenseal")
torch = pytest.importorskip("torch")

from privis.errors import PrivisError  # noqa: E402
from privis.learn.encrypted import (  # noqa: E402
    EncryptedClient,
    EncryptedServer,
    export_weights,
    he_parameters,
    normalize,
    train_he_model,
)  # fmt: skip


@pytest.fixture(scope="module")
def digits28():
    """scikit-learn's digits scaled to 28×28 (the network's input), 300 of them."""
    import cv2
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.stack([cv2.resize(im / 16.0, (28, 28), interpolation=cv2.INTER_LINEAR) for im in d.images[:300]])
    return x.astype(np.float32), d.target[:300]


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


def test_encrypted_logits_match_the_plaintext_network(digits28, client):
    x, y = digits28
    model = train_he_model(x, y, epochs=3, shift=0)
    server = EncryptedServer(client.public_context(), export_weights(model))
    with torch.no_grad():
        plain = model(torch.from_numpy(normalize(x[:3]))).numpy()
    for image, expected in zip(x[:3], plain, strict=True):
        ciphertext, windows = client.encrypt(image)
        got = client.decrypt(server.infer(ciphertext, windows))
        # within 2 % of the largest logit (26-bit scales drifted 2.5 %: learn/encrypted.py)
        assert np.abs(got - expected).max() <= 0.02 * np.abs(expected).max()
        assert got.argmax() == expected.argmax()


def test_the_server_never_gets_the_secret_key(digits28, client):
    import tenseal as ts

    public = client.public_context()
    assert not ts.context_from(public).has_secret_key()
    secret = client.context.serialize(save_secret_key=True)
    model = train_he_model(*digits28, epochs=1, shift=0)
    with pytest.raises(PrivisError, match="secret key"):
        EncryptedServer(secret, export_weights(model))


def test_only_28_by_28_images():
    with pytest.raises(PrivisError, match="28×28"):
        normalize(np.zeros((1, 8, 8)))
