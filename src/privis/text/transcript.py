"""`--text-out`: the text of every page, with each entity replaced by a keyed pseudonym.

Redacted documents stay linkable ("the same e-mail appears in these 12 scans") without
revealing the values. The writer sits where the audit log sits (it receives each page's
regions, whose ``meta["transcript"]`` the text-pii detector fills) and passes everything
on to the audit log, if there is one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from privis.errors import OutputExistsError
from privis.media.files import open_private


class TranscriptWriter:
    """Writes one section per page (``# file [frame N]``) of pseudonymized text to `path`."""

    def __init__(self, path: str | os.PathLike[str], *, audit: Any = None, overwrite: bool = False) -> None:
        path = Path(path)
        if path.exists() and not overwrite:
            raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
        self._f = open_private(path, "w")
        self.audit = audit

    def regions(self, regions: Any, *, file: str, frame: int | None = None, **extra: Any) -> None:
        """Write the page's transcript; hand the regions to the audit log."""
        text = regions.meta.get("transcript")
        if text is not None:
            where = file if frame is None else f"{file} [frame {frame}]"
            self._f.write(f"# {where}\n{text}\n\n")
            self._f.flush()
        if self.audit is not None:
            self.audit.regions(regions, file=file, frame=frame, **extra)

    def event(self, file: str, event: str, **extra: Any) -> None:
        if self.audit is not None:
            self.audit.event(file, event, **extra)

    def close(self) -> None:
        self._f.close()
        if self.audit is not None:
            self.audit.close()
