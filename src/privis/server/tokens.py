"""Bearer tokens for `privis serve`, kept hashed in the service's SQLite database.

A token is shown once, when it is created; the database holds only its SHA-256, so a
copy of the database lets nobody in. Tokens are named, listed without their secret, and
revoked by name; a revoked token is refused from the next request on.

Examples
--------
>>> store = TokenStore(":memory:")
>>> token = store.create("camera-desk")
>>> store.check(token), store.check("pv_wrong")
('camera-desk', None)
>>> store.revoke("camera-desk")
>>> store.check(token) is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from privis.errors import PrivisError

PREFIX = "pv_"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    revoked REAL
)
"""


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    name: str
    created: float
    revoked: float | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore:
    """Named bearer tokens in the SQLite file `path` (``":memory:"`` for tests); thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise PrivisError(f"cannot open the token database {self.path}: {exc}") from None
        self._lock = threading.Lock()

    def create(self, name: str) -> str:
        """A new token called `name` (letters, digits, ``-_.``); returned once, stored hashed."""
        if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
            raise PrivisError(f"a token name is 1-64 letters, digits, '-', '_' or '.', got {name!r}")
        token = PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            try:
                self._db.execute("INSERT INTO tokens VALUES (?, ?, ?, NULL)", (name, _digest(token), time.time()))
            except sqlite3.IntegrityError:
                raise PrivisError(f"a token called {name!r} exists; revoke it or pick another name") from None
        return token

    def revoke(self, name: str) -> None:
        """Refuse the token called `name` from now on."""
        with self._lock:
            done = self._db.execute(
                "UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", (time.time(), name)
            )
        if not done.rowcount:
            raise PrivisError(f"no live token called {name!r} (see `privis serve token list`)")

    def list(self) -> list[TokenInfo]:
        """Every token, live and revoked, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT name, created, revoked FROM tokens ORDER BY created").fetchall()
        return [TokenInfo(*row) for row in rows]

    def check(self, token: str) -> str | None:
        """The name of the live token `token`, or None."""
        if not token.startswith(PREFIX) or len(token) > 256:
            return None
        digest = _digest(token)
        with self._lock:
            row = self._db.execute("SELECT name, digest, revoked FROM tokens WHERE digest = ?", (digest,)).fetchone()
        if row is None or row[2] is not None or not hmac.compare_digest(row[1], digest):
            return None
        return str(row[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM tokens WHERE revoked IS NULL").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
