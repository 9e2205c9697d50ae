"""Live sources and sinks: cameras, RTSP/HTTP streams and files played in real time; MJPEG out.

Nothing here touches the disk unless a `Recorder` is made: frames live in bounded
in-memory slots. A `LiveSource` keeps only the newest frame, so when processing falls
behind real time frames are dropped (and counted) instead of piling up as lag.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import MediaError, OutputExistsError, PrivisError, RuntimeFailure
from privis.hosts import url_host, warn_if_exposed
from privis.media.video import Frame

log = logging.getLogger(__name__)


def parse_source(source: str) -> tuple[str, str | None, bool]:
    """``(url, format, realtime)`` for a webcam index, an RTSP/HTTP URL or a file path.

    Files are played at their own rate (``realtime=True``) so that they behave like a
    camera; network streams and cameras already arrive in real time.

    >>> parse_source("0")
    ('/dev/video0', 'v4l2', False)
    >>> parse_source("rtsp://cam.local/stream")[1:]
    (None, False)
    """
    if source.isdigit():
        return f"/dev/video{source}", "v4l2", False
    if "://" in source:
        return source, None, False
    path = Path(source)
    if not path.is_file():
        raise MediaError(f"{source}: no such file, camera index or URL")
    return str(path), None, True


class LiveSource:
    """Decodes a source in a thread and hands out the newest frame; older unread ones are dropped.

    Parameters
    ----------
    source : str
        Webcam index (``"0"``), ``rtsp://``/``http://`` URL, or a video file.
    realtime : bool, optional
        Pace frames by their timestamps (default: for files only). Without pacing a
        file is read as fast as it decodes and nothing is dropped.
    """

    def __init__(self, source: str, *, realtime: bool | None = None, timeout: float = 10.0) -> None:
        import av

        url, fmt, is_file = parse_source(source)
        self.realtime = is_file if realtime is None else realtime
        options = {"rtsp_transport": "tcp"} if url.startswith("rtsp") else {}
        try:
            self._container = av.open(url, format=fmt, options=options, timeout=timeout)
        except Exception as exc:
            raise MediaError(f"{source}: cannot open ({exc})") from None
        if not self._container.streams.video:
            self._container.close()
            raise MediaError(f"{source}: no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self.dropped = 0
        self.decoded = 0
        self._slot: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._done = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="privis-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start_wall = None
        first_pts: int | None = None
        start_wall = 0.0
        tb = self._stream.time_base or Fraction(1, 90000)
        try:
            for frame in self._container.decode(self._stream):
                if self._stop.is_set():
                    break
                if frame.pts is None:
                    log.warning("frame without timestamp skipped")
                    continue
                if first_pts is None:
                    first_pts, start_wall = frame.pts, time.monotonic()
                pts = frame.pts - first_pts  # rebase to 0
                if self.realtime:
                    delay = start_wall + float(pts * tb) - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                item = Frame(frame.to_ndarray(format="rgb24"), self.decoded, pts, tb, int(frame.rotation or 0) % 360)
                with self._cond:
                    if self._slot is not None:
                        self.dropped += 1
                    self._slot = item
                    self.decoded += 1
                    self._cond.notify()
                if not self.realtime:  # unpaced: wait for the consumer instead of dropping
                    with self._cond:
                        self._cond.wait_for(lambda: self._slot is None or self._stop.is_set())
        except BaseException as exc:
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._slot is not None or self._done)
                item, self._slot = self._slot, None
                self._cond.notify_all()
            if item is None:
                if self._error is not None and not isinstance(self._error, StopIteration):
                    raise RuntimeFailure(f"live source failed: {self._error}") from None
                return
            item.index = index  # consecutive indices over the frames actually processed
            index += 1
            yield item

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._container.close()

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MAX_CLIENTS = 16  # viewers at once; each holds a thread while it watches
CLIENT_TIMEOUT_S = 30.0


class _BoundedHTTPServer(ThreadingHTTPServer):
    """One thread per client, at most `max_clients` at once: the rest get 503 at once, not a thread."""

    daemon_threads = True
    request_queue_size = 32
    BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\n" \
           b"Content-Length: 17\r\nConnection: close\r\n\r\ntoo many viewers\n"  # fmt: skip

    def __init__(self, address: tuple[str, int], handler: type, max_clients: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(max_clients)
        super().__init__(address, handler)

    def server_bind(self) -> None:  # HTTPServer's looks the host name up, which can stall offline
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(self.BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class MjpegServer:
    """Serves the newest frame as MJPEG at ``/stream.mjpg``, a snapshot at ``/frame.jpg``, a page at ``/``.

    It listens on loopback unless told otherwise (and warns when told otherwise: it has no
    login). At most `max_clients` watch at once; a client silent or not reading for
    `timeout` seconds is dropped.
    """

    PAGE = (
        "<!doctype html><html><head><title>privis live</title><style>body{margin:0;background:#111;"
        "color:#ddd;font:14px sans-serif}img{max-width:100vw;max-height:92vh;display:block;margin:auto}"
        "p{text-align:center}</style></head><body><img src='/stream.mjpg' alt='anonymized stream'>"
        "<p>privis: anonymized live view; nothing is stored.</p></body></html>"
    )

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        quality: int = 80,
        max_clients: int = MAX_CLIENTS,
        timeout: float = CLIENT_TIMEOUT_S,
    ) -> None:
        self.quality = quality
        self._jpeg: bytes | None = None
        self._seq = 0
        self._cond = threading.Condition()
        self._closed = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                self.timeout = timeout  # type: ignore[misc]  # a client that stops reading or never sends is dropped
                super().setup()

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("http: " + fmt, *args)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path in ("/", "/index.html"):
                    body = server.PAGE.encode()
                    self._send(200, "text/html; charset=utf-8", body)
                elif self.path == "/frame.jpg":
                    jpeg = server.wait_frame(0, timeout=10)[1]
                    if jpeg is None:
                        self._send(503, "text/plain", b"no frame yet")
                    else:
                        self._send(200, "image/jpeg", jpeg)
                elif self.path == "/stream.mjpg":
                    self.send_response(200)
                    self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                    self.send_header("Cache-Control", "no-store")
                    self.end_headers()
                    seq = 0
                    try:
                        while True:
                            seq, jpeg = server.wait_frame(seq, timeout=30)
                            if jpeg is None:
                                break
                            self.wfile.write(
                                b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                + str(len(jpeg)).encode()
                                + b"\r\n\r\n"
                                + jpeg
                                + b"\r\n"
                            )
                    except OSError:  # hung up, or stopped reading for `timeout` seconds
                        pass
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        try:
            self._httpd = _BoundedHTTPServer((host, port), Handler, max_clients)
        except (OSError, OverflowError) as exc:
            raise PrivisError(f"cannot serve on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
        self.address = self._httpd.server_address[:2]
        warn_if_exposed(host, f"the anonymized live view ({self.url})")
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="privis-mjpeg", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{url_host(str(host))}:{port}/"

    def publish(self, rgb: np.ndarray) -> None:
        """Make `rgb` the frame every client sees next (JPEG-encoded in memory)."""
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=self.quality)
        with self._cond:
            self._jpeg = buf.getvalue()
            self._seq += 1
            self._cond.notify_all()

    def wait_frame(self, after: int, timeout: float) -> tuple[int, bytes | None]:
        """The first frame newer than sequence number `after` (None on timeout or close)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._seq > after or self._closed, timeout=timeout)
            if not ok or self._closed:
                return after, None
            return self._seq, self._jpeg

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()


class Recorder:
    """Encodes processed frames to a video file (the only sink that writes to disk)."""

    def __init__(
        self, path: str | os.PathLike[str], *, overwrite: bool = False, codec: str = "h264", crf: int = 23
    ) -> None:
        from privis.media.video import CODECS

        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise OutputExistsError(f"{self.path} exists; pass overwrite=True to replace it")
        if codec not in CODECS:
            raise PrivisError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
        self.codec = codec
        self.crf = crf
        self._container: Any = None
        self._stream: Any = None
        self._last_pts: int | None = None

    def write(self, frame: Frame, rgb: np.ndarray) -> None:
        import av

        from privis.media.video import add_encoder, rgb_frame

        if self._container is None:  # sized from the first frame
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), "w")
            h, w = rgb.shape[:2]
            self._stream = add_encoder(
                self._container,
                self.codec,
                width=w,
                height=h,
                rate=30,
                crf=self.crf,
                time_base=frame.time_base,
                rotation=frame.rotation,
            )
        pts = frame.pts if self._last_pts is None or frame.pts > self._last_pts else self._last_pts + 1
        self._last_pts = pts
        for p in self._stream.encode(rgb_frame(self._stream, rgb, pts, frame.time_base)):
            self._container.mux(p)

    def close(self) -> None:
        if self._container is not None:
            for p in self._stream.encode(None):
                self._container.mux(p)
            self._container.close()
            self._container = None
