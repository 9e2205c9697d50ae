"""Running a FastAPI app with uvicorn: in the foreground (`serve`) or on a background thread (`running`)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from privis.errors import PrivisError, RuntimeFailure
from privis.hosts import url_host, warn_if_exposed

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (port 0: any free port), or a PrivisError saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PrivisError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(64)
    return sock


def _server(app: Any) -> Any:
    import uvicorn

    # Connections beyond `limit_concurrency` are answered 503 at once: slow clients holding
    # sockets open cannot exhaust the server's memory or file handles.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", limit_concurrency=128,
                            h11_max_incomplete_event_size=64 << 10)  # fmt: skip
    return uvicorn.Server(config)


def serve(app: Any, host: str, port: int) -> None:
    """Serve `app` until interrupted."""
    sock = bind(host, port)
    warn_if_exposed(host, "the service")
    _server(app).run(sockets=[sock])


@contextlib.contextmanager
def running(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free loopback port on a background thread; yields its base URL."""
    sock = bind(host, 0)
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        sock.close()
        raise RuntimeFailure("the local server did not start")
    try:
        yield f"http://{url_host(host)}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
