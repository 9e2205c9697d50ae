"""`dp-pixelate`: differentially private pixelization (DP-Pix, Fan 2018)."""

from __future__ import annotations

import numpy as np

from privis.obfuscate.base import (
    Obfuscator,
    cell_sums,
    check_positive,
    expand_cells,
    full_range,
    register_obfuscator,
)


@register_obfuscator("dp-pixelate")
class DPPixelate(Obfuscator):
    """Pixelate on a fixed b×b grid, then add Laplace noise to each cell mean.

    Two images that differ in at most `m` pixels give cell means that differ by at most
    ``255·m / b²``, so Laplace noise of scale ``255·m / (b²·ε)`` makes each released
    region ε-differentially private for such neighbours [1]_. Edge cells cut by the
    region border hold ``k < b²`` pixels and get the larger scale ``255·m / (k·ε)``.
    Results are clipped to the image range.

    Parameters
    ----------
    epsilon : float, default 0.5
        Privacy budget ε per region; smaller is more private and noisier.
    cell : int, default 16
        Grid cell size b in pixels (fixed, not scaled with the region: the guarantee is
        stated in pixels).
    m : int, default 16
        Number of pixels in which neighbouring images may differ.
    seed : int, optional
        Seed for reproducible noise (tests, benchmarks). Leave unset in production.
    shape : {'ellipse', 'box'}, default 'ellipse'

    References
    ----------
    .. [1] L. Fan, "Image Pixelization with Differential Privacy", DBSec 2018.
       doi:10.1007/978-3-319-95729-6_10

    Examples
    --------
    >>> import numpy as np
    >>> from privis.regions import Regions
    >>> img = np.full((32, 32, 3), 128, np.uint8)
    >>> dp = DPPixelate(epsilon=1.0, cell=16, m=1, seed=0, shape="box")
    >>> dp.noise_scale()  # 255 * 1 / (16 * 16 * 1.0)
    0.99609375
    >>> out = dp.apply(img, Regions([[0, 0, 32, 32]]))
    >>> bool(np.abs(out.astype(int) - 128).max() < 20)
    True
    """

    def __init__(
        self,
        *,
        epsilon: float = 0.5,
        cell: int = 16,
        m: int = 16,
        seed: int | None = None,
        shape: str = "ellipse",
    ) -> None:
        super().__init__(shape=shape)
        check_positive("epsilon", epsilon)
        check_positive("cell", cell, integer=True)
        check_positive("m", m, integer=True)
        self.epsilon = float(epsilon)
        self.cell = int(cell)
        self.m = int(m)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def noise_scale(self, pixels: int | np.ndarray | None = None, peak: float = 255.0) -> float | np.ndarray:
        """Laplace scale for a cell of `pixels` pixels (default a full b×b cell)."""
        k = self.cell * self.cell if pixels is None else pixels
        return peak * self.m / (k * self.epsilon)

    def render(self, frame: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        x1, y1, x2, y2 = bounds
        peak = full_range(frame.dtype)
        sums, counts = cell_sums(frame[y1:y2, x1:x2], self.cell)
        means = sums / counts[..., None]
        scale = self.noise_scale(counts, peak)[..., None]
        noisy = np.clip(means + self._rng.laplace(0.0, 1.0, means.shape) * scale, 0.0, peak)
        return expand_cells(noisy.astype(np.float32), self.cell, y2 - y1, x2 - x1)

    def params(self) -> dict[str, object]:
        return {"epsilon": self.epsilon, "cell": self.cell, "m": self.m}
