"""Obfuscations under audit, parsed from text, and what each re-identification audit reports.

The re-identification audits (`privis.audit.reid` on aligned faces, `privis.audit.reid_photos`
on ordinary photos) share these: the method specs, the utility measure (SSIM) and the row
of results per method and attacker.

Examples
--------
>>> parse_method("dp-pixelate:eps=0.1")
MethodSpec(label='dp-pixelate:eps=0.1', name='dp-pixelate', params={'epsilon': 0.1, 'cell': 16, 'm': 16})
>>> parse_method("pixelate:8").params
{'cell': 8}
>>> split_methods("clear,dp-pixelate:eps=0.1,b=8,pixelate:16")
['clear', 'dp-pixelate:eps=0.1,b=8', 'pixelate:16']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.obfuscate.dp_pixelate import EPSILON

# Every method with the knobs the re-identification literature varies (McPherson et al. 2016, Fan 2018).
REID_METHODS = "clear,blur:0.2,blur:0.5,blur,pixelate,pixelate:8,pixelate:16,fill," + ",".join(
    f"dp-pixelate:eps={e}" for e in ("0.1", "0.5", "1", "2", "5", "10")
)

ALIASES = {"eps": "epsilon", "b": "cell"}
# Fan (2018) audits DP-Pix on AT&T with b = m = 16; the audit uses the same unless told.
DP_DEFAULTS = {"cell": 16, "m": 16}


@dataclass(frozen=True)
class MethodSpec:
    """One obfuscation under audit: a label for tables and the `privis.obfuscate` call."""

    label: str
    name: str  # "clear" for no obfuscation
    params: dict[str, Any] = field(default_factory=dict)

    def apply(self, image: np.ndarray, seed: int | None = None) -> np.ndarray:
        """The obfuscated `image`, as ``privis.obfuscate(image, name, **params)`` makes it."""
        if self.name == "clear":
            return image
        from privis.obfuscate import obfuscate

        params = dict(self.params)
        if self.name == "dp-pixelate":
            params.setdefault("seed", seed)
        return obfuscate(image, self.name, **params)


def parse_method(text: str) -> MethodSpec:
    """``name[:value|:key=value,...]``: ``pixelate:16`` (cell), ``blur:0.3`` (strength),
    ``dp-pixelate:eps=0.1,b=16,m=16``, ``fill``, ``clear``."""
    text = text.strip()
    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(";" if ";" in rest else ","))):
        key, eq, value = part.partition("=")
        if not eq:  # a bare value is the method's main knob
            key, value = {"pixelate": "cell", "blur": "strength", "dp-pixelate": "epsilon"}.get(name, ""), part
            if not key:
                raise PrivisError(f"{text!r}: {name} takes key=value options, not {part!r}")
        key = ALIASES.get(key.strip(), key.strip())
        try:
            number = float(value)
        except ValueError:
            raise PrivisError(f"{text!r}: {key} must be a number, got {value!r}") from None
        params[key] = int(number) if key in ("cell", "cells", "m") else number
    if name == "dp-pixelate":
        params = {**{"epsilon": params.pop("epsilon", EPSILON)}, **DP_DEFAULTS, **params}
    if name != "clear":
        from privis.obfuscate import OBFUSCATORS

        OBFUSCATORS.get(name)  # unknown names fail here, listing the known ones
    return MethodSpec(text, name, params)


def split_methods(text: str) -> list[str]:
    """Split on commas that start a new method (``dp-pixelate:eps=0.1,b=16`` keeps its options)."""
    parts: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if parts and "=" in piece and ":" not in piece:
            parts[-1] += "," + piece
        elif piece:
            parts.append(piece)
    return parts


def mean_ssim(clear: Sequence[np.ndarray] | np.ndarray, hidden: Sequence[np.ndarray] | np.ndarray) -> float:
    """Mean structural similarity of obfuscated images to their clear originals (1 = unchanged):
    what the obfuscation costs in utility."""
    from skimage.metrics import structural_similarity

    values = []
    for a, b in zip(clear, hidden, strict=True):
        if a.ndim == 3:
            a, b = (np.asarray(x, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) for x in (a, b))
        values.append(structural_similarity(a, b, data_range=255.0))
    return float(np.mean(values))


@dataclass
class ReidRow:
    """Accuracy of one attacker against one method, over the repeated splits."""

    method: str
    attacker: str
    top1: list[float]
    top5: list[float]
    chance: float
    faces: int | None = None  # test faces scored, where it is not the whole test split
    matched: list[float] = field(default_factory=list)  # recognizer attacks: within its match threshold
    ssim: list[float] = field(default_factory=list)  # utility: obfuscated test images against clear

    def summary(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.matched:
            extra["matched_mean"] = round(float(np.mean(self.matched)), 4)
        if self.faces is not None:
            extra["faces"] = self.faces
        if self.ssim:
            extra["ssim"] = round(float(np.mean(self.ssim)), 4)
        return {
            "method": self.method,
            "attacker": self.attacker,
            "top1_mean": round(float(np.mean(self.top1)), 4),
            "top1_sd": round(float(np.std(self.top1)), 4),
            "top5_mean": round(float(np.mean(self.top5)), 4),
            "top5_sd": round(float(np.std(self.top5)), 4),
            "chance_top1": round(self.chance, 4),
            "splits": len(self.top1),
            **extra,
        }


def reid_table(summaries: Sequence[dict[str, Any]]) -> str:
    """The rows of a re-identification audit (`ReidRow.summary`) as an aligned text table."""
    matched = "matched_mean" in summaries[0]
    lines = [
        f"{'method':<22} {'attacker':<8} {'top-1':>14} {'top-5':>14}"
        + (f" {'matched':>8}" if matched else "")
        + f" {'SSIM':>6}  chance {summaries[0]['chance_top1']}"
        + (f", {summaries[0]['faces']} test faces" if "faces" in summaries[0] else "")
    ]
    for r in summaries:
        lines.append(
            f"{r['method']:<22} {r['attacker']:<8} {r['top1_mean']:>7.3f} ± {r['top1_sd']:.3f}"
            f" {r['top5_mean']:>7.3f} ± {r['top5_sd']:.3f}"
            + (f" {r['matched_mean']:>8.3f}" if matched else "")
            + (f" {r['ssim']:>6.3f}" if "ssim" in r else "")
        )
    return "\n".join(lines)
