"""One video over several Ray workers: detection split at keyframes, one pass to finish.

Detection is what costs (a network per frame); tracking, painting and encoding are cheap
beside it. So the video is cut at keyframes into pieces, each worker decodes its pieces from
their keyframe and runs the detectors on them, and the driver then makes the output in one
pass: the tracker sees every frame's detections in order, and the frames are painted and
encoded exactly as `Anonymizer.video` does on one machine. The output is the single-process
output, byte for byte (frames, timestamps, audio), because it is made by the same code from
the same detections; only where the detections come from differs.

A video is split only where that is exact: every packet has a timestamp, no two share one,
and each piece decodes from its keyframe to exactly the frames the whole video gives there;
any other video is run whole by one worker.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privis.errors import MediaError, PrivisError
from privis.regions import Regions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    """Frames ``first .. first + count - 1`` of a video, from the keyframe at `start_pts` up
    to (not including) `end_pts` (None: to the end)."""

    start_pts: int
    end_pts: int | None
    first: int
    count: int


def pieces(path: str | os.PathLike[str], parts: int) -> list[Piece] | None:
    """The video at `path` cut at keyframes into about `parts` pieces of similar length, or
    None where it cannot be cut exactly (see the module's notes) or has a single keyframe."""
    import av

    try:
        with av.open(str(path)) as inp:
            if not inp.streams.video:
                return None
            vin = inp.streams.video[0]
            stamps, keys = [], set()
            for packet in inp.demux(vin):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    return None
                stamps.append(int(packet.pts))
                if packet.is_keyframe:
                    keys.add(int(packet.pts))
    except av.error.FFmpegError:
        return None
    stamps.sort()
    if len(set(stamps)) != len(stamps) or len(keys) < 2 or parts < 2:
        return None
    rank = {pts: i for i, pts in enumerate(stamps)}
    starts = sorted(rank[k] for k in keys)
    if starts[0] != 0:
        return None  # frames before the first keyframe decode only from the start
    cuts = [0]
    for k in range(1, parts):
        target = round(k * len(stamps) / parts)
        best = min(starts, key=lambda s: abs(s - target))
        if best > cuts[-1]:
            cuts.append(best)
    if len(cuts) < 2:
        return None
    bounds = cuts + [len(stamps)]
    return [Piece(stamps[a], stamps[b] if b < len(stamps) else None, a, b - a) for a, b in itertools.pairwise(bounds)]


def detect_piece(anonymizer: Any, path: str | os.PathLike[str], piece: Piece) -> dict[int, Regions | str | None]:
    """Each frame of `piece` (by its index in the whole video) with the regions the video
    anonymizer's detectors find on it, None where they do not run (``detect_every``), or the
    message of the error that stopped them. `MediaError` where the piece does not decode to
    exactly its frames."""
    import av

    from privis.media.video import probe_rotation

    video = anonymizer.for_media("video")
    rotation = probe_rotation(path)
    found: dict[int, Regions | str | None] = {}
    with av.open(str(path)) as inp:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        if piece.first:
            inp.seek(piece.start_pts, stream=vin, backward=True, any_frame=False)
        index = piece.first
        for frame in inp.decode(vin):
            if frame.pts is None or frame.pts < piece.start_pts:
                if index == piece.first:
                    continue  # before the keyframe sought
                raise MediaError(f"{path}: frame without a time, or out of order, in a piece")
            if piece.end_pts is not None and frame.pts >= piece.end_pts:
                break
            if index == piece.first and frame.pts != piece.start_pts:
                raise MediaError(f"{path}: the piece at {piece.start_pts} does not start on its keyframe")
            if index % video.detect_every:
                found[index] = None
            else:
                try:
                    found[index] = video.detect_upright(frame.to_ndarray(format="rgb24"), rotation)
                except Exception as exc:  # the frame is written black by the driver (fail closed)
                    found[index] = str(exc) or exc.__class__.__name__
            index += 1
    if index - piece.first != piece.count:
        raise MediaError(f"{path}: a piece gave {index - piece.first} frames, not {piece.count}")
    return found


def merged(results: Sequence[dict[int, Regions | str | None]]) -> dict[int, Regions | Exception | None]:
    """The pieces' detections as one map for `Anonymizer.video(detections=...)`."""
    out: dict[int, Regions | Exception | None] = {}
    for part in results:
        for index, found in part.items():
            out[index] = PrivisError(found) if isinstance(found, str) else found
    return out


class PieceDetector:
    """A Ray actor: the video anonymizer's detectors, loaded once, on one core."""

    def __init__(self, settings_json: str) -> None:
        from privis.config import Settings
        from privis.pipeline import Anonymizer

        self.anonymizer = Anonymizer(settings=Settings.model_validate_json(settings_json)).for_media("video")
        self.anonymizer = self.anonymizer.single_threaded()

    def detect(self, path: str, piece: Piece) -> dict[int, Regions | str | None]:
        return detect_piece(self.anonymizer, path, piece)


def anonymize_split(
    anonymizer: Any,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    workers: int,
    settings_json: str,
    overwrite: bool = False,
    keep_metadata: bool = False,
    name: str | None = None,
    on_frame: Any = None,
) -> tuple[int, int]:
    """Anonymize one video with its detection spread over `workers` Ray actors (Ray must be
    running); (frames written, pieces). A video that cannot be cut exactly is detected by one
    actor whole (1 piece) and is still finished here."""
    import ray
    from ray.util import ActorPool

    parts = pieces(src, max(2, workers * 2))
    remote: Any = ray.remote(num_cpus=1, max_restarts=0)(PieceDetector)
    actors = [remote.remote(settings_json) for _ in range(min(workers, len(parts or [0])))]
    pool = ActorPool(actors)
    source = str(Path(src).resolve())
    try:
        if parts is not None:
            try:
                results = list(pool.map(lambda a, p: a.detect.remote(source, p), parts))
            except ray.exceptions.RayTaskError as exc:
                cause = exc.as_instanceof_cause()
                if not isinstance(cause, MediaError):
                    raise
                log.warning("%s; detecting it whole instead", cause)
                parts = None
        if parts is None:
            whole = pieces_whole(src)
            results = [ray.get(actors[0].detect.remote(source, whole))]
    finally:
        for actor in actors:
            ray.kill(actor)
    video = anonymizer.for_media("video")
    written = video.video(src, dst, overwrite=overwrite, keep_metadata=keep_metadata, name=name, on_frame=on_frame,
                          detections=merged(results))  # fmt: skip
    return written, len(results)


def pieces_whole(path: str | os.PathLike[str]) -> Piece:
    """The whole video as one piece (decoded from its start)."""
    from privis.media.video import count_frames

    count = count_frames(path)
    if not count:
        raise MediaError(f"{path}: cannot count its frames")
    return Piece(-(1 << 62), None, 0, count)
