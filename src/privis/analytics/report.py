"""Reading a counts database back: totals, CSV export and a chart of counts over time (`privis counts`)."""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from privis.errors import PrivisError

COLUMNS = ("bucket_start", "bucket_end", "complete", "source", "kind", "name", "metric", "value", "mechanism",
           "noise_scale", "epsilon", "rho")  # fmt: skip


@dataclass(frozen=True)
class CountRow:
    """One stored number: a metric of a line or zone in one bucket, as it was published."""

    bucket_start: str
    bucket_end: str
    complete: int
    source: str
    kind: str
    name: str
    metric: str
    value: float
    mechanism: str | None
    noise_scale: float | None
    epsilon: float | None
    rho: float | None


def load_counts(
    db: str | Path, *, since: str | None = None, until: str | None = None, source: str | None = None
) -> tuple[list[CountRow], dict[str, Any]]:
    """The rows of a counts database, oldest first, within [since, until) (ISO times) and for
    `source`; and the budget facts: buckets refused, ε spent per day."""
    path = Path(db)
    if not path.is_file():
        raise PrivisError(f"counts database not found: {path}")
    where, args = [], []
    for clause, value in (("bucket_start >= ?", since), ("bucket_start < ?", until), ("source = ?", source)):
        if value is not None:
            where.append(clause)
            args.append(_iso(value) if clause.startswith("bucket") else value)
    query = f"SELECT {', '.join(COLUMNS)} FROM counts" + (" WHERE " + " AND ".join(where) if where else "")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            rows = con.execute(query + " ORDER BY bucket_start, kind, name, metric", args).fetchall()
            refused = con.execute("SELECT COUNT(*) FROM refused").fetchone()[0]
            spent = con.execute("SELECT day, SUM(epsilon) FROM budget GROUP BY day ORDER BY day").fetchall()
    except sqlite3.DatabaseError as exc:
        raise PrivisError(f"{path}: not a privis counts database ({exc})") from None
    budget = {"refused": int(refused), "epsilon_spent": {d: round(float(e), 6) for d, e in spent}}
    return [CountRow(*r) for r in rows], budget


def _iso(text: str) -> str:
    try:
        return datetime.fromisoformat(text).isoformat(timespec="seconds")
    except ValueError:
        raise PrivisError(f"not an ISO date or time: {text!r} (e.g. 2026-11-27 or 2026-11-27T10:00:00+00:00)") from None


def as_number(x: float) -> float | int:
    """An int where the value is whole (raw counts), else rounded to 3 places (noisy or real-valued)."""
    return int(round(x)) if abs(x - round(x)) < 1e-9 else round(x, 3)


def add_to_totals(totals: dict[str, dict[str, dict[str, float]]], kind: str, name: str, metric: str,
                  value: float) -> None:  # fmt: skip
    """Add one published number to running ``{"lines": ..., "zones": ...}`` totals: crossings,
    entries and stays are summed, the most people at once is the largest; a mean has no total."""
    if metric == "mean_occupancy":
        return
    per = totals["lines" if kind == "line" else "zones"].setdefault(name, {})
    if metric == "max_occupancy":
        per[metric] = max(per.get(metric, float("-inf")), value)
    else:
        per[metric] = per.get(metric, 0.0) + value


def totals(rows: list[CountRow]) -> dict[str, Any]:
    """Per line the crossings each way, per zone the most people at once, entries and stays, over all rows.

    Sums of DP-released numbers are themselves released numbers (post-processing) and
    keep their noise; ``dp`` says whether any row was released with noise.
    """
    sums: dict[str, dict[str, dict[str, float]]] = {"lines": {}, "zones": {}}
    buckets = set()
    for r in rows:
        buckets.add((r.bucket_start, r.source))
        add_to_totals(sums, r.kind, r.name, r.metric, r.value)
    lines, zones = sums["lines"], sums["zones"]
    return {
        "buckets": len(buckets),
        "from": rows[0].bucket_start if rows else None,
        "to": rows[-1].bucket_end if rows else None,
        "dp": any(r.mechanism for r in rows),
        "lines": {n: {k: as_number(v) for k, v in per.items()} for n, per in lines.items()},
        "zones": {n: {k: as_number(v) for k, v in per.items()} for n, per in zones.items()},
    }


def write_csv(rows: list[CountRow], path: str | Path) -> None:
    """Every row, one per line, with the noise scale and ε of DP releases."""
    with Path(path).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([getattr(r, c) for c in COLUMNS])


def plot_counts(rows: list[CountRow], path: str | Path) -> None:
    """A PNG of crossings per bucket (each line and direction) and zone occupancy over time."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PrivisError("the chart needs matplotlib: pip install 'privis[learn]'") from exc
    series: dict[str, dict[datetime, float]] = {}
    ends = {datetime.fromisoformat(r.bucket_start): datetime.fromisoformat(r.bucket_end) for r in rows}
    for r in rows:
        if r.kind == "line" or r.metric == "max_occupancy":
            label = f"{r.name} {r.metric}" if r.kind == "line" else f"{r.name} most at once"
            at = datetime.fromisoformat(r.bucket_start)
            series.setdefault(label, {})[at] = series.get(label, {}).get(at, 0.0) + r.value
    if not series:
        raise PrivisError("nothing to plot: the database holds no counts for that selection")
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    for label, points in sorted(series.items()):
        times = sorted(points)
        values = [points[t] for t in times]
        # each bucket drawn over its whole length, the last one too
        edges: Any = [*times, ends[times[-1]]]  # matplotlib takes datetimes; its stubs say arrays
        ax.step(edges, [*values, values[-1]], where="post", label=label, marker=".")
    noisy = " (differentially private)" if any(r.mechanism for r in rows) else ""
    ax.set_title(f"People per bucket{noisy}")
    ax.set_xlabel("bucket start (UTC)")
    ax.set_ylabel("count")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
