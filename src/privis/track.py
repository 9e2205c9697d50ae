"""`Tracker`: keeps each region alive through the frames where its detector misses it.

A per-frame detector misses a face for a frame or two and the face flashes into view.
The tracker associates detections across frames (greedy IoU, with a centre-distance
fallback for small, fast boxes), predicts each track with its recent velocity, and
keeps reporting a track for `linger` detector runs after its last detection, its box
growing a little each frame to cover the growing uncertainty. Frames on which the
detector did not run (``detect_every > 1``) are predicted without counting as misses.
A detection cut by the frame's side that holds only part of its track (the upper body of
someone walking out) keeps the track's size and motion instead of shrinking it.

Examples
--------
>>> import numpy as np
>>> from privis.regions import Regions
>>> t = Tracker(linger=2)
>>> len(t.update(Regions([[10, 10, 20, 20]], score=[0.9])))
1
>>> t.update(Regions.empty()).track_id.tolist()   # missed once: still covered
[1]
>>> len(t.update(Regions.empty())), len(t.update(Regions.empty()))
(1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from privis.errors import PrivisError
from privis.regions import EDGE_SHARE, Regions, box_iou, touches_edge

PARTIAL_AREA = 0.6  # a detection under this share of its track's predicted box...
PARTIAL_INSIDE = 0.7  # ...that lies mostly inside it is a part of the same body
PARTIAL_SHRINK = 0.95  # a track seen only in part gives up this much of its size per frame


def _area(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def partial_view(predicted: np.ndarray, detected: np.ndarray) -> bool:
    """Whether `detected` shows only part of what `predicted` (both xyxy) holds: much smaller
    and mostly inside it.

    >>> partial_view(np.array([0, 0, 100, 300]), np.array([0, 0, 90, 120]))    # the upper body
    True
    >>> partial_view(np.array([0, 0, 100, 300]), np.array([10, 20, 100, 290]))  # the whole body
    False
    """
    inter = np.concatenate([np.maximum(predicted[:2], detected[:2]), np.minimum(predicted[2:], detected[2:])])
    small = _area(detected) < PARTIAL_AREA * _area(predicted)
    return small and _area(inter) >= PARTIAL_INSIDE * max(_area(detected), 1e-9)


def holding(predicted: np.ndarray, detected: np.ndarray, shrink: float = PARTIAL_SHRINK) -> np.ndarray:
    """`predicted` a little smaller (`shrink`, about its centre), shifted just enough to hold `detected`.

    >>> holding(np.array([0., 0, 100, 300]), np.array([-20., 10, 60, 100]), shrink=1).tolist()
    [-20.0, 0.0, 80.0, 300.0]
    """
    c, half = (predicted[:2] + predicted[2:]) / 2, (predicted[2:] - predicted[:2]) / 2 * shrink
    lo, hi = c - half, c + half
    shift = np.minimum(detected[:2] - lo, 0) + np.maximum(detected[2:] - hi, 0)
    return np.concatenate([lo + shift, hi + shift]).astype(np.float32)


def along_side(predicted: np.ndarray, detected: np.ndarray, size: tuple[int, int],
               shrink: float = PARTIAL_SHRINK) -> np.ndarray:  # fmt: skip
    """`detected`, cut by the left or right side of a frame of (height, width) `size`, stretched
    to `predicted`'s top and bottom (a little smaller, `shrink`) where those reach further.
    People stand upright: the side cuts their width, and the detector, seeing a sliver of
    them, often boxes only their head and shoulders while their legs are in view below.
    (A person cut by the bottom is cut along their height already; their width stays theirs.)

    >>> along_side(np.array([700., 60, 770, 420]), np.array([698., 15, 768, 235]), (432, 768), shrink=1).tolist()
    [698.0, 15.0, 768.0, 420.0]
    """
    w = size[1]
    c, half = (predicted[1] + predicted[3]) / 2, (predicted[3] - predicted[1]) / 2 * shrink
    out = np.asarray(detected, np.float32).copy()
    at_side = out[0] <= EDGE_SHARE * w or out[2] >= w * (1 - EDGE_SHARE)
    overlap = min(out[3], predicted[3]) - max(out[1], predicted[1])
    if at_side and overlap >= PARTIAL_INSIDE * (out[3] - out[1]):  # mostly level with the track: the same body
        out[1], out[3] = min(out[1], c - half), max(out[3], c + half)
    return out


def centre_gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from the centre of each (n, 4) xyxy box in `a` to each (m, 4) box's in `b`,
    in the `a` box's larger side: (n, m). How far a track's box would have to jump.

    >>> centre_gaps(np.array([[0., 0, 10, 20]]), np.array([[10., 0, 20, 20], [0, 40, 10, 60]])).tolist()
    [[0.5, 2.0]]
    """
    size = np.maximum((a[:, 2:] - a[:, :2]).max(axis=1), 1.0)
    ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    return np.linalg.norm(ca[:, None] - cb[None], axis=2) / size[:, None]


def _seen_before(track: Track, lost: list[Track], max_jump: float) -> Track | None:
    """The nearest of the `lost` tracks (unseen for k > 1 frames) whose last seen box is within
    ``max_jump * k`` of its own size from new `track`'s, with the same label; or None."""
    same = [t for t in lost if t.label == track.label and t.observed is not None]
    if not same:
        return None
    gaps = centre_gaps(np.stack([t.observed for t in same if t.observed is not None]), track.box[None])[:, 0]
    gaps = np.where(gaps <= max_jump * np.array([t.coasted for t in same]), gaps, np.inf)
    k = int(np.argmin(gaps))
    return same[k] if np.isfinite(gaps[k]) else None


@dataclass
class Track:
    """One tracked region."""

    id: int
    box: np.ndarray  # xyxy, float32
    label: str
    score: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    observed: np.ndarray | None = None  # box at the last match
    misses: int = 0  # detector runs since the last match
    coasted: int = 0  # frames since the last match
    hits: int = 1
    born: int = 0  # frame index of the first detection
    mask: np.ndarray | None = None  # outline at the last match; used only on that frame
    gap: int = 0  # frames between the last match and the one before it
    was: np.ndarray | None = None  # box at the match before the last
    first: np.ndarray | None = None  # box where it (or the track it continues) was first found
    first_frame: int = 0  # frame index of that
    sightings: int = 1  # matches, those of the track it continues included

    def __post_init__(self) -> None:
        if self.observed is None:
            self.observed = self.box.copy()


class Tracker:
    """Associates regions across frames and covers the frames where detection misses.

    Parameters
    ----------
    linger : int, default 10
        Detector runs a track survives without a match before it is dropped.
    iou_threshold : float, default 0.2
        Minimum IoU between a predicted track and a detection to match them.
    growth : float, default 0.04
        Relative growth of a track's box per frame without a match.
    velocity_smoothing : float, default 0.5
        Weight of the newest motion in the velocity estimate.
    max_jump : float, default 1.0
        A detection whose centre lies within this many box sizes of a track's
        predicted centre may match it even without overlap (small, fast faces). A new
        track born within ``max_jump * k`` box sizes of a track unseen for the last k frames
        may be the same thing seen again (a small plate on a passing car, found every few
        frames, moves further than its size between them): it does not take that track
        over, which may still be covering a region the detector misses, but the frames
        between are filled in along the way (``data["gap"]`` and ``data["was"]``).
    """

    def __init__(
        self,
        *,
        linger: int = 10,
        iou_threshold: float = 0.2,
        growth: float = 0.04,
        velocity_smoothing: float = 0.5,
        max_jump: float = 1.0,
    ) -> None:
        if linger < 0:
            raise PrivisError(f"linger must be >= 0, got {linger}")
        if not 0 <= iou_threshold < 1:
            raise PrivisError(f"iou_threshold must be in [0, 1), got {iou_threshold}")
        self.linger = int(linger)
        self.iou_threshold = float(iou_threshold)
        self.growth = float(growth)
        self.alpha = float(velocity_smoothing)
        self.max_jump = float(max_jump)
        self.tracks: list[Track] = []
        self.frame = -1
        self._next_id = 1

    def update(self, detections: Regions | None, size: tuple[int, int] | None = None) -> Regions:
        """Advance one frame. `detections` is None on frames where the detector did not run;
        `size`, the frame's (height, width), lets a body cut by the frame keep its size.

        Returns the regions to hide on this frame: matched detections (with their
        track ids) and the predicted boxes of lingering tracks. ``data["born"]`` is
        True for tracks that start on this frame, ``data["seen"]`` for those detected on it.
        """
        self.frame += 1
        for t in self.tracks:  # predict
            t.box = t.box + t.velocity
            t.coasted += 1
        if detections is not None:
            self._associate(detections, size)
        return self._regions()

    def _associate(self, det: Regions, frame_size: tuple[int, int] | None = None) -> None:
        n_t, n_d = len(self.tracks), len(det)
        matched_t: set[int] = set()
        matched_d: set[int] = set()
        if n_t and n_d:
            boxes_t = np.stack([t.box for t in self.tracks])
            iou = box_iou(boxes_t, det.xyxy)
            # Centre distance relative to size lets small, fast boxes match without overlap.
            dist = centre_gaps(boxes_t, det.xyxy)
            same = np.array([[t.label == lab for lab in det.label] for t in self.tracks])
            score = np.where(
                same & ((iou >= self.iou_threshold) | (dist <= self.max_jump)), iou + 1 - np.minimum(dist, 1), -1
            )
            for flat in np.argsort(-score, axis=None):
                i, j = divmod(int(flat), n_d)
                if score[i, j] < 0:
                    break
                if i in matched_t or j in matched_d:
                    continue
                matched_t.add(i)
                matched_d.add(j)
                t = self.tracks[i]
                new = det.xyxy[j].astype(np.float32)
                if frame_size is not None and touches_edge(new, frame_size):
                    new = holding(t.box, new) if partial_view(t.box, new) else along_side(t.box, new, frame_size)
                step = (new - t.observed) / max(t.coasted, 1)
                t.velocity = self.alpha * step + (1 - self.alpha) * t.velocity
                t.gap, t.was = t.coasted, t.observed
                t.box = new
                t.observed = new.copy()
                t.score = float(det.score[j]) if det.score is not None else 1.0
                t.mask = det.mask_of(j)
                t.misses = 0
                t.coasted = 0
                t.hits += 1
                t.sightings += 1
        for i, t in enumerate(self.tracks):
            if i not in matched_t:
                t.misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.linger]
        lost = [t for t in self.tracks if t.coasted > 1]  # a match sets coasted to 0
        for j in range(n_d):
            if j not in matched_d:
                track = Track(
                    id=self._next_id,
                    box=det.xyxy[j].astype(np.float32),
                    label=str(det.label[j]),
                    score=float(det.score[j]) if det.score is not None else 1.0,
                    born=self.frame,
                    mask=det.mask_of(j),
                )
                before = _seen_before(track, lost, self.max_jump)
                if before is not None:
                    lost.remove(before)
                    track.gap, track.was = before.coasted, before.observed
                    track.first, track.first_frame, track.sightings = (
                        before.first,
                        before.first_frame,
                        before.sightings + 1,
                    )
                else:
                    track.first, track.first_frame = track.box.copy(), self.frame
                self.tracks.append(track)
                self._next_id += 1

    def _regions(self) -> Regions:
        boxes = []
        for t in self.tracks:
            if t.coasted:
                c = (t.box[:2] + t.box[2:]) / 2
                half = (t.box[2:] - t.box[:2]) / 2 * (1 + self.growth * t.coasted)
                boxes.append(np.concatenate([c - half, c + half]))
            else:
                boxes.append(t.box)
        n = len(self.tracks)
        # A person's outline is hidden on the frame it was seen in; coasting, its box is.
        masks = [None if t.coasted else t.mask for t in self.tracks]
        return Regions(
            np.array(boxes, np.float32).reshape(n, 4),
            label=[t.label for t in self.tracks],
            score=[t.score for t in self.tracks],
            track_id=[t.id for t in self.tracks],
            mask=masks if any(m is not None for m in masks) else None,
            data={
                "born": np.array([t.born == self.frame for t in self.tracks], bool),
                "seen": np.array([t.coasted == 0 for t in self.tracks], bool),
                # seen again after `gap` frames unseen, last seen at `was`: the frames between can be filled in
                "gap": np.array([t.gap if t.coasted == 0 else 0 for t in self.tracks], np.int32),
                "was": np.array([t.was if t.was is not None else t.box for t in self.tracks], np.float32).reshape(n, 4),
                # seen for the second time, `age` frames after it was first found at `first`: its motion
                # between the two says where it was on the frames before
                "second": np.array(
                    [t.sightings == 2 and t.coasted == 0 and t.first is not None for t in self.tracks], bool
                ),
                "first": np.array([t.first if t.first is not None else t.box for t in self.tracks], np.float32).reshape(
                    n, 4
                ),
                "age": np.array([self.frame - t.first_frame for t in self.tracks], np.int32),
            },
        )
