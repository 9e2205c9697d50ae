"""Batches of files: expand inputs, mirror the tree into the output, go on past bad files.

One bad file never stops a batch: it is reported in `BatchReport.failed` and the caller
exits non-zero at the end. Existing outputs are refused up front unless ``overwrite``.
Image decoding and encoding overlap with detection in a small thread pool.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from privis.errors import MediaError, OutputExistsError, PrivisError
from privis.media.dicom import anonymize_dicom, is_dicom_path
from privis.media.files import write_atomically
from privis.media.image import (
    IMAGE_SUFFIXES,
    LoadedImage,
    encode_image,
    is_image_path,
    jpeg_without_metadata,
    output_suffix,
    read_image,
)
from privis.media.pdf import anonymize_pdf, is_pdf_path
from privis.media.video import is_video_path, video_output_suffix
from privis.pipeline import Anonymizer
from privis.regions import Regions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes (`dst` is None with ``detect_only``)."""

    src: Path
    dst: Path | None
    kind: str  # "image" or "video"
    name: str  # the path recorded in the audit log


@dataclass
class BatchReport:
    """What a batch did: counts and the files that failed, with reasons."""

    done: int = 0
    regions: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # done, but the user should know (frames blacked out)

    @property
    def ok(self) -> bool:
        return not self.failed


class Plan(NamedTuple):
    """The jobs for a batch, the inputs that cannot run (with reasons), and notes on what
    was left out on purpose (hidden files and folders)."""

    jobs: list[Job]
    problems: list[tuple[str, str]]
    notes: list[tuple[str, str]]


def _walk(folder: Path, skip: Path | None = None, hidden: list[Path] | None = None) -> list[Path]:
    """Image and video files under `folder`, sorted; hidden entries (collected in `hidden`) and
    `skip` (the output folder) left out."""
    found = []
    skip = skip.resolve() if skip is not None else None
    for root, dirs, files in os.walk(folder):
        if hidden is not None:
            hidden.extend(Path(root) / d for d in sorted(dirs) if d.startswith("."))
            hidden.extend(Path(root) / f for f in sorted(files) if f.startswith(".") and _supported(Path(f)))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() != skip)
        for f in sorted(files):
            p = Path(root) / f
            if not f.startswith(".") and _supported(p):
                found.append(p)
    return found


def plan(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None,
    *,
    fmt: str = "same",
    detect_only: bool = False,
    suffix: str = "_anonymized",
) -> Plan:
    """Jobs for `inputs` (files and folders, recursive), the inputs that cannot run, and notes.

    Outputs: with `out`, a folder input's tree is mirrored under `out` (under
    ``out/<folder name>`` when several inputs are given); a single file input may name
    an output file directly. Without `out`, results go beside the input as
    ``<name>_anonymized.<ext>`` or into ``<folder>_anonymized/`` (`suffix`).

    Each job's audit-log name is its path relative to the input root (the folder given, or
    the file's own name), laid out as the output tree is, so that the log does not repeat
    where on disk, and under whose home folder, the inputs were. Two inputs that would write
    one output, or an output that is its own input, are refused, with or without overwrite.
    """
    jobs: list[Job] = []
    problems: list[tuple[str, str]] = []
    hidden: list[Path] = []
    out_path = Path(out) if out is not None else None
    several = len(inputs) > 1
    for raw in inputs:
        src = Path(raw)
        if not src.exists():
            problems.append((str(src), "no such file or folder"))
            continue
        if src.is_dir():
            files = _walk(src, skip=out_path, hidden=hidden)
            if not files:
                problems.append((str(src), "folder holds no image or video files"))
            root_name = src.resolve().name
            base = (out_path / root_name if several else out_path) if out_path else src.parent / (root_name + suffix)
            for f in files:
                rel = f.relative_to(src)
                name = (Path(root_name) / rel if several else rel).as_posix()
                jobs.append(_job(f, base / rel, fmt, detect_only, name))
            continue
        if not _supported(src):
            problems.append((str(src), f"not a supported file ({', '.join(IMAGE_SUFFIXES)}, .mp4..., .dcm, .pdf)"))
            continue
        if out_path is None:
            ext = video_output_suffix(src) if is_video_path(src) else src.suffix
            dst = src.with_name(src.stem + suffix + ext)
        elif not several and _supported(out_path) and not out_path.is_dir():
            jobs.append(Job(src, None if detect_only else out_path, _kind(src), src.name))
            continue
        else:
            dst = out_path / src.name
        jobs.append(_job(src, dst, fmt, detect_only, src.name))
    jobs, clashes = _without_clashes(jobs)
    notes = [(str(h), "hidden " + ("folder" if h.is_dir() else "file") + " left out") for h in hidden]
    return Plan(jobs, problems + clashes, notes)


def _without_clashes(jobs: list[Job]) -> tuple[list[Job], list[tuple[str, str]]]:
    """The jobs whose output is theirs alone and is not an input; the others, with reasons."""
    kept: list[Job] = []
    refused: list[tuple[str, str]] = []
    claimed: dict[Path, Path] = {}
    inputs = {j.src.resolve() for j in jobs}
    for job in jobs:
        if job.dst is None:
            kept.append(job)
            continue
        dst = job.dst.resolve()
        if dst in inputs:
            refused.append((str(job.src), f"its output {job.dst} is an input; choose another -o"))
        elif dst in claimed:
            refused.append((str(job.src), f"{claimed[dst]} writes the same output {job.dst}; rename one"))
        else:
            claimed[dst] = job.src
            kept.append(job)
    return kept, refused


def _supported(path: Path) -> bool:
    return is_image_path(path) or is_video_path(path) or is_dicom_path(path) or is_pdf_path(path)


def _kind(path: Path) -> str:
    if is_video_path(path):
        return "video"
    return "dicom" if is_dicom_path(path) else "pdf" if is_pdf_path(path) else "image"


def _job(src: Path, dst: Path, fmt: str, detect_only: bool, name: str) -> Job:
    kind = _kind(src)
    if kind in ("image", "video"):
        dst = dst.with_suffix(output_suffix(src, fmt) if kind == "image" else video_output_suffix(src))
    return Job(src, None if detect_only else dst, kind, name)


def run(
    anonymizer: Anonymizer,
    jobs: Sequence[Job],
    *,
    overwrite: bool = False,
    keep_metadata: bool = False,
    advance: Callable[[Job], None] | None = None,
    frame_tick: Callable[[], None] | None = None,
) -> BatchReport:
    """Anonymize every job; failures are collected, never raised.

    Images, PDFs and DICOM files get the anonymizer's image defaults, videos its video
    defaults (`Anonymizer.for_media`); regions and failures go to ``anonymizer.audit``
    when it has one.
    """
    video_anonymizer = anonymizer.for_media("video")
    anonymizer = anonymizer.for_media("image")
    audit = anonymizer.audit
    report = BatchReport()
    runnable = []
    for job in jobs:
        if job.dst is not None and job.dst.exists() and not overwrite:
            _failed(report, job, OutputExistsError(f"{job.dst} exists; pass overwrite=True to replace it"), audit)
            if advance:
                advance(job)
        else:
            runnable.append(job)
    images = [j for j in runnable if j.kind == "image"]
    videos = [j for j in runnable if j.kind == "video"]
    for job in (j for j in runnable if j.kind in ("dicom", "pdf")):
        try:
            if job.kind == "dicom":
                report.regions += anonymize_dicom(
                    anonymizer, job.src, job.dst, overwrite=overwrite, keep_metadata=keep_metadata, name=job.name
                )
            else:
                report.regions += anonymize_pdf(anonymizer, job.src, job.dst, overwrite=overwrite, name=job.name)
            report.done += 1
            if job.dst is not None:
                report.written.append(job.dst)
        except Exception as exc:  # bad file or detector failure: skip it, never write it in clear
            _failed(report, job, exc, audit)
        if advance:
            advance(job)
    with cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix="privis-io") as pool:
        reads = _prefetch(pool, images)
        writes: list[tuple[Job, cf.Future]] = []
        for job, future in reads:
            try:
                loaded = future.result()
                out, regions = anonymizer.process(loaded.rgb, loaded.pixels)
            except Exception as exc:  # bad file or detector failure: skip it, never write it in clear
                _failed(report, job, exc, audit)
                if advance:
                    advance(job)
                continue
            anonymizer.record(regions, job.name)
            report.regions += len(regions)
            if job.dst is None:
                report.done += 1
                if advance:
                    advance(job)
                continue
            write = pool.submit(_write_result, job, loaded, out, regions, keep_metadata, overwrite)
            writes.append((job, write))
            writes = _drain(writes, report, advance, audit, block=len(writes) > 4)
        _drain(writes, report, advance, audit, block=True)
    for job in videos:
        _run_video(video_anonymizer, job, report, overwrite, keep_metadata, frame_tick)
        if advance:
            advance(job)
    return report


def _write_result(
    job: Job, loaded: LoadedImage, out: np.ndarray, regions: Regions, keep_metadata: bool, overwrite: bool
) -> Path:
    if job.dst is None:
        raise ValueError("a detect-only job has nothing to write")
    data = image_result(job.dst.suffix, loaded, out, regions, keep_metadata=keep_metadata, source=job.src.read_bytes)
    return write_atomically(job.dst, lambda tmp: Path(tmp).write_bytes(data), overwrite=overwrite)


def image_result(
    suffix: str,
    loaded: LoadedImage,
    out: np.ndarray,
    regions: Regions,
    *,
    keep_metadata: bool,
    source: Callable[[], bytes],
) -> bytes:
    """The bytes of an image job's output file (one rule for every runner, so that a batch run
    here and one spread over a Ray cluster write the same files).

    Where nothing was hidden in an upright JPEG, the source's own compressed pixels without
    anything else (`source` gives its bytes), rather than a re-encode; otherwise, or where the
    copy would not decode the same, `out` encoded for `suffix`.
    """
    if not len(regions) and loaded.lossless_copy and not keep_metadata and suffix.lower() in (".jpg", ".jpeg"):
        try:
            return jpeg_without_metadata(source(), expect=loaded.pixels)
        except MediaError as exc:
            log.info("%s; re-encoding instead", exc)
            return encode_image(loaded.pixels, suffix, mode=loaded.mode)
    meta = loaded.metadata if keep_metadata else None
    return encode_image(out, suffix, mode=loaded.mode, metadata=meta)


def _prefetch(pool: cf.ThreadPoolExecutor, jobs: Sequence[Job], depth: int = 2) -> Iterable[tuple[Job, cf.Future]]:
    pending: list[tuple[Job, cf.Future]] = []
    it = iter(jobs)
    for job in it:
        pending.append((job, pool.submit(read_image, job.src)))
        if len(pending) >= depth:
            yield pending.pop(0)
    yield from pending


def _drain(writes: list[tuple[Job, cf.Future]], report: BatchReport, advance, audit, *, block: bool) -> list:
    left = []
    for job, fut in writes:
        if not block and not fut.done():
            left.append((job, fut))
            continue
        try:
            report.written.append(fut.result())
            report.done += 1
        except (PrivisError, OSError, MemoryError) as exc:
            _failed(report, job, exc, audit)
        if advance:
            advance(job)
    return left


def _run_video(
    anonymizer: Anonymizer,
    job: Job,
    report: BatchReport,
    overwrite: bool,
    keep_metadata: bool,
    frame_tick: Callable[[], None] | None,
) -> None:
    import tempfile

    before, black_before = anonymizer.regions_hidden, anonymizer.frames_failed
    try:
        if job.dst is None:  # detect-only: the encoded frames go to a throw-away file
            with tempfile.TemporaryDirectory() as tmp:
                anonymizer.video(job.src, Path(tmp) / ("x" + job.src.suffix), name=job.name, on_frame=frame_tick)
        else:
            anonymizer.video(
                job.src,
                job.dst,
                overwrite=overwrite,
                keep_metadata=keep_metadata,
                name=job.name,
                on_frame=frame_tick,
            )
            report.written.append(job.dst)
        report.done += 1
        black = anonymizer.frames_failed - black_before
        if black:
            report.notes.append((str(job.src), f"{black} frame(s) written black: detection failed on them"))
    except Exception as exc:  # bad file, detector or codec failure: skip it, never write it in clear
        _failed(report, job, exc, anonymizer.audit)
    finally:
        report.regions += anonymizer.regions_hidden - before


def _failed(report: BatchReport, job: Job, exc: Exception, audit: object) -> None:
    """Report a file that was skipped, and say so in the audit log."""
    log.debug("failed on %s", job.src, exc_info=True)
    reason = failure_reason(exc, job.src)
    report.failed.append((str(job.src), reason))
    if audit:
        audit.event(job.name, "failed", reason=reason)  # type: ignore[attr-defined]


def failure_reason(exc: Exception, src: Path) -> str:
    """What went wrong with `src`, in one line, without repeating its path (every runner reports it so)."""
    if isinstance(exc, MemoryError):
        return "out of memory (the file needs more than this machine has free)"
    msg = str(exc) or exc.__class__.__name__
    prefix = f"{src}: "
    if isinstance(exc, (MediaError, OutputExistsError)) and msg.startswith(prefix):
        msg = msg[len(prefix) :]
    return msg
