"""Built-in data set names (``att``, ``mnist``...) and where they live.

Names resolve under ``$PRIVIS_DATA``, by default ``../shared/data`` beside the
repository. Nothing is downloaded: a missing set is a clear error.
"""

from __future__ import annotations

import os
from pathlib import Path

from privis.errors import PrivisError

BUILTIN = {
    "att": "faces_att",
    "identity": "faces_identity",
    "mnist": "mnist",
    "wider": "faces_wider",
    "masks": "faces_masks",
    "plates": "plates_openalpr",
    "presidio": "docs_presidio",
}


def data_root() -> Path:
    """The folder built-in names resolve under."""
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    return Path(os.environ.get("PRIVIS_DATA", default))


def resolve_dataset(name_or_path: str | os.PathLike[str]) -> Path:
    """A data set folder: an existing path as given, or a built-in name under `data_root`.

    >>> resolve_dataset("no-such-set")
    Traceback (most recent call last):
    ...
    privis.errors.PrivisError: no-such-set: not a folder, and not a built-in data set (att, identity, mnist, ...)
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    key = str(name_or_path).lower()
    if key not in BUILTIN:
        names = ", ".join(list(BUILTIN)[:3])
        raise PrivisError(f"{name_or_path}: not a folder, and not a built-in data set ({names}, ...)")
    found = data_root() / BUILTIN[key]
    if not found.is_dir():
        raise PrivisError(
            f"data set {key!r} not found at {found}: set PRIVIS_DATA to the folder holding {BUILTIN[key]}/"
        )
    return found
