"""The main jobs, one call each, as the CLI runs them: a tree of files anonymized, people counted.

>>> from pathlib import Path
>>> report = anonymize_paths([Path("no-such-folder")], "out")
>>> report.done, report.failed[0][1]
(0, 'no such file or folder')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from privis.auditlog import AuditLog
from privis.batch import BatchReport, plan, run
from privis.config import Settings, load_settings
from privis.pipeline import Anonymizer

PathLike = str | os.PathLike[str]


def _settings(settings: Settings | PathLike | None) -> Settings:
    """Settings as given, read from a file, or (None) from $PRIVIS_CONFIG and the environment."""
    return settings if isinstance(settings, Settings) else load_settings(settings)


def anonymize_paths(
    inputs: PathLike | Sequence[PathLike],
    out: PathLike | None = None,
    settings: Settings | PathLike | None = None,
    *,
    audit: AuditLog | PathLike | None = None,
    overwrite: bool = False,
    keep_metadata: bool = False,
    fmt: str = "same",
    detect_only: bool = False,
) -> BatchReport:
    """Anonymize image, video, PDF and DICOM files and folders (recursive) into `out`, as
    ``privis anonymize`` does: the tree mirrored, existing outputs refused unless
    `overwrite`, a bad file reported in ``failed`` and the rest done.

    `settings` is a `Settings`, a YAML or TOML file, or None for ``$PRIVIS_CONFIG`` and
    the ``PRIVIS_*`` variables; images get the image defaults and videos the video ones.
    `audit` is an `AuditLog` or a path to append one JSON line per hidden region to.
    """
    paths = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    jobs, problems, notes = plan(paths, out, fmt=fmt, detect_only=detect_only)
    anonymizer = Anonymizer(settings=_settings(settings))
    log = AuditLog(audit) if isinstance(audit, str | os.PathLike) else audit
    anonymizer.audit = log
    try:
        report = run(anonymizer, jobs, overwrite=overwrite, keep_metadata=keep_metadata)
    finally:
        if log is not None and log is not audit:
            log.close()
    report.failed[:0] = problems
    report.notes[:0] = notes
    return report


def count(
    source: str,
    counting: Any,
    settings: Settings | PathLike | None = None,
    *,
    db: PathLike | None = None,
    jsonl: PathLike | None = None,
    epsilon_per_day: float | None = None,
    epsilon_per_release: float | None = None,
    **stream: Any,
) -> dict[str, Any]:
    """Count people crossing lines and standing in zones on a live source or file, keeping no
    frame: ``privis stream --count``. Returns the stream's figures with the published
    totals under ``counts``.

    `counting` is a `privis.analytics.counting.CountConfig` or a YAML or JSON file of
    lines and zones. Buckets go to the SQLite `db` (``privis-counts.sqlite`` when no sink
    is named) and/or `jsonl`; with `epsilon_per_day`, only differentially private counts
    leave. `stream` takes `Anonymizer.stream`'s options (``max_frames``, ``realtime``...).
    """
    from privis.analytics.counting import CountConfig, count_config
    from privis.analytics.publish import CountPublisher, run_counting

    config = counting if isinstance(counting, CountConfig) else count_config(config_file=Path(counting))
    chosen = _settings(settings)
    if "person" not in chosen.targets:
        chosen = chosen.updated({"targets": [*chosen.targets, "person"]})
    anonymizer = Anonymizer(settings=chosen, kind="video")
    publisher = CountPublisher.open(config, source=source, db=db, jsonl=jsonl, epsilon_per_day=epsilon_per_day,
                                    epsilon_per_release=epsilon_per_release)  # fmt: skip
    return run_counting(anonymizer, source, publisher, **stream)
