"""Live mode: nothing stored without a sink, MJPEG served, frames dropped (and counted) when behind."""

import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import av
import numpy as np
import pytest
from PIL import Image

import privis
from privis.errors import MediaError
from privis.media.stream import parse_source
from privis.media.video import write_video
from privis.regions import Regions


@pytest.fixture
def clip(tmp_path_factory, astronaut):
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    frames = [np.roll(astronaut, 4 * i, axis=1) for i in range(20)]
    return write_video(path, frames, fps=20)


def _snapshot(*dirs):
    return {d: sorted(p.relative_to(d).as_posix() for p in d.rglob("*")) for d in dirs}


def test_stream_without_sink_writes_nothing(tmp_path, clip):
    work, tmp, home = (tmp_path / n for n in ("work", "tmp", "home"))
    for d in (work, tmp, home):
        d.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    before = _snapshot(work, tmp, home, clip.parent)
    proc = subprocess.run(
        [sys.executable, "-m", "privis.cli", "stream", str(clip), "--json", "--method", "fill"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["frames"] + report["dropped"] == 20 and report["recorded"] is None
    assert report["regions"] > 0
    assert _snapshot(work, tmp, home, clip.parent) == before


def _read_mjpeg(url, n):
    frames = []
    with urllib.request.urlopen(url, timeout=20) as resp:
        assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        buf = b""
        while len(frames) < n:
            chunk = resp.read(4096)
            if not chunk:
                break
            buf += chunk
            while True:
                start = buf.find(b"\xff\xd8")
                end = buf.find(b"\xff\xd9", start + 2)
                if start < 0 or end < 0:
                    break
                frames.append(Image.open(io.BytesIO(buf[start : end + 2])).convert("RGB"))
                buf = buf[end + 2 :]
    return frames


def test_mjpeg_endpoint_serves_anonymized_frames(clip):
    ready = threading.Event()
    urls = []
    anon = privis.Anonymizer(method="fill", color=(255, 0, 255), shape="box")

    def run():
        anon.stream(str(clip), serve=("127.0.0.1", 0), on_ready=lambda u: (urls.append(u), ready.set()))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(30)
    page = urllib.request.urlopen(urls[0], timeout=10).read().decode()
    assert "/stream.mjpg" in page
    frames = _read_mjpeg(urls[0] + "stream.mjpg", 3)
    t.join(60)
    assert len(frames) >= 3
    for f in frames:
        magenta = np.all(np.abs(np.asarray(f).astype(int) - [255, 0, 255]) < 60, axis=-1)
        assert magenta.sum() > 2000  # the face is hidden in what is served


def test_falls_behind_by_dropping_frames(clip):
    def slow(frame):
        time.sleep(0.15)  # ~7 fps against a 20 fps source
        return Regions.empty()

    report = privis.Anonymizer(detectors=[slow]).stream(str(clip))
    assert report["dropped"] > 0
    assert report["frames"] + report["dropped"] == 20


def test_record_sink(tmp_path, clip):
    out = tmp_path / "rec.mp4"
    report = privis.Anonymizer(detectors=[lambda f: Regions.empty()]).stream(str(clip), record=out, realtime=False)
    assert report["frames"] == 20 and report["dropped"] == 0
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == 20


def test_sources():
    assert parse_source("1") == ("/dev/video1", "v4l2", False)
    assert parse_source("http://127.0.0.1:9/x.mjpg") == ("http://127.0.0.1:9/x.mjpg", None, False)
    with pytest.raises(MediaError, match="no such file"):
        parse_source("/nope.mp4")
