"""Live sources for `privis serve`: anonymized in a thread, watched as MJPEG, counted under a DP budget.

The operator names the sources when the service starts (`StreamSpec`; clients cannot open
files or URLs of their choosing). Each `LiveStream` runs `Anonymizer.stream` on its own
thread with a `CountPublisher` when it has lines or zones: only the newest anonymized
frame is kept, as JPEG bytes in memory (`StreamView`), and what leaves for the counts is
what the publisher released per bucket (noisy when a daily ε is set). Nothing is
written but the counts database (the DP budget's ledger) in the service's state folder.

Examples
--------
>>> view = StreamView()
>>> view.publish(np.zeros((8, 8, 3), np.uint8))
>>> seq, jpeg = view.wait(0, timeout=1)
>>> seq, jpeg[:2]
(1, b'\\xff\\xd8')
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError

log = logging.getLogger(__name__)

SERIES_BUCKETS = 1440  # released buckets kept for the chart: a day of one-minute buckets


@dataclass(frozen=True)
class StreamSpec:
    """A live source the service anonymizes and counts.

    `source` is a webcam index, an ``rtsp://`` or ``http://`` URL or a video file (played
    at its own pace; `loop` starts it again at its end). `lines` and `zones` are in the
    ``NAME=x1,y1,x2,y2`` forms of ``privis stream --line/--zone``; `epsilon_per_day` turns
    on DP release of the counts (`epsilon_per_release` each; default: the day's budget spread
    over the day's buckets).
    """

    name: str
    source: str
    lines: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    bucket_seconds: float = 60.0
    epsilon_per_day: float | None = None
    epsilon_per_release: float | None = None
    targets: str | None = None
    loop: bool = False
    realtime: bool | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if not self.name.replace("-", "").replace("_", "").isalnum():
            raise PrivisError(f"a stream name is letters, digits, '-' or '_', got {self.name!r}")


class StreamView:
    """The newest anonymized frame as JPEG, and a way to wait for the next one."""

    def __init__(self, quality: int = 80) -> None:
        self.quality = quality
        self._jpeg = b""
        self._seq = 0
        self._cond = threading.Condition()

    def publish(self, rgb: np.ndarray) -> None:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=self.quality)
        with self._cond:
            self._jpeg, self._seq = buf.getvalue(), self._seq + 1
            self._cond.notify_all()

    def wait(self, after: int, timeout: float = 5.0) -> tuple[int, bytes]:
        """(sequence number, JPEG) of the first frame newer than `after`; the newest one held on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after, timeout=timeout)
            return self._seq, self._jpeg


class _MemorySink:
    """What the publisher released, bucket by bucket, for the live chart (values only)."""

    def __init__(self) -> None:
        self.buckets: deque[dict[str, Any]] = deque(maxlen=SERIES_BUCKETS)
        self._lock = threading.Lock()

    def write(self, bucket: Any, values: Sequence[Any], source: str) -> None:
        row: dict[str, Any] = {"start": bucket.start.isoformat(), "lines": {}, "zones": {}}
        for v in values:
            row["lines" if v.kind == "line" else "zones"].setdefault(v.name, {})[v.metric] = round(float(v.value), 3)
        with self._lock:
            self.buckets.append(row)

    def refused(self, bucket: Any, reason: str, source: str) -> None:
        with self._lock:
            self.buckets.append({"start": bucket.start.isoformat(), "refused": reason})

    def close(self) -> None:
        pass

    def series(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.buckets)


class _Stopped(Exception):
    """Raised from a frame callback to end a stream."""


class LiveStream(threading.Thread):
    """One `StreamSpec` anonymized on its own thread (started by `start`)."""

    def __init__(self, spec: StreamSpec, settings: Any, state: Path | None = None) -> None:
        super().__init__(daemon=True, name=f"privis-stream-{spec.name}")
        from privis.analytics.counting import count_config
        from privis.analytics.dp import DpReleaser
        from privis.analytics.publish import CountPublisher
        from privis.analytics.sinks import SqliteSink

        self.spec = spec
        self.settings = settings
        self.view = StreamView()
        self.state = "starting"
        self.error: str | None = None
        self.frames = 0
        self.started = time.time()
        self._stop = threading.Event()
        self.memory = _MemorySink()
        self.publisher = None
        if spec.lines or spec.zones:
            config = count_config(list(spec.lines), list(spec.zones), bucket_seconds=spec.bucket_seconds)
            sinks: list[Any] = [self.memory]
            releaser = None
            if spec.epsilon_per_day is not None:
                # The day's spending is kept in the state folder, so a restart cannot reset the budget.
                ledger = SqliteSink(Path(state or ".") / f"counts-{spec.name}.sqlite")
                sinks.append(ledger)
                releaser = DpReleaser(spec.epsilon_per_day, epsilon_per_release=spec.epsilon_per_release,
                                      bucket_seconds=config.bucket_seconds, lines=len(config.lines),
                                      zones=len(config.zones), ledger=ledger)  # fmt: skip
            self.publisher = CountPublisher(config, sinks, releaser=releaser, source=spec.name)

    def run(self) -> None:
        from privis.analytics.publish import draw_counting
        from privis.pipeline import Anonymizer

        try:
            anonymizer = Anonymizer(self.spec.targets, settings=self.settings, kind="video")
            if self.publisher is not None and "person" not in anonymizer.targets:
                anonymizer = Anonymizer([*anonymizer.targets, "person"], settings=self.settings, kind="video")
            self.state = "running"
            offset = [0.0, 0.0]  # stream time of the passes before this one, and the last time seen
            publisher = self.publisher

            def observe(frame: Any, regions: Any) -> None:
                offset[1] = frame.seconds
                assert publisher is not None
                publisher.observe(offset[0] + frame.seconds, regions, frame.rgb.shape[:2])

            config = publisher.config if publisher is not None else None

            def overlay(rgb: np.ndarray) -> np.ndarray:
                return draw_counting(rgb, config) if config is not None else rgb

            while not self._stop.is_set():
                options: dict[str, Any] = dict(realtime=self.spec.realtime, on_frame=self._tick, viewer=self.view,
                                               max_frames=self.spec.max_frames)  # fmt: skip
                if publisher is not None:
                    anonymizer.stream(self.spec.source, observe=observe, overlay=overlay, **options)
                else:
                    anonymizer.stream(self.spec.source, **options)
                if not self.spec.loop:
                    break
                offset[0] += offset[1] + 0.1  # a looped file goes on in time, so buckets keep rolling forward
            self.state = "ended"
        except _Stopped:
            self.state = "stopped"
        except PrivisError as exc:
            self.state, self.error = "failed", str(exc).splitlines()[0]
            log.warning("stream %s failed: %s", self.spec.name, self.error)
        except Exception as exc:  # a bug: the stream fails, the service goes on
            self.state, self.error = "failed", "internal error (logged on the server)"
            log.error("stream %s failed: %s: %s", self.spec.name, exc.__class__.__name__, exc)
        finally:
            if self.publisher is not None:
                self.publisher.close()

    def _tick(self) -> None:
        self.frames += 1
        if self._stop.is_set():
            raise _Stopped

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        """What a client may know: state, frames, the released counts per bucket and in total, the DP budget."""
        out: dict[str, Any] = {"name": self.spec.name, "state": self.state, "error": self.error, "frames": self.frames,
                               "since": datetime.fromtimestamp(self.started, UTC).isoformat()}  # fmt: skip
        if self.publisher is None:
            return out
        out["series"] = self.memory.series()
        summary = self.publisher.summary()
        out["totals"] = {"lines": summary["lines"], "zones": summary["zones"]}
        out["buckets"], out["refused"] = summary["buckets"], summary["refused"]
        releaser = self.publisher.releaser
        if releaser is not None:
            spent, _ = releaser.ledger.spent(datetime.now(UTC).date())
            out["dp"] = {**releaser.params(), "epsilon_spent_today": round(spent, 6),
                         "epsilon_left_today": round(max(releaser.epsilon_per_day - spent, 0.0), 6)}  # fmt: skip
        return out
