"""Anonymize a batch on Ray: the same files the single-process batch writes, spread over a
cluster's cores, resumable after a kill.

Ray Data runs four stages: the file list → read (tasks) → detect and hide (an actor pool whose
actors each load the models once) → write (tasks). Images travel as their encoded bytes, so
the object store holds kilobytes, not decoded frames, and every image output is built by the
same `privis.batch.image_result` as the single-process path: the two write the same bytes.
PDFs and DICOM files (local paths) are run whole by an actor with `privis.batch.run`; a video
is detected in pieces by the actors and finished by the driver (`privis.scale.video_split`).
The driver stores each finished file in the `Manifest` as results arrive, and appends each
worker's audit records to the one audit log.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privis.batch import BatchReport, Job, failure_reason, image_result, plan
from privis.config import Settings
from privis.errors import PrivisError
from privis.hosts import parse_host_port
from privis.media.image import is_image_path, output_suffix
from privis.scale.manifest import Finished, Manifest
from privis.scale.storage import is_remote, join, listing, read_bytes, sha256, stat, write_bytes

log = logging.getLogger(__name__)

MANIFEST_NAME = ".privis-manifest.sqlite"


@dataclass
class RayReport(BatchReport):
    """A `BatchReport` plus what the manifest let this run skip."""

    resumed: int = 0  # files finished by an earlier run, not redone
    manifest: Path | None = None
    finishes: dict[str, int] = field(default_factory=dict)  # per file, over all runs


@dataclass(frozen=True)
class Row:
    """One file of the batch as the Ray stages see it."""

    name: str
    kind: str
    src: str
    dst: str
    size: int
    mtime_ns: int


def plan_rows(
    inputs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str] | None, *, fmt: str = "same"
) -> tuple[list[Row], list[tuple[str, str]], list[tuple[str, str]]]:
    """The batch's files as rows (with the layout of `privis.batch.plan`), the inputs that cannot
    run and notes. One object-storage prefix may be given instead of local files; then `out` is a
    prefix or folder, and only images are taken."""
    remote = [str(i) for i in inputs if is_remote(str(i))]
    if remote:
        if len(inputs) != 1 or out is None:
            raise PrivisError("with object storage, give one input prefix and an output (-o) folder or prefix")
        entries = listing(remote[0], keep=is_image_path)
        if not entries:
            return [], [(remote[0], "holds no image files")], []
        rows = [Row(e.rel, "image", e.location, join(str(out), str(Path(e.rel).with_suffix(
            output_suffix(Path(e.rel), fmt)))), e.size, e.mtime_ns) for e in entries]  # fmt: skip
        return rows, [], []
    if out is not None and is_remote(str(out)):
        jobs, problems, notes = plan(inputs, None, fmt=fmt)  # names laid out as the output tree
        kept = [j for j in jobs if j.kind == "image" and j.dst is not None]
        problems += [(str(j.src), "only images can be written to object storage") for j in jobs if j.kind != "image"]
        rows = [_row(j, join(str(out), Path(j.name).with_suffix(Path(str(j.dst)).suffix).as_posix())) for j in kept]
        return rows, problems, notes
    jobs, problems, notes = plan(inputs, out, fmt=fmt)
    return [_row(j, str(Path(j.dst).resolve()) if j.dst else "") for j in jobs], problems, notes


def _row(job: Job, dst: str) -> Row:
    st = job.src.stat()
    return Row(job.name, job.kind, str(job.src.resolve()), dst, st.st_size, st.st_mtime_ns)


def connect(address: str | None, workers: int) -> None:
    """Join the Ray cluster at `address`, or start a local one bound to loopback with `workers`
    CPUs or more. An unreachable address is a `PrivisError` within seconds, not a hang."""
    import warnings

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"ray\..*")
    if address and address != "auto" and not address.startswith("ray://"):
        host, port = parse_host_port(address, option="--ray")
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as exc:
            raise PrivisError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc})") from None
    if ray.is_initialized():
        return
    quiet: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.WARNING, configure_logging=False)
    if address:
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise PrivisError(f"cannot join the Ray cluster at {address} ({str(exc).splitlines()[0]})") from None
        return
    with _loopback_only():
        ray.init(num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False, _node_ip_address="127.0.0.1",
                 **quiet)  # fmt: skip


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """Keep the node address 127.0.0.1 while a local Ray starts. Ray 2.55 swaps a loopback
    address for the machine's own (to be reachable from other nodes), and then its servers
    listen on every interface: a single-machine run has no other node to serve."""
    from ray._private import services

    swap = getattr(services, "resolve_ip_for_localhost", None)
    if swap is None:  # another Ray: nothing to undo
        yield
        return
    services.resolve_ip_for_localhost = lambda host: host
    try:
        yield
    finally:
        services.resolve_ip_for_localhost = swap


def settings_key(settings: Settings, *, fmt: str, keep_metadata: bool) -> dict[str, Any]:
    """What decides a batch's outputs, as the manifest compares it between runs."""
    return {"settings": settings.model_dump(mode="json"), "format": fmt, "keep_metadata": keep_metadata}


def default_manifest(out: str | os.PathLike[str] | None, rows: Sequence[Row]) -> Path:
    """The manifest's default place: a hidden file in the local output folder (a batch run with
    that folder as input leaves hidden files out)."""
    if out is not None and not is_remote(str(out)):
        folder = Path(out) if Path(out).is_dir() or not Path(out).suffix else Path(out).parent
        return folder / MANIFEST_NAME
    if out is None and rows and rows[0].dst:
        return Path(rows[0].dst).parent / MANIFEST_NAME
    raise PrivisError("with an object-storage output, name a local --manifest file")


class _Anonymize:
    """The Ray actor: one `Anonymizer` (its models loaded once) for every batch it is given."""

    settings_json = ""  # set on the subclass made for each run
    keep_metadata = False

    def __init__(self) -> None:
        import ray

        from privis.auditlog import AuditLog
        from privis.pipeline import Anonymizer

        self.anonymizer = Anonymizer(settings=Settings.model_validate_json(self.settings_json))
        if ray.get_runtime_context().get_assigned_resources().get("CPU", 0) <= 1:
            self.anonymizer = self.anonymizer.single_threaded()  # the actor's one core, not all the node's
        self.buffer = io.StringIO()
        self.anonymizer.audit = AuditLog(self.buffer)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["name"])
        out: list[bytes] = []
        regions, audit, errors, hashes = np.zeros(n, np.int64), [], [], []
        for i in range(n):
            self.buffer.seek(0)
            self.buffer.truncate()
            data, found, error, digest = b"", 0, "", str(batch["src_sha256"][i])
            try:
                if batch["kind"][i] == "image":
                    data, found = self._image(batch, i)
                else:
                    found, digest = self._whole(batch, i)
            except Exception as exc:  # a bad file: reported by the driver, never written in clear
                error = failure_reason(exc, Path(str(batch["name"][i])))
            regions[i] = found
            out.append(data)
            errors.append(error)
            audit.append(self.buffer.getvalue())
            hashes.append(digest)
        batch = {k: v for k, v in batch.items() if k != "data"}
        batch.update(out=_objects(out), regions=regions, audit=_objects(audit), error=_objects(errors),
                     src_sha256=_objects(hashes))  # fmt: skip
        return batch

    def _image(self, batch: dict[str, np.ndarray], i: int) -> tuple[bytes, int]:
        from privis.media.image import decode_image

        anonymizer = self.anonymizer.for_media("image")
        name, source = str(batch["name"][i]), bytes(batch["data"][i])
        loaded = decode_image(source, name)
        pixels, found = anonymizer.process(loaded.rgb, loaded.pixels)
        anonymizer.record(found, name)
        suffix = Path(str(batch["dst"][i]).partition("?")[0]).suffix
        return image_result(suffix, loaded, pixels, found, keep_metadata=self.keep_metadata,
                            source=lambda: source), len(found)  # fmt: skip

    def _whole(self, batch: dict[str, np.ndarray], i: int) -> tuple[int, str]:
        from privis.batch import run

        src, dst = Path(str(batch["src"][i])), Path(str(batch["dst"][i]))
        job = Job(src, dst, str(batch["kind"][i]), str(batch["name"][i]))
        report = run(self.anonymizer, [job], overwrite=bool(batch["replace"][i]), keep_metadata=self.keep_metadata)
        if report.failed:
            raise PrivisError(report.failed[0][1])
        return report.regions, sha256(src.read_bytes())


def _objects(items: list[Any]) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def _read(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Read stage: each image's bytes and their hash; other files are read by the actor."""
    data, hashes, errors = [], [], []
    for kind, src in zip(batch["kind"], batch["src"], strict=True):
        blob, error = b"", ""
        if kind == "image":
            try:
                blob = read_bytes(str(src))
            except PrivisError as exc:
                error = str(exc)
        data.append(blob)
        hashes.append(sha256(blob) if blob else "")
        errors.append(error)
    batch.update(data=_objects(data), src_sha256=_objects(hashes), read_error=_objects(errors))
    return batch


def _write(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Write stage: each image's output bytes to its place; returns hashes, not bytes."""
    hashes = []
    errors = list(batch["error"])
    for i, (kind, dst, data) in enumerate(zip(batch["kind"], batch["dst"], batch["out"], strict=True)):
        digest = ""
        if batch["read_error"][i]:
            errors[i] = str(batch["read_error"][i])
        elif not errors[i] and kind == "image" and dst:
            try:
                write_bytes(str(dst), bytes(data), overwrite=bool(batch["replace"][i]))
                digest = sha256(bytes(data))
            except (PrivisError, OSError) as exc:
                errors[i] = str(exc)
        elif not errors[i] and dst:
            try:
                digest = sha256(read_bytes(str(dst)))
            except PrivisError as exc:
                errors[i] = str(exc)
        hashes.append(digest)
    batch = {k: v for k, v in batch.items() if k not in ("out", "read_error")}
    batch.update(dst_sha256=_objects(hashes), error=_objects(errors))
    return batch


def run_on_ray(
    settings: Settings,
    rows: Sequence[Row],
    *,
    manifest: str | os.PathLike[str],
    address: str | None = None,
    workers: int = 2,
    fmt: str = "same",
    keep_metadata: bool = False,
    overwrite: bool = False,
    audit: Any = None,
    advance: Callable[[int], None] | None = None,
    batch_size: int = 8,
) -> RayReport:
    """Anonymize `rows` on Ray with `workers` detector actors; files the manifest holds as
    finished (same source size and time, same settings) are skipped, and each file finished
    here is stored in it as soon as its result arrives. `advance(n)` is told of files done."""
    import ray
    import ray.data

    key = settings_key(settings, fmt=fmt, keep_metadata=keep_metadata)
    if overwrite and Path(manifest).exists():
        Path(manifest).unlink()
    book = Manifest(manifest, key)
    report = RayReport(manifest=Path(manifest))
    try:
        todo = []
        for row in rows:
            if book.is_finished(row.name, row.size, row.mtime_ns) and row.dst and stat(row.dst) is not None:
                report.resumed += 1
                continue
            replace = overwrite or (bool(row.dst) and book.claimed(row.dst))
            if row.dst and not replace and stat(row.dst) is not None:
                report.failed.append((row.src, f"{row.dst} exists; pass --overwrite to replace it"))
                continue
            todo.append((row, replace))
        if advance and report.resumed:
            advance(report.resumed)
        run = book.start_run(workers=workers, address=address or "local")
        book.claim(row.dst for row, _ in todo if row.dst)
        videos = [(row, replace) for row, replace in todo if row.kind == "video"]
        todo = [(row, replace) for row, replace in todo if row.kind != "video"]
        if todo or videos:
            connect(address, workers)
        if todo:
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
            items = [dict(vars(row), replace=replace) for row, replace in todo]
            # The actor's settings travel inside a class made for this run, not as constructor
            # arguments held in the object store (which an actor restart could find gone).
            actor = type("Anonymize", (_Anonymize,), {"settings_json": settings.model_dump_json(),
                                                      "keep_metadata": keep_metadata})  # fmt: skip
            io_tasks = ray.data.TaskPoolStrategy(size=max(2, workers))
            extra = _storage_env(todo)
            ds = (
                ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // batch_size)))
                .map_batches(_read, batch_size=batch_size, num_cpus=0, compute=io_tasks, **extra)
                .map_batches(
                    actor,
                    batch_size=batch_size,
                    num_cpus=1,
                    compute=ray.data.ActorPoolStrategy(size=workers),
                    max_restarts=0,
                )  # a crashed actor ends the run; the manifest resumes it
                .map_batches(_write, batch_size=batch_size, num_cpus=0, compute=io_tasks, **extra)
            )
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                _take(batch, run, book, report, audit)
                if advance:
                    advance(len(batch["name"]))
        if videos:
            _videos(settings, videos, run, book, report, audit, workers=workers, keep_metadata=keep_metadata)
            if advance:
                advance(len(videos))
        report.finishes = book.finishes()
    finally:
        book.close()
    return report


def _videos(
    settings: Settings, videos: Sequence[tuple[Row, bool]], run: int, book: Manifest, report: RayReport, audit: Any,
    *, workers: int, keep_metadata: bool,
) -> None:  # fmt: skip
    """Each video with its detection spread over the workers (`video_split`), finished here."""
    from privis.pipeline import Anonymizer
    from privis.scale.video_split import anonymize_split

    anonymizer = Anonymizer(settings=settings)
    anonymizer.audit = audit
    settings_json = settings.model_dump_json()
    for row, replace in videos:
        before = anonymizer.regions_hidden
        try:
            _, parts = anonymize_split(anonymizer, row.src, row.dst, workers=workers, settings_json=settings_json,
                                       overwrite=replace, keep_metadata=keep_metadata, name=row.name)  # fmt: skip
            log.info("%s: detected in %d piece(s)", row.name, parts)
            found = anonymizer.regions_hidden - before
            finished = Finished(row.name, row.src, row.size, row.mtime_ns, sha256(read_bytes(row.src)), row.dst,
                                sha256(read_bytes(row.dst)), found, run)  # fmt: skip
        except Exception as exc:  # a bad video: reported, never written in clear
            _failed(report, book, audit, row.name, row.src, failure_reason(exc, Path(row.src)))
            continue
        _done(report, book, [finished])


def _storage_env(todo: Sequence[tuple[Row, bool]]) -> dict[str, Any]:
    """Where object storage is read or written: the driver's ``AWS_*`` settings (endpoint,
    region, credentials) for the stages' workers too, which a running Ray started without them."""
    if not any(is_remote(row.src) or is_remote(row.dst) for row, _ in todo):
        return {}
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    return {"runtime_env": {"env_vars": env}} if env else {}


def _take(batch: dict[str, np.ndarray], run: int, book: Manifest, report: RayReport, audit: Any) -> None:
    """Store one batch of results: the manifest, the audit log, the report."""
    finished = []
    for i in range(len(batch["name"])):
        name, error = str(batch["name"][i]), str(batch["error"][i])
        if audit is not None and batch["audit"][i]:
            audit.write_lines(str(batch["audit"][i]))
        if error:
            _failed(report, book, audit, name, str(batch["src"][i]), error)
            continue
        finished.append(Finished(name, str(batch["src"][i]), int(batch["size"][i]), int(batch["mtime_ns"][i]),
                                 str(batch["src_sha256"][i]), str(batch["dst"][i]) or None,
                                 str(batch["dst_sha256"][i]) or None, int(batch["regions"][i]), run))  # fmt: skip
    _done(report, book, finished)


def _done(report: RayReport, book: Manifest, finished: Sequence[Finished]) -> None:
    """Files finished: into the manifest (one transaction) and the report."""
    book.record(finished)
    for f in finished:
        report.done += 1
        report.regions += f.regions
        if f.dst:
            report.written.append(Path(f.dst))


def _failed(report: RayReport, book: Manifest, audit: Any, name: str, src: str, reason: str) -> None:
    """A file that failed: in the report, the manifest's events (tried again next run), the audit log."""
    report.failed.append((src, reason))
    book.failed(name, reason)
    if audit is not None:
        audit.event(name, "failed", reason=reason)


def verify(manifest: str | os.PathLike[str]) -> tuple[int, list[tuple[str, str]]]:
    """Check every output the manifest holds against its stored hash: how many were checked,
    and (output, problem) pairs."""
    if not Path(manifest).is_file():
        raise PrivisError(f"{manifest}: no manifest here to verify against")
    book = Manifest(manifest)
    try:
        outputs = [(f.dst, f.dst_sha256) for f in book.files() if f.dst]
    finally:
        book.close()
    problems = []
    for dst, digest in outputs:
        try:
            if sha256(read_bytes(dst)) != digest:
                problems.append((dst, "changed since it was written"))
        except PrivisError:
            problems.append((dst, "missing"))
    return len(outputs), problems
