"""Video jobs for `privis serve`: queued in SQLite, processed one at a time, downloaded once.

A job's upload and result live in its own folder (mode 0700) under the service's state
folder, never anywhere else, and the folder is deleted when the result is downloaded, the
job is deleted, or its time to live runs out. The database holds the job's state, progress,
owner (a token's name) and error, never pixels. A job that was running when the service
stopped is taken up again from the start when the service starts (its input is still in
its folder); one whose input is gone is marked failed with the reason. No job is lost
silently.

Examples
--------
>>> import tempfile
>>> store = JobStore(tempfile.mkdtemp())
>>> job = store.create("desk", ".mp4", {"targets": "face"})   # then its input is written
>>> store.queue(job.id)
>>> store.get(job.id, "desk").state, store.get(job.id, "someone-else")
('queued', None)
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from privis.errors import PrivisError

log = logging.getLogger(__name__)

TTL_S = 3600.0  # a finished job's result is kept this long for its download
STATES = ("uploading", "queued", "running", "done", "failed", "downloaded")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    expires REAL,
    frames_done INTEGER NOT NULL DEFAULT 0,
    frames_total INTEGER,
    suffix TEXT NOT NULL,
    options TEXT NOT NULL,
    error TEXT,
    restarts INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass
class Job:
    """A job as its owner sees it."""

    id: str
    owner: str
    state: str
    created: float
    updated: float
    expires: float | None
    frames_done: int
    frames_total: int | None
    suffix: str
    options: dict[str, Any]
    error: str | None
    restarts: int

    @property
    def progress(self) -> float | None:
        """Share of frames done (None until the frame count is known)."""
        if self.state == "done":
            return 1.0
        return min(self.frames_done / self.frames_total, 1.0) if self.frames_total else None

    def public(self) -> dict[str, Any]:
        """What the API answers about the job (not its owner)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("owner", "suffix")}
        out["progress"] = None if self.progress is None else round(self.progress, 4)
        return out


class JobStore:
    """Jobs in ``state/jobs.sqlite`` and their files in ``state/jobs/<id>/``; thread-safe."""

    def __init__(self, state: str | os.PathLike[str], *, ttl_s: float = TTL_S) -> None:
        self.root = Path(state) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.ttl_s = float(ttl_s)
        try:
            self._db = sqlite3.connect(str(Path(state) / "jobs.sqlite"), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise PrivisError(f"cannot open the job database in {state}: {exc}") from None
        self._lock = threading.Lock()

    def folder(self, job_id: str) -> Path:
        """The job's private folder (its input is ``input<suffix>``, its result ``output.mp4``)."""
        if not job_id.isalnum():
            raise PrivisError(f"bad job id {job_id!r}")
        return self.root / job_id

    def create(self, owner: str, suffix: str, options: dict[str, Any]) -> Job:
        """A queued job whose folder exists (the caller writes its input there)."""
        job_id = secrets.token_hex(12)
        folder = self.folder(job_id)
        folder.mkdir(mode=0o700)
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, owner, state, created, updated, suffix, options) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, owner, "uploading", now, now, suffix, json.dumps(options)),
            )
        job = self._row(job_id)
        assert job is not None
        return job

    def _row(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        fields = list(Job.__dataclass_fields__)
        values = dict(zip(fields, row, strict=True))
        values["options"] = json.loads(values["options"])
        return Job(**values)

    def get(self, job_id: str, owner: str) -> Job | None:
        """The job `job_id` if `owner` made it (others' jobs do not exist for them)."""
        job = self._row(job_id) if job_id.isalnum() else None
        return job if job is not None and secrets.compare_digest(job.owner, owner) else None

    def update(self, job_id: str, **values: Any) -> None:
        values["updated"] = time.time()
        names = ", ".join(f"{k} = ?" for k in values)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {names} WHERE id = ?", (*values.values(), job_id))  # noqa: S608

    def queue(self, job_id: str) -> None:
        """The upload is complete: the job may run."""
        self.update(job_id, state="queued")

    def next_queued(self) -> Job | None:
        """The oldest queued job, now marked running."""
        with self._lock:
            row = self._db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE jobs SET state = 'running', updated = ? WHERE id = ?", (time.time(), row[0]))
        return self._row(row[0])

    def recover(self) -> list[str]:
        """After a restart: running jobs go back in the queue (or fail if their input is gone);
        half-uploaded ones are dropped. Returns what was done, one line per job."""
        said = []
        with self._lock:
            rows = self._db.execute(
                "SELECT id, state, suffix FROM jobs WHERE state IN ('running', 'uploading')"
            ).fetchall()
        for job_id, state, suffix in rows:
            source = self.folder(job_id) / f"input{suffix}"
            if state == "uploading":
                self.delete(job_id)
                said.append(f"job {job_id}: its upload was cut short by the restart; dropped")
            elif source.exists():
                for left in self.folder(job_id).iterdir():  # a half-written result and its audit log: start clean
                    if left != source:
                        left.unlink(missing_ok=True)
                with self._lock:
                    self._db.execute("UPDATE jobs SET state = 'queued', frames_done = 0, restarts = restarts + 1, "
                                     "updated = ? WHERE id = ?", (time.time(), job_id))  # fmt: skip
                said.append(f"job {job_id}: was running when the service stopped; started again")
            else:
                self.update(job_id, state="failed", error="the service stopped during the job and its input is gone")
                said.append(f"job {job_id}: was running when the service stopped, input gone; failed")
        return said

    def finish(self, job_id: str, error: str | None = None) -> None:
        """Mark the job done (its result kept for `ttl_s`) or failed (its files deleted)."""
        if error is None:
            self.update(job_id, state="done", expires=time.time() + self.ttl_s)
            (self.folder(job_id) / self._input_name(job_id)).unlink(missing_ok=True)
        else:
            self.update(job_id, state="failed", error=error, expires=time.time() + self.ttl_s)
            shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def _input_name(self, job_id: str) -> str:
        job = self._row(job_id)
        return f"input{job.suffix}" if job else "input"

    def delete(self, job_id: str) -> None:
        """Forget the job and delete its folder."""
        shutil.rmtree(self.folder(job_id), ignore_errors=True)
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def expire(self) -> int:
        """Delete jobs past their time to live; returns how many."""
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM jobs WHERE expires IS NOT NULL AND expires < ?",
                                                  (time.time(),)).fetchall()]  # fmt: skip
        for job_id in ids:
            self.delete(job_id)
        return len(ids)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class JobRunner(threading.Thread):
    """Runs queued jobs one at a time on a daemon thread with `process(job, folder, on_frame)`."""

    def __init__(self, store: JobStore, process: Callable[[Job, Path, Callable[[], None]], None]) -> None:
        super().__init__(daemon=True, name="privis-jobs")
        self.store, self.process = store, process
        self.wake, self.stopping = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.store.expire()
            job = self.store.next_queued()
            if job is None:
                self.wake.wait(5.0)
                self.wake.clear()
                continue
            done = [0]

            def on_frame(job_id: str = job.id, done: list[int] = done) -> None:
                done[0] += 1
                if done[0] % 10 == 0:
                    self.store.update(job_id, frames_done=done[0])

            try:
                self.process(job, self.store.folder(job.id), on_frame)
            except PrivisError as exc:
                log.info("job %s failed: %s", job.id, exc)
                self.store.finish(job.id, error=str(exc).splitlines()[0])
            except Exception as exc:  # a bug: the job fails, the runner goes on
                log.error("job %s failed: %s: %s", job.id, exc.__class__.__name__, exc)
                self.store.finish(job.id, error="internal error (logged on the server)")
            else:
                self.store.update(job.id, frames_done=done[0])
                self.store.finish(job.id)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
