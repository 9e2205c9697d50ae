"""Where a batch's files live: local folders or object storage (S3 and S3-compatible servers),
read and written through `pyarrow.fs`, so that Ray workers on other machines reach the same files.

A location is a local path or a URI such as ``s3://bucket/prefix``; an S3-compatible server is
named by ``AWS_ENDPOINT_URL`` or by ``?endpoint_override=http://host:port`` on the URI, and the
credentials come from the usual ``AWS_*`` variables.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from privis.errors import OutputExistsError, PrivisError
from privis.media.files import write_atomically


@dataclass(frozen=True)
class Entry:
    """One file found under a location: its full location, its path below the folder listed,
    and the size and modification time that tell whether it changed since a manifest saw it."""

    location: str
    rel: str
    size: int
    mtime_ns: int


def is_remote(location: str | Path) -> bool:
    """Whether `location` names object storage (a URI with a scheme) rather than a local path.

    >>> is_remote("s3://bucket/photos"), is_remote("photos/2026")
    (True, False)
    """
    return "://" in str(location)


def join(location: str, rel: str) -> str:
    """`rel` (a ``/``-separated path) under `location`, keeping a URI's query (its endpoint).

    >>> join("s3://b/out?endpoint_override=http://127.0.0.1:9000", "a/x.jpg")
    's3://b/out/a/x.jpg?endpoint_override=http://127.0.0.1:9000'
    >>> join("/data/out", "a/x.jpg")
    '/data/out/a/x.jpg'
    """
    if not is_remote(location):
        return str(Path(location) / rel)
    base, _, query = location.partition("?")
    return base.rstrip("/") + "/" + rel.lstrip("/") + ("?" + query if query else "")


def _split(location: str) -> tuple[Any, str]:
    """The filesystem holding `location` and the path within it."""
    if not is_remote(location):
        return _local(), str(Path(location).resolve())
    base, _, query = location.partition("?")
    parts = urlsplit(base)
    fs = _remote(f"{parts.scheme}://{parts.netloc}" + ("?" + query if query else ""))
    return fs, (parts.netloc + parts.path).rstrip("/")


@functools.lru_cache(maxsize=1)
def _local() -> Any:
    from pyarrow import fs

    return fs.LocalFileSystem()


@functools.lru_cache(maxsize=16)
def _remote(root: str) -> Any:
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(root)[0]
    except (OSError, ValueError) as exc:
        raise PrivisError(f"{root}: cannot open this storage ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _io(location: str, action: str):  # noqa: ANN202 - a context manager that words pyarrow's errors
    import contextlib

    @contextlib.contextmanager
    def guard():  # noqa: ANN202
        try:
            yield
        except (PrivisError, FileNotFoundError):
            raise
        except OSError as exc:
            raise PrivisError(f"{location}: cannot {action} ({_first_line(exc)})") from None

    return guard()


def listing(location: str, keep: Any = None) -> list[Entry]:
    """Files under the folder or prefix `location`, sorted, hidden names (a part starting with
    ``.``) left out; `keep(rel)` chooses among them. A missing folder raises `PrivisError`."""
    from pyarrow import fs as pafs

    filesystem, root = _split(location)
    with _io(location, "list it"):
        top = filesystem.get_file_info(root)
        if top.type == pafs.FileType.NotFound:
            raise PrivisError(f"{location}: no such folder or prefix")
        infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    found = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        rel = info.path[len(root) :].lstrip("/")
        if any(part.startswith(".") for part in rel.split("/")) or (keep is not None and not keep(rel)):
            continue
        found.append(Entry(join(location, rel), rel, int(info.size or 0), int(info.mtime_ns or 0)))
    return sorted(found, key=lambda e: e.rel)


def stat(location: str) -> Entry | None:
    """`location`'s size and time, or None when there is no file there."""
    from pyarrow import fs as pafs

    filesystem, path = _split(location)
    with _io(location, "look at it"):
        info = filesystem.get_file_info(path)
    if info.type != pafs.FileType.File:
        return None
    return Entry(location, Path(path).name, int(info.size or 0), int(info.mtime_ns or 0))


def read_bytes(location: str) -> bytes:
    """The whole file at `location`."""
    if not is_remote(location):
        try:
            return Path(location).read_bytes()
        except FileNotFoundError:
            raise PrivisError(f"{location}: no such file") from None
        except OSError as exc:
            raise PrivisError(f"{location}: cannot read it ({exc.strerror})") from None
    filesystem, path = _split(location)
    with _io(location, "read it"):
        try:
            with filesystem.open_input_stream(path) as fh:
                return bytes(fh.read())
        except FileNotFoundError:
            raise PrivisError(f"{location}: no such file") from None


def write_bytes(location: str, data: bytes, *, overwrite: bool = False) -> str:
    """Write `data` to `location` whole: a local file atomically and owner-only (as every privis
    output), an object in one upload; an existing file is refused unless `overwrite`."""
    if not is_remote(location):
        write_atomically(location, lambda tmp: Path(tmp).write_bytes(data), overwrite=overwrite)
        return location
    if not overwrite and stat(location) is not None:
        raise OutputExistsError(f"{location} exists; pass overwrite=True to replace it")
    filesystem, path = _split(location)
    with _io(location, "write it"):
        with filesystem.open_output_stream(path) as fh:
            fh.write(data)
    return location


def sha256(data: bytes) -> str:
    """Hex SHA-256 of `data`, the content hash a manifest keeps.

    >>> sha256(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()
