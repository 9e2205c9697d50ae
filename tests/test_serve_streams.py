"""Live streams in `privis serve` (issue 20): MJPEG through a ticket, counts per bucket, the DP budget."""

from __future__ import annotations

import http.client
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")

from privis.media.video import write_video  # noqa: E402
from privis.server.app import create_app, stop_app  # noqa: E402
from privis.server.http import running  # noqa: E402
from privis.server.streams import StreamSpec  # noqa: E402
from privis.server.tokens import TokenStore  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Ten seconds of a lit square moving across a grey wall, at 10 fps."""
    frames = []
    for k in range(100):
        f = np.full((120, 160, 3), 90, np.uint8)
        f[40:80, k : k + 30] = 200
        frames.append(f)
    return write_video(tmp_path_factory.mktemp("clip") / "wall.mp4", frames, fps=10)


def _get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    return conn, conn.getresponse()


def test_a_stream_is_watched_through_a_ticket_and_counted_under_a_budget(clip, tmp_path):
    import json

    store = TokenStore(":memory:")
    token = store.create("wall")
    auth = {"Authorization": f"Bearer {token}"}
    spec = StreamSpec("wall", str(clip), lines=("door=80,0,80,120",), bucket_seconds=1.0, epsilon_per_day=2.0,
                      realtime=False, loop=True)  # fmt: skip
    app = create_app(tokens=store, state=tmp_path, streams=[spec])
    try:
        with running(app) as url:
            port = int(url.rsplit(":", 1)[1])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                conn, r = _get(port, "/v1/streams/wall/counts", auth)
                status = json.loads(r.read())
                conn.close()
                if status["buckets"] >= 3:
                    break
                time.sleep(0.5)
            assert status["state"] == "running" and status["frames"] > 20 and status["buckets"] >= 3
            assert "door" in status["series"][-1]["lines"]  # noisy counts, one row per released bucket
            assert 0 < status["dp"]["epsilon_left_today"] < 2.0  # each release spent some of the day's ε
            conn, r = _get(port, "/v1/streams/wall")  # no token, no ticket
            assert r.status == 401
            conn.close()
            conn, r = _get(port, "/v1/streams/wall?ticket=1.abc")
            assert r.status == 401
            conn.close()
            conn, r = _get(port, "/v1/streams/wall/ticket", auth)
            view = json.loads(r.read())["url"]
            conn.close()
            conn, r = _get(port, view)
            assert r.status == 200 and r.getheader("content-type").startswith("multipart/x-mixed-replace")
            head = r.read(4096)
            assert b"Content-Type: image/jpeg" in head and b"\xff\xd8" in head
            conn.close()
            conn, r = _get(port, "/v1/streams/nowhere/counts", auth)
            assert r.status == 404
            conn.close()
    finally:
        stop_app(app)
