"""`fill`: paint regions in one solid colour (the strongest and the easiest to verify)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from privis.errors import PrivisError
from privis.obfuscate.base import Obfuscator, full_range, register_obfuscator


@register_obfuscator("fill")
class Fill(Obfuscator):
    """Solid colour.

    Parameters
    ----------
    color : (R, G, B) ints in 0..255, default (0, 0, 0)
        The colour; scaled to the image's range for 16-bit and float images, and
        turned into its luma for grey images.
    shape : {'ellipse', 'box'}, default 'ellipse'

    Examples
    --------
    >>> import numpy as np
    >>> from privis.regions import Regions
    >>> img = np.zeros((4, 4, 3), np.uint8)
    >>> out = Fill(color=(255, 0, 255), shape="box").apply(img, Regions([[0, 0, 2, 2]]))
    >>> out[0, 0].tolist(), out[3, 3].tolist()
    ([255, 0, 255], [0, 0, 0])
    """

    def __init__(self, *, color: Sequence[int] = (0, 0, 0), shape: str = "ellipse") -> None:
        super().__init__(shape=shape)
        color = tuple(color)
        if len(color) != 3 or any(not 0 <= int(c) <= 255 for c in color):
            raise PrivisError(f"fill color must be three values R,G,B in 0..255, got {color!r}")
        self.color = tuple(int(c) for c in color)

    def render(self, frame: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        x1, y1, x2, y2 = bounds
        rgb = np.asarray(self.color, np.float32) / 255.0 * full_range(frame.dtype)
        channels = frame.shape[2]
        if channels == 1:
            value = np.array([rgb @ np.array([0.299, 0.587, 0.114], np.float32)])
        elif channels == 4:
            value = np.append(rgb, full_range(frame.dtype))
        else:
            value = rgb[:channels]
        return np.broadcast_to(value, (y2 - y1, x2 - x1, channels))

    def params(self) -> dict[str, object]:
        return {"color": list(self.color)}
