"""Scenes of people walking whose every crossing and stay is known: for removal and counting.

Real people are cut out of real frames by their outline (`cutouts`) and pasted onto
another camera's empty frame along straight paths at known times (`walking_scene`). The
truth follows from the paths: the background behind everyone (removal's PSNR), and for
any line or zone, who crossed it, which way, and how long each stood in it (counting).
A person's anchor is the middle of the bottom of their pasted box, as the counter's.

Examples
--------
>>> walk = Walk(0, ((0, -50, 400), (40, 400, 400), (60, 400, 400), (85, 800, 400)))  # stands at x = 400 for 2 s
>>> line_crossings([walk], 300.0), zone_stays([walk], (350, 350, 450, 450), fps=10.0)  # 2.8 s in the box
([(0, 'forward')], [(0, 2.8)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from privis.analytics.counting import CountConfig


@dataclass(frozen=True)
class Walk:
    """Person `person` (an index into the cut-outs) moving through `path`: (frame, x, y)
    waypoints of their anchor, straight between them, in the scene (where in frame) only
    from the first waypoint's frame to the last's."""

    person: int
    path: tuple[tuple[int, float, float], ...]

    def at(self, t: int) -> tuple[float, float] | None:
        """The anchor at frame `t`, or None outside the walk."""
        if not self.path[0][0] <= t <= self.path[-1][0]:
            return None
        for (ta, xa, ya), (tb, xb, yb) in zip(self.path, self.path[1:], strict=False):
            if ta <= t <= tb:
                f = (t - ta) / max(tb - ta, 1)
                return xa + f * (xb - xa), ya + f * (yb - ya)
        return self.path[0][1], self.path[0][2]


def cutouts(frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The most confident person of each frame `frames[i]`, `i` in `indices`, cut out by
    privis's person outline: (RGB crop, bool outline) each."""
    from privis.detect.person import PersonDetector

    detector = PersonDetector()
    out = []
    for index in indices:
        regions = detector.detect(frames[index])
        if not len(regions):
            raise ValueError(f"no person found on frame {index} to cut out")
        best = int(np.argmax(regions.score)) if regions.score is not None else 0
        x1, y1, x2, y2 = (int(v) for v in regions.xyxy[best])
        mask = regions.mask_of(best)
        outline = mask[y1:y2, x1:x2] if mask is not None else np.ones((y2 - y1, x2 - x1), bool)
        out.append((frames[index][y1:y2, x1:x2].copy(), outline.copy()))
    return out


def walking_scene(
    background: np.ndarray, people: Sequence[tuple[np.ndarray, np.ndarray]], walks: Sequence[Walk], frames: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """`frames` copies of `background` with each walk's person pasted at its anchor; returns
    the frames and, per frame, the (H, W) bool mask of the pasted people's pixels."""
    h, w = background.shape[:2]
    out, masks = [], []
    for t in range(frames):
        frame, mask = background.copy(), np.zeros((h, w), bool)
        for walk in walks:
            anchor = walk.at(t)
            if anchor is None:
                continue
            crop, outline = people[walk.person]
            ch, cw = crop.shape[:2]
            x, y = int(round(anchor[0] - cw / 2)), int(round(anchor[1] - ch))
            xs, ys, xe, ye = max(x, 0), max(y, 0), min(x + cw, w), min(y + ch, h)
            if xe <= xs or ye <= ys:
                continue
            part = outline[ys - y : ye - y, xs - x : xe - x]
            frame[ys:ye, xs:xe][part] = crop[ys - y : ye - y, xs - x : xe - x][part]
            mask[ys:ye, xs:xe] |= part
        out.append(frame)
        masks.append(mask)
    return out, masks


def line_crossings(walks: Sequence[Walk], x: float) -> list[tuple[int, str]]:
    """The true crossings of the vertical line at `x` (drawn top to bottom, so forward is
    left to right): (walk index, direction) for each leg of a path that passes it."""
    out = []
    for i, walk in enumerate(walks):
        for (_, a, _), (_, b, _) in zip(walk.path, walk.path[1:], strict=False):
            if min(a, b) < x < max(a, b):
                out.append((i, "forward" if b > a else "backward"))
    return out


def zone_stays(walks: Sequence[Walk], box: tuple[float, float, float, float], fps: float) -> list[tuple[int, float]]:
    """Each stay of a walk's anchor inside the axis-aligned `box` (x1, y1, x2, y2): the walk's
    index and the seconds from its first frame inside to its first frame out."""
    out = []
    for i, walk in enumerate(walks):
        start = None
        for t in range(walk.path[0][0], walk.path[-1][0] + 2):
            px, py = walk.at(t) or (-1.0, -1.0)
            inside = box[0] <= px <= box[2] and box[1] <= py <= box[3]
            if inside and start is None:
                start = t
            elif not inside and start is not None:
                out.append((i, round((t - start) / fps, 3)))
                start = None
    return out


# The scene the removal and counting benchmarks share: three people cut from the people video
# (frames 279, 371 and 657, at 0.6 of their size) on an empty frame of the car-park video,
# 24 s at 10 fps. One walks left to right near the camera, one right to left further back
# (they pass each other), one goes diagonally up and right; then the first comes back, stands
# in a spot for 4 s and leaves to the right.
CUT_FROM = (279, 371, 657)
SCENE_FRAMES = 240
SCENE_WALKS = (
    Walk(0, ((0, -60, 410), (80, 830, 410))),
    Walk(1, ((40, 830, 330), (130, -60, 330))),
    Walk(2, ((90, 100, 470), (170, 700, 250))),
    Walk(0, ((150, 830, 380), (175, 560, 380), (215, 560, 380), (239, 830, 380))),
)
SCENE_STANDING = (176, 215)  # the frames the last walk stands still
SCENE_LINES = {"x200": 200.0, "x400": 400.0, "x600": 600.0}
SCENE_ZONE = (500.0, 340.0, 620.0, 420.0)
# Sign boards hanging in front of the scene's middle (x = 340-470, line x = 400 behind them),
# each passed for over a second. Down to y = 300, the two walking near the camera (feet at
# y = 380-410) show only their legs under it, the one further back (feet at y = 330) only
# their feet; down to y = 355, the near ones show only their feet and the far one nothing.
SIGN_LEGS = (340, 0, 470, 300)
SIGN_FEET = (340, 0, 470, 355)


def behind_sign(frames: Sequence[np.ndarray], sign: tuple[int, int, int, int]) -> list[np.ndarray]:
    """`frames` with a dark, ruled board (x1, y1, x2, y2) in front of everything in them."""
    x1, y1, x2, y2 = sign
    out = []
    for frame in frames:
        frame = frame.copy()
        frame[y1:y2, x1:x2] = (60, 70, 80)
        frame[y1:y2:20, x1:x2] = (200, 200, 200)
        out.append(frame)
    return out


def car_park_scene(
    people_video: Sequence[np.ndarray], background: np.ndarray, scale: float = 0.6
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The shared scene's frames and people masks, cut from `people_video`'s frames
    (`CUT_FROM`) and pasted on `background` (an empty car-park frame)."""
    import cv2

    people = []
    for crop, outline in cutouts(people_video, CUT_FROM):
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(outline.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
        people.append((small, mask > 0))
    return walking_scene(background, people, SCENE_WALKS, SCENE_FRAMES)


def count_frames(
    frames: Sequence[np.ndarray], config: CountConfig, *, step: int = 1, fps: float = 10.0
) -> dict[str, Any]:
    """The totals (`Bucket.totals`) of `privis stream --count` with `config` (its bucket made
    a day long so that one holds the clip) on `frames` of a `fps` video, keeping
    only every `step`-th frame at its own time: frames dropped the same way on every run,
    where a live stream drops whichever arrive while the one before is processed."""
    from dataclasses import replace
    from datetime import UTC, datetime
    from fractions import Fraction

    from privis.analytics.counting import PeopleCounter
    from privis.media.video import Frame
    from privis.pipeline import Anonymizer

    counter = PeopleCounter(replace(config, bucket_seconds=86400), start=datetime(2026, 1, 1, tzinfo=UTC))
    anonymizer = Anonymizer(targets="person", method="fill").for_media("video")
    tick = 1 / Fraction(fps).limit_denominator(1000)
    stream = (Frame(frames[i], i, i, tick) for i in range(0, len(frames), step))

    def observe(frame: Frame, regions: Any) -> None:
        counter.update(frame.seconds, regions, frame.rgb.shape[:2])

    for _ in anonymizer.frames(stream, lookahead=0, observe=observe):
        pass
    (bucket,) = counter.close()
    return bucket.totals()


def scene_counts(
    people_video: Sequence[np.ndarray],
    background: np.ndarray,
    *,
    sign: tuple[int, int, int, int] | None = None,
    step: int = 1,
) -> list[dict[str, Any]]:
    """Count the shared scene as `privis stream --count` would (lines `SCENE_LINES`, a zone
    `SCENE_ZONE`; people found, tracked and counted as the video is anonymized), with a
    `sign` board (x1, y1, x2, y2) in front of it and only every `step`-th frame kept
    (`count_frames`); rows of what, truth (from the paths) and counted."""
    from privis.analytics.counting import CountConfig, parse_line, parse_zone

    frames, _ = car_park_scene(people_video, background)
    if sign is not None:
        frames = behind_sign(frames, sign)
    h = frames[0].shape[0]
    x1, y1, x2, y2 = SCENE_ZONE
    lines = tuple(parse_line(f"{n}={x},0,{x},{h}") for n, x in SCENE_LINES.items())
    zone = parse_zone(f"spot={x1},{y1},{x2},{y1},{x2},{y2},{x1},{y2}")
    totals = count_frames(frames, CountConfig(lines=lines, zones=(zone,)), step=step)
    rows: list[dict[str, Any]] = []
    for name, x in SCENE_LINES.items():
        truth = line_crossings(SCENE_WALKS, x)
        for way in ("forward", "backward"):
            rows.append({"what": f"{name} {way}", "truth": sum(d == way for _, d in truth),
                         "counted": totals["lines"][name][way]})  # fmt: skip
    stays = zone_stays(SCENE_WALKS, SCENE_ZONE, fps=10.0)
    spot = totals["zones"]["spot"]
    rows += [{"what": "spot entries", "truth": len(stays), "counted": spot["entries"]},
             {"what": "spot stays ended", "truth": len(stays), "counted": spot["dwell_count"]},
             {"what": "spot seconds stayed", "truth": round(sum(s for _, s in stays), 1),
              "counted": spot["dwell_seconds"]},
             {"what": "spot most at once", "truth": 1, "counted": spot["max_occupancy"]}]  # fmt: skip
    return rows


def side_walks(start: int) -> tuple[Walk, ...]:
    """Two people at full size walking in and out through the frame's sides within 60 frames
    from frame `start` (a third of the frames show someone cut in half by the side), and a
    third standing mid-frame for 3 s: removal's hardest case from a cold start (`start` 0:
    the plate has seen nothing behind them)."""
    return (Walk(0, ((start, -40, 422), (start + 59, 808, 422))),
            Walk(1, ((start, 808, 392), (start + 59, -40, 392))),
            Walk(2, ((start + 15, 384, 412), (start + 44, 384, 412))))  # fmt: skip


def removal_scenes(people_video: Sequence[np.ndarray], background: np.ndarray) -> list[dict[str, Any]]:
    """`--targets person --method remove` on scenes with a known background: the shared car-park
    scene, and `side_walks` from the first frame and after 2 s of the empty scene. Each row
    gives the PSNR against the background over the people's pixels (grown by 4 px), over
    the standing person's alone (a ghost would show there), and frames per second."""
    import time
    from fractions import Fraction

    import cv2

    from privis.audit.similarity import psnr
    from privis.media.video import Frame
    from privis.pipeline import Anonymizer

    def scene(what: str, frames: list[np.ndarray], pasted: list[np.ndarray], first: int,
              standing: tuple[int, int]) -> dict[str, Any]:  # fmt: skip
        masks = [cv2.dilate(m.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 for m in pasted]
        anonymizer = Anonymizer(targets="person", method="remove").for_media("video")
        start = time.perf_counter()
        out = [rgb for _, rgb in anonymizer.frames(Frame(x, i, i, Fraction(1, 10)) for i, x in enumerate(frames))]
        seconds = time.perf_counter() - start
        truth = [background] * len(frames)
        a, b = standing
        return {"scene": what, "frames": len(frames) - first,
                "psnr_db": psnr(out[first:], truth[first:], masks[first:]),
                "psnr_standing_db": psnr(out[a:b], truth[a:b], masks[a:b]),
                "fps": round(len(frames) / seconds, 2)}  # fmt: skip

    rows = [scene(f"composite: {SCENE_FRAMES} frames, people walking and standing on an empty car-park frame",
                  *car_park_scene(people_video, background), 0, SCENE_STANDING)]  # fmt: skip
    cut = cutouts(people_video, CUT_FROM)
    for start, what in ((0, "from the first frame"), (20, "after 2 s of the empty scene")):
        frames, pasted = walking_scene(background, cut, side_walks(start), start + 60)
        rows.append(scene(f"composite: full-size people walking in and out through the sides, {what}",
                          frames, pasted, start, (start + 15, start + 44)))  # fmt: skip
    return rows
