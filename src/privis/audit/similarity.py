"""Image measures the audits share: SSIM to score a reconstruction, total variation as the
smoothness prior an attacker puts on one, PSNR of a removed region against the true scene."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def ssim(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """Mean SSIM (Wang et al. 2004) of two grey images in [0, 1], over `win`×`win` windows
    (uniform, the border cropped, as scikit-image computes it by default).

    >>> x = np.random.default_rng(0).random((28, 28))
    >>> round(ssim(x, x), 6), ssim(x, 1 - x) < 0
    (1.0, True)
    """
    from scipy.ndimage import uniform_filter

    a, b = a.astype(np.float64), b.astype(np.float64)
    win = min(win, *a.shape) | 1
    n = win * win
    cov = n / (n - 1)
    ux, uy = uniform_filter(a, win), uniform_filter(b, win)
    vx = cov * (uniform_filter(a * a, win) - ux * ux)
    vy = cov * (uniform_filter(b * b, win) - uy * uy)
    vxy = cov * (uniform_filter(a * b, win) - ux * uy)
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad : s.shape[0] - pad, pad : s.shape[1] - pad].mean())


def total_variation(x: Any) -> Any:
    """Mean absolute difference of neighbouring pixels of a (N, C, H, W) tensor."""
    return (x[:, :, 1:] - x[:, :, :-1]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()


def psnr(a: Sequence[np.ndarray], b: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> float:
    """PSNR (dB, 8-bit) of images `a` against `b` over the masked pixels of all of them together;
    100 for identical pixels.

    >>> x = np.zeros((4, 4), np.uint8)
    >>> psnr([x], [x + 16], [np.ones((4, 4), bool)]), psnr([x], [x], [np.ones((4, 4), bool)])
    (24.05, 100.0)
    """
    err = [(x[m].astype(np.float64) - y[m].astype(np.float64)) ** 2 for x, y, m in zip(a, b, masks, strict=True)]
    total = np.concatenate([e.ravel() for e in err]) if err else np.zeros(1)
    mse = float(total.mean()) if total.size else 0.0
    return round(10 * float(np.log10(255.0**2 / mse)), 2) if mse > 0 else 100.0
