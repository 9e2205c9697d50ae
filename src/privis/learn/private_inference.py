"""Private inference on a data set or on files: encrypted (CKKS) and secret-shared (MPC) alike.

What `privis encrypted infer` and `privis mpc` run: the held-out images of a set with a
model (loaded, or trained now), the whole encrypted protocol against a server (one on
loopback unless given), and image files read at a model's input shape.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.hosts import is_loopback

log = logging.getLogger(__name__)


def held_out_and_model(
    dataset: str, n: int, seed: int, model_path: Path | None, training: Any, shape: tuple[int, int, int] | None = None
) -> tuple[Any, Any, np.ndarray]:
    """The set, a model (loaded, or trained now as `training` says) and the first `n` held-out indices.

    With `shape`, the set's images must have it (checked before any training)."""
    from privis.learn.data import load_image_set
    from privis.learn.dp_train import load_model, train_classifier

    data = load_image_set(dataset, seed=seed, size=shape[-1] if shape else 32)
    if shape and data.shape != shape:
        raise PrivisError(f"{dataset}: the {training.model} takes {shape[1]}×{shape[2]} images with {shape[0]} "
                          f"channel(s), this set has shape {data.shape}")  # fmt: skip
    if n > len(data.test):
        raise PrivisError(f"n = {n} is more than the {len(data.test)} held-out images of {data.name}")
    if model_path is None:
        log.info("training a %s on %d images of %s", training.model, len(data.train), data.name)
        return data, train_classifier(data, dataclasses.replace(training, seed=seed)).model, data.test[:n]
    model, meta = load_model(model_path)
    if meta["data"]["name"] == data.name and meta["data"]["seed"] != seed:
        raise PrivisError(f"{model_path} was trained on the split of seed {meta['data']['seed']}: use that seed")
    return data, model, data.test[:n]


def evaluate_encrypted_set(
    dataset: str,
    n: int,
    *,
    client: Any,
    model_path: Path | None = None,
    url: str | None = None,
    seed: int = 0,
    on_image: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The whole encrypted protocol on `n` held-out images of `dataset`: accuracy against plaintext,
    latency and bytes each way. The server is `url`, or one started on loopback for the run."""
    from privis.learn.encrypted import HE_TRAINING, check_he_model, evaluate_encrypted
    from privis.server.encrypted import EncryptedService, create_app
    from privis.server.http import running

    if url is not None and model_path is None:
        raise PrivisError("a remote server needs the model it runs too (model_path), to compare with plaintext")
    data, he_model, test = held_out_and_model(dataset, n, seed, model_path, HE_TRAINING, shape=(1, 28, 28))
    check_he_model(he_model)
    with contextlib.ExitStack() as stack:
        if url is None:
            url = stack.enter_context(running(create_app(he_model, classes=data.classes)))
        service = EncryptedService(url)
        summary = evaluate_encrypted(he_model, data.x[test], data.y[test], client=client, connect=service.connect,
                                     on_image=on_image)  # fmt: skip
    local = is_loopback(urllib.parse.urlsplit(url).hostname or "")
    return {"data": data.name, "server": "loopback" if local else url, **summary}


def read_images(paths: Sequence[Path], shape: tuple[int, int, int]) -> tuple[np.ndarray, list[str], list[dict]]:
    """Image files as (N, C, H, W) float32 in [0, 1] at a model's input `shape`, their names, and the unreadable."""
    from privis.learn.data import read_image

    out, names, failed = [], [], []
    for path in paths:
        try:
            out.append(read_image(path, shape))
        except PrivisError as exc:
            failed.append({"image": str(path), "error": str(exc)})
            continue
        names.append(str(path))
    return (np.stack(out) if out else np.zeros((0, *shape), np.float32)), names, failed


def classify_encrypted(paths: Sequence[Path], service: Any, client: Any) -> dict[str, Any]:
    """Each image encrypted, classified by the server, decrypted here: ``{"predictions": [...], "failed": k}``."""
    classes = service.describe()["classes"]
    x, names, failed = read_images(paths, (1, 28, 28))
    if not names:
        raise PrivisError(failed[0]["error"])
    infer = service.connect(client.public_context())
    rows = []
    for name, image in zip(names, x, strict=True):
        logits = client.decrypt(infer(client.encrypt(image[0])))
        rows.append({"image": name, "class": classes[int(logits.argmax())],
                     "logits": [round(float(v), 3) for v in logits]})  # fmt: skip
    return {"predictions": rows + failed, "failed": len(failed)}
