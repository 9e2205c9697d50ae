"""`Anonymizer`: detectors → policy (margins) → obfuscator → audit log, one frame at a time.

Examples
--------
>>> from skimage import data
>>> anon = Anonymizer(method="pixelate")
>>> out, regions = anon.image(data.astronaut())
>>> out.shape, len(regions) >= 1
((512, 512, 3), True)
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from privis.auditlog import AuditLog
from privis.detect import DEFAULT_FOR_LABEL, DETECTORS, create_detector
from privis.errors import PrivisError
from privis.media.image import LoadedImage, from_array, read_image
from privis.obfuscate import OBFUSCATORS, Obfuscator, create_obfuscator
from privis.regions import Regions

log = logging.getLogger(__name__)

DetectFn = Callable[[np.ndarray], Regions]


@dataclass(frozen=True)
class Policy:
    """Which regions are hidden and how far beyond the detector's box.

    Parameters
    ----------
    mask_scale : float, default 1.3
        Each box is grown by this factor in width and height around its centre,
        so that hair, ears and chin are covered too.
    mask_pad : float, default 1.0
        Pixels then added on every side: a detector's box is only accurate to a
        pixel or two, which matters most for the smallest faces.
    min_score : float, default 0.0
        Regions scoring below this are not hidden (detector thresholds already apply).
    """

    mask_scale: float = 1.3
    mask_pad: float = 1.0
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if not self.mask_scale > 0:
            raise PrivisError(f"mask_scale must be > 0, got {self.mask_scale}")
        if self.mask_pad < 0:
            raise PrivisError(f"mask_pad must be >= 0, got {self.mask_pad}")

    def apply(self, regions: Regions, height: int, width: int) -> Regions:
        """The regions to obfuscate, grown by the margins and clipped to the frame."""
        if regions.score is not None and self.min_score > 0:
            regions = regions[regions.score >= self.min_score]
        if not len(regions):
            return regions
        return regions.expand(self.mask_scale, pad=self.mask_pad).clip(width, height)


class Anonymized(NamedTuple):
    """An obfuscated image and the regions found in it (boxes as detected, before margins)."""

    image: np.ndarray
    regions: Regions


def _accepted(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        names |= {
            p.name
            for p in inspect.signature(init).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
        }
    return names


class Anonymizer:
    """Finds what identifies people in frames and hides it.

    Parameters
    ----------
    targets : sequence of str, default ('face',)
        What to hide; each label runs its default detector (``face`` → CenterFace).
    method : str, default 'blur'
        Obfuscation method: ``blur``, ``pixelate``, ``fill``, ``dp-pixelate`` or any
        registered name.
    detectors : sequence of callables, optional
        Use these instead of the defaults for `targets`: any ``frame -> Regions``.
    mask_scale, mask_pad : float
        Margins, see `Policy`.
    audit : AuditLog, optional
        Receives one record per hidden region.
    **options
        Options of the detectors (``threshold``, ``small_faces``...) and of the method
        (``shape``, ``cell``, ``epsilon``, ``color``...), routed by name.

    Examples
    --------
    >>> import numpy as np
    >>> anon = Anonymizer(method="fill", color=(255, 0, 255), shape="box")
    >>> out, regions = anon.image(np.zeros((64, 64, 3), np.uint8))
    >>> len(regions)
    0
    """

    def __init__(
        self,
        targets: Sequence[str] = ("face",),
        method: str = "blur",
        *,
        detectors: Sequence[DetectFn] | None = None,
        mask_scale: float = 1.3,
        mask_pad: float = 1.0,
        audit: AuditLog | None = None,
        **options: Any,
    ) -> None:
        if isinstance(targets, str):
            targets = [t for t in targets.split(",") if t]
        self.targets = tuple(targets)
        if not self.targets:
            raise PrivisError("targets is empty: name at least one of " + ", ".join(DEFAULT_FOR_LABEL))
        obf_cls = OBFUSCATORS.get(method)
        obf_opts = {k: v for k, v in options.items() if k in _accepted(obf_cls)}
        det_opts = {k: v for k, v in options.items() if k not in obf_opts}
        if detectors is None:
            unknown = [t for t in self.targets if t not in DEFAULT_FOR_LABEL]
            if unknown:
                raise PrivisError(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_FOR_LABEL)}")
            names = [DEFAULT_FOR_LABEL[t] for t in self.targets]
            accepted = set().union(*(_accepted(DETECTORS.get(n)) for n in names))
            stray = sorted(set(det_opts) - accepted)
            if stray:
                raise PrivisError(
                    f"unknown option(s) {', '.join(stray)} for method {method!r} and detector(s) {', '.join(names)}"
                )
            detectors = [
                create_detector(n, **{k: v for k, v in det_opts.items() if k in _accepted(DETECTORS.get(n))})
                for n in names
            ]
        elif det_opts:
            raise PrivisError(f"unknown option(s) for method {method!r}: {', '.join(sorted(det_opts))}")
        self.detectors = list(detectors)
        self.method = method
        self.obfuscator: Obfuscator = create_obfuscator(method, **obf_opts)
        self.policy = Policy(mask_scale=mask_scale, mask_pad=mask_pad)
        self.audit = audit
        self.regions_hidden = 0  # running count over video frames, for progress reports

    def detect(self, frame: np.ndarray) -> Regions:
        """Regions of every target in an RGB uint8 frame."""
        found = [d(frame) for d in self.detectors]
        regions = Regions.merge(found) if len(found) > 1 else found[0]
        wanted = np.isin(regions.label.astype(str), self.targets) if len(regions) else np.zeros(0, bool)
        return regions[wanted]

    def process(self, frame: np.ndarray, pixels: np.ndarray | None = None) -> tuple[np.ndarray, Regions]:
        """Detect on `frame` (RGB uint8) and obfuscate `pixels` (default: the frame itself).

        `pixels` is the same picture in its own layout (grey, RGBA, 16-bit), so that
        output keeps the source's depth and channels.
        """
        regions = self.detect(frame)
        target = frame if pixels is None else pixels
        h, w = frame.shape[:2]
        hidden = self.policy.apply(regions, h, w)
        out = self.obfuscator.apply(target, hidden) if len(hidden) else target.copy()
        return out, regions

    def hidden_mask(self, regions: Regions, height: int, width: int) -> np.ndarray:
        """The (H, W) bool mask of pixels that `process` replaces for these detections."""
        return self.obfuscator.mask(self.policy.apply(regions, height, width), height, width)

    def load(self, source: str | os.PathLike[str] | np.ndarray | LoadedImage) -> LoadedImage:
        """Read a path or wrap an array as a `LoadedImage`."""
        if isinstance(source, LoadedImage):
            return source
        if isinstance(source, np.ndarray):
            return from_array(source)
        return read_image(source)

    def image(self, source: str | os.PathLike[str] | np.ndarray, *, name: str | None = None) -> Anonymized:
        """Anonymize one image (a path or an array); returns the new pixels and the regions.

        The result has the source's layout: grey stays grey, RGBA keeps its alpha,
        16-bit stays 16-bit. Arrays are taken as RGB.
        """
        loaded = self.load(source)
        out, regions = self.process(loaded.rgb, loaded.pixels)
        self.record(regions, name or (str(loaded.path) if loaded.path else "<array>"))
        return Anonymized(out, regions)

    def record(self, regions: Regions, name: str, *, frame: int | None = None, pts: float | None = None) -> None:
        """Send a frame's regions to the audit log, if there is one."""
        if self.audit is not None:
            self.audit.regions(
                regions, file=name, method=self.method, params=self.obfuscator.params(), frame=frame, pts=pts
            )

    def video(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        keep_metadata: bool = False,
        name: str | None = None,
        on_frame: Callable[[], None] | None = None,
    ) -> int:
        """Anonymize a video file into `dst` (H.264, source timestamps, audio copied).

        Every frame's regions go to the audit log with its index and time; a frame
        that fails is written black and logged. Returns the number of frames written.
        """
        from privis.media.video import anonymize_video

        label = name or str(src)

        def process(rgb: np.ndarray, index: int, seconds: float | None) -> np.ndarray:
            out, regions = self.process(rgb)
            self.record(regions, label, frame=index, pts=seconds)
            self.regions_hidden += len(regions)
            return out

        def failed(index: int, seconds: float | None, exc: Exception) -> None:
            if self.audit is not None:
                self.audit.event(label, "frame_failed_blacked_out", frame=index, pts=seconds, reason=str(exc))

        return anonymize_video(
            src, dst, process, overwrite=overwrite, keep_metadata=keep_metadata, on_frame=on_frame, on_failure=failed
        )
