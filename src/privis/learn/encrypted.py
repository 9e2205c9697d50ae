"""Inference on encrypted images with CKKS homomorphic encryption (TenSEAL).

The client holds the secret key: it encrypts an image and sends it with a public
context (relinearization and Galois keys, never the secret key). The server evaluates
a small CNN on the ciphertext and returns an encrypted result only the client can
decrypt. The network follows TenSEAL's MNIST tutorial, because every layer must be
a polynomial: one 7×7 stride-3 convolution (evaluated on the client's im2col
encoding), square activations, two fully connected layers.

The scale is 28 bits, not the tutorial's 26, and the outer primes 38. Each rescaling
divides by a prime that must be 1 modulo 2N; at 26 bits the nearest such primes sit far
enough from 2^26 that the logits came out 2.5 % too large, the same way on every logit
(10.8 % at 24 bits, 0.6 % at 28). The outer primes must exceed the scale by enough bits
to hold the largest value (MNIST logits reach about 100): 34-bit outer primes at a
30-bit scale wrapped around and flipped 2 of 60 predictions. 38 + 5 × 28 + 38 = 216
bits fits N = 8192 at 128-bit security (at most 218).

Examples
--------
>>> he_parameters(depth=5, slots=64 * 49)
HeParameters(poly_modulus_degree=8192, coeff_mod_bit_sizes=(38, 28, 28, 28, 28, 28, 38), scale_bits=28)
>>> he_parameters(depth=9, slots=64 * 49).poly_modulus_degree   # 328 bits: more than 8192 allows
16384
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from privis.errors import PrivisError

# Largest coefficient modulus (bits) for 128-bit security, by polynomial degree (HE standard, SEAL's table).
MAX_MODULUS_BITS = {4096: 109, 8192: 218, 16384: 438, 32768: 881}
KERNEL, STRIDE = 7, 3
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # fixed constants, not statistics of the training set
# Levels consumed: convolution (plaintext weights), square, fc1, square, fc2. The first dense
# layer is applied per channel and summed, rather than after packing the channels into one
# vector (TenSEAL's tutorial), which would cost a level for the packing mask.
DEPTH = 5


@dataclass(frozen=True)
class HeParameters:
    """CKKS settings: polynomial modulus degree, coefficient modulus primes (bits) and scale (bits)."""

    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int


def he_parameters(depth: int, slots: int, *, scale_bits: int = 28, outer_bits: int = 38) -> HeParameters:
    """The smallest 128-bit-secure CKKS parameters for `depth` multiplications over `slots` values."""
    if depth < 1 or slots < 1:
        raise PrivisError(f"depth and slots must be >= 1, got {depth} and {slots}")
    bits = (outer_bits, *([scale_bits] * depth), outer_bits)
    for degree, limit in MAX_MODULUS_BITS.items():
        if sum(bits) <= limit and degree // 2 >= slots:
            return HeParameters(degree, bits, scale_bits)
    raise PrivisError(f"no 128-bit-secure CKKS parameters hold depth {depth} at {scale_bits}-bit scale")


def he_cnn(channels: int = 4, hidden: int = 128) -> Any:
    """TenSEAL's MNIST network for 28×28 images: conv 7×7/3 → x² → dense → x² → dense."""
    import torch
    from torch import nn

    class HeCnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, channels, KERNEL, stride=STRIDE)
            self.fc1 = nn.Linear(64 * channels, hidden)
            self.fc2 = nn.Linear(hidden, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.conv(x)
            x = (x * x).reshape(len(x), -1)
            x = self.fc1(x)
            return self.fc2(x * x)

    return HeCnn()


def normalize(images: np.ndarray) -> np.ndarray:
    """28×28 images in [0, 1], shaped (N, 1, 28, 28), standardized with MNIST's published constants."""
    x = np.asarray(images, np.float32)
    if x.shape[-2:] != (28, 28):
        raise PrivisError(f"the encrypted network takes 28×28 images, got {x.shape[-2:]}")
    return ((x - MNIST_MEAN) / MNIST_STD).reshape(-1, 1, 28, 28)


def train_he_model(
    x: np.ndarray, y: np.ndarray, *, epochs: int = 30, channels: int = 4, hidden: int = 128, shift: int = 2,
    seed: int = 0,
) -> Any:  # fmt: skip
    """Train the network in plaintext (Adam, cosine schedule, random shifts of up to `shift` px)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = he_cnn(channels, hidden)
    xs, ys = torch.from_numpy(normalize(x)), torch.from_numpy(np.asarray(y, np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        order = torch.randperm(len(xs))
        for b in range(0, len(xs), 64):
            idx = order[b : b + 64]
            xb = xs[idx]
            if shift:
                dy, dx = (int(v) for v in rng.integers(-shift, shift + 1, 2))
                xb = torch.roll(xb, (dy, dx), (2, 3))
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), ys[idx]).backward()
            opt.step()
        sched.step()
    model.eval()
    return model


def export_weights(model: Any) -> dict[str, list]:
    """The plaintext weights the server needs, as lists (what TenSEAL's operations take)."""
    channels = model.conv.out_channels
    return {
        "conv": model.conv.weight.detach().reshape(channels, KERNEL, KERNEL).tolist(),
        "conv_bias": model.conv.bias.detach().tolist(),
        "fc1": model.fc1.weight.detach().T.tolist(),
        "fc1_bias": model.fc1.bias.detach().tolist(),
        "fc2": model.fc2.weight.detach().T.tolist(),
        "fc2_bias": model.fc2.bias.detach().tolist(),
    }


class EncryptedClient:
    """Holds the secret key: makes the keys, encrypts images, decrypts results."""

    def __init__(self, params: HeParameters | None = None) -> None:
        import tenseal as ts

        self.params = params or he_parameters(DEPTH, slots=64 * KERNEL * KERNEL)
        self.context = ts.context(ts.SCHEME_TYPE.CKKS, self.params.poly_modulus_degree, -1,
                                  list(self.params.coeff_mod_bit_sizes))  # fmt: skip
        self.context.global_scale = 2**self.params.scale_bits
        self.context.generate_galois_keys()

    def public_context(self) -> bytes:
        """The context the server gets: evaluation keys, no secret key."""
        return self.context.serialize(save_secret_key=False, save_galois_keys=True, save_relin_keys=True)

    def encrypt(self, image: np.ndarray) -> tuple[bytes, int]:
        """One 28×28 image in [0, 1] as an im2col-encoded ciphertext, and its window count."""
        import tenseal as ts

        enc, windows = ts.im2col_encoding(self.context, normalize(image)[0, 0].tolist(), KERNEL, KERNEL, STRIDE)
        return enc.serialize(), int(windows)

    def decrypt(self, result: bytes) -> np.ndarray:
        """The 10 logits of an encrypted result."""
        import tenseal as ts

        return np.asarray(ts.ckks_vector_from(self.context, result).decrypt())


class EncryptedServer:
    """Evaluates the network on ciphertexts; holds only the public context.

    Refuses a context that carries a secret key: a server that could decrypt is not
    what this protocol promises.
    """

    def __init__(self, public_context: bytes, weights: dict[str, list]) -> None:
        import tenseal as ts

        self.context = ts.context_from(public_context)
        if self.context.has_secret_key():
            raise PrivisError("the context sent to the server holds the secret key; send the public context only")
        self.weights = weights

    def infer(self, ciphertext: bytes, windows: int) -> bytes:
        """The encrypted logits for one encrypted image."""
        import tenseal as ts

        w = self.weights
        enc = ts.ckks_vector_from(self.context, ciphertext)
        per_channel = len(w["fc1"]) // len(w["conv"])
        x = None
        for c, (kernel, bias) in enumerate(zip(w["conv"], w["conv_bias"], strict=True)):
            channel = enc.conv2d_im2col(kernel, windows) + bias
            channel.square_()
            part = channel.mm(w["fc1"][c * per_channel : (c + 1) * per_channel])
            x = part if x is None else x + part
        x = x + w["fc1_bias"]
        x.square_()
        x = x.mm(w["fc2"]) + w["fc2_bias"]
        return x.serialize()


def evaluate_encrypted(model: Any, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Run the whole protocol locally on `images`: keys, encryption, server evaluation, decryption.

    Returns encrypted and plaintext accuracy, seconds per image and the bytes each way.
    """
    import torch

    client = EncryptedClient()
    context = client.public_context()
    server = EncryptedServer(context, export_weights(model))
    with torch.no_grad():
        plain = model(torch.from_numpy(normalize(images))).argmax(1).numpy()
    predicted, up, down = [], 0, 0
    start = time.perf_counter()
    for image in images:
        ciphertext, windows = client.encrypt(image)
        result = server.infer(ciphertext, windows)
        predicted.append(int(client.decrypt(result).argmax()))
        up, down = up + len(ciphertext), down + len(result)
    seconds = time.perf_counter() - start
    n = len(images)
    predicted_arr = np.asarray(predicted)
    return {
        "n_images": n,
        "encrypted_accuracy": round(float((predicted_arr == labels).mean()), 4),
        "plaintext_accuracy": round(float((plain == labels).mean()), 4),
        "agreement": round(float((predicted_arr == plain).mean()), 4),
        "seconds_per_image": round(seconds / max(n, 1), 3),
        "bytes_up_per_image": up // max(n, 1),
        "bytes_down_per_image": down // max(n, 1),
        "context_bytes": len(context),
        "poly_modulus_degree": client.params.poly_modulus_degree,
        "coeff_mod_bit_sizes": list(client.params.coeff_mod_bit_sizes),
    }
