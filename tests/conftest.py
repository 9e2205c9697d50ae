"""Shared fixtures: small generated images and a `mock_regions` factory."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from privis.regions import Regions


def mock_regions(
    xyxy: Sequence[Sequence[float]],
    label: Sequence[str] | None = None,
    score: Sequence[float] | None = None,
    track_id: Sequence[int] | None = None,
) -> Regions:
    """Regions built from plain lists."""
    return Regions(np.array(xyxy, dtype=np.float32).reshape(-1, 4), label=label, score=score, track_id=track_id)


@pytest.fixture
def noise_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)


@pytest.fixture
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()
