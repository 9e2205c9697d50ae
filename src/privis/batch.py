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

from privis.errors import MediaError, OutputExistsError, PrivisError
from privis.media.dicom import is_dicom_path
from privis.media.image import (
    IMAGE_SUFFIXES,
    copy_jpeg_without_metadata,
    is_image_path,
    output_suffix,
    read_image,
    write_image,
)
from privis.media.pdf import is_pdf_path
from privis.media.video import is_video_path, video_output_suffix
from privis.pipeline import Anonymizer

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

    @property
    def ok(self) -> bool:
        return not self.failed


def _walk(folder: Path, skip: Path | None = None) -> list[Path]:
    """Image and video files under `folder`, sorted; hidden entries and `skip` (the output folder) left out."""
    found = []
    skip = skip.resolve() if skip is not None else None
    for root, dirs, files in os.walk(folder):
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
) -> tuple[list[Job], list[tuple[str, str]]]:
    """Jobs for `inputs` (files and folders, recursive) and the inputs that cannot run.

    Outputs: with `out`, a folder input's tree is mirrored under `out` (under
    ``out/<folder name>`` when several inputs are given); a single file input may name
    an output file directly. Without `out`, results go beside the input as
    ``<name>_anonymized.<ext>`` or into ``<folder>_anonymized/`` (`suffix`).
    """
    jobs: list[Job] = []
    problems: list[tuple[str, str]] = []
    out_path = Path(out) if out is not None else None
    several = len(inputs) > 1
    for raw in inputs:
        src = Path(raw)
        if not src.exists():
            problems.append((str(src), "no such file or folder"))
            continue
        if src.is_dir():
            files = _walk(src, skip=out_path)
            if not files:
                problems.append((str(src), "folder holds no image or video files"))
            base = (
                (out_path / src.resolve().name if several else out_path)
                if out_path
                else src.parent / (src.resolve().name + suffix)
            )
            for f in files:
                rel = f.relative_to(src)
                jobs.append(_job(f, base / rel, fmt, detect_only, str(f)))
            continue
        if not _supported(src):
            problems.append((str(src), f"not a supported file ({', '.join(IMAGE_SUFFIXES)}, .mp4..., .dcm, .pdf)"))
            continue
        if out_path is None:
            ext = video_output_suffix(src) if is_video_path(src) else src.suffix
            dst = src.with_name(src.stem + suffix + ext)
        elif not several and _supported(out_path) and not out_path.is_dir():
            dst = out_path
            jobs.append(Job(src, None if detect_only else dst, _kind(src), str(src)))
            continue
        else:
            dst = out_path / src.name
        jobs.append(_job(src, dst, fmt, detect_only, str(src)))
    return jobs, problems


def _is_jpeg(path: Path) -> bool:
    return path.suffix.lower() in (".jpg", ".jpeg")


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
    video_options: dict | None = None,
    advance: Callable[[Job], None] | None = None,
    frame_tick: Callable[[], None] | None = None,
) -> BatchReport:
    """Anonymize every job; failures are collected, never raised.

    Regions and failures go to ``anonymizer.audit`` when it has one. `video_options`
    are passed to `Anonymizer.video` (``audio``, ``codec``, ``crf``); its key
    ``anonymizer`` names another `Anonymizer` for the videos (e.g. with other
    detector settings).
    """
    audit = anonymizer.audit
    report = BatchReport()
    runnable = []
    for job in jobs:
        if job.dst is not None and job.dst.exists() and not overwrite:
            report.failed.append((str(job.src), f"{job.dst} exists; pass --overwrite to replace it"))
            if advance:
                advance(job)
        else:
            runnable.append(job)
    images = [j for j in runnable if j.kind == "image"]
    videos = [j for j in runnable if j.kind == "video"]
    for job in (j for j in runnable if j.kind in ("dicom", "pdf")):
        try:
            if job.kind == "dicom":
                report.regions += anonymizer.dicom(
                    job.src, job.dst, overwrite=overwrite, keep_metadata=keep_metadata, name=job.name
                )
            else:
                report.regions += anonymizer.pdf(job.src, job.dst, overwrite=overwrite, name=job.name)
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
            meta = loaded.metadata if keep_metadata else None
            if not len(regions) and loaded.lossless_copy and not keep_metadata and _is_jpeg(job.dst):
                # Nothing hidden: the same compressed pixels, without metadata, rather than a re-encode.
                write = pool.submit(copy_jpeg_without_metadata, job.src, job.dst, overwrite=overwrite)
            else:
                write = pool.submit(write_image, job.dst, out, mode=loaded.mode, metadata=meta, overwrite=overwrite)
            writes.append((job, write))
            writes = _drain(writes, report, advance, block=len(writes) > 4)
        _drain(writes, report, advance, block=True)
    options = dict(video_options or {})
    video_anonymizer = options.pop("anonymizer", anonymizer)
    for job in videos:
        _run_video(video_anonymizer, job, report, overwrite, keep_metadata, frame_tick, options)
        if advance:
            advance(job)
    return report


def _prefetch(pool: cf.ThreadPoolExecutor, jobs: Sequence[Job], depth: int = 2) -> Iterable[tuple[Job, cf.Future]]:
    pending: list[tuple[Job, cf.Future]] = []
    it = iter(jobs)
    for job in it:
        pending.append((job, pool.submit(read_image, job.src)))
        if len(pending) >= depth:
            yield pending.pop(0)
    yield from pending


def _drain(writes: list[tuple[Job, cf.Future]], report: BatchReport, advance, *, block: bool) -> list:
    left = []
    for job, fut in writes:
        if not block and not fut.done():
            left.append((job, fut))
            continue
        try:
            report.written.append(fut.result())
            report.done += 1
        except (PrivisError, OSError) as exc:
            report.failed.append((str(job.src), _reason(exc, job.src)))
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
    options: dict,
) -> None:
    import tempfile

    before = anonymizer.regions_hidden
    try:
        if job.dst is None:  # detect-only: the encoded frames go to a throw-away file
            with tempfile.TemporaryDirectory() as tmp:
                anonymizer.video(
                    job.src, Path(tmp) / ("x" + job.src.suffix), name=job.name, on_frame=frame_tick, **options
                )
        else:
            anonymizer.video(
                job.src,
                job.dst,
                overwrite=overwrite,
                keep_metadata=keep_metadata,
                name=job.name,
                on_frame=frame_tick,
                **options,
            )
            report.written.append(job.dst)
        report.done += 1
    except (PrivisError, OSError) as exc:
        report.failed.append((str(job.src), _reason(exc, job.src)))
    finally:
        report.regions += anonymizer.regions_hidden - before


def _failed(report: BatchReport, job: Job, exc: Exception, audit: object) -> None:
    """Report a file that was skipped, and say so in the audit log."""
    log.debug("failed on %s", job.src, exc_info=True)
    reason = _reason(exc, job.src)
    report.failed.append((str(job.src), reason))
    if audit:
        audit.event(job.name, "failed", reason=reason)  # type: ignore[attr-defined]


def _reason(exc: Exception, src: Path) -> str:
    msg = str(exc)
    prefix = f"{src}: "
    if isinstance(exc, (MediaError, OutputExistsError)) and msg.startswith(prefix):
        msg = msg[len(prefix) :]
    return msg
