"""Malformed and hostile HTTP requests that `privis serve` must answer with a 4xx and survive (issue 20).

Sent over raw sockets, since a well-behaved client library refuses to send most of them.
`tests/test_serve_hostile.py` and `benchmarks/serve_hostile.py` share them.
"""

from __future__ import annotations

import http.client
import io
import random
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PIL import Image


def png(w: int = 96, h: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (90, 140, 60)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(w: int = 96, h: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 100, 50)).save(buf, format="JPEG")
    return buf.getvalue()


def bomb_png(w: int = 30_000, h: int = 30_000) -> bytes:
    """A valid PNG header declaring w×h pixels over a few hundred bytes: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * (w + 1) * 8, 9)  # the first rows only: enough to start inflating
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


SLOW_STEP_S = 2.0  # a slow client sends its body in four pieces this far apart: 8 s in all


@dataclass
class Hostile:
    """One request: its kind, the raw bytes to send, and how to send them."""

    kind: str
    raw: bytes
    slow: float = 0.0  # seconds between the pieces of a slow client's body (0: all at once)


def _request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def hostile(token: str, revoked: str, seed: int = 0) -> Iterator[Hostile]:
    """An endless, shuffled cycle of hostile requests (`token` is live, `revoked` was revoked)."""
    rng = random.Random(seed)
    good_png, good_jpeg = png(), jpeg()
    auth = {"Authorization": f"Bearer {token}"}

    def image(kind: str, body: bytes, ctype: str = "image/png", extra: dict | None = None) -> Hostile:
        return Hostile(kind, _request("POST", "/v1/anonymize", body, {**auth, "Content-Type": ctype, **(extra or {})}))

    makers: list[Callable[[], Hostile]] = [
        lambda: image("truncated image", good_png[: rng.randrange(8, len(good_png) - 20)]),
        lambda: image("truncated image", good_jpeg[: rng.randrange(4, len(good_jpeg) - 20)], "image/jpeg"),
        lambda: image("corrupt image", b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randrange(16, 4000))),
        lambda: image("corrupt image", b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randrange(16, 4000)), "image/jpeg"),
        lambda: image("decompression bomb", bomb_png()),
        lambda: image("decompression bomb", bomb_png(12_000, 12_000)),
        lambda: image("wrong content type", good_png, "text/html"),
        lambda: image("wrong content type", good_png, "multipart/form-data; boundary=x"),
        lambda: image("wrong content type", b'{"image": 1}', "application/json"),
        lambda: image("huge headers", good_png, extra={"X-Filler": "a" * 70_000}),
        lambda: image("huge headers", good_png, extra={f"X-H{i}": "b" * 100 for i in range(400)}),
        lambda: Hostile(
            "bad token",
            _request(
                "POST",
                "/v1/anonymize",
                good_png,
                {"Authorization": "Bearer pv_" + rng.randbytes(20).hex(), "Content-Type": "image/png"},
            ),
        ),  # fmt: skip
        lambda: Hostile("bad token", _request("POST", "/v1/anonymize", good_png, {"Content-Type": "image/png"})),
        lambda: Hostile("bad token", _request("GET", "/metrics", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})),
        lambda: Hostile(
            "revoked token",
            _request(
                "POST", "/v1/anonymize", good_png, {"Authorization": f"Bearer {revoked}", "Content-Type": "image/png"}
            ),
        ),  # fmt: skip
        lambda: Hostile("path trick", _request("GET", "/ui/../../../../etc/passwd")),
        lambda: Hostile("path trick", _request("GET", "/ui/%2e%2e/%2e%2e/%2e%2e/etc/passwd")),
        lambda: Hostile("path trick", _request("GET", "/ui/..%2f..%2f..%2fetc%2fpasswd")),
        lambda: Hostile("path trick", _request("GET", "/docs-assets/../../app.py")),
        lambda: Hostile("path trick", _request("GET", "/ui/%00index.html")),
        lambda: Hostile(
            "bad parameters",
            _request(
                "POST",
                "/v1/anonymize?targets=face%3Brm%20-rf&output=../../x",
                good_png,
                {**auth, "Content-Type": "image/png"},
            ),
        ),  # fmt: skip
        lambda: Hostile(
            "bad parameters",
            _request("POST", "/v1/anonymize?method=" + "x" * 5000, good_png, {**auth, "Content-Type": "image/png"}),
        ),  # fmt: skip
        lambda: Hostile(
            "oversized body",
            _request(
                "POST", "/v1/anonymize", b"", {**auth, "Content-Type": "image/png", "Content-Length": str(1 << 40)}
            ),
        ),  # fmt: skip
        lambda: Hostile(
            "wrong method", _request("PUT", "/v1/anonymize", good_png, {**auth, "Content-Type": "image/png"})
        ),
        lambda: Hostile("malformed request", b"GARBAGE / HTTP/9.9\r\n\r\n"),
        lambda: Hostile(
            "malformed request",
            _request("POST", "/v1/anonymize", b"", {**auth, "Content-Type": "image/png", "Content-Length": "-5"}),
        ),  # fmt: skip
        lambda: Hostile(
            "slow client",
            _request("POST", "/v1/anonymize", good_png, {**auth, "Content-Type": "image/png"}),
            slow=SLOW_STEP_S,
        ),  # fmt: skip
    ]
    while True:
        order = list(range(len(makers)))
        rng.shuffle(order)
        for i in order:
            yield makers[i]()


def send(port: int, request: Hostile, *, timeout: float = 30.0) -> int:
    """The status code the server answers `request` with; 0 when it closes the connection
    without an answer (what a server may do to a request it cannot parse)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            if request.slow:
                head, _, body = request.raw.partition(b"\r\n\r\n")
                sock.sendall(head + b"\r\n\r\n")
                for k in range(0, len(body), max(1, len(body) // 4)):
                    time.sleep(request.slow)
                    sock.sendall(body[k : k + max(1, len(body) // 4)])
            else:
                sock.sendall(request.raw)
        except OSError:
            pass  # the server may answer and close before reading everything (413, 431)
        data = b""
        try:
            while b"\r\n" not in data:
                piece = sock.recv(4096)
                if not piece:
                    break
                data += piece
        except OSError:
            return 0
    status = data.split(b"\r\n", 1)[0].split(b" ")
    return int(status[1]) if len(status) > 1 and status[1].isdigit() else 0


def post(port: int, token: str, body: bytes, content_type: str = "image/png", *,
         timeout: float = 120.0) -> tuple[int, float]:  # fmt: skip
    """One good `/v1/anonymize` request on loopback: (status, seconds until its answer was read)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/anonymize", body=body,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})  # fmt: skip
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    return response.status, time.perf_counter() - start
