"""Writing outputs safely: never over a file the user did not offer, never half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from privis.errors import OutputExistsError


def write_atomically(path: str | os.PathLike[str], write: Callable[[str], None], *, overwrite: bool = False) -> Path:
    """Have `write` fill a temporary file beside `path`, then move it into place.

    An existing `path` is refused unless `overwrite` (checked before and after writing,
    in case it appeared meanwhile); on any failure the temporary file is removed and
    `path` is left as it was.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".privis-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        if path.exists() and not overwrite:  # appeared while we worked
            raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
