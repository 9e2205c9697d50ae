"""The audit log: one JSON line per obfuscated region, never pixels or recognised text.

The log is appended to, so that runs over a collection add up; a file that exists and is
not a privis audit log (a photo, a document, someone else's log) is refused, never
appended to. A new log is readable by its owner only (0600).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol, TextIO

from privis.errors import PrivisError
from privis.media.files import open_private
from privis.regions import Regions


def check_appendable(path: Path) -> None:
    """Raise `PrivisError` unless `path` is absent, empty, or a privis audit log (JSON lines
    whose first record names a ``file``)."""
    if not path.exists():
        return
    if not path.is_file():
        raise PrivisError(f"audit log {path}: not a file")
    try:
        with path.open("rb") as fh:
            first = fh.readline(1 << 16)
    except OSError as exc:
        raise PrivisError(f"audit log {path}: cannot read it ({exc.strerror})") from None
    if not first:
        return
    try:
        record = json.loads(first)
    except (ValueError, UnicodeDecodeError):
        record = None
    if not (isinstance(record, dict) and "file" in record):
        raise PrivisError(f"audit log {path} exists and is not a privis audit log; name a new file")


class AuditSink(Protocol):
    """Where an anonymizer reports what it hid: `AuditLog`, or a writer that wraps one
    (`privis.text.transcript.TranscriptWriter`)."""

    def regions(self, regions: Regions, *, file: str, method: str | None, params: dict[str, Any] | None = None,
                frame: int | None = None, pts: float | None = None) -> None: ...  # fmt: skip

    def event(self, file: str, event: str, **extra: Any) -> None: ...

    def close(self) -> None: ...


class AuditLog:
    """Appends JSONL records of what was found and how it was hidden.

    Each line holds ``file``, optional ``frame`` and ``pts``, ``label``, ``box``
    (x1, y1, x2, y2 in source pixels), ``score``, ``method`` and the method's
    parameters (e.g. ε and m for ``dp-pixelate``), plus ``event`` for failures.

    Examples
    --------
    >>> import io, json
    >>> buf = io.StringIO()
    >>> log = AuditLog(buf)
    >>> log.regions(Regions([[1, 2, 3, 4]], score=[0.5]), file="a.png", method="blur")
    >>> json.loads(buf.getvalue())["box"]
    [1.0, 2.0, 3.0, 4.0]
    """

    def __init__(self, target: str | os.PathLike[str] | TextIO) -> None:
        self._lock = threading.Lock()
        if isinstance(target, (str, os.PathLike)):
            path = Path(target)
            check_appendable(path)
            self._fh: TextIO = open_private(path, "a")
            self._owns = True
        else:
            self._fh = target
            self._owns = False

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a JSON line."""
        with self._lock:
            self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")

    def write_lines(self, text: str) -> None:
        """Append JSON lines written elsewhere (by a worker's own `AuditLog`), whole and in order."""
        if text:
            with self._lock:
                self._fh.write(text if text.endswith("\n") else text + "\n")

    def regions(
        self,
        regions: Regions,
        *,
        file: str,
        method: str | None,
        params: dict[str, Any] | None = None,
        frame: int | None = None,
        pts: float | None = None,
    ) -> None:
        """One line per region of a frame."""
        for i in range(len(regions)):
            rec: dict[str, Any] = {"file": file}
            if frame is not None:
                rec["frame"] = frame
            if pts is not None:
                rec["pts"] = round(pts, 6)
            rec["label"] = str(regions.label[i])
            if regions.data.get("entity") is not None and regions.data["entity"][i] is not None:
                rec["entity"] = str(regions.data["entity"][i])  # the type of text hidden, never the text
            rec["box"] = [round(float(v), 2) for v in regions.xyxy[i]]
            rec["score"] = None if regions.score is None else round(float(regions.score[i]), 4)
            if regions.track_id is not None:
                rec["track_id"] = int(regions.track_id[i])
            rec["method"] = method
            if params:
                rec["params"] = params
            self.write(rec)

    def event(self, file: str, event: str, **extra: Any) -> None:
        """A non-region record, e.g. a frame that failed and was fully obfuscated."""
        self.write({"file": file, "event": event, **extra})

    def close(self) -> None:
        with self._lock:
            if self._owns:
                self._fh.close()
            else:
                self._fh.flush()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
