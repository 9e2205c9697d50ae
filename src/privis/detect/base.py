"""The `Detector` interface and the detector registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from privis.regions import Regions
from privis.registry import Registry

DETECTORS: Registry[Detector] = Registry("detector", entry_points="privis.detectors")


def register_detector(name: str, cls: type | None = None, *, force: bool = False) -> Any:
    """Register a `Detector` class under `name` (decorator when `cls` is omitted)."""
    return DETECTORS.register(name, cls, force=force)


def create_detector(name: str, **options: Any) -> Detector:
    """Build the detector registered under `name` with `options`.

    >>> create_detector("no-such-model")
    Traceback (most recent call last):
    ...
    privis.errors.UnknownNameError: unknown detector 'no-such-model'; known: ...
    """
    return DETECTORS.create(name, **options)


def available_detectors() -> list[str]:
    """Names of the registered detectors."""
    return DETECTORS.names()


class Detector(ABC):
    """Finds regions in an RGB uint8 frame of shape (H, W, 3).

    Subclasses set `labels` (what they find) and implement `detect`; settings go in
    ``__init__`` so that `detect` takes only the frame.
    """

    name: str = "detector"
    labels: tuple[str, ...] = ()

    @abstractmethod
    def detect(self, frame: np.ndarray) -> Regions:
        """Regions found in `frame` (RGB uint8, H×W×3), boxes in its pixel coordinates."""

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[Regions]:
        """Regions for each frame; backends that gain from batching override this."""
        return [self.detect(f) for f in frames]

    def single_threaded(self) -> Detector:
        """This detector using one core, for running several frames at once.

        A network run spread over two cores wastes about a fifth of their time on
        small frames; two frames at once, one core each, do not. Detectors without
        their own threads return themselves.
        """
        return self

    def __call__(self, frame: np.ndarray) -> Regions:
        return self.detect(frame)
