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

import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from privis.auditlog import AuditSink
from privis.config import LABELS, Settings, load_settings, with_arguments
from privis.detect import Detector, create_detector
from privis.errors import RuntimeFailure
from privis.media.image import LoadedImage, from_array, read_image
from privis.media.video import Frame
from privis.obfuscate import Obfuscator, create_obfuscator
from privis.policy import Policy
from privis.regions import Regions
from privis.track import Tracker

log = logging.getLogger(__name__)

DetectFn = Callable[[np.ndarray], Regions]


PARALLEL_MAX_PIXELS = 1 << 20


class Anonymized(NamedTuple):
    """An obfuscated image and the regions found in it (boxes as detected, before margins)."""

    image: np.ndarray
    regions: Regions


@dataclass
class _Counts:
    """Running counts shared by an anonymizer and its twin for the other media kind."""

    regions_hidden: int = 0  # over video frames and pages, for progress reports
    frames_failed: int = 0  # video frames written black because detection failed on them


class Anonymizer:
    """Finds what identifies people in frames and hides it.

    Built from `privis.config.Settings` (`settings`), with the keyword arguments laid
    over them; anything left unset takes the defaults of the media: `image` and `pages`
    (PDF pages, DICOM frames) use the image defaults, `video`, `frames` and `stream` the
    video ones (wider margins, crowd-only small-face passes, two workers; README, "Video").

    Parameters
    ----------
    targets : sequence of str or str, optional
        What to hide (default ``face``); each label runs its default detector (``face`` →
        CenterFace, ``plate`` → privis's own plate network, ``person`` → MediaPipe
        outlines, ``text`` → OCR + PII).
    method : str, Obfuscator, or dict of label to either, optional
        How to hide (default ``blur``): ``blur``, ``pixelate``, ``fill``, ``dp-pixelate``,
        any registered name or an `Obfuscator` instance; or one per label (``{"face":
        "blur", "plate": "fill"}``, the key ``""`` for labels not named).
    settings : Settings, optional
        The configuration to start from; default `privis.config.load_settings()`: the
        ``$PRIVIS_CONFIG`` file, if set, under the ``PRIVIS_*`` variables, as the CLI does.
    detectors : sequence of callables, optional
        Use these instead of the targets' detectors: any ``frame -> Regions``.
    mask_scale, mask_pad : float or dict of str to float, optional
        Margins, see `Policy`; per label as a dict.
    audit : AuditLog or AuditSink, optional
        Receives one record per hidden region.
    linger, lookahead, detect_every, workers : int, optional
        Video settings, see `privis.config.VideoSettings`.
    kind : {'image', 'video'}, default 'image'
        Whose defaults `detect`, `process` and `hide` use.
    **options
        Options of the detectors (``threshold``, ``small_faces``...) and of the methods
        (``shape``, ``cell``, ``epsilon``, ``color``...), each placed where a target's
        detector or method takes it by name (an option both take, or none, is an error);
        a dict value gives one per label (``threshold={"face": 0.2, "plate": 0.6}``).

    Examples
    --------
    >>> import numpy as np
    >>> anon = Anonymizer(method="fill", color=(255, 0, 255), shape="box")
    >>> out, regions = anon.image(np.zeros((64, 64, 3), np.uint8))
    >>> len(regions)
    0
    >>> anon.for_media("video").policy.margins("face")
    (1.6, 2.0)
    """

    def __init__(
        self,
        targets: Sequence[str] | str | None = None,
        method: str | Obfuscator | Mapping[str, str | Obfuscator] | None = None,
        *,
        settings: Settings | None = None,
        detectors: Sequence[DetectFn] | None = None,
        mask_scale: float | Mapping[str, float] | None = None,
        mask_pad: float | Mapping[str, float] | None = None,
        audit: AuditSink | None = None,
        linger: int | None = None,
        lookahead: int | None = None,
        detect_every: int | None = None,
        workers: int | None = None,
        kind: str = "image",
        **options: Any,
    ) -> None:
        base = settings if settings is not None else load_settings()
        video = {k: v for k, v in dict(linger=linger, lookahead=lookahead, detect_every=detect_every,
                                         workers=workers).items() if v is not None}  # fmt: skip
        self.settings = with_arguments(base, targets, method, mask_scale, mask_pad, video, options, detectors)
        self.kind = kind
        self._given = list(detectors) if detectors is not None else None
        self._counts = _Counts()
        self._twins: dict[str, Anonymizer] = {kind: self}
        self.audit: AuditSink | None = audit
        self._build(self.settings.resolved(kind))

    def _build(self, cfg: Settings) -> None:
        """Detectors, obfuscators and policy from resolved settings."""
        self.targets = tuple(cfg.targets)
        if self._given is not None:
            self.detectors: list[DetectFn] = self._given
        else:
            self.detectors = [create_detector(cfg.target(t).detector or "", **cfg.target(t).detector_options)
                              for t in self.targets]  # fmt: skip
        # One obfuscator per label, so that each keeps its own state (DP-Pix's per-track releases).
        self.obfuscators: dict[str, Obfuscator] = {}
        for t in self.targets:
            chosen = cfg.target(t).method
            self.obfuscators[t] = (chosen if isinstance(chosen, Obfuscator)
                                   else create_obfuscator(str(chosen), **cfg.target(t).method_options))  # fmt: skip
        self.methods: dict[str, str] = {t: getattr(o, "name", type(o).__name__) for t, o in self.obfuscators.items()}
        self.method = "+".join(sorted(set(self.methods.values())))
        self.obfuscator: Obfuscator = self.obfuscators[self.targets[0]]
        labels = {t: (float(cfg.target(t).mask_scale or 0), float(cfg.target(t).mask_pad or 0)) for t in LABELS}
        self.policy = Policy(float(cfg.mask_scale or 0), float(cfg.mask_pad or 0), labels=labels)
        self.linger = cfg.video.linger
        self.lookahead = cfg.video.lookahead
        self.detect_every = cfg.video.detect_every
        self.workers = int(cfg.video.workers or 1)
        # One-core twins for parallel frames; built only where used (each is another session).
        self._single = (
            [d.single_threaded() if isinstance(d, Detector) else d for d in self.detectors]
            if self.workers > 1
            else self.detectors
        )

    @property
    def regions_hidden(self) -> int:
        """Regions hidden so far over video frames and pages (this anonymizer and its twin)."""
        return self._counts.regions_hidden

    @property
    def frames_failed(self) -> int:
        """Video frames written black so far because detection failed on them."""
        return self._counts.frames_failed

    def for_media(self, kind: str) -> Anonymizer:
        """The anonymizer with the same settings and the defaults of `kind` (``image`` or
        ``video``): itself, or a twin built once that shares its audit log and counts."""
        twin = self._twins.get(kind)
        if twin is None:
            twin = object.__new__(Anonymizer)
            twin.__dict__.update(settings=self.settings, kind=kind, _given=self._given, _counts=self._counts,
                                 _twins=self._twins, audit=self.audit)  # fmt: skip
            twin._build(self.settings.resolved(kind))
            self._twins[kind] = twin
        twin.audit = self.audit
        return twin

    def single_threaded(self) -> Anonymizer:
        """The same anonymizer with each detector on one core, for a process that shares the
        machine's cores with others like it (a Ray actor given one CPU). Same regions: the
        networks give the same outputs on one thread as on several."""
        twin = Anonymizer(settings=self.settings, detectors=self._single if self.workers > 1 else
                          [d.single_threaded() if isinstance(d, Detector) else d for d in self.detectors],
                          kind=self.kind)  # fmt: skip
        twin.audit = self.audit
        return twin

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
        return self._paint(pixels, self.policy.apply(regions, h, w))

    def _paint(self, pixels: np.ndarray, shown: Regions) -> np.ndarray:
        """A copy of `pixels` with `shown` (regions within the policy's margins) obfuscated."""
        out = pixels
        for obfuscator, group in self._by_method(shown):
            out = obfuscator.apply(out, group)
        return out.copy() if out is pixels else out

    def hidden_mask(self, regions: Regions, height: int, width: int) -> np.ndarray:
        """The (H, W) bool mask of pixels that `process` replaces for these detections."""
        out = np.zeros((height, width), bool)
        for obfuscator, group in self._by_method(self.policy.apply(regions, height, width)):
            out |= obfuscator.mask(group, height, width)
        return out

    def _distinct_obfuscators(self) -> list[Obfuscator]:
        """Each obfuscator once, though several labels may share one."""
        return list({id(o): o for o in self.obfuscators.values()}.values())

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
        if self.kind != "image":
            return self.for_media("image").image(source, name=name)
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
        return regions.with_boxes(unrotate_boxes(regions.xyxy, k, *frame.shape[:2]))

    def frames(
        self,
        frames: Iterable[Frame],
        *,
        name: str = "<video>",
        lookahead: int | None = None,
        observe: Callable[[Frame, Regions], None] | None = None,
        detections: Mapping[int, Regions | Exception | None] | None = None,
    ) -> Iterator[tuple[Frame, np.ndarray]]:
        """Anonymize a sequence of video frames, yielding ``(frame, pixels)`` in order.

        Detections are tracked across frames (`linger`), the detector runs on every
        `detect_every`-th frame, and up to `lookahead` frames are held back so that a
        face first detected on frame t is hidden on the frames before t as well. A
        frame whose detection fails is yielded black and logged (fail closed).
        `observe` receives each frame's tracked regions (track ids, no pixels), e.g.
        for counting. `detections` holds each frame's detector output by frame index, found
        elsewhere beforehand (`privis.scale.video_split`: pieces of the video on other cores).
        """
        if self.kind != "video":
            yield from self.for_media("video").frames(frames, name=name, lookahead=lookahead, observe=observe,
                                                      detections=detections)  # fmt: skip
            return

        tracker = Tracker(linger=self.linger)
        pending: deque[_Pending] = deque()
        ahead = self.lookahead if lookahead is None else lookahead
        for obfuscator in self._distinct_obfuscators():
            obfuscator.start_video()
        seen, failures = 0, []
        try:
            found_in = self._detections(frames) if detections is None else _looked_up(frames, detections)
            for frame, found, failure in found_in:
                seen += 1
                if failure is not None:
                    failures.append(failure)
                tracked = tracker.update(found, frame.rgb.shape[:2])
                if observe is not None:
                    observe(frame, tracked)
                if ahead and len(tracked) and tracked.data["born"].any():
                    born = tracked[tracked.data["born"]]
                    born = born.without_masks()  # an outline belongs to its own frame; earlier ones get the box
                    for back, item in enumerate(reversed(pending), start=1):
                        item.regions.append(born.expand(1 + tracker.growth * back))
                if ahead and len(tracked):
                    _fill_gaps(tracked, pending, tracker.growth)
                    _extend_back(tracked, pending, tracker.growth)
                pending.append(_Pending(frame, [tracked], failure))
                if len(pending) > ahead:
                    yield self._finish(pending.popleft(), name)
            while pending:
                yield self._finish(pending.popleft(), name)
            if seen and len(failures) == seen:  # a black video is no result: fail it rather than report it done
                raise RuntimeFailure(f"detection failed on all {seen} frames ({failures[0]}); nothing written")
        finally:  # also when a stream is stopped: what each track cost goes on record
            self._record_ledger(name)
            for obfuscator in self._distinct_obfuscators():
                obfuscator.end_video()

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
                yield settle(frame, partial(detect, frame))
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
            self._counts.frames_failed += 1
            return frame, np.zeros_like(frame.rgb)
        h, w = frame.rgb.shape[:2]
        shown = self.policy.apply(regions, h, w)
        for obfuscator in self._distinct_obfuscators():  # methods that learn the scene see every frame
            obfuscator.observe(frame.rgb, shown)
        out = self._paint(frame.rgb, shown)
        self.record(regions, name, frame=frame.index, pts=frame.seconds)
        self._counts.regions_hidden += len(regions)
        return frame, out

    def video(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        keep_metadata: bool = False,
        audio: bool | None = None,
        codec: str | None = None,
        crf: int | None = None,
        name: str | None = None,
        on_frame: Callable[[], None] | None = None,
        detections: Mapping[int, Regions | Exception | None] | None = None,
    ) -> int:
        """Anonymize a video file into `dst`; returns the number of frames written.

        Source timestamps, rotation and audio (unless ``audio=False``) are kept; every
        frame's regions go to the audit log with its index and time. `audio`, `codec`
        and `crf` default to the settings' (``settings.video``); `detections`, found
        beforehand, stand in for running the detectors (`frames`).
        """
        if self.kind != "video":
            twin = self.for_media("video")
            return twin.video(src, dst, overwrite=overwrite, keep_metadata=keep_metadata, audio=audio, codec=codec,
                              crf=crf, name=name, on_frame=on_frame, detections=detections)  # fmt: skip
        from privis.media.video import anonymize_video

        label = name or str(src)
        return anonymize_video(
            src,
            dst,
            lambda frames: self.frames(frames, name=label, detections=detections),
            overwrite=overwrite,
            keep_metadata=keep_metadata,
            audio=self.settings.video.audio if audio is None else audio,
            codec=codec or self.settings.video.codec,
            crf=self.settings.video.crf if crf is None else crf,
            on_frame=on_frame,
        )

    def pages(
        self, pages: Iterable[tuple[np.ndarray, np.ndarray]], name: str, *, detectors: Sequence[DetectFn] | None = None
    ) -> Iterator[np.ndarray]:
        """Each (view, stored) page or still frame detected on its RGB view and hidden in its
        stored pixels, with its index in the audit log, one at a time (image defaults).
        Any failure fails the file: PDF pages and DICOM frames (`privis.media.pdf`, `.dicom`).
        `detectors` stand in for the anonymizer's own (one file's, knowing its header)."""
        if self.kind != "image":
            yield from self.for_media("image").pages(pages, name, detectors=detectors)
            return
        for i, (view, stored) in enumerate(pages):
            regions = self.detect(view, detectors=detectors)
            self.record(regions, name, frame=i)
            self._counts.regions_hidden += len(regions)
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
        viewer: Any | None = None,
    ) -> dict[str, Any]:
        """Anonymize a live source; frames go only to the sinks named, none are stored otherwise.

        `serve` is ``(host, port)`` for an MJPEG page; `record` a video file. Files are
        played at their own rate unless ``realtime=False``; frames that arrive while
        the previous one is still being processed are dropped and counted. Stops at
        the end of the source, after `max_frames` or `max_seconds`, or on Ctrl-C.
        Returns counts: frames processed and dropped, seconds, frames per second.
        `observe` gets each frame's tracked regions (counting); `overlay` draws on the
        anonymized frame before it is served or recorded; `viewer`, any object with
        ``publish(rgb)`` (`privis serve`'s streams), gets each anonymized frame as well.
        """
        if self.kind != "video":
            return self.for_media("video").stream(
                source, serve=serve, record=record, overwrite=overwrite, realtime=realtime, max_frames=max_frames,
                max_seconds=max_seconds, on_ready=on_ready, on_frame=on_frame, observe=observe, overlay=overlay,
                viewer=viewer,
            )  # fmt: skip

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
                        if overlay is not None and (server or recorder or viewer):
                            out = overlay(out)
                        if server:
                            server.publish(out)
                        if viewer is not None:
                            viewer.publish(out)
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


def _looked_up(
    frames: Iterable[Frame], detections: Mapping[int, Regions | Exception | None]
) -> Iterator[tuple[Frame, Regions | None, Exception | None]]:
    """`Anonymizer._detections` for detections found beforehand: a frame they miss fails (black)."""
    for frame in frames:
        found = detections.get(frame.index, KeyError(f"no detections for frame {frame.index}"))
        yield (frame, None, found) if isinstance(found, Exception) else (frame, found, None)


@dataclass
class _Pending:
    """A frame held back for look-ahead, with the regions collected for it so far."""

    frame: Frame
    regions: list[Regions]
    failure: Exception | None = None


def _fill_gaps(tracked: Regions, pending: deque[_Pending], growth: float) -> None:
    """Regions seen again after frames unseen (``data["gap"]``) are hidden on the frames between,
    still held back, along the straight path from where they were last seen (``data["was"]``):
    a small plate on a passing car is found every few frames, and a lingering box stays behind it."""
    again = tracked[tracked.data["gap"] > 1]
    if len(again):
        _hide_on_path(again, again.data["was"], again.data["gap"], pending, growth, beyond=False)


def _extend_back(tracked: Regions, pending: deque[_Pending], growth: float) -> None:
    """Regions seen for the second time (``data["second"]``) are hidden on the held-back frames
    before they were first found, on their path carried back at the pace between the two
    sightings: a plate or face found late, moving fast, was already there and further back
    along its path than the box it was first found in (which those frames hold too)."""
    again = tracked[tracked.data["second"] & (tracked.data["age"] > 0)]
    if len(again):
        _hide_on_path(again, again.data["first"], again.data["age"], pending, growth, beyond=True)


def _hide_on_path(regions: Regions, then: np.ndarray, span: np.ndarray, pending: deque[_Pending], growth: float, *,
                  beyond: bool) -> None:  # fmt: skip
    """Hide `regions`, seen now and at the boxes `then` `span` frames ago, on the held-back frames
    along the straight path through both: between the two sightings, or `beyond` the earlier
    one. Each box grows by `growth` a frame away from the nearer sighting."""
    regions = regions.without_masks()
    pace = (regions.xyxy - then) / span[:, None].astype(np.float32)  # per frame
    for back, item in enumerate(reversed(pending), start=1):
        inside = back > span if beyond else back < span
        if not inside.any():
            if beyond:
                continue
            break  # between the sightings: every older frame is further back still
        away = back - span[inside] if beyond else np.minimum(back, span[inside] - back)
        moved = regions[inside].with_boxes(regions.xyxy[inside] - pace[inside] * back)
        item.regions.append(moved.expand(1 + growth * away))


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
