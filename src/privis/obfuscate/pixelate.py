"""`pixelate`: replace each region by a coarse mosaic of true cell means."""

from __future__ import annotations

import numpy as np

from privis.obfuscate.base import (
    Obfuscator,
    cell_sums,
    check_positive,
    expand_cells,
    register_obfuscator,
)


@register_obfuscator("pixelate")
class Pixelate(Obfuscator):
    """Mosaic whose cells hold the mean colour of the pixels they cover.

    Parameters
    ----------
    cell : int, optional
        Fixed cell size in pixels. By default the cell scales with the region so that
        the region's longer side spans `cells` cells.
    cells : int, default 8
        Cells across the longer side of each region when `cell` is not given.
    min_cell : int, default 2
        Smallest cell size used when scaling with the region.
    shape : {'ellipse', 'box'}, default 'ellipse'

    Notes
    -----
    Pixelation with small cells is re-identifiable by a trained attacker [1]_; keep
    cells coarse or use ``dp-pixelate`` for a formal guarantee.

    References
    ----------
    .. [1] R. McPherson, R. Shokri, V. Shmatikov, "Defeating Image Obfuscation with
       Deep Learning", 2016. arXiv:1609.00408

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    >>> from privis.regions import Regions
    >>> Pixelate(cell=2, shape="box").apply(img, Regions([[0, 0, 4, 4]]))[:2, :2].tolist()
    [[2, 2], [2, 2]]
    """

    def __init__(self, *, cell: int | None = None, cells: int = 8, min_cell: int = 2, shape: str = "ellipse") -> None:
        super().__init__(shape=shape)
        if cell is not None:
            check_positive("cell", cell, integer=True)
        check_positive("cells", cells, integer=True)
        check_positive("min_cell", min_cell, integer=True)
        self.cell = None if cell is None else int(cell)
        self.cells = int(cells)
        self.min_cell = int(min_cell)

    def cell_size(self, height: int, width: int) -> int:
        """Cell size used for a region of ``height`` × ``width`` pixels."""
        if self.cell is not None:
            return self.cell
        return max(self.min_cell, int(np.ceil(max(height, width) / self.cells)))

    def render(self, frame: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        x1, y1, x2, y2 = bounds
        patch = frame[y1:y2, x1:x2]
        cell = self.cell_size(y2 - y1, x2 - x1)
        sums, counts = cell_sums(patch, cell)
        means = sums / counts[..., None]
        return expand_cells(means.astype(np.float32), cell, y2 - y1, x2 - x1)

    def params(self) -> dict[str, object]:
        return {"cell": self.cell} if self.cell is not None else {"cells": self.cells}
