"""Video files with PyAV: decode, anonymize, encode, with the source's timing, rotation and audio.

Timing is carried, never rebuilt: every output frame keeps its source ``pts`` and
``time_base``, so variable frame rates and audio sync survive. The display rotation
flag is copied, and audio streams are remuxed packet for packet (``audio=False`` drops
them). Container tags (title, location, creation time, device) are dropped unless
``keep_metadata``. Decoding and encoding run in their own threads with bounded queues,
so memory stays flat whatever the length and the detector keeps the cores busy.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import MediaError, OutputExistsError, PrivisError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".gif")
# Containers that hold H.264/H.265 as they are; anything else is written as MP4.
_KEEP_CONTAINER = (".mp4", ".mov", ".mkv", ".m4v")
CODECS = {"h264": "libx264", "h265": "libx265"}
_QUEUE = 4  # frames in flight between each pair of threads: bounds memory (a 1080p frame is 6 MB)
_MMAP_THRESHOLD = 4 << 20


@dataclass
class Frame:
    """One decoded video frame with its timing; `rgb` is (H, W, 3) uint8 as stored (not rotated)."""

    rgb: np.ndarray
    index: int
    pts: int
    time_base: Fraction
    rotation: int = 0  # degrees counter-clockwise to display upright

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base)


Transform = Callable[[Iterator[Frame]], Iterable[tuple[Frame, np.ndarray]]]


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` has a supported video suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def video_output_suffix(src: str | os.PathLike[str]) -> str:
    """Suffix of the anonymized video for `src`: its own when it can hold H.264, else ``.mp4``.

    >>> video_output_suffix("a.gif"), video_output_suffix("b.MOV")
    ('.mp4', '.mov')
    """
    suffix = Path(src).suffix.lower()
    return suffix if suffix in _KEEP_CONTAINER else ".mp4"


def count_frames(path: str | os.PathLike[str]) -> int | None:
    """Frame count from the container, when it records one."""
    import av

    try:
        with av.open(str(path)) as c:
            return int(c.streams.video[0].frames) or None
    except Exception:
        return None


def probe_rotation(path: str | os.PathLike[str]) -> int:
    """The display rotation of the first video frame (0, 90, 180 or 270)."""
    import av

    try:
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                return int(round(frame.rotation or 0)) % 360
    except Exception:
        return 0
    return 0


class _Stop(Exception):
    pass


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    """Put `item` on `q`, giving up (`_Stop`) once `stop` is set: no thread waits forever."""
    while True:
        if stop.is_set():
            raise _Stop
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    """The next item of `q`, or `_Stop` once `stop` is set and `q` is empty."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                raise _Stop from None


def return_large_buffers() -> bool:
    """Make glibc hand every buffer of 4 MiB or more straight back to the system when freed.

    Frames are allocated in the decode thread and freed in others; glibc's adaptive mmap
    threshold then keeps 1080p frames in per-thread heaps, where freed ones pile up
    (about 120 MB at 1080p, growing with run time). A fixed threshold stops that.
    Returns whether it applied (glibc only; elsewhere a no-op).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    m_mmap_threshold = -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, _MMAP_THRESHOLD))


def add_encoder(
    container: Any,
    codec: str,
    *,
    width: int,
    height: int,
    rate: Fraction | int,
    crf: int,
    time_base: Fraction | None = None,
    rotation: int = 0,
) -> Any:
    """An H.264/H.265 output stream on `container`, yuv420p, even-sized, with our encoder settings.

    `codec` is a key of `CODECS`; `time_base` (when given) is the one frames' pts are in.
    """
    stream = container.add_stream(CODECS[codec], rate=rate, options={"crf": str(crf), "preset": "veryfast"})
    stream.width, stream.height = width - width % 2, height - height % 2
    stream.pix_fmt = "yuv420p"
    if time_base is not None:
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
    if rotation:
        stream.set_display_rotation(rotation)
    return stream


def rgb_frame(stream: Any, rgb: np.ndarray, pts: int | None = None, time_base: Fraction | None = None) -> Any:
    """A `VideoFrame` for `stream` from RGB pixels (cropped to its even size), with timing if given."""
    import av

    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: stream.height, : stream.width]), format="rgb24")
    if pts is not None:
        vf.pts = pts
        vf.time_base = time_base
    return vf


def anonymize_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    transform: Transform,
    *,
    overwrite: bool = False,
    keep_metadata: bool = False,
    audio: bool = True,
    codec: str = "h264",
    crf: int = 20,
    on_frame: Callable[[], None] | None = None,
) -> int:
    """Write `dst` from `src`, every video frame replaced by what `transform` yields for it.

    `transform` receives an iterator of `Frame` and yields ``(frame, rgb)`` pairs, in
    order, one per input frame (it may hold a few frames back, e.g. to look ahead).
    Returns the number of frames written. The output appears only when complete.
    """
    import av

    src, dst = Path(src), Path(dst)
    if codec not in CODECS:
        raise PrivisError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    if not src.is_file():
        raise MediaError(f"{src}: no such file")
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst} exists; pass overwrite=True to replace it")
    rotation = probe_rotation(src)
    return_large_buffers()
    try:
        inp = av.open(str(src))
    except Exception as exc:
        raise MediaError(f"{src}: cannot open video ({exc})") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".privis-", suffix=dst.suffix, dir=dst.parent)
    os.close(fd)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(_QUEUE)
    to_write: queue.Queue = queue.Queue(_QUEUE * 2)  # frames and (small) audio packets
    errors: list[BaseException] = []
    written = 0
    try:
        with inp:
            if not inp.streams.video:
                raise MediaError(f"{src}: no video stream")
            vin = inp.streams.video[0]
            vin.thread_type = "AUTO"
            width, height = vin.codec_context.width, vin.codec_context.height
            if width < 2 or height < 2:
                raise MediaError(f"{src}: a {width}x{height} video is too small to encode (2x2 pixels at least)")
            ains = list(inp.streams.audio) if audio else []
            with av.open(tmp, "w", format=_muxer(dst)) as out:
                if keep_metadata:
                    out.metadata.update(inp.metadata)
                tb = vin.time_base or Fraction(1, 90000)
                vout = add_encoder(
                    out,
                    codec,
                    width=vin.codec_context.width,
                    height=vin.codec_context.height,
                    rate=vin.average_rate or vin.guessed_rate or Fraction(25),
                    crf=crf,
                    time_base=tb,
                    rotation=rotation,
                )
                if codec == "h265" and dst.suffix.lower() in (".mp4", ".mov", ".m4v"):
                    vout.codec_tag = "hvc1"  # what Apple players need to open HEVC in MP4
                aouts = {a.index: out.add_stream_from_template(a) for a in ains}

                def read() -> None:
                    index, last_pts = 0, None
                    try:
                        for packet in inp.demux(vin, *ains):
                            if packet.stream.type == "audio":
                                if packet.dts is not None:
                                    packet.stream = aouts[packet.stream.index]
                                    _put(to_write, ("packet", packet), stop)
                                continue
                            try:
                                frames = packet.decode()
                            except av.error.InvalidDataError as exc:
                                if index == 0:
                                    raise MediaError(f"{src}: cannot decode video ({exc})") from None
                                log.warning("%s: damaged data after frame %d (%s); skipped", src, index, exc)
                                continue
                            for f in frames:
                                if not isinstance(f, av.VideoFrame):
                                    continue
                                pts = f.pts if f.pts is not None else (0 if last_pts is None else last_pts + 1)
                                if last_pts is not None and pts <= last_pts:
                                    pts = last_pts + 1
                                last_pts = pts
                                rgb = f.to_ndarray(format="rgb24")
                                _put(decoded, Frame(rgb, index, pts, tb, rotation), stop)
                                index += 1
                    except _Stop:
                        return
                    except BaseException as exc:  # handed to the main thread
                        errors.append(exc)
                    finally:
                        try:
                            _put(decoded, None, stop)
                        except _Stop:
                            pass

                def write() -> None:
                    try:
                        while True:
                            item = _get(to_write, stop)
                            if item is None:
                                break
                            kind, payload = item
                            if kind == "packet":
                                out.mux(payload)
                                continue
                            for p in vout.encode(payload):
                                out.mux(p)
                        for p in vout.encode(None):
                            out.mux(p)
                    except _Stop:  # the main thread gave up: nothing more to write
                        return
                    except BaseException as exc:
                        errors.append(exc)
                        stop.set()

                def frames() -> Iterator[Frame]:
                    while True:
                        item = _get(decoded, stop)
                        if item is None:
                            return
                        yield item

                reader = threading.Thread(target=read, name="privis-decode", daemon=True)
                writer = threading.Thread(target=write, name="privis-encode", daemon=True)
                reader.start()
                writer.start()
                try:
                    for frame, rgb in transform(frames()):
                        if errors:
                            break
                        _put(to_write, ("frame", rgb_frame(vout, rgb, frame.pts, tb)), stop)
                        written += 1
                        if on_frame:
                            on_frame()
                except _Stop:  # the writer failed; its error is in `errors`
                    pass
                finally:  # every wait in the threads ends once `stop` is set, so these joins return
                    if errors or written == 0 or sys.exc_info()[0] is not None:
                        stop.set()
                    else:
                        _put(to_write, None, stop)
                    writer.join()
                    stop.set()  # release a reader still blocked on a full queue
                    reader.join()
        if errors:
            first = errors[0]
            if isinstance(first, PrivisError):
                raise first
            raise MediaError(f"{src}: video error ({first.__class__.__name__}: {first})") from None
        if written == 0:
            raise MediaError(f"{src}: no video frames could be decoded")
        if dst.exists() and not overwrite:
            raise OutputExistsError(f"{dst} exists; pass overwrite=True to replace it")
        os.replace(tmp, dst)
    except _Stop:
        raise MediaError(f"{src}: stopped") from None
    except av.error.FFmpegError as exc:
        raise MediaError(f"{src}: video error ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return written


def _muxer(path: Path) -> str | None:
    return {".mkv": "matroska", ".m4v": "mp4"}.get(path.suffix.lower())


def read_frames(path: str | os.PathLike[str], limit: int | None = None) -> list[np.ndarray]:
    """The first `limit` frames (all by default) of the video at `path`, as RGB arrays: for
    benchmarks and tests that need a clip in memory (`write_video` is the other way).

    >>> import tempfile; from pathlib import Path
    >>> clip = write_video(Path(tempfile.mkdtemp()) / "c.mp4", [np.zeros((16, 16, 3), np.uint8)] * 3)
    >>> [f.shape for f in read_frames(clip, 2)]
    [(16, 16, 3), (16, 16, 3)]
    """
    import cv2

    if not Path(path).is_file():
        raise MediaError(f"{path}: no such file")
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    try:
        while limit is None or len(out) < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            out.append(np.ascontiguousarray(bgr[..., ::-1]))
    finally:
        cap.release()
    return out


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: int = 10,
    *,
    keyframe_every: int | None = None,
    tone: float | None = None,
) -> Path:
    """Encode RGB uint8 frames as an H.264 file (for demos, tests and benchmarks).

    `keyframe_every` frames a keyframe (as cameras write them; default: the encoder's own
    choice), and with `tone` a sine of that many hertz as an AAC track as long as the video.
    The same frames always give the same file: x264's macroblock tree is off, because at
    widths such as 320, 480 or 720 it reads memory it never wrote, and the clip then
    depends on what the process did before (a leak rate moved by 0.01 between runs).
    """
    import av

    out = Path(path)
    it = iter(frames)
    first = next(it)
    h, w = first.shape[:2]
    count = 0
    with av.open(str(out), "w") as c:
        s = add_encoder(c, "h264", width=w, height=h, rate=fps, crf=18)
        options = {"x264-params": "mbtree=0"}
        if keyframe_every:
            options |= {"g": str(keyframe_every), "keyint_min": str(keyframe_every), "sc_threshold": "0"}
        s.codec_context.options = {**s.codec_context.options, **options}
        a = c.add_stream("aac", rate=16000) if tone else None
        if a is not None:
            a.layout = "mono"
        for f in itertools.chain([first], it):
            for p in s.encode(rgb_frame(s, f)):
                c.mux(p)
            count += 1
        for p in s.encode(None):
            c.mux(p)
        if a is not None:
            t = np.arange(int(16000 * count / fps)) / 16000
            samples = (0.2 * np.sin(2 * np.pi * float(tone or 0) * t)).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, start
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return out
