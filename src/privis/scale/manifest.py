"""The manifest of a batch: which files are finished, with content hashes and the settings
they were made with, so that a run killed at any point resumes without redoing them.

SQLite, committed after every batch of results. Each file's row says what went in (location,
size, time, SHA-256), what came out (location, SHA-256) and in which run; `events` keeps every
finish and failure per run, so that "nothing was processed twice" is something the manifest
shows, not something assumed. The outputs a run was about to write are claimed first: after a
kill, a claimed output that exists was written by this manifest's run, and is replaced, never
an output the user had before.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privis.errors import PrivisError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, started REAL, workers INTEGER, address TEXT);
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY, src TEXT NOT NULL, src_size INTEGER, src_mtime_ns INTEGER, src_sha256 TEXT,
    dst TEXT, dst_sha256 TEXT, regions INTEGER, run INTEGER, finished REAL);
CREATE TABLE IF NOT EXISTS claims (dst TEXT PRIMARY KEY, run INTEGER);
CREATE TABLE IF NOT EXISTS events (run INTEGER, name TEXT, event TEXT, detail TEXT, at REAL);
"""


@dataclass(frozen=True)
class Finished:
    """One finished file as the manifest holds it."""

    name: str
    src: str
    src_size: int
    src_mtime_ns: int
    src_sha256: str
    dst: str | None
    dst_sha256: str | None
    regions: int
    run: int


class Manifest:
    """A batch's manifest in the SQLite file `path` (made owner-only when new).

    `settings` (any JSON-able description of how files are processed) must match the one the
    manifest was made with: finished files made another way are not this run's results. Without
    `settings` the manifest is only read (`privis anonymize --verify`).

    >>> import tempfile, os
    >>> m = Manifest(os.path.join(tempfile.mkdtemp(), "m.sqlite"), {"method": "blur"})
    >>> run = m.start_run(workers=2)
    >>> m.record([Finished("a.jpg", "/in/a.jpg", 10, 1, "ab", "/out/a.jpg", "cd", 1, run)])
    >>> m.is_finished("a.jpg", 10, 1), m.is_finished("a.jpg", 11, 1)
    (True, False)
    >>> m.close()
    """

    def __init__(self, path: str | os.PathLike[str], settings: Any = None) -> None:
        self.path = Path(path)
        new = not self.path.exists()
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            # WAL with NORMAL sync: a commit survives the process being killed (what resuming is
            # for) without an fsync each; only a power cut may lose the last few, which are redone.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise PrivisError(f"{self.path}: not a privis manifest ({exc})") from None
        self.run = 0
        if settings is None:  # read as it is (verify)
            return
        key = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        row = self._db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('settings', ?)", (key,))
        elif row[0] != key:
            raise PrivisError(
                f"{self.path} holds files made with other settings; rerun with the same settings to resume, "
                "or name another output (or pass --overwrite to start again)"
            )
        self.run = 0

    def start_run(self, *, workers: int = 0, address: str = "") -> int:
        """Open a new run and return its number."""
        cur = self._db.execute("INSERT INTO runs (started, workers, address) VALUES (?, ?, ?)",
                               (time.time(), workers, address))  # fmt: skip
        self.run = int(cur.lastrowid or 0)
        return self.run

    def is_finished(self, name: str, size: int, mtime_ns: int) -> bool:
        """Whether `name` was finished from a source of this size and time."""
        row = self._db.execute("SELECT src_size, src_mtime_ns FROM files WHERE name = ?", (name,)).fetchone()
        return row is not None and (row[0], row[1]) == (size, mtime_ns)

    def claim(self, outputs: Iterable[str]) -> None:
        """Mark `outputs` as this manifest's to write (and to replace, after a kill)."""
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO claims VALUES (?, ?)", ((o, self.run) for o in outputs))

    def claimed(self, output: str) -> bool:
        """Whether `output` was claimed by a run of this manifest."""
        return self._db.execute("SELECT 1 FROM claims WHERE dst = ?", (output,)).fetchone() is not None

    def record(self, finished: Iterable[Finished]) -> None:
        """Store finished files (one transaction)."""
        now = time.time()
        with self._db:
            for f in finished:
                self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (f.name, f.src, f.src_size, f.src_mtime_ns, f.src_sha256, f.dst, f.dst_sha256,
                                  f.regions, f.run, now))  # fmt: skip
                self._db.execute("INSERT INTO events VALUES (?, ?, 'finished', '', ?)", (f.run, f.name, now))

    def failed(self, name: str, reason: str) -> None:
        """Note a file that failed in this run (it is tried again on the next)."""
        self._db.execute("INSERT INTO events VALUES (?, ?, 'failed', ?, ?)", (self.run, name, reason, time.time()))

    def files(self) -> list[Finished]:
        """Every finished file, by name."""
        rows = self._db.execute("SELECT name, src, src_size, src_mtime_ns, src_sha256, dst, dst_sha256, regions, run "
                                "FROM files ORDER BY name").fetchall()  # fmt: skip
        return [Finished(*row) for row in rows]

    def finishes(self) -> dict[str, int]:
        """How many times each file was finished, over all runs (1 each when nothing was redone)."""
        rows = self._db.execute("SELECT name, COUNT(*) FROM events WHERE event = 'finished' GROUP BY name")
        return {name: int(n) for name, n in rows}

    def close(self) -> None:
        self._db.close()
