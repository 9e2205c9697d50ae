"""Obfuscation methods, one file each, chosen by name from a registry.

>>> import numpy as np
>>> from privis.obfuscate import obfuscate
>>> img = np.full((32, 32, 3), 200, np.uint8)
>>> obfuscate(img, "fill", color=(0, 0, 0)).max()
np.uint8(0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from privis.obfuscate import blur as _blur  # noqa: F401  (each import registers its method)
from privis.obfuscate import dp_pixelate as _dp_pixelate  # noqa: F401
from privis.obfuscate import fill as _fill  # noqa: F401
from privis.obfuscate import pixelate as _pixelate  # noqa: F401
from privis.obfuscate import remove as _remove  # noqa: F401
from privis.obfuscate.base import (
    OBFUSCATORS,
    SHAPES,
    Obfuscator,
    available_obfuscators,
    create_obfuscator,
    register_obfuscator,
)
from privis.regions import Regions

__all__ = [
    "OBFUSCATORS",
    "SHAPES",
    "Obfuscator",
    "available_obfuscators",
    "create_obfuscator",
    "obfuscate",
    "register_obfuscator",
]


def obfuscate(image: np.ndarray, method: str, **params: Any) -> np.ndarray:
    """Apply `method` to the whole `image` (e.g. a face crop); returns a new array.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Any integer or float dtype; the result has the same shape and dtype.
    method : {'blur', 'pixelate', 'fill', 'dp-pixelate', 'remove'} or a registered name
    **params
        The method's options, e.g. ``cell=16`` or ``epsilon=0.1, cell=16, m=16``.

    Examples
    --------
    >>> import numpy as np
    >>> crop = np.arange(64, dtype=np.uint8).reshape(8, 8)
    >>> obfuscate(crop, "pixelate", cell=4)[0, :].tolist()
    [14, 14, 14, 14, 18, 18, 18, 18]
    """
    params.setdefault("shape", "box")
    obf = create_obfuscator(method, **params)
    arr = np.asarray(image)
    h, w = arr.shape[:2]
    return obf.apply(arr, Regions([[0, 0, w, h]]))
