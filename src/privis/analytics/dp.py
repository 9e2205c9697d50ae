"""Counts released with differential privacy on OpenDP, under a declared budget per day.

Each time bucket's aggregates are released together. What one person (one track) adds
is bounded first: at most `max_crossings` crossings per line and direction, one entry
and one stay per zone, a stay's length clipped at `dwell_clip` seconds, and at most one
to the occupancy of any frame. Each number then gets OpenDP's discrete Laplace noise
(integers; continuous Laplace for the two real-valued ones) or discrete Gaussian noise,
and the privacy loss OpenDP's own map reports is charged to the bucket's UTC day.
Releases compose: the day's total is the sum of its releases (pure ε for Laplace;
zero-concentrated ρ for Gaussian, turned into ε at `delta` for the comparison). A release
that would take the day past `epsilon_per_day` is refused whole: nothing of it leaves.

Examples
--------
>>> releaser = DpReleaser(epsilon_per_day=1.0, epsilon_per_release=0.5)
>>> releaser.noise_scale("line", "forward")   # 2 numbers per line: 0.25 each, sensitivity 1
4.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from privis.analytics.counting import Bucket
from privis.errors import PrivisError

MECHANISMS = ("laplace", "gaussian")
LINE_METRICS = ("forward", "backward")
ZONE_METRICS = ("max_occupancy", "mean_occupancy", "entries", "dwell_count", "dwell_seconds")
REAL_METRICS = ("mean_occupancy", "dwell_seconds")


class BudgetExceededError(PrivisError):
    """A release would spend more than the day's privacy budget; it was not made."""


@dataclass(frozen=True)
class Value:
    """One number of one bucket as it leaves the process, with what its release cost.

    `mechanism`, `noise_scale` and `epsilon` are None for raw (non-private) counts;
    `rho` is set for Gaussian releases (zero-concentrated DP).
    """

    kind: str  # "line" or "zone"
    name: str
    metric: str
    value: float
    mechanism: str | None = None
    noise_scale: float | None = None
    epsilon: float | None = None
    rho: float | None = None


def raw_values(bucket: Bucket) -> list[Value]:
    """The bucket's aggregates without noise (only where DP release is off)."""
    totals = bucket.totals()
    out = [Value("line", n, m, float(v)) for n, per in totals["lines"].items() for m, v in per.items()]
    out += [Value("zone", n, m, float(v)) for n, per in totals["zones"].items() for m, v in per.items()]
    return out


class Ledger(Protocol):
    """Where spent budget is kept (in memory, or beside the counts in SQLite, surviving restarts)."""

    def spent(self, day: date) -> tuple[float, float]:
        """(ε, ρ) already spent on `day`."""

    def charge(self, day: date, epsilon: float, rho: float) -> None:
        """Add a release's cost to `day`."""


class MemoryLedger:
    """A `Ledger` that lives as long as the process."""

    def __init__(self) -> None:
        self._days: dict[date, tuple[float, float]] = {}

    def spent(self, day: date) -> tuple[float, float]:
        return self._days.get(day, (0.0, 0.0))

    def charge(self, day: date, epsilon: float, rho: float) -> None:
        eps, r = self.spent(day)
        self._days[day] = (eps + epsilon, r + rho)


def rho_for_epsilon(epsilon: float, delta: float) -> float:
    """The largest ρ whose zCDP guarantee gives (ε, δ)-DP: ε = ρ + 2·sqrt(ρ·ln(1/δ)).

    >>> round(rho_for_epsilon(1.0, 1e-6), 5)
    0.01747
    """
    log = math.log(1 / delta)
    return (math.sqrt(log + epsilon) - math.sqrt(log)) ** 2


class DpReleaser:
    """Adds calibrated noise to each bucket's counts and keeps the day's budget.

    Parameters
    ----------
    epsilon_per_day : float
        Total privacy loss allowed per UTC day, over every release of that day.
    epsilon_per_release : float, optional
        What one bucket's release may spend, split evenly over its numbers. Default:
        the day's budget spread over the day's buckets (`bucket_seconds`).
    mechanism : {'laplace', 'gaussian'}, default 'laplace'
    delta : float, default 1e-6
        Gaussian only: the δ at which the day's ρ is compared with `epsilon_per_day`.
    max_crossings : int, default 1
        Crossings of one line in one direction that one person can add to a bucket.
    dwell_clip : float, default 600
        Longest stay, in seconds, one person adds to a zone's dwell time.
    ledger : Ledger, optional
        Where spending is kept (default: in memory).
    """

    def __init__(
        self,
        epsilon_per_day: float,
        *,
        epsilon_per_release: float | None = None,
        mechanism: str = "laplace",
        delta: float = 1e-6,
        max_crossings: int = 1,
        dwell_clip: float = 600.0,
        bucket_seconds: float = 60.0,
        lines: int = 1,
        zones: int = 0,
        ledger: Ledger | None = None,
    ) -> None:
        if not epsilon_per_day > 0:
            raise PrivisError(f"epsilon per day must be > 0, got {epsilon_per_day}")
        if mechanism not in MECHANISMS:
            raise PrivisError(f"DP mechanism must be one of {MECHANISMS}, got {mechanism!r}")
        if not 0 < delta < 1:
            raise PrivisError(f"delta must be in (0, 1), got {delta}")
        if max_crossings < 1 or dwell_clip <= 0:
            raise PrivisError(f"max_crossings must be >= 1 and dwell_clip > 0, got {max_crossings}, {dwell_clip}")
        per_day = max(int(86400 // bucket_seconds), 1)
        self.epsilon_per_day = float(epsilon_per_day)
        self.epsilon_per_release = float(epsilon_per_release or epsilon_per_day / per_day)
        if not 0 < self.epsilon_per_release <= self.epsilon_per_day:
            raise PrivisError(
                f"epsilon per release must be in (0, epsilon per day = {epsilon_per_day}], got {epsilon_per_release}"
            )
        self.mechanism, self.delta = mechanism, float(delta)
        self.max_crossings, self.dwell_clip = int(max_crossings), float(dwell_clip)
        self.numbers = len(LINE_METRICS) * lines + len(ZONE_METRICS) * zones
        if not self.numbers:
            raise PrivisError("nothing to release: no line and no zone")
        self.ledger: Ledger = ledger or MemoryLedger()
        self._measurements: dict[tuple[str, str], Any] = {}

    def params(self) -> dict[str, Any]:
        """The settings, for reports and the database."""
        return {
            "mechanism": self.mechanism,
            "epsilon_per_day": self.epsilon_per_day,
            "epsilon_per_release": self.epsilon_per_release,
            "delta": self.delta if self.mechanism == "gaussian" else None,
            "max_crossings": self.max_crossings,
            "dwell_clip": self.dwell_clip,
        }

    def sensitivity(self, kind: str, metric: str) -> float:
        """How much one person can change this number of one bucket, after bounding."""
        if kind == "line":
            return float(self.max_crossings)
        return self.dwell_clip if metric == "dwell_seconds" else 1.0

    def noise_scale(self, kind: str, metric: str) -> float:
        """Scale of the noise on one number: Laplace b, or Gaussian σ."""
        share = self.epsilon_per_release / self.numbers
        if self.mechanism == "laplace":
            return self.sensitivity(kind, metric) / share
        rho = rho_for_epsilon(self.epsilon_per_day, self.delta) * share / self.epsilon_per_day
        return self.sensitivity(kind, metric) / math.sqrt(2 * rho)

    def measurement(self, kind: str, metric: str) -> Any:
        """The OpenDP measurement that releases this number (built once)."""
        key = (kind, metric)
        if key not in self._measurements:
            import opendp.prelude as dp

            dp.enable_features("contrib")
            real = metric in REAL_METRICS
            domain = dp.atom_domain(T=float, nan=False) if real else dp.atom_domain(T=int)
            metric_space = dp.absolute_distance(T=float if real else int)
            make = dp.m.make_laplace if self.mechanism == "laplace" else dp.m.make_gaussian
            self._measurements[key] = make(domain, metric_space, scale=self.noise_scale(kind, metric))
        return self._measurements[key]

    def cost(self, kind: str, metric: str) -> float:
        """The privacy loss of releasing one number, as OpenDP's map states it (ε, or ρ for Gaussian)."""
        sensitivity = self.sensitivity(kind, metric)
        d_in = sensitivity if metric in REAL_METRICS else int(math.ceil(sensitivity))
        return float(self.measurement(kind, metric).map(d_in))

    def release(self, bucket: Bucket) -> list[Value]:
        """The bucket's numbers with noise; raises `BudgetExceededError` (releasing nothing) when over budget."""
        bounded = self.bounded(bucket)
        costs = [self.cost(kind, metric) for kind, _, metric, _ in bounded]
        day = bucket.start.date()
        eps_spent, rho_spent = self.ledger.spent(day)
        if self.mechanism == "laplace":
            eps_cost, rho_cost = sum(costs), 0.0
            over = eps_spent + eps_cost > self.epsilon_per_day * (1 + 1e-9)
        else:
            eps_cost, rho_cost = self.epsilon_per_release, sum(costs)
            over = rho_spent + rho_cost > rho_for_epsilon(self.epsilon_per_day, self.delta) * (1 + 1e-9)
        if over:
            raise BudgetExceededError(
                f"releasing the bucket of {bucket.start.isoformat()} would spend ε {eps_spent + eps_cost:.4g} of "
                f"{self.epsilon_per_day:g} for {day.isoformat()}; refused, nothing released"
            )
        self.ledger.charge(day, eps_cost, rho_cost)
        out = []
        for (kind, name, metric, value), cost in zip(bounded, costs, strict=True):
            noisy = self.measurement(kind, metric)(float(value) if metric in REAL_METRICS else int(value))
            out.append(
                Value(
                    kind, name, metric, float(noisy), self.mechanism, self.noise_scale(kind, metric),
                    epsilon=cost if self.mechanism == "laplace" else self.epsilon_per_release / self.numbers,
                    rho=cost if self.mechanism == "gaussian" else None,
                )
            )  # fmt: skip
        return out

    def bounded(self, bucket: Bucket) -> list[tuple[str, str, str, float]]:
        """The bucket's numbers with each person's contribution bounded (before noise)."""
        out: list[tuple[str, str, str, float]] = []
        for name, directions in bucket.crossings.items():
            for metric in LINE_METRICS:
                out.append(("line", name, metric, sum(min(c, self.max_crossings) for c in directions[metric].values())))
        for name, counts in bucket.present.items():
            stays = _per_track_stays(bucket.dwells.get(name, []), self.dwell_clip)
            numbers = {
                "max_occupancy": max(counts, default=0),
                "mean_occupancy": sum(counts) / len(counts) if counts else 0.0,
                "entries": len(bucket.entries.get(name, ())),
                "dwell_count": len(stays),
                "dwell_seconds": sum(stays.values()),
            }
            out += [("zone", name, metric, numbers[metric]) for metric in ZONE_METRICS]
        return out


def _per_track_stays(stays: Iterable[tuple[int, float]], clip: float) -> dict[int, float]:
    """One stay per person (their stays summed), clipped at `clip` seconds."""
    per: dict[int, float] = {}
    for track, seconds in stays:
        per[track] = per.get(track, 0.0) + seconds
    return {t: min(s, clip) for t, s in per.items()}
