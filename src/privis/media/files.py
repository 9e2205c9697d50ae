"""Writing outputs safely: never over a file the user did not offer, never half-written,
readable by its owner only (mode 0600, as `tempfile.mkstemp` makes them)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, cast

from privis.errors import OutputExistsError


def write_atomically(path: str | os.PathLike[str], write: Callable[[str], Any], *, overwrite: bool = False) -> Path:
    """Have `write` fill a temporary file beside `path`, then move it into place.

    An existing `path` is refused unless `overwrite` (checked before and after writing,
    in case it appeared meanwhile); on any failure the temporary file is removed and
    `path` is left as it was.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".privis-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        if path.exists() and not overwrite:  # appeared while we worked
            raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def open_private(path: str | os.PathLike[str], mode: str = "a") -> TextIO:
    """Open a text file for appending (``"a"``) or writing (``"w"``); a new file is created
    owner-only (0600), like every other output, since logs and transcripts describe the inputs."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return cast(TextIO, os.fdopen(os.open(path, flags, 0o600), mode, encoding="utf-8"))
