"""`remove`: take people, faces and plates out of the picture, showing what is behind them.

Street View removed pedestrians by filling them in from other views of the same place
(Flores and Belongie, 2010). From a fixed camera the other views are the video's own
frames: `Remove` keeps a background plate built only from pixels that no detection
covered, updated a little each frame so that it follows the light, and fills each removed
region from it. Where the plate has never seen a pixel clear (a single image, a part of
the scene always behind someone, the first frames, a camera that moved), the hole is
inpainted from its surroundings (OpenCV's Telea or Navier-Stokes): never from the
region's own pixels. The plate lives in memory only and is dropped at the end of each
video or stream.

Someone who stands still for minutes stays covered by their detections (and the tracker
between them), so their pixels never enter the plate: the known failure of median and
MOG2 backgrounds, which take in whatever stays still long enough.

Examples
--------
>>> import numpy as np
>>> from privis.regions import Regions
>>> scene = np.full((40, 60, 3), 120, np.uint8)
>>> walker = scene.copy(); walker[10:30, 20:30] = 0          # someone in front of the wall
>>> remove = Remove(grow=0)
>>> remove.start_video()
>>> remove.observe(scene, Regions.empty())                     # the scene seen clear once
>>> out = remove.apply(walker, Regions([[20, 10, 30, 30]]))
>>> int(out[20, 25, 0]), remove.filled
(120, {'background': 200, 'inpainted': 0})
"""

from __future__ import annotations

from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.obfuscate.base import Obfuscator, _as_hwc, _cast_like, check_positive, register_obfuscator
from privis.regions import Regions

INPAINT_METHODS = ("telea", "ns")


@register_obfuscator("remove")
class Remove(Obfuscator):
    """Replace each region by the scene behind it: the background plate, else inpainting.

    Parameters
    ----------
    inpaint : {'telea', 'ns'}, default 'telea'
        OpenCV's inpainting for pixels the plate does not know.
    radius : float, default 5
        Inpainting neighbourhood in pixels.
    adapt : float, default 0.05
        Share of each clear pixel's new value taken into the plate per frame (light changes
        are followed within about 1 / adapt frames).
    grow : int, default 6
        Pixels around each region also replaced and never learned: outlines and boxes stop
        short of hair, shadows and motion blur.
    moved : float, default 30
        Mean difference (0-255) between a frame's clear pixels and the plate above which
        the camera is taken to have moved or cut: the plate starts again from that frame.
    shape : {'box', 'ellipse'}, default 'box'
        Regions without an outline: their box or its ellipse. A person goes with their
        whole box, outline or not.
    """

    def __init__(
        self,
        *,
        inpaint: str = "telea",
        radius: float = 5.0,
        adapt: float = 0.05,
        grow: int = 6,
        moved: float = 30.0,
        shape: str = "box",
    ) -> None:
        super().__init__(shape=shape)
        if inpaint not in INPAINT_METHODS:
            raise PrivisError(f"inpaint must be one of {INPAINT_METHODS}, got {inpaint!r}")
        check_positive("radius", radius)
        check_positive("moved", moved)
        if not 0 < adapt <= 1:
            raise PrivisError(f"adapt must be in (0, 1], got {adapt!r}")
        if grow < 0:
            raise PrivisError(f"grow must be >= 0, got {grow!r}")
        self.inpaint, self.radius, self.adapt = inpaint, float(radius), float(adapt)
        self.grow, self.moved = int(grow), float(moved)
        self._plate: np.ndarray | None = None  # float32 (H, W, C): the scene without anyone
        self._known: np.ndarray | None = None  # bool (H, W): pixels the plate has seen clear
        self.filled = {"background": 0, "inpainted": 0}  # pixels filled each way since the video began
        self.restarts = 0  # times the plate was dropped because the camera moved

    def params(self) -> dict[str, Any]:
        return {"fill": "background plate, else inpainting", "inpaint": self.inpaint, "grow": self.grow}

    def start_video(self) -> None:
        self._plate, self._known = None, None
        self.filled = {"background": 0, "inpainted": 0}
        self.restarts = 0

    def end_video(self) -> None:
        self._plate, self._known = None, None  # nothing of one video reaches the next file

    def observe(self, frame: np.ndarray, regions: Regions) -> None:
        """Learn the scene from a video frame: every pixel outside all of `regions` (grown)."""
        image, _ = _as_hwc(frame)
        h, w = image.shape[:2]
        clear = ~self._grown(regions.without_masks().to_mask(h, w))  # whole boxes, not outlines
        if self._plate is None or self._plate.shape != image.shape or self._known is None:
            self._plate, self._known = image.astype(np.float32), clear.copy()
            return
        both = clear & self._known
        if both.any() and float(np.abs(image[both] - self._plate[both]).mean()) > self.moved:
            self.restarts += 1  # another view: what the plate knows is no longer behind anyone
            self._plate, self._known = image.astype(np.float32), clear.copy()
            return
        new = clear & ~self._known
        self._plate[new] = image[new]
        self._plate[both] += self.adapt * (image[both] - self._plate[both])
        self._known |= clear

    def apply(self, frame: np.ndarray, regions: Regions) -> np.ndarray:
        image, squeeze = _as_hwc(frame)
        h, w = image.shape[:2]
        # A person's whole box goes, not only their outline: an outline cut short (legs at the
        # frame's side, an arm the segmenter missed) would leave the rest in view.
        area = self.mask(regions, h, w) if regions.mask is None else regions.without_masks().to_mask(h, w)
        hole = self._grown(area)
        out = image.copy()
        rest = hole
        if self._plate is not None and self._known is not None and self._plate.shape == image.shape:
            known = hole & self._known  # the plate is the scene itself
            out[known] = _cast_like(self._plate[known], image.dtype)
            rest = hole & ~self._known
            self.filled["background"] += int(known.sum())
        if rest.any():
            out = self._inpaint(out, rest)
            self.filled["inpainted"] += int(rest.sum())
        return out[..., 0] if squeeze else out

    def render(self, frame: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        """One box on its own (`obfuscate`): inpainted from the pixels around it."""
        x1, y1, x2, y2 = bounds
        hole = np.zeros(frame.shape[:2], bool)
        hole[y1:y2, x1:x2] = True
        return self._inpaint(frame, hole)[y1:y2, x1:x2].astype(np.float32)

    def _grown(self, mask: np.ndarray) -> np.ndarray:
        if not self.grow or not mask.any():
            return mask
        import cv2

        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * self.grow + 1, 2 * self.grow + 1))
        return cv2.dilate(mask.astype(np.uint8), kernel) > 0

    def _inpaint(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """`image` (H, W, C) with the `hole` pixels filled from around them."""
        import cv2

        flag = cv2.INPAINT_TELEA if self.inpaint == "telea" else cv2.INPAINT_NS
        mask = hole.astype(np.uint8)
        if image.dtype == np.uint8 and image.shape[2] in (1, 3):
            done = cv2.inpaint(np.ascontiguousarray(image), mask, self.radius, flag)
            return done.reshape(image.shape)
        top = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype, np.integer) else 1.0
        out = image.copy()
        for c in range(image.shape[2]):  # other depths and channels: each channel through 8 bits
            eight = np.clip(image[..., c].astype(np.float32) * (255 / top), 0, 255).astype(np.uint8)
            filled = cv2.inpaint(eight, mask, self.radius, flag).astype(np.float32) * (top / 255)
            out[..., c][hole] = _cast_like(filled[hole], image.dtype)
        return out
