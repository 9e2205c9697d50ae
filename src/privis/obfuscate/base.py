"""The `Obfuscator` interface, the obfuscator registry and the helpers every method shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.regions import Regions, ellipse_mask, pixel_bounds
from privis.registry import Registry

OBFUSCATORS: Registry[Obfuscator] = Registry("obfuscation method", entry_points="privis.obfuscators")
SHAPES = ("ellipse", "box")


def register_obfuscator(name: str, cls: type | None = None, *, force: bool = False) -> Any:
    """Register an `Obfuscator` class under `name` (decorator when `cls` is omitted)."""
    return OBFUSCATORS.register(name, cls, force=force)


def create_obfuscator(name: str, **options: Any) -> Obfuscator:
    """Build the method registered under `name`, e.g. ``create_obfuscator("blur")``."""
    return OBFUSCATORS.create(name, **options)


def available_obfuscators() -> list[str]:
    """Names of the registered obfuscation methods."""
    return OBFUSCATORS.names()


class Obfuscator(ABC):
    """Replaces the pixels of each region so that what it showed cannot be recognised.

    Subclasses implement `render`, which returns the replacement for one box; the base
    class cuts the box to its `shape` and pastes it. Frames are RGB (H, W, 3) or grey
    (H, W); the output has the input's shape and dtype and the input is never modified.

    Parameters
    ----------
    shape : {'ellipse', 'box'}, default 'ellipse'
        Which pixels of each box are replaced: the inscribed ellipse or the whole box.
    """

    name: str = "obfuscator"

    def __init__(self, *, shape: str = "ellipse") -> None:
        if shape not in SHAPES:
            raise PrivisError(f"shape must be one of {SHAPES}, got {shape!r}")
        self.shape = shape

    @abstractmethod
    def render(self, frame: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        """Replacement pixels for ``frame[y1:y2, x1:x2]`` (float32, H×W×C), given the whole frame."""

    def params(self) -> dict[str, Any]:
        """Settings worth recording in the audit log (e.g. DP parameters)."""
        return {}

    def render_tracked(self, frame: np.ndarray, bounds: tuple[int, int, int, int], track: int) -> np.ndarray:
        """`render` for a region that belongs to video track `track` (same face across frames).

        Obfuscators whose output must stay consistent along a track (DP-Pix spends its
        budget per release) override this; the default treats each frame on its own.
        """
        return self.render(frame, bounds)

    def start_video(self) -> None:
        """Forget per-track state: a new video or stream begins (track ids start again)."""
        return None  # obfuscators without per-track state have nothing to forget

    def end_video(self) -> None:
        """The video or stream ended (or stopped): drop anything learned from its frames."""
        return None

    def observe(self, frame: np.ndarray, regions: Regions) -> None:
        """See a video frame, in order, with all the regions hidden in it, before `apply`
        (`remove` learns the scene behind people from it); most methods need nothing."""
        return None

    def track_ledger(self) -> dict[int, dict[str, Any]]:
        """Per track: what the obfuscator spent on it (e.g. DP-Pix's ε), for the audit log."""
        return {}

    def region_masks(self, regions: Regions, height: int, width: int, *, with_index: bool = False) -> Iterator[Any]:
        """Yield ``(bounds, mask)`` per region: pixel window and which of its pixels to replace
        (``(i, (bounds, mask))`` with `with_index`); regions outside the frame are skipped."""
        for i in range(len(regions)):
            box = regions.xyxy[i]
            x1, y1, x2, y2 = pixel_bounds(box, width, height)
            if x2 <= x1 or y2 <= y1:
                continue
            outline = regions.mask_of(i)
            if outline is not None:
                mask = outline[y1:y2, x1:x2]
            elif self.shape == "ellipse":
                mask = ellipse_mask(box, x1, y1, x2, y2)
            else:
                mask = np.ones((y2 - y1, x2 - x1), dtype=bool)
            yield (i, ((x1, y1, x2, y2), mask)) if with_index else ((x1, y1, x2, y2), mask)

    def mask(self, regions: Regions, height: int, width: int) -> np.ndarray:
        """All pixels `apply` would replace, as an (H, W) bool image."""
        out = np.zeros((height, width), dtype=bool)
        for (x1, y1, x2, y2), m in self.region_masks(regions, height, width):
            out[y1:y2, x1:x2] |= m
        return out

    def apply(self, frame: np.ndarray, regions: Regions) -> np.ndarray:
        """A copy of `frame` with every region obfuscated."""
        image, squeeze = _as_hwc(frame)
        out = image.copy()
        h, w = image.shape[:2]
        tracks = regions.track_id
        for i, (bounds, m) in self.region_masks(regions, h, w, with_index=True):
            x1, y1, x2, y2 = bounds
            patch = self.render(image, bounds) if tracks is None else self.render_tracked(image, bounds, int(tracks[i]))
            np.copyto(out[y1:y2, x1:x2], _cast_like(patch, image.dtype), where=m[..., None])
        return out[..., 0] if squeeze else out

    def __call__(self, frame: np.ndarray, regions: Regions) -> np.ndarray:
        return self.apply(frame, regions)


def _as_hwc(frame: np.ndarray) -> tuple[np.ndarray, bool]:
    frame = np.asarray(frame)
    if frame.ndim == 2:
        return frame[..., None], True
    if frame.ndim != 3:
        raise PrivisError(f"expected an image of shape (H, W) or (H, W, C), got {frame.shape}")
    if np.iscomplexobj(frame):
        raise PrivisError("complex images are not supported")
    return frame, False


def _cast_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round and clip float pixel values back into an integer dtype's range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def full_range(dtype: np.dtype) -> float:
    """The largest pixel value of `dtype` (255 for uint8, 65535 for uint16, 1.0 for floats)."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def cell_sums(patch: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell channel sums and pixel counts of a (H, W, C) patch on a `cell`-px grid.

    The grid starts at the patch's top-left corner; edge cells may be smaller.
    """
    h, w = patch.shape[:2]
    rows = np.arange(0, h, cell)
    cols = np.arange(0, w, cell)
    sums = np.add.reduceat(np.add.reduceat(patch.astype(np.float64), rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, h)), np.diff(np.append(cols, w)))
    return sums, counts


def expand_cells(values: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
    """Paint per-cell values (gh, gw, C) back to a (height, width, C) patch."""
    return np.repeat(np.repeat(values, cell, axis=0), cell, axis=1)[:height, :width]


def check_positive(name: str, value: float, *, integer: bool = False) -> None:
    """Raise a `PrivisError` naming `name` unless `value` is > 0 (and an int if asked)."""
    if integer and (isinstance(value, bool) or not float(value).is_integer()):
        raise PrivisError(f"{name} must be a whole number, got {value!r}")
    if not value > 0:
        raise PrivisError(f"{name} must be > 0, got {value!r}")
