"""Where counts go: an SQLite database (the default), JSON lines, or a Prometheus ``/metrics`` endpoint.

Every sink receives, per time bucket, only `Value` rows: aggregates, raw or released
with differential privacy, with their noise scale and ε beside them. No sink ever sees
a frame. The SQLite database also keeps the DP budget ledger, so that a restarted
stream cannot spend a day's budget twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from privis.analytics.counting import Bucket
from privis.analytics.dp import Value
from privis.errors import PrivisError
from privis.hosts import url_host, warn_if_exposed

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    bucket_start TEXT NOT NULL,
    bucket_end TEXT NOT NULL,
    complete INTEGER NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    mechanism TEXT,
    noise_scale REAL,
    epsilon REAL,
    rho REAL
);
CREATE INDEX IF NOT EXISTS counts_time ON counts (bucket_start);
CREATE TABLE IF NOT EXISTS refused (
    bucket_start TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS budget (
    day TEXT NOT NULL,
    released_at TEXT NOT NULL,
    epsilon REAL NOT NULL,
    rho REAL NOT NULL
);
"""


class Sink(Protocol):
    """Receives each bucket's values (and refusals); `close` at the end of the stream."""

    def write(self, bucket: Bucket, values: Sequence[Value], source: str) -> None: ...

    def refused(self, bucket: Bucket, reason: str, source: str) -> None: ...

    def close(self) -> None: ...


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


class SqliteSink:
    """Counts in an SQLite file (table ``counts``, one row per number), and the DP ledger (``budget``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.is_dir():
            raise PrivisError(f"folder for the counts database not found: {self.path.parent}")
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise PrivisError(f"{self.path}: not a privis counts database ({exc})") from None
        self._lock = threading.Lock()

    def write(self, bucket: Bucket, values: Sequence[Value], source: str) -> None:
        rows = [
            (_iso(bucket.start), _iso(bucket.end), int(bucket.complete), source, v.kind, v.name, v.metric, v.value,
             v.mechanism, v.noise_scale, v.epsilon, v.rho)
            for v in values
        ]  # fmt: skip
        with self._lock, self._db:
            self._db.executemany("INSERT INTO counts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def refused(self, bucket: Bucket, reason: str, source: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT INTO refused VALUES (?,?,?)", (_iso(bucket.start), source, reason))

    # The DP ledger (privis.analytics.dp.Ledger), kept beside the counts.
    def spent(self, day: date) -> tuple[float, float]:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(rho), 0) FROM budget WHERE day = ?", (day.isoformat(),)
            ).fetchone()
        return float(row[0]), float(row[1])

    def charge(self, day: date, epsilon: float, rho: float) -> None:
        now = _iso(datetime.now(UTC))
        with self._lock, self._db:
            self._db.execute("INSERT INTO budget VALUES (?,?,?,?)", (day.isoformat(), now, epsilon, rho))

    def close(self) -> None:
        self._db.close()


class JsonlSink:
    """One JSON object per bucket, appended to a file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._fh = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise PrivisError(f"cannot write counts to {self.path}: {exc.strerror}") from None

    def write(self, bucket: Bucket, values: Sequence[Value], source: str) -> None:
        record = {
            "start": _iso(bucket.start), "end": _iso(bucket.end), "complete": bucket.complete, "source": source,
            "values": [{k: v for k, v in vars(x).items() if v is not None} for x in values],
        }  # fmt: skip
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()

    def refused(self, bucket: Bucket, reason: str, source: str) -> None:
        self._fh.write(json.dumps({"start": _iso(bucket.start), "source": source, "refused": reason}) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class PrometheusSink:
    """A ``/metrics`` endpoint (Prometheus text format) holding the last bucket's values.

    Gauges: ``privis_line_crossings{line, direction}``, ``privis_zone{zone, metric}``,
    ``privis_bucket_end_seconds`` and, under DP, ``privis_noise_scale{...}``.
    """

    def __init__(self, host: str, port: int) -> None:
        try:
            from prometheus_client import CollectorRegistry, Gauge, start_http_server
        except ImportError as exc:
            raise PrivisError("the /metrics endpoint needs prometheus-client: pip install 'privis[server]'") from exc
        self.registry = CollectorRegistry()
        self._lines = Gauge("privis_line_crossings", "Crossings in the last bucket", ["line", "direction"],
                            registry=self.registry)  # fmt: skip
        self._zones = Gauge("privis_zone", "Zone aggregates of the last bucket", ["zone", "metric"],
                            registry=self.registry)  # fmt: skip
        self._scale = Gauge("privis_noise_scale", "Noise scale of each DP-released number", ["name", "metric"],
                            registry=self.registry)  # fmt: skip
        self._end = Gauge("privis_bucket_end_seconds", "End of the last released bucket (Unix time)",
                          registry=self.registry)  # fmt: skip
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise PrivisError(f"cannot serve /metrics on {host}:{port}: {exc.strerror}") from None
        self.url = f"http://{url_host(host)}:{self._server.server_port}/metrics"
        warn_if_exposed(host, f"/metrics ({self.url})")

    def write(self, bucket: Bucket, values: Sequence[Value], source: str) -> None:
        for v in values:
            if v.kind == "line":
                self._lines.labels(v.name, v.metric).set(v.value)
            else:
                self._zones.labels(v.name, v.metric).set(v.value)
            if v.noise_scale is not None:
                self._scale.labels(v.name, v.metric).set(v.noise_scale)
        self._end.set(bucket.end.timestamp())

    def refused(self, bucket: Bucket, reason: str, source: str) -> None:
        return None  # nothing is released, so the gauges keep the last released values

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def open_sinks(
    db: str | os.PathLike[str] | None,
    jsonl: str | os.PathLike[str] | None = None,
    metrics: tuple[str, int] | None = None,
) -> list[Any]:
    """The sinks asked for, in that order; closes those already open if one fails."""
    sinks: list[Any] = []
    try:
        if db is not None:
            sinks.append(SqliteSink(Path(db)))
        if jsonl is not None:
            sinks.append(JsonlSink(Path(jsonl)))
        if metrics is not None:
            sinks.append(PrometheusSink(*metrics))
    except Exception:
        for sink in sinks:
            sink.close()
        raise
    return sinks
