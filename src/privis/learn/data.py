"""Image classification data for training and audits: built-in sets and folders of class subfolders.

Every set is split into train and test once, by a seeded permutation, and the split is
saved with each model so that a membership audit knows exactly which images were
members. Pixels are float32 in [0, 1], shaped (N, C, H, W).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}


@dataclass
class ImageSet:
    """Images (N, C, H, W) float32 in [0, 1] with int labels, and the train/test split."""

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    train: np.ndarray  # indices into x
    test: np.ndarray
    seed: int

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def split_indices(n: int, n_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded permutation of range(n) cut into `n_train` train and the rest test indices."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:n_train]), np.sort(order[n_train:])


def load_image_set(
    name_or_path: str | os.PathLike[str], *, seed: int = 0, test_fraction: float = 0.2, size: int = 32
) -> ImageSet:
    """``digits`` (scikit-learn, 8×8), ``mnist`` (../shared/data: 10,000 images, 8,000 train and
    2,000 test), ``att`` (../shared/data: AT&T faces, 40 people × 10) or a folder with one
    subfolder of images per class (resized to `size`)."""
    key = str(name_or_path).lower()
    if key == "att" and not Path(name_or_path).is_dir():
        from privis.datasets import resolve_dataset

        x, y, classes = _load_folder(resolve_dataset("att") / "orl_faces", size)
    elif key == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype(np.float32)[:, None]
        y = digits.target.astype(np.int64)
        classes = [str(c) for c in range(10)]
    elif key == "mnist" and not Path(name_or_path).is_dir():
        from privis.datasets import resolve_dataset

        path = resolve_dataset("mnist") / "mnist_test.npz"
        if not path.is_file():
            raise PrivisError(f"{path} not found: the mnist set is mnist_test.npz with x_test and y_test")
        with np.load(path) as d:
            x = (d["x_test"].astype(np.float32) / 255.0)[:, None]
            y = d["y_test"].astype(np.int64)
        classes = [str(c) for c in range(10)]
        train, test = split_indices(len(x), 8000, seed)
        return ImageSet("mnist", x, y, classes, train, test, seed)
    else:
        x, y, classes = _load_folder(Path(name_or_path), size)
        key = str(name_or_path)
    if not 0 < test_fraction < 1:
        raise PrivisError(f"test fraction must be in (0, 1), got {test_fraction}")
    train, test = split_indices(len(x), int(round(len(x) * (1 - test_fraction))), seed)
    return ImageSet(key, x, y, classes, train, test, seed)


def model_data(meta: dict[str, Any], data: str | os.PathLike[str] | None = None) -> ImageSet:
    """The images a saved model was trained and tested on (`meta` from `load_model`), split as
    they were; `data` names them where the model's own name no longer resolves."""
    d = meta["data"]
    images = load_image_set(d["name"] if data is None else data, seed=d["seed"], size=int(d["shape"][-1]))
    if images.train.tolist() != d["train"] or images.test.tolist() != d["test"]:
        raise PrivisError(f"the data set {d['name']!r} no longer splits as it did for this model")
    return images


def read_image(path: str | os.PathLike[str], shape: tuple[int, int, int]) -> np.ndarray:
    """One image file as a classifier input of `shape` (C, H, W): float32 in [0, 1], grey (C = 1) or RGB, resized."""
    from PIL import Image

    c, h, w = shape
    try:
        with Image.open(path) as im:
            pixels = np.asarray(
                im.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR), np.float32
            )
    except (OSError, ValueError) as exc:
        raise PrivisError(f"{path}: cannot read the image ({exc})") from None
    return pixels.reshape(h, w, c).transpose(2, 0, 1) / 255.0


def _load_folder(root: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if not root.is_dir():
        raise PrivisError(f"{root}: not a folder, and not a built-in data set (digits, mnist)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise PrivisError(f"{root}: expected one subfolder of images per class, found {len(classes)}")
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            images.append(read_image(path, (3, size, size)))
            labels.append(label)
    if not images:
        raise PrivisError(f"{root}: no images in the class folders")
    x = np.stack(images)
    if np.allclose(x[:, 0], x[:, 1]) and np.allclose(x[:, 1], x[:, 2]):
        x = x[:, :1]  # grey images stay one channel
    return np.ascontiguousarray(x), np.asarray(labels, np.int64), classes
