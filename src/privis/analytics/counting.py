"""People counting from person tracks: line crossings per direction, zone occupancy and dwell time.

A camera becomes numbers: `PeopleCounter` takes each frame's tracked person regions
(the person detector plus `Tracker`) and keeps, per time bucket, how many tracks crossed
each line in each direction, how many stood in each zone (most at once, on average),
how many entered it and how long the ones that left had stayed. Buckets hold each
track's contribution, not only the sums, so that `privis.analytics.dp` can bound what
one person adds before it adds noise. Nothing here holds a pixel.

Examples
--------
>>> from datetime import datetime, timezone
>>> from privis.regions import Regions
>>> config = CountConfig(lines=(parse_line("door=100,0,100,200"),), bucket_seconds=60)
>>> counter = PeopleCounter(config, start=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> for t, x in enumerate([60, 80, 95, 110, 130]):   # one person walking left to right
...     _ = counter.update(float(t), Regions([[x - 10, 50, x + 10, 150]], label=["person"], track_id=[1]))
>>> [b.totals()["lines"] for b in counter.close()]
[{'door': {'forward': 1, 'backward': 0}}]
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.regions import EDGE_SHARE, Regions, touches_edge

log = logging.getLogger(__name__)
ANCHORS = ("bottom", "center")
SWAY = 0.25  # of a person's width: going no further past a line and back is a sway, not a step (recross_seconds)
MOTION_BOXES = 5  # the first seen boxes give a track's motion as it comes into view
# ... and those of its last MOTION_SECONDS (at least MOTION_MIN) as it leaves: five at 10 fps, and
# with frames dropped no more than that time, so someone who stood and then walked off moves at
# their walking pace, not their mean since they stood
MOTION_SECONDS, MOTION_MIN = 0.4, 3


def _time_to_leave(box: np.ndarray, velocity: np.ndarray, size: tuple[int, int], limit: float) -> float | None:
    """Seconds until `box`, moving at `velocity` (px/s of x1, y1, x2, y2), is wholly out of the
    frame. A box cut by a side it moves towards goes out through it (at most `limit` seconds
    on); any other box must be out through some side within `limit`, else None (it stopped,
    or was lost in the open)."""
    h, w = size
    mx, my = EDGE_SHARE * w, EDGE_SHARE * h
    ways = [  # (touches that side, moves towards it, seconds until wholly past it)
        (box[0] <= mx, velocity[2] < 0, box[2] / -velocity[2] if velocity[2] < 0 else 0.0),
        (box[2] >= w - mx, velocity[0] > 0, (w - box[0]) / velocity[0] if velocity[0] > 0 else 0.0),
        (box[1] <= my, velocity[3] < 0, box[3] / -velocity[3] if velocity[3] < 0 else 0.0),
        (box[3] >= h - my, velocity[1] > 0, (h - box[1]) / velocity[1] if velocity[1] > 0 else 0.0),
    ]
    through_edge = [t for touches, towards, t in ways if touches and towards]
    if through_edge:
        return min(min(through_edge), limit)
    soon = [t for _, towards, t in ways if towards and t <= limit]
    return min(soon) if soon else None


def _fit(boxes: Sequence[tuple[float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray] | None:
    """Timed boxes stacked, and their motion per second from a straight-line fit; None
    without two different times."""
    if len(boxes) < 2 or boxes[-1][0] - boxes[0][0] <= 0:
        return None
    times = np.array([t for t, _ in boxes])
    coords = np.stack([b for _, b in boxes])
    return coords, np.polyfit(times - times[0], coords, 1)[0]


def _end_stays(bucket: Bucket, track: int, stays: dict[str, float], left: float) -> None:
    """Record `track`'s stays (zone: time entered) as ended at `left`."""
    for zone, entered in stays.items():
        bucket.dwells.setdefault(zone, []).append((track, max(left - entered, 0.0)))


def _heads(people: Regions) -> np.ndarray:
    """Each person's head as (x, y): the middle of the top tenth of their outline, or of their
    box's top where they have no outline."""
    boxes = people.xyxy.astype(float)
    heads = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 1]], axis=1)
    if people.mask is None:
        return heads
    for k, mask in enumerate(people.mask):
        if mask is None:
            continue
        rows = np.flatnonzero(mask.any(axis=1))
        if len(rows):
            top = rows[0]
            cols = np.nonzero(mask[top : top + max(3, (rows[-1] - top) // 10)])[1]
            heads[k] = (cols.mean(), top)
    return heads


@dataclass
class _Path:
    """A track's first seen boxes and its latest ones, each with its time; a box is held as
    (x1, y1, x2, y2, head x, head y), its head being the top of the person's outline."""

    first: list[tuple[float, np.ndarray]] = field(default_factory=list)
    last: list[tuple[float, np.ndarray]] = field(default_factory=list)
    entered: bool = False

    def add(self, seconds: float, box: np.ndarray) -> None:
        if len(self.first) < MOTION_BOXES:
            self.first.append((seconds, box))
        self.last.append((seconds, box))
        while len(self.last) > MOTION_MIN and seconds - self.last[0][0] > MOTION_SECONDS + 1e-6:
            del self.last[0]


@dataclass
class _Lost:
    """A track the tracker gave up on in the open: when it was last seen, its anchor then and
    its motion (px/s), its size, its side of each line, and its open stays (zone: time entered)."""

    seconds: float
    anchor: np.ndarray
    velocity: np.ndarray
    reach: float
    sides: dict[str, int]
    stays: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    """A counting line from (x1, y1) to (x2, y2) in image pixels (y down).

    ``forward`` is a crossing in the direction of the vector (y2 - y1, x1 - x2): for a
    line drawn from top to bottom, from left to right.
    """

    name: str
    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if self.length == 0:
            raise PrivisError(f"line {self.name!r} has no length: its two ends are the same point")

    @property
    def length(self) -> float:
        return math.hypot(self.x2 - self.x1, self.y2 - self.y1)

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance of each (x, y) point from the line, positive on the forward side."""
        normal = np.array([self.y2 - self.y1, self.x1 - self.x2]) / self.length
        return (np.asarray(points, float) - [self.x1, self.y1]) @ normal

    def reach(self, size: tuple[int, int]) -> tuple[float, float]:
        """The stretch of the line, in `along` units, that a path carried beyond a frame of
        (height, width) `size` can cross: an end drawn to the frame's side goes on past it
        (the line divides the whole view), any other end stops where it is drawn.

        >>> Line("x", 200, 0, 200, 432).reach((432, 768))
        (-inf, inf)
        >>> Line("door", 200, 100, 200, 300).reach((432, 768))
        (0.0, 200.0)
        """
        h, w = size
        ends = []
        for x, y in ((self.x1, self.y1), (self.x2, self.y2)):
            ends.append(bool(x <= EDGE_SHARE * w or y <= EDGE_SHARE * h or x >= w * (1 - EDGE_SHARE)
                             or y >= h * (1 - EDGE_SHARE)))  # fmt: skip
        return (-math.inf if ends[0] else 0.0), (math.inf if ends[1] else self.length)

    def along(self, points: np.ndarray) -> np.ndarray:
        """Position of each point's projection along the line, 0 at its start and `length` at its end."""
        direction = np.array([self.x2 - self.x1, self.y2 - self.y1]) / self.length
        return (np.asarray(points, float) - [self.x1, self.y1]) @ direction


@dataclass(frozen=True)
class Zone:
    """A polygon of three or more (x, y) vertices in image pixels."""

    name: str
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise PrivisError(f"zone {self.name!r} needs at least 3 points, got {len(self.points)}")

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each (x, y) point lies inside the polygon (even-odd rule)."""
        pts = np.asarray(points, float).reshape(-1, 2)
        poly = np.asarray(self.points, float)
        x, y = pts[:, :1], pts[:, 1:]
        xa, ya = poly[:, 0], poly[:, 1]
        xb, yb = np.roll(xa, -1), np.roll(ya, -1)
        straddles = (ya > y) != (yb > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_x = xa + (y - ya) * (xb - xa) / (yb - ya)
        return ((straddles & (x < cross_x)).sum(axis=1) % 2).astype(bool)

    def near(self, points: np.ndarray, margin: float) -> np.ndarray:
        """Whether each (x, y) point lies inside the polygon or within `margin` pixels of its edge."""
        pts = np.asarray(points, float).reshape(-1, 2)
        poly = np.asarray(self.points, float)
        a, b = poly, np.roll(poly, -1, axis=0)
        ab = b - a
        t = np.clip(((pts[:, None, :] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
        gap = np.linalg.norm(pts[:, None, :] - (a + t[..., None] * ab), axis=-1).min(axis=1)
        return self.contains(pts) | (gap <= margin)


@dataclass(frozen=True)
class CountConfig:
    """What to count and how.

    Parameters
    ----------
    lines, zones : tuple of `Line` and `Zone`
    bucket_seconds : float, default 60
        Length of one time bucket; only aggregates per bucket leave the counter.
    anchor : {'bottom', 'center'}, default 'bottom'
        The point of a person that is counted: the middle of the box's bottom edge (the
        feet, on the floor) or the box's centre (cameras that see people from above).
    hysteresis : float, default 10
        Pixels a person must move beyond a line before a crossing counts, or out of a
        zone before their stay ends, so that someone standing on the edge is not counted
        back and forth.
    recross_seconds : float, default 2
        A person who crosses back over a line within this many seconds of crossing it,
        having gone no further past it than a quarter of their width, takes that crossing
        back rather than count once each way: someone who stands on the line and sways
        over it, or whose box swings over it as they turn or reach out, has not gone
        through. One who walks on past it, or comes back later, counts both ways. 0
        counts every crossing.
    edge_seconds : float, default 2
        A track that starts at the frame's edge came into view there, and one that ends
        at it, or moving fast enough to be out of view within this many seconds, went out:
        its motion over its first or last seen boxes is carried back to where it came in,
        or on to where it leaves (at most this many seconds), and the lines on that path
        count as crossed. The detector finds a person some frames after the head enters
        and loses them before the feet leave, more so when frames are dropped. Someone
        who comes in through the bottom is carried back by their head (the top of their
        outline), which is what came into view first. 0 turns it off.
    gap_seconds : float, default 2
        A track the tracker loses in the open (not on its way out of view) and one that
        starts in the open within this many seconds, within one of the first's box sizes of
        where its motion would have taken it, are one person seen again: someone who walked
        behind a pillar or a sign, or behind another person. The second takes the first's
        side of each line, so that a line passed while unseen counts once, and its stay in
        a zone it is still in goes on (one entry, the time unseen included); a stay that no
        track continues ends when the person was last seen. 0 turns it off.
    """

    lines: tuple[Line, ...] = ()
    zones: tuple[Zone, ...] = ()
    bucket_seconds: float = 60.0
    anchor: str = "bottom"
    hysteresis: float = 10.0
    recross_seconds: float = 2.0
    edge_seconds: float = 2.0
    gap_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not self.lines and not self.zones:
            raise PrivisError("nothing to count: give at least one line or zone (or a counting config file)")
        names = [x.name for x in self.lines] + [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise PrivisError(f"line and zone names must differ, got {names}")
        if not self.bucket_seconds > 0:
            raise PrivisError(f"bucket must be > 0 seconds, got {self.bucket_seconds}")
        if self.anchor not in ANCHORS:
            raise PrivisError(f"anchor must be one of {ANCHORS}, got {self.anchor!r}")
        if self.hysteresis < 0:
            raise PrivisError(f"hysteresis must be >= 0, got {self.hysteresis}")
        if self.recross_seconds < 0:
            raise PrivisError(f"recross_seconds must be >= 0, got {self.recross_seconds}")
        if self.edge_seconds < 0:
            raise PrivisError(f"edge_seconds must be >= 0, got {self.edge_seconds}")
        if self.gap_seconds < 0:
            raise PrivisError(f"gap_seconds must be >= 0, got {self.gap_seconds}")


def _numbers(text: str, what: str) -> tuple[str | None, list[float]]:
    name, _, values = text.rpartition("=")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise PrivisError(f"{what} {text!r}: expected [NAME=]x1,y1,x2,y2,... in pixels") from None
    return (name.strip() or None), numbers


def parse_line(text: str, default_name: str = "line") -> Line:
    """``"x1,y1,x2,y2"`` or ``"NAME=x1,y1,x2,y2"`` (pixels) as a `Line`.

    >>> parse_line("door=10,0,10,100")
    Line(name='door', x1=10.0, y1=0.0, x2=10.0, y2=100.0)
    """
    name, v = _numbers(text, "line")
    if len(v) != 4:
        raise PrivisError(f"line {text!r}: expected 4 numbers x1,y1,x2,y2, got {len(v)}")
    return Line(name or default_name, *v)


def parse_zone(text: str, default_name: str = "zone") -> Zone:
    """``"x1,y1,x2,y2,x3,y3,..."`` or ``"NAME=..."`` (pixels) as a `Zone`."""
    name, v = _numbers(text, "zone")
    if len(v) < 6 or len(v) % 2:
        raise PrivisError(f"zone {text!r}: expected an even count of at least 6 numbers, got {len(v)}")
    return Zone(name or default_name, tuple(zip(v[::2], v[1::2], strict=True)))


def _unique(names: Iterable[str | None], base: str) -> list[str]:
    """Unnamed items get `base`, then `base2`, `base3`... (`--line` alone is named ``line``)."""
    out: list[str] = []
    for name in names:
        if name is None:
            name, k = base, 1
            while name in out:
                k += 1
                name = f"{base}{k}"
        out.append(name)
    return out


def count_config(
    lines: Sequence[str] = (),
    zones: Sequence[str] = (),
    *,
    config_file: str | Path | None = None,
    bucket_seconds: float | None = None,
    anchor: str | None = None,
) -> CountConfig:
    """A `CountConfig` from command-line strings and/or a YAML or JSON file; flags win over the file.

    The file holds ``lines`` and ``zones`` as mappings of name to coordinates
    (``{"lines": {"door": [x1, y1, x2, y2]}, "zones": {"till": [[x, y], ...]}}``), and
    optionally ``bucket_seconds``, ``anchor``, ``hysteresis`` and ``recross_seconds``.
    """
    settings: dict[str, Any] = {}
    file_lines: list[Line] = []
    file_zones: list[Zone] = []
    if config_file is not None:
        data = _read_config(Path(config_file))
        for name, coords in (data.get("lines") or {}).items():
            flat = np.asarray(coords, float).ravel().tolist()
            file_lines.append(parse_line(f"{name}=" + ",".join(map(str, flat))))
        for name, coords in (data.get("zones") or {}).items():
            flat = np.asarray(coords, float).ravel().tolist()
            file_zones.append(parse_zone(f"{name}=" + ",".join(map(str, flat))))
        settings = {k: data[k] for k in ("bucket_seconds", "anchor", "hysteresis", "recross_seconds") if k in data}
    parsed_lines = [(_numbers(t, "line")[0], t) for t in lines]
    parsed_zones = [(_numbers(t, "zone")[0], t) for t in zones]
    line_names = _unique([n for n, _ in parsed_lines], "line")
    zone_names = _unique([n for n, _ in parsed_zones], "zone")
    flag_lines = [parse_line(t, default_name=n) for n, (_, t) in zip(line_names, parsed_lines, strict=True)]
    flag_zones = [parse_zone(t, default_name=n) for n, (_, t) in zip(zone_names, parsed_zones, strict=True)]
    if bucket_seconds is not None:
        settings["bucket_seconds"] = bucket_seconds
    if anchor is not None:
        settings["anchor"] = anchor
    by_name = {x.name: x for x in file_lines} | {x.name: x for x in flag_lines}
    zones_by_name = {x.name: x for x in file_zones} | {x.name: x for x in flag_zones}
    return CountConfig(lines=tuple(by_name.values()), zones=tuple(zones_by_name.values()), **settings)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PrivisError(f"count config not found: {path}")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise PrivisError(f"{path}: not valid YAML or JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PrivisError(f"{path}: expected a mapping with 'lines' and/or 'zones'")
    return data


@dataclass
class Bucket:
    """What happened in one time bucket, with each track's share kept for bounding.

    `crossings[line][direction][track]` counts that track's crossings; `present[zone]`
    holds per frame how many people stood in the zone; `entries[zone]` the tracks that
    entered; `dwells[zone]` the stays (track, seconds) that ended in this bucket.
    """

    start: datetime
    seconds: float
    complete: bool = True
    frames: int = 0
    crossings: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)
    present: dict[str, list[int]] = field(default_factory=dict)
    entries: dict[str, set[int]] = field(default_factory=dict)
    dwells: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def totals(self) -> dict[str, Any]:
        """The bucket's raw aggregates (no noise): per line forward/backward, per zone occupancy and dwell."""
        lines = {
            name: {d: int(sum(per_track.values())) for d, per_track in directions.items()}
            for name, directions in self.crossings.items()
        }
        zones = {}
        for name, counts in self.present.items():
            stays = [s for _, s in self.dwells.get(name, [])]
            zones[name] = {
                "max_occupancy": int(max(counts, default=0)),
                "mean_occupancy": round(float(np.mean(counts)), 4) if counts else 0.0,
                "entries": len(self.entries.get(name, ())),
                "dwell_count": len(stays),
                "dwell_seconds": round(float(sum(stays)), 3),
            }
        return {"lines": lines, "zones": zones}


class PeopleCounter:
    """Turns per-frame person tracks into per-bucket counts; holds no pixels.

    Parameters
    ----------
    config : CountConfig
    start : datetime, optional
        Wall-clock time of the stream's time 0 (default: now, UTC); buckets are aligned
        to multiples of the bucket length since the epoch.
    label : str, default 'person'
        Which regions are people.
    """

    def __init__(self, config: CountConfig, *, start: datetime | None = None, label: str = "person") -> None:
        self.config = config
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self.label = label
        self._bucket: Bucket | None = None
        self._side: dict[tuple[int, str], int] = {}  # (track, line) -> last definite side, -1 or +1
        # (track, line) -> its last crossing in this bucket: when, which way, how far past the line since
        self._crossed: dict[tuple[int, str], tuple[float, str, float]] = {}
        self._inside: dict[tuple[int, str], float] = {}  # (track, zone) -> time it entered
        self._last_seen: dict[int, float] = {}
        self._paths: dict[int, _Path] = {}  # track -> its first and last seen boxes
        self._lost: dict[int, _Lost] = {}  # tracks lost in the open, that a new track may continue
        self.frames = 0

    def update(self, seconds: float, regions: Regions, size: tuple[int, int] | None = None) -> list[Bucket]:
        """Take one frame's tracked regions at stream time `seconds`; returns the buckets it completed.

        `size` is the frame's (height, width): with it, tracks that start or end at its edge
        are carried in from or out to it (`CountConfig.edge_seconds`)."""
        done = self._roll(seconds)
        bucket = self._bucket
        assert bucket is not None
        bucket.frames += 1
        self.frames += 1
        people = regions[regions.label.astype(str) == self.label] if len(regions) else regions
        ids = people.track_id if people.track_id is not None else np.arange(len(people))
        seen = people.data.get("seen", np.ones(len(people), bool)) if len(people) else np.zeros(0, bool)
        points = self._anchors(people)
        widths = people.xyxy[:, 2] - people.xyxy[:, 0] if len(people) else np.zeros(0)
        if self._lost:
            self._continue(seconds, ids[seen], people.xyxy[seen], size, bucket)
        for line in self.config.lines:
            self._cross(seconds, line, ids[seen], points[seen], widths[seen], bucket, size)
        counted = self.config.lines or self.config.zones
        if size is not None and counted and (self.config.edge_seconds > 0 or self.config.gap_seconds > 0):
            boxes = np.hstack([people.xyxy, _heads(people)]) if len(people) else np.zeros((0, 6))
            self._follow(seconds, ids[seen], boxes[seen], size, bucket)
        present_ids = {int(i) for i in ids}
        for zone in self.config.zones:
            # In once the anchor is inside; out only when it is `hysteresis` beyond the edge, so
            # that someone standing at the edge does not leave and come back with every sway.
            held = np.array([(int(i), zone.name) in self._inside for i in ids], bool)
            inside = (
                zone.contains(points) | (held & zone.near(points, self.config.hysteresis))
                if len(points)
                else np.zeros(0, bool)
            )
            bucket.present.setdefault(zone.name, []).append(int(inside.sum()))
            now_in = {int(i) for i in ids[inside]}
            for track in now_in:
                if (track, zone.name) not in self._inside:
                    self._inside[(track, zone.name)] = seconds
                    bucket.entries.setdefault(zone.name, set()).add(track)
            # a track the tracker dropped is settled below: lost in the open, its stay may go on
            for key in [k for k in self._inside if k[1] == zone.name and k[0] in present_ids and k[0] not in now_in]:
                _end_stays(bucket, key[0], {zone.name: self._inside.pop(key)}, seconds)
        for track in present_ids:
            self._last_seen[track] = seconds
        gone = set(self._last_seen) - present_ids
        for track in gone:  # the tracker gave up on it: carry it out of view, forget its line sides
            path = self._paths.pop(track, None)
            kept = False
            if path is not None and size is not None:
                out = self.config.edge_seconds > 0 and self._carry(track, path.last, 1.0, size, bucket)
                kept = not out and self._lose(track, path)
            stays = {z.name: self._inside.pop((track, z.name))
                     for z in self.config.zones if (track, z.name) in self._inside}  # fmt: skip
            if kept:
                self._lost[track].stays = stays
            else:
                _end_stays(bucket, track, stays, self._last_seen[track])
            del self._last_seen[track]
            for line in self.config.lines:
                self._side.pop((track, line.name), None)
                self._crossed.pop((track, line.name), None)
        return done

    def close(self, seconds: float | None = None) -> list[Bucket]:
        """End of the stream: stays still open end now, and the last (partial) bucket is returned."""
        bucket = self._bucket
        if bucket is None:
            return []
        now = seconds if seconds is not None else max(self._last_seen.values(), default=0.0)
        for (track, zone), entered in self._inside.items():
            _end_stays(bucket, track, {zone: entered}, now)
        self._inside.clear()
        for track, lost in self._lost.items():  # no one continued them: they ended when last seen
            _end_stays(bucket, track, lost.stays, lost.seconds)
        self._lost.clear()
        bucket.complete = (self.start + timedelta(seconds=now)) >= bucket.end
        self._bucket = None
        return [bucket]

    def _roll(self, seconds: float) -> list[Bucket]:
        """Start the bucket `seconds` falls in; the finished ones are returned."""
        size = self.config.bucket_seconds
        at = self.start + timedelta(seconds=seconds)
        index = math.floor(at.timestamp() / size)
        start = datetime.fromtimestamp(index * size, UTC)
        done = []
        if self._bucket is not None and self._bucket.start != start:
            done.append(self._bucket)
            self._bucket = None
            self._crossed.clear()  # a finished bucket's crossings stand
        if self._bucket is None:
            self._bucket = self._empty(start)
        return done

    def _empty(self, start: datetime) -> Bucket:
        bucket = Bucket(start=start, seconds=self.config.bucket_seconds)
        for line in self.config.lines:
            bucket.crossings[line.name] = {"forward": {}, "backward": {}}
        for zone in self.config.zones:
            bucket.present[zone.name] = []
            bucket.entries[zone.name] = set()
            bucket.dwells[zone.name] = []
        return bucket

    def _follow(
        self, seconds: float, ids: np.ndarray, boxes: np.ndarray, size: tuple[int, int], bucket: Bucket
    ) -> None:
        """Record each seen track's box; once a track born at the edge has enough boxes to
        give its motion, carry it back to where it came into view."""
        for track, box in zip(ids.tolist(), boxes, strict=True):
            path = self._paths.setdefault(int(track), _Path())
            path.add(seconds, np.asarray(box, float))
            if not path.entered and len(path.first) == MOTION_BOXES and self.config.edge_seconds > 0:
                path.entered = True
                # still partly out of view while first seen (a detector may box a head alone first)
                if any(touches_edge(box[:4], size) for _, box in path.first):
                    self._carry(int(track), path.first, -1.0, size, bucket)

    def _carry(self, track: int, boxes: Sequence[tuple[float, np.ndarray]], sense: float, size: tuple[int, int],
               bucket: Bucket) -> bool:  # fmt: skip
        """Count the lines crossed on the way between the frame's edge and the end of `boxes`
        (their start when `sense` is -1, back in time; their end when +1), moving as they move.
        Returns whether the track came in from the edge or went out to it."""
        fit = _fit(boxes)
        if fit is None:
            return False
        coords, velocity = fit[0], fit[1] * sense  # px / s, in the direction of travel
        box = coords[0] if sense < 0 else coords[-1]
        head, head_velocity = box[4:], velocity[4:]
        limit = self.config.edge_seconds
        if sense < 0 and np.any(coords[:, 3] >= size[0] * (1 - EDGE_SHARE)) and head_velocity[1] > 0:
            # Coming in cut by the bottom, head first: the feet are out of view, the detector finds
            # the person some frames after the head appeared, and their box's middle leans to the
            # shoulder that shows more. Where they came into view is where their head crossed the
            # bottom. (Going out, the tracker follows them to the edge and the box rule holds: the
            # people video played backwards counts the same with it.)
            dt = min((size[0] - head[1]) / head_velocity[1], limit)
            edge = np.array([head[0] + head_velocity[0] * dt, size[0]], float)
        else:
            dt = _time_to_leave(box[:4], velocity[:4], size, limit)
            if dt is None:
                return False
            edge = self._box_anchors((box[:4] + velocity[:4] * dt)[None])[0]
        seen_at = self._box_anchors(coords[:, :4])
        h = self.config.hysteresis
        for line in self.config.lines:
            d_edge = float(line.signed_distance(edge[None])[0])
            if abs(d_edge) < h:
                continue
            # the side the track was seen on: its first definite side coming in, its last going out
            if sense > 0:
                side = self._side.get((track, line.name))
            else:
                sides = [d for d in line.signed_distance(seen_at) if abs(d) >= h]
                side = (1 if sides[0] > 0 else -1) if sides else None
            if side is None or side == (1 if d_edge > 0 else -1):
                continue
            near = seen_at[0] if sense < 0 else seen_at[-1]
            d_near = float(line.signed_distance(near[None])[0])
            t = d_edge / (d_edge - d_near) if d_edge != d_near else 0.0  # where the path meets the line
            lo, hi = line.reach(size)
            if not lo - h <= line.along((edge + t * (near - edge))[None])[0] <= hi + h:
                continue
            after = side if sense < 0 else (1 if d_edge > 0 else -1)  # the side it crossed to
            per_track = bucket.crossings[line.name]["forward" if after > 0 else "backward"]
            per_track[track] = per_track.get(track, 0) + 1
        log.debug("track %d carried %s the edge: %.2f s to %s", track, "from" if sense < 0 else "to", dt, edge.round())
        return True

    def _lose(self, track: int, path: _Path) -> bool:
        """Hold `track`, lost in the open, for a new track to continue (`CountConfig.gap_seconds`);
        returns whether it is held."""
        fit = _fit(path.last) if self.config.gap_seconds > 0 else None
        if fit is None:
            return False
        last, velocity = fit[0][-1, :4], fit[1][:4]
        sides = {line.name: self._side[(track, line.name)] for line in self.config.lines
                 if (track, line.name) in self._side}  # fmt: skip
        # An anchor is a linear mix of its box's sides, so its motion is the same mix of theirs.
        self._lost[track] = _Lost(seconds=path.last[-1][0], anchor=self._box_anchors(last[None])[0],
                                  velocity=self._box_anchors(velocity[None])[0],
                                  reach=float((last[2:] - last[:2]).max()), sides=sides)  # fmt: skip
        return True

    def _continue(self, seconds: float, ids: np.ndarray, boxes: np.ndarray, size: tuple[int, int] | None,
                  bucket: Bucket) -> None:  # fmt: skip
        """A track first seen now, in the open, where a lost one's motion would have taken it,
        continues it: it takes that track's side of each line and its open stays."""
        limit = self.config.gap_seconds
        for key, lost in [(k, v) for k, v in self._lost.items() if seconds - v.seconds > limit]:
            _end_stays(bucket, key, lost.stays, lost.seconds)
            del self._lost[key]
        anchors = self._box_anchors(boxes) if len(boxes) else np.zeros((0, 2))
        for track, box, anchor in zip(ids.tolist(), boxes, anchors, strict=True):
            if int(track) in self._last_seen or (size is not None and touches_edge(box, size)):
                continue
            best, nearest = None, math.inf
            for key, lost in self._lost.items():
                gap = float(np.linalg.norm(anchor - (lost.anchor + lost.velocity * (seconds - lost.seconds))))
                if gap <= lost.reach and gap < nearest:
                    best, nearest = key, gap
            if best is not None:
                lost = self._lost.pop(best)
                for name, side in lost.sides.items():
                    self._side.setdefault((int(track), name), side)
                for name, entered in lost.stays.items():
                    self._inside.setdefault((int(track), name), entered)
                log.debug("track %d continues track %d, lost %.2f s before", track, best, seconds - lost.seconds)

    def _anchors(self, people: Regions) -> np.ndarray:
        return self._box_anchors(people.xyxy) if len(people) else np.zeros((0, 2))

    def _box_anchors(self, boxes: np.ndarray) -> np.ndarray:
        """The counted point of each (x1, y1, x2, y2) box: bottom middle or centre."""
        b = np.asarray(boxes, float)
        y = b[:, 3] if self.config.anchor == "bottom" else (b[:, 1] + b[:, 3]) / 2
        return np.stack([(b[:, 0] + b[:, 2]) / 2, y], axis=1)

    def _cross(self, seconds: float, line: Line, ids: np.ndarray, points: np.ndarray, widths: np.ndarray,
               bucket: Bucket, size: tuple[int, int] | None = None) -> None:  # fmt: skip
        if not len(points):
            return
        h = self.config.hysteresis
        lo, hi = line.reach(size) if size is not None else (0.0, line.length)
        dist, along = line.signed_distance(points), line.along(points)
        for track, d, a, w in zip(ids.tolist(), dist, along, widths, strict=True):
            key = (int(track), line.name)
            if key in self._crossed:  # how far past the line it has gone since it crossed
                when, way, far = self._crossed[key]
                self._crossed[key] = (when, way, max(far, d if way == "forward" else -d))
            if abs(d) < max(h, 1e-9):
                continue  # on the line: not yet on either side
            side = 1 if d > 0 else -1
            before = self._side.get(key)
            self._side[key] = side
            if before is None or before == side or not (lo - h <= a <= hi + h):
                continue
            way = "forward" if side > 0 else "backward"
            last = self._crossed.pop(key, None)
            if (
                last is not None
                and last[1] != way
                and seconds - last[0] <= self.config.recross_seconds
                and last[2] <= SWAY * w
            ):
                taken_back = bucket.crossings[line.name][last[1]]  # stepped back over: neither counts
                taken_back[key[0]] -= 1
                if not taken_back[key[0]]:
                    del taken_back[key[0]]
                continue
            self._crossed[key] = (seconds, way, abs(d))
            per_track = bucket.crossings[line.name][way]
            per_track[key[0]] = per_track.get(key[0], 0) + 1
