"""`CountPublisher`: person tracks in, per-bucket aggregates out to the sinks, raw or DP-released.

It is the one object `privis stream --count` hands frames' tracks to: the counter turns
them into buckets, the releaser (when DP is on) adds noise and keeps the budget, the
sinks store or serve what was released. With DP on, raw counts exist only inside it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from privis.analytics.counting import Bucket, CountConfig, PeopleCounter
from privis.analytics.dp import BudgetExceededError, DpReleaser, raw_values
from privis.analytics.report import add_to_totals, as_number
from privis.analytics.sinks import open_sinks
from privis.errors import PrivisError
from privis.regions import Regions

log = logging.getLogger(__name__)

DEFAULT_DB = "privis-counts.sqlite"  # where counts go when no sink is named


class CountPublisher:
    """Counts people from tracks and publishes each finished bucket.

    Parameters
    ----------
    config : CountConfig
    sinks : sequence of sinks
        Each gets `write(bucket, values, source)` and `refused(bucket, reason, source)`.
    releaser : DpReleaser, optional
        Releases with differential privacy; without it, raw counts are published.
    source : str
        Name of the camera or file, stored with every row.
    start : datetime, optional
        Wall-clock time of stream time 0 (default: now).
    """

    def __init__(
        self,
        config: CountConfig,
        sinks: Sequence[Any],
        *,
        releaser: DpReleaser | None = None,
        source: str = "",
        start: datetime | None = None,
    ) -> None:
        self.config = config
        self.counter = PeopleCounter(config, start=start)
        self.sinks = list(sinks)
        self.releaser = releaser
        self.source = source
        self.released = 0
        self.refused = 0
        self._totals: dict[str, Any] = {"lines": {}, "zones": {}}
        self._last_seconds = 0.0

    @classmethod
    def open(
        cls,
        config: CountConfig,
        *,
        source: str = "",
        db: str | os.PathLike[str] | None = None,
        jsonl: str | os.PathLike[str] | None = None,
        metrics: tuple[str, int] | None = None,
        epsilon_per_day: float | None = None,
        epsilon_per_release: float | None = None,
        mechanism: str = "laplace",
        delta: float = 1e-6,
    ) -> CountPublisher:
        """A publisher with its sinks opened (``DEFAULT_DB`` when none is named) and, when
        `epsilon_per_day` is given, a DP releaser whose budget ledger is the database."""
        if epsilon_per_release is not None and epsilon_per_day is None:
            raise PrivisError("a per-release ε needs a daily budget (epsilon_per_day) to be taken from")
        if db is None and jsonl is None and metrics is None:
            db = Path(DEFAULT_DB)
        sinks = open_sinks(db, jsonl, metrics)
        releaser = None
        if epsilon_per_day is not None:
            ledger = next((s for s in sinks if hasattr(s, "charge")), None)
            releaser = DpReleaser(
                epsilon_per_day, epsilon_per_release=epsilon_per_release, mechanism=mechanism, delta=delta,
                bucket_seconds=config.bucket_seconds, lines=len(config.lines), zones=len(config.zones), ledger=ledger,
            )  # fmt: skip
        return cls(config, sinks, releaser=releaser, source=source)

    def observe(self, seconds: float, regions: Regions, size: tuple[int, int] | None = None) -> None:
        """One frame's tracked regions at stream time `seconds`, in a frame of (height, width) `size`."""
        self._last_seconds = seconds
        for bucket in self.counter.update(seconds, regions, size):
            self._publish(bucket)

    def close(self) -> dict[str, Any]:
        """Publish the last (partial) bucket, close the sinks; returns what was published in total."""
        try:
            for bucket in self.counter.close(self._last_seconds):
                self._publish(bucket)
        finally:
            for sink in self.sinks:
                sink.close()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """Totals of what was published (DP-released values when DP is on), and the release counts."""
        rounded = {kind: {name: {m: as_number(v) for m, v in per.items()} for name, per in groups.items()}
                   for kind, groups in self._totals.items()}  # fmt: skip
        out: dict[str, Any] = {**rounded, "buckets": self.released, "refused": self.refused}
        if self.releaser is not None:
            out["dp"] = self.releaser.params()
        return out

    def _publish(self, bucket: Bucket) -> None:
        try:
            values = self.releaser.release(bucket) if self.releaser else raw_values(bucket)
        except BudgetExceededError as exc:
            log.warning("%s", exc)
            self.refused += 1
            for sink in self.sinks:
                sink.refused(bucket, str(exc), self.source)
            return
        self.released += 1
        for sink in self.sinks:
            sink.write(bucket, values, self.source)
        for v in values:
            add_to_totals(self._totals, v.kind, v.name, v.metric, v.value)


def draw_counting(rgb: np.ndarray, config: CountConfig) -> np.ndarray:
    """The frame with the lines (an arrow shows forward) and zones drawn, for the live preview."""
    import cv2

    out = np.array(rgb, copy=True, order="C")  # the caller keeps its frame as it was
    for zone in config.zones:
        pts = np.asarray(zone.points, np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, (0, 200, 255), 2)
        corner = (int(pts[0, 0, 0]) + 4, max(int(pts[0, 0, 1]) + 18, 18))
        cv2.putText(out, zone.name, corner, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 255), 2)
    for line in config.lines:
        a, b = (int(line.x1), int(line.y1)), (int(line.x2), int(line.y2))
        cv2.line(out, a, b, (255, 220, 0), 2)
        mid = np.array([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2])
        normal = np.array([line.y2 - line.y1, line.x1 - line.x2]) / line.length
        tip = mid + 30 * normal
        cv2.arrowedLine(out, tuple(mid.astype(int)), tuple(tip.astype(int)), (255, 220, 0), 2, tipLength=0.3)
        label = (min(max(a[0] + 4, 0), out.shape[1] - 40), min(max(a[1] + 18, 18), out.shape[0] - 4))
        cv2.putText(out, line.name, label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 220, 0), 2)
    return out


def run_counting(anonymizer: Any, source: str, publisher: CountPublisher, **stream: Any) -> dict[str, Any]:
    """Stream `source` through `anonymizer` (`Anonymizer.stream` options in `stream`), each
    frame's person tracks to `publisher`; the stream's figures, with the published totals
    under ``counts``. The publisher is closed at the end, and any preview shows the lines
    and zones. With DP on, how many regions were hidden (a raw count) is left out."""
    try:
        report = anonymizer.stream(
            source,
            observe=lambda frame, regions: publisher.observe(frame.seconds, regions, frame.rgb.shape[:2]),
            overlay=lambda rgb: draw_counting(rgb, publisher.config),
            **stream,
        )
    finally:
        totals = publisher.close()
    report["counts"] = totals
    if "dp" in totals:
        report.pop("regions")
    return report
