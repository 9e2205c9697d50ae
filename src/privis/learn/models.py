"""Image classifiers that DP-SGD can train: no BatchNorm (it mixes examples, which breaks
per-example clipping), tanh activations for the small CNN (tempered sigmoids train better
under noise: Papernot et al. 2021), GroupNorm in the residual network."""

from __future__ import annotations

from collections.abc import Callable

from privis.errors import PrivisError

MODELS: dict[str, Callable[..., object]] = {}


def _register(name: str) -> Callable:
    def wrap(fn: Callable) -> Callable:
        MODELS[name] = fn
        return fn

    return wrap


def create_model(name: str, shape: tuple[int, int, int], n_classes: int):  # noqa: ANN201 - torch.nn.Module
    """A fresh model `name` for images of `shape` (C, H, W) and `n_classes` classes."""
    if name not in MODELS:
        raise PrivisError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name](shape, n_classes)


@_register("small-cnn")
def small_cnn(shape: tuple[int, int, int], n_classes: int):  # noqa: ANN201
    """Opacus' MNIST network (two strided convolutions, two dense layers) with tanh, for any input size."""
    import torch
    from torch import nn

    c, h, w = shape
    if min(h, w) >= 16:  # Opacus' layout: 8x8 stride-2 then 4x4 stride-2 convolutions
        features = nn.Sequential(
            nn.Conv2d(c, 16, 8, 2, padding=3), nn.Tanh(), nn.MaxPool2d(2, 1),
            nn.Conv2d(16, 32, 4, 2), nn.Tanh(), nn.MaxPool2d(2, 1), nn.Flatten(),
        )  # fmt: skip
    else:  # tiny images (scikit-learn's 8x8 digits): 3x3 convolutions, halving twice
        features = nn.Sequential(
            nn.Conv2d(c, 16, 3, 1, padding=1), nn.Tanh(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, 1, padding=1), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
        )  # fmt: skip
    with torch.no_grad():
        flat = features(torch.zeros(1, c, h, w)).shape[1]
    return nn.Sequential(features, nn.Linear(flat, 32), nn.Tanh(), nn.Linear(32, n_classes))


@_register("resnet-gn")
def resnet_gn(shape: tuple[int, int, int], n_classes: int):  # noqa: ANN201
    """A small residual network (three stages, 16-32-64 channels) with GroupNorm."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.GroupNorm(8, cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.GroupNorm(8, cout),
            )  # fmt: skip
            self.skip = (
                nn.Identity() if stride == 1 and cin == cout
                else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.GroupNorm(8, cout))
            )  # fmt: skip
            self.act = nn.ReLU()

        def forward(self, x):  # noqa: ANN001, ANN202
            return self.act(self.body(x) + self.skip(x))

    c = shape[0]
    return nn.Sequential(
        nn.Conv2d(c, 16, 3, 1, 1, bias=False), nn.GroupNorm(8, 16), nn.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, n_classes),
    )  # fmt: skip


@_register("mlp")
def mlp(shape: tuple[int, int, int], n_classes: int, hidden: int = 64):  # noqa: ANN201
    """One hidden ReLU layer: small enough for secret-shared inference (`privis mpc`)."""
    from torch import nn

    c, h, w = shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))


@_register("lenet")
def lenet(shape: tuple[int, int, int], n_classes: int):  # noqa: ANN201
    """Zhu et al.'s LeNet (Deep Leakage from Gradients): three 5×5 sigmoid convolutions (12
    channels, strides 2, 2, 1) and one linear layer; the gradient attacks' model."""
    import torch.nn as nn

    c, h, w = shape
    body = nn.Sequential(nn.Conv2d(c, 12, 5, padding=2, stride=2), nn.Sigmoid(),
                         nn.Conv2d(12, 12, 5, padding=2, stride=2), nn.Sigmoid(),
                         nn.Conv2d(12, 12, 5, padding=2, stride=1), nn.Sigmoid(), nn.Flatten())  # fmt: skip
    return nn.Sequential(body, nn.Linear(12 * ((h + 3) // 4) * ((w + 3) // 4), n_classes))


HE_KERNEL, HE_STRIDE = 7, 3


@_register("he-cnn")
def he_cnn(  # noqa: ANN201
    shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10, channels: int = 4, hidden: int = 128
):
    """TenSEAL's MNIST network, every layer a polynomial so that it runs on CKKS ciphertexts
    (`privis encrypted`): conv 7×7 stride 3 → x² → dense → x² → dense, for 28×28 grey images."""
    import torch
    from torch import nn

    if tuple(shape) != (1, 28, 28):
        raise PrivisError(f"the he-cnn model takes 28×28 grey images, got shape {tuple(shape)}")

    class HeCnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            side = (28 - HE_KERNEL) // HE_STRIDE + 1
            self.conv = nn.Conv2d(1, channels, HE_KERNEL, stride=HE_STRIDE)
            self.fc1 = nn.Linear(side * side * channels, hidden)
            self.fc2 = nn.Linear(hidden, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.conv(x)
            x = (x * x).reshape(len(x), -1)
            x = self.fc1(x)
            return self.fc2(x * x)

    return HeCnn()
