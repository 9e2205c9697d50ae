"""Video files with PyAV: decode, process each frame, encode H.264 with the source's timing.

Timing is carried, never rebuilt: every output frame keeps its source ``pts`` and
``time_base``, so variable frame rates and audio sync survive. Audio packets are copied
without transcoding. Container tags (title, location, creation time, device) are
dropped unless ``keep_metadata``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from privis.errors import MediaError, OutputExistsError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
FrameFn = Callable[[np.ndarray, int, float | None], np.ndarray]


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` has a supported video suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def count_frames(path: str | os.PathLike[str]) -> int | None:
    """Frame count from the container, when it records one."""
    import av

    try:
        with av.open(str(path)) as c:
            n = c.streams.video[0].frames
            return int(n) or None
    except Exception:
        return None


def anonymize_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    process: FrameFn,
    *,
    overwrite: bool = False,
    keep_metadata: bool = False,
    crf: int = 20,
    on_frame: Callable[[], None] | None = None,
    on_failure: Callable[[int, float | None, Exception], None] | None = None,
) -> int:
    """Write `dst`: every video frame of `src` passed through ``process(rgb, index, seconds)``.

    A frame for which `process` raises is written fully black (fail closed) and
    reported to `on_failure`. Returns the number of frames written.
    """
    import av

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise MediaError(f"{src}: no such file")
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst} exists; pass --overwrite to replace it")
    try:
        inp = av.open(str(src))
    except Exception as exc:
        raise MediaError(f"{src}: cannot open video ({exc})") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".privis-", suffix=dst.suffix, dir=dst.parent)
    os.close(fd)
    written = 0
    try:
        with inp:
            if not inp.streams.video:
                raise MediaError(f"{src}: no video stream")
            vin = inp.streams.video[0]
            vin.thread_type = "AUTO"
            ain = inp.streams.audio[0] if inp.streams.audio else None
            with av.open(tmp, "w", format=_muxer(dst)) as out:
                if keep_metadata:
                    out.metadata.update(inp.metadata)
                rate = vin.average_rate or vin.guessed_rate or Fraction(25)
                vout = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"})
                vout.width = vin.codec_context.width - vin.codec_context.width % 2
                vout.height = vin.codec_context.height - vin.codec_context.height % 2
                vout.pix_fmt = "yuv420p"
                tb = vin.time_base or Fraction(1, int(rate * 1000))
                vout.time_base = tb
                vout.codec_context.time_base = tb
                aout = out.add_stream_from_template(ain) if ain is not None else None
                streams = [vin] + ([ain] if ain is not None else [])
                index = 0
                last_pts = None
                try:
                    for packet in inp.demux(*streams):
                        if packet.stream.type == "audio":
                            if packet.dts is None:
                                continue
                            packet.stream = aout
                            out.mux(packet)
                            continue
                        for frame in packet.decode():
                            pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + 1)
                            if last_pts is not None and pts <= last_pts:
                                pts = last_pts + 1
                            last_pts = pts
                            seconds = float(pts * tb)
                            rgb = frame.to_ndarray(format="rgb24")
                            try:
                                result = process(rgb, index, seconds)
                            except Exception as exc:  # fail closed: never emit the frame in clear
                                log.warning("frame %d (t=%.3fs) failed: %s; written black", index, seconds, exc)
                                if on_failure:
                                    on_failure(index, seconds, exc)
                                result = np.zeros_like(rgb)
                            result = result[: vout.height, : vout.width]
                            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(result), format="rgb24")
                            vf.pts = pts
                            vf.time_base = tb
                            for p in vout.encode(vf):
                                out.mux(p)
                            index += 1
                            written += 1
                            if on_frame:
                                on_frame()
                except av.error.InvalidDataError as exc:
                    if written == 0:
                        raise MediaError(f"{src}: cannot decode video ({exc})") from None
                    log.warning("%s: stream is damaged after frame %d (%s); output ends there", src, written, exc)
                for p in vout.encode(None):
                    out.mux(p)
        if written == 0:
            raise MediaError(f"{src}: no video frames could be decoded")
        if dst.exists() and not overwrite:
            raise OutputExistsError(f"{dst} exists; pass --overwrite to replace it")
        os.replace(tmp, dst)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{src}: video error ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return written


def _muxer(path: Path) -> str | None:
    return {".mkv": "matroska", ".webm": "matroska", ".m4v": "mp4"}.get(path.suffix.lower())


def write_video(path: str | os.PathLike[str], frames: list[np.ndarray], fps: int = 10) -> Path:
    """Encode RGB uint8 frames as an H.264 file (for demos and tests)."""
    import av

    out = Path(path)
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        h, w = frames[0].shape[:2]
        s.width, s.height, s.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[: s.height, : s.width]), format="rgb24")
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return out
