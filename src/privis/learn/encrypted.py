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

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.learn.dp_train import TrainConfig, predict_logits, scale_inputs
from privis.learn.models import HE_KERNEL as KERNEL
from privis.learn.models import HE_STRIDE as STRIDE

# Largest coefficient modulus (bits) for 128-bit security, by polynomial degree (HE standard, SEAL's table).
MAX_MODULUS_BITS = {4096: 109, 8192: 218, 16384: 438, 32768: 881}
# Levels consumed: convolution (plaintext weights), square, fc1, square, fc2. The first dense
# layer is applied per channel and summed, rather than after packing the channels into one
# vector (TenSEAL's tutorial), which would cost a level for the packing mask.
DEPTH = 5
# How `privis encrypted train` trains the he-cnn: tuned on MNIST's 8,000 training images
# (98.25 % on the 2,000 held out).
HE_TRAINING = TrainConfig(model="he-cnn", epochs=60, batch_size=64, lr=1e-3, optimizer="adam", cosine=True, shift=1)
# With DP-SGD (`--epsilon`): larger batches, fewer epochs, a higher rate; 89.25 % at ε = 3 on MNIST (84.0 %
# with the above). Squares are unbounded, so clipped, noised gradients train them worse than tanh (small-cnn: 94.4 %).
HE_TRAINING_DP = dataclasses.replace(HE_TRAINING, epochs=30, batch_size=512, lr=1e-2)


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


def default_parameters() -> HeParameters:
    """The parameters the he-cnn needs: its depth, and one slot per pixel of each 7×7 window (64 windows)."""
    return he_parameters(DEPTH, slots=64 * KERNEL * KERNEL)


def as_batch(images: np.ndarray) -> np.ndarray:
    """28×28 images in [0, 1] as a float32 batch (N, 1, 28, 28), the he-cnn's input."""
    x = np.asarray(images, np.float32)
    if x.shape[-2:] != (28, 28):
        raise PrivisError(f"the encrypted network takes 28×28 images, got {x.shape[-2:]}")
    return x.reshape(-1, 1, 28, 28)


def normalize(images: np.ndarray) -> np.ndarray:
    """`as_batch`, scaled as every privis classifier's input is (`scale_inputs`)."""
    return scale_inputs(as_batch(images))


def check_he_model(model: Any) -> Any:
    """`model` if it is an he-cnn (polynomial layers only), else a PrivisError saying how to get one."""
    conv = getattr(model, "conv", None)
    if conv is None or not hasattr(model, "fc1") or conv.kernel_size != (KERNEL, KERNEL) or conv.in_channels != 1:
        raise PrivisError("encrypted inference needs an he-cnn model: train one with `privis encrypted train`")
    return model


def export_weights(model: Any) -> dict[str, list]:
    """The plaintext weights the server needs, as lists (what TenSEAL's operations take)."""
    check_he_model(model)
    channels = model.conv.out_channels
    return {
        "conv": model.conv.weight.detach().reshape(channels, KERNEL, KERNEL).tolist(),
        "conv_bias": model.conv.bias.detach().tolist(),
        "fc1": model.fc1.weight.detach().T.tolist(),
        "fc1_bias": model.fc1.bias.detach().tolist(),
        "fc2": model.fc2.weight.detach().T.tolist(),
        "fc2_bias": model.fc2.bias.detach().tolist(),
    }


WINDOWS = ((28 - KERNEL) // STRIDE + 1) ** 2  # 64 convolution windows on a 28×28 image
# im2col pads each window's 49 pixels, and the number of windows, to powers of two
ENCODED_SIZE = (1 << (WINDOWS - 1).bit_length()) * (1 << (KERNEL * KERNEL - 1).bit_length())


class EncryptedClient:
    """Holds the secret key: makes the keys (or loads them: `load_client`), encrypts images, decrypts results."""

    def __init__(self, params: HeParameters | None = None, *, secret_context: bytes | None = None) -> None:
        import tenseal as ts

        self.params = params or default_parameters()
        if secret_context is not None:
            self.context = _context_from(secret_context)
            if not self.context.has_secret_key():
                raise PrivisError("these keys hold no secret key: the client needs the secret context (secret.ctx)")
            return
        self.context = ts.context(ts.SCHEME_TYPE.CKKS, self.params.poly_modulus_degree, -1,
                                  list(self.params.coeff_mod_bit_sizes))  # fmt: skip
        self.context.global_scale = 2**self.params.scale_bits
        self.context.generate_galois_keys()

    def secret_context(self) -> bytes:
        """Everything, the secret key included: for the client's own key file, never for the server."""
        return self.context.serialize(save_secret_key=True, save_galois_keys=True, save_relin_keys=True)

    def public_context(self) -> bytes:
        """The context the server gets: evaluation keys, no secret key."""
        return self.context.serialize(save_secret_key=False, save_galois_keys=True, save_relin_keys=True)

    def encrypt(self, image: np.ndarray) -> bytes:
        """One 28×28 image in [0, 1] as an im2col-encoded ciphertext."""
        import tenseal as ts

        enc, windows = ts.im2col_encoding(self.context, normalize(image)[0, 0].tolist(), KERNEL, KERNEL, STRIDE)
        assert windows == WINDOWS, windows
        return enc.serialize()

    def decrypt(self, result: bytes) -> np.ndarray:
        """The logits of an encrypted result."""
        import tenseal as ts

        try:
            return np.asarray(ts.ckks_vector_from(self.context, result).decrypt())
        except Exception as exc:  # noqa: BLE001 - TenSEAL raises ValueError or RuntimeError on bad bytes
            raise PrivisError(f"the server's answer is not a result encrypted under these keys ({exc})") from None


def _context_from(data: bytes) -> Any:
    import tenseal as ts

    try:
        return ts.context_from(data)
    except Exception as exc:  # noqa: BLE001
        raise PrivisError(f"not a TenSEAL context ({exc})") from None


class EncryptedServer:
    """Evaluates the network on ciphertexts; holds only the public context.

    Refuses a context that carries a secret key: a server that could decrypt is not
    what this protocol promises.
    """

    def __init__(self, public_context: bytes, weights: dict[str, list]) -> None:
        self.context = _context_from(public_context)
        if self.context.has_secret_key():
            raise PrivisError("the context sent to the server holds the secret key; send the public context only")
        self.weights = weights

    def infer(self, ciphertext: bytes) -> bytes:
        """The encrypted logits for one encrypted image."""
        import tenseal as ts

        w = self.weights
        try:
            enc = ts.ckks_vector_from(self.context, ciphertext)
        except Exception as exc:  # noqa: BLE001
            raise PrivisError(f"not a CKKS ciphertext for this context ({exc})") from None
        if enc.size() != ENCODED_SIZE:
            raise PrivisError(f"expected an im2col-encoded 28×28 image ({ENCODED_SIZE} values), "
                              f"got {enc.size()} values")  # fmt: skip
        per_channel = len(w["fc1"]) // len(w["conv"])
        try:
            x: Any = None
            for c, (kernel, bias) in enumerate(zip(w["conv"], w["conv_bias"], strict=True)):
                channel = enc.conv2d_im2col(kernel, WINDOWS) + bias
                channel.square_()
                part = channel.mm(w["fc1"][c * per_channel : (c + 1) * per_channel])
                x = part if x is None else x + part
            x = x + w["fc1_bias"]
            x.square_()
            x = x.mm(w["fc2"]) + w["fc2_bias"]
        except ValueError as exc:  # "scale out of bounds", "end of modulus switching chain reached"
            raise PrivisError(f"these keys cannot evaluate a depth-{DEPTH} network ({exc}); "
                              "make keys with `privis encrypted keygen`") from None  # fmt: skip
        return x.serialize()


def evaluate_encrypted(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    client: EncryptedClient | None = None,
    connect: Callable[[bytes], Callable[[bytes], bytes]] | None = None,
    on_image: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the whole protocol on `images`: encrypt, evaluate on the server, decrypt; compare with plaintext.

    `connect(public_context)` gives the server's inference function (by default an
    `EncryptedServer` in this process; `privis encrypted infer` passes one that talks HTTP).
    Returns encrypted and plaintext accuracy, seconds per image and the bytes each way.
    """
    client = client or EncryptedClient()
    context = client.public_context()
    start = time.perf_counter()
    infer = connect(context) if connect else EncryptedServer(context, export_weights(model)).infer
    setup = time.perf_counter() - start
    plain = predict_logits(model, as_batch(images)).argmax(1)
    predicted, up, down = [], 0, 0
    start = time.perf_counter()
    for image in images:
        ciphertext = client.encrypt(image)
        result = infer(ciphertext)
        predicted.append(int(client.decrypt(result).argmax()))
        up, down = up + len(ciphertext), down + len(result)
        if on_image:
            on_image()
    seconds = time.perf_counter() - start
    n = max(len(images), 1)
    predicted_arr = np.asarray(predicted)
    return {
        "n_images": len(images),
        "encrypted_accuracy": round(float((predicted_arr == labels).mean()), 4),
        "plaintext_accuracy": round(float((plain == labels).mean()), 4),
        "agreement": round(float((predicted_arr == plain).mean()), 4),
        "seconds_per_image": round(seconds / n, 3),
        "bytes_up_per_image": up // n,
        "bytes_down_per_image": down // n,
        "context_bytes": len(context),
        "context_seconds": round(setup, 3),
        "poly_modulus_degree": client.params.poly_modulus_degree,
        "coeff_mod_bit_sizes": list(client.params.coeff_mod_bit_sizes),
        "scale_bits": client.params.scale_bits,
    }


SECRET_FILE, PUBLIC_FILE, PARAMETERS_FILE = "secret.ctx", "public.ctx", "parameters.json"


def save_keys(client: EncryptedClient, directory: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the client's keys: secret.ctx (owner-only permissions), public.ctx (for the server), parameters.json."""
    from privis.media.files import write_atomically

    directory = Path(directory)
    paths = {name: directory / name for name in (SECRET_FILE, PUBLIC_FILE, PARAMETERS_FILE)}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise PrivisError(f"{existing[0]} exists; pass overwrite=True to replace the keys")
    directory.mkdir(parents=True, exist_ok=True)
    params = json.dumps(asdict(client.params), indent=2) + "\n"
    # write_atomically's temporary file is created owner-only (mkstemp), so the secret key is never readable
    # by others; the public files are then opened up.
    write_atomically(paths[SECRET_FILE], lambda tmp: Path(tmp).write_bytes(client.secret_context()), overwrite=True)
    for name, data in ((PUBLIC_FILE, client.public_context()), (PARAMETERS_FILE, params.encode())):
        write_atomically(paths[name], partial(_write_bytes, data=data), overwrite=True)
        os.chmod(paths[name], 0o644)
    return paths


def load_client(directory: str | Path) -> EncryptedClient:
    """The client whose keys `save_keys` wrote to `directory`."""
    directory = Path(directory)
    secret, params = directory / SECRET_FILE, directory / PARAMETERS_FILE
    for path in (secret, params):
        if not path.is_file():
            raise PrivisError(f"{path} not found: make keys with `privis encrypted keygen -o {directory}`")
    try:
        raw = json.loads(params.read_text())
        parameters = HeParameters(int(raw["poly_modulus_degree"]), tuple(raw["coeff_mod_bit_sizes"]),
                                  int(raw["scale_bits"]))  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise PrivisError(f"{params}: not a parameters file ({exc})") from None
    return EncryptedClient(parameters, secret_context=secret.read_bytes())


def _write_bytes(path: str, *, data: bytes) -> None:
    Path(path).write_bytes(data)
