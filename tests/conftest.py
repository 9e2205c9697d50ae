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


def text_page(lines: Sequence[str], size: tuple[int, int] = (900, 260), font_px: int = 40):
    """A white page with `lines` of black text, and each word's box (x1, y1, x2, y2)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=font_px)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for i, line in enumerate(lines):
        x, y = 30, 30 + int(font_px * 2.5) * i
        draw.text((x, y), line, fill="black", font=font)
        for word in line.split():
            left = x + draw.textlength(line[: line.index(word)], font=font)
            boxes[word] = (left, y, left + draw.textlength(word, font=font), y + font_px * 1.2)
    return np.asarray(img), boxes


def text_redactor(ocr: str, **options):
    """What `privis redact-text` runs: text targets filled black, boxes as the detector pads them."""
    from privis.pipeline import Anonymizer

    return Anonymizer(targets="text", method="fill", shape="box", mask_scale=1.0, mask_pad=0, ocr=ocr, **options)
