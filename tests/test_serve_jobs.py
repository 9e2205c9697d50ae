"""Video jobs of `privis serve` (issue 20): queued in SQLite, progress readable, the result
downloaded once and then deleted, and a job running when the service stops is not lost."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from privis.media.video import write_video  # noqa: E402
from privis.server.app import create_app, stop_app  # noqa: E402
from privis.server.jobs import JobStore  # noqa: E402
from privis.server.tokens import TokenStore  # noqa: E402


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> bytes:
    from skimage import data

    face = np.asarray(data.astronaut())[::2, ::2]  # 256x256, one face
    path = tmp_path_factory.mktemp("video") / "astronaut.mp4"
    write_video(path, [np.roll(face, 4 * k, axis=1) for k in range(12)], fps=10)
    return path.read_bytes()


def _app(tmp_path, store):
    app = create_app(tokens=store, state=tmp_path)
    return app, TestClient(app, raise_server_exceptions=False)


def _wait(client, url, headers, until=("done", "failed"), timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url, headers=headers).json()
        if job["state"] in until:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job still {job['state']} after {timeout} s")


def test_a_video_job_runs_reports_progress_and_downloads_once(tmp_path, video):
    store = TokenStore(":memory:")
    auth = {"Authorization": f"Bearer {store.create('desk')}"}
    app, client = _app(tmp_path, store)
    made = client.post("/v1/jobs", content=video, headers={**auth, "Content-Type": "video/mp4"},
                       params={"method": "fill"})  # fmt: skip
    assert made.status_code == 202, made.text
    job = _wait(client, made.json()["status_url"], auth)
    assert job["state"] == "done" and job["progress"] == 1.0 and job["frames_total"] == 12
    audit = client.get(job["audit_url"], headers=auth)
    assert audit.status_code == 200 and '"label": "face"' in audit.text.replace('":"', '": "')
    other = {"Authorization": f"Bearer {store.create('other')}"}
    assert client.get(job["result_url"], headers=other).status_code == 404  # not theirs
    first = client.get(job["result_url"], headers=auth)
    assert first.status_code == 200 and first.content[4:8] == b"ftyp"
    assert client.get(job["result_url"], headers=auth).status_code == 410  # once
    assert not list((tmp_path / "jobs" / job["id"]).glob("*.mp4"))  # neither input nor output is kept
    stop_app(app)


def test_bad_uploads_are_refused_and_leave_nothing(tmp_path):
    store = TokenStore(":memory:")
    auth = {"Authorization": f"Bearer {store.create('desk')}"}
    app, client = _app(tmp_path, store)
    assert (
        client.post("/v1/jobs", content=b"\0" * 5000, headers={**auth, "Content-Type": "video/mp4"}).status_code == 422
    )
    assert client.post("/v1/jobs", content=b"x", headers={**auth, "Content-Type": "text/plain"}).status_code == 415
    assert client.post("/v1/jobs", content=b"", headers={**auth, "Content-Type": "video/mp4"}).status_code == 400
    assert not any((tmp_path / "jobs").iterdir())
    stop_app(app)


def test_a_job_running_when_the_service_stops_is_started_again(tmp_path, video):
    store = TokenStore(":memory:")
    auth = {"Authorization": f"Bearer {store.create('desk')}"}
    # The service took the job and stopped in the middle of it (its runner never finished it).
    jobs = JobStore(tmp_path)
    job = jobs.create("desk", ".mp4", {"targets": None, "method": "fill"})
    (jobs.folder(job.id) / "input.mp4").write_bytes(video)
    jobs.queue(job.id)
    assert jobs.next_queued().id == job.id  # now "running", and then the power went
    (jobs.folder(job.id) / ".privis-half.mp4").write_bytes(b"half a video")
    lost = jobs.create("desk", ".mp4", {"targets": None, "method": None})
    jobs.queue(lost.id)
    jobs.next_queued()  # running too, but its input is gone
    jobs.close()
    app, client = _app(tmp_path, store)  # the service starts again
    done = _wait(client, f"/v1/jobs/{job.id}", auth)
    assert done["state"] == "done" and done["restarts"] == 1
    assert not (tmp_path / "jobs" / job.id / ".privis-half.mp4").exists()
    failed = client.get(f"/v1/jobs/{lost.id}", headers=auth).json()
    assert failed["state"] == "failed" and "input is gone" in failed["error"]
    stop_app(app)
