"""`privis anonymize`, `redact-text` and `stream`: files and live sources in, anonymized pixels out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from privis.cli.core import EXIT_SOME_FAILED, app, for_cli, guard, shown, stderr_console
from privis.cli.options import (
    AuditOpt,
    BlurOpt,
    CellOpt,
    Codec,
    ConfigOpt,
    DetectEveryOpt,
    DetectorOpt,
    DpBudgetOpt,
    DpCellOpt,
    DpMOpt,
    DpRefreshOpt,
    EntitiesOpt,
    EpsilonOpt,
    FillColorOpt,
    Format,
    LingerOpt,
    MediaSmallFacesOpt,
    MethodOpt,
    Ocr,
    OcrOpt,
    PerLabelThresholdOpt,
    PresetOpt,
    ShapeOpt,
    TargetsOpt,
    VideoMaskPadOpt,
    VideoMaskScaleOpt,
    listed,
    media_settings,
    parse_color,
)
from privis.errors import PrivisError
from privis.hosts import parse_host_port


@app.command()
@guard
def anonymize(
    inputs: Annotated[
        list[str], typer.Argument(help="Image or video files and folders (recursive); with --ray, or an s3:// prefix.")
    ],
    out: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--out",
            help="Output folder (or file, for one input); with --ray, or an s3:// prefix. Default: beside the input.",
        ),
    ] = None,
    config: ConfigOpt = None,
    preset: PresetOpt = None,
    method: MethodOpt = None,
    targets: TargetsOpt = None,
    detector: DetectorOpt = None,
    ocr: OcrOpt = None,
    entities: EntitiesOpt = None,
    threshold: PerLabelThresholdOpt = None,
    small_faces: MediaSmallFacesOpt = None,
    shape: ShapeOpt = None,
    mask_scale: VideoMaskScaleOpt = None,
    mask_pad: VideoMaskPadOpt = None,
    fill_color: FillColorOpt = None,
    cell: CellOpt = None,
    blur_strength: BlurOpt = None,
    epsilon: EpsilonOpt = None,
    dp_cell: DpCellOpt = None,
    dp_m: DpMOpt = None,
    dp_refresh: DpRefreshOpt = None,
    dp_track_budget: DpBudgetOpt = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output image format.")] = Format.same,
    audit: AuditOpt = None,
    detect_only: Annotated[bool, typer.Option("--detect-only", help="Only write the --audit log; no images.")] = False,
    keep_metadata: Annotated[
        bool, typer.Option("--keep-metadata", help="Keep EXIF/GPS/XMP/ICC (stripped by default).")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
    linger: LingerOpt = None,
    lookahead: Annotated[
        int | None,
        typer.Option("--lookahead", min=0, help="Video: also hide a face in the N frames before it is found (8)."),
    ] = None,
    detect_every: DetectEveryOpt = None,
    codec: Annotated[Codec | None, typer.Option("--codec", help="Video: output codec (default h264).")] = None,
    crf: Annotated[
        int | None, typer.Option("--crf", min=0, max=51, help="Video: quality, lower is better (20).")
    ] = None,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Video: drop the audio streams.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Run on Ray: a local one (loopback) when no ADDRESS is "
            "given, else the cluster at HOST:PORT. Resumable: finished files are kept in a manifest.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="With --ray: detector actors (2).")] = 2,
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", help="With --ray: the manifest file (default: .privis-manifest.sqlite in -o)."),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="With --ray: check every output against the manifest's hashes.")
    ] = False,
) -> None:
    """Hide faces in images and videos; the output tree mirrors the input tree."""
    from privis.auditlog import AuditLog
    from privis.batch import plan, run
    from privis.pipeline import Anonymizer

    if detect_only and audit is None:
        raise PrivisError("--detect-only writes only the audit log: give --audit FILE")
    settings = media_settings(
        config, preset=preset, targets=targets, method=method, detector=detector, ocr=ocr, entities=entities,
        threshold=threshold, small_faces=small_faces, shape=shape, mask_scale=mask_scale, mask_pad=mask_pad,
        fill_color=fill_color, cell=cell, blur_strength=blur_strength, epsilon=epsilon, dp_cell=dp_cell, dp_m=dp_m,
        dp_refresh=dp_refresh, dp_track_budget=dp_track_budget, linger=linger, lookahead=lookahead,
        detect_every=detect_every, codec=codec, crf=crf, no_audio=no_audio,
    )  # fmt: skip
    if ray is not None:
        return _anonymize_on_ray(settings, inputs, out, ray=ray, workers=workers, manifest=manifest, fmt=fmt.value,
                                 keep_metadata=keep_metadata, overwrite=overwrite, audit=audit, verify=verify,
                                 quiet=quiet, detect_only=detect_only)  # fmt: skip
    if manifest is not None or verify:
        raise PrivisError("--manifest and --verify belong to --ray runs")
    jobs, problems, notes = plan(inputs, out, fmt=fmt.value, detect_only=detect_only)
    _check_side_files(jobs, audit=audit)
    anonymizer = Anonymizer(settings=settings)
    if any(j.kind == "video" for j in jobs):
        anonymizer.for_media("video")  # bad video settings fail here, before any file is written
    anonymizer.audit = AuditLog(audit) if audit else None
    try:
        report = _run_with_progress(run, anonymizer, jobs, overwrite, keep_metadata, quiet)
    finally:
        if anonymizer.audit is not None:
            anonymizer.audit.close()
    failed = _print_outcome(problems, notes, report)
    where = f" -> {shown(out)}" if out else ""
    typer.echo(f"{report.done} file(s) done, {report.regions} region(s) hidden, {len(failed)} failed{where}", err=True)
    if failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def _anonymize_on_ray(
    settings: Any, inputs: list[str], out: str | None, *, ray: str, workers: int, manifest: Path | None, fmt: str,
    keep_metadata: bool, overwrite: bool, audit: Path | None, verify: bool, quiet: bool, detect_only: bool,
) -> None:  # fmt: skip
    """`privis anonymize --ray`: the batch on Ray Data, recorded in a manifest."""
    from privis.auditlog import AuditLog
    from privis.cli.core import count_progress
    from privis.scale import ray_batch

    if detect_only:
        raise PrivisError("--detect-only runs on one machine; leave out --ray")
    rows, problems, notes = ray_batch.plan_rows(inputs, out, fmt=fmt)
    book = manifest or ray_batch.default_manifest(out, rows)
    log = AuditLog(audit) if audit else None
    done = [0]
    try:
        with count_progress("anonymizing on Ray", len(rows), show=not quiet and bool(rows)) as progress:

            def advance(n: int) -> None:
                done[0] += n
                if progress:
                    progress(done[0])

            report = ray_batch.run_on_ray(
                settings, rows, manifest=book, address=None if ray == "local" else ray, workers=workers, fmt=fmt,
                keep_metadata=keep_metadata, overwrite=overwrite, audit=log, advance=advance,
            )  # fmt: skip
    finally:
        if log is not None:
            log.close()
    failed = _print_outcome(problems, notes, report)
    where = f" -> {shown(out)}" if out else ""
    typer.echo(f"{report.done} file(s) done, {report.resumed} already finished, {report.regions} region(s) hidden, "
               f"{len(failed)} failed{where}; manifest {shown(book)}", err=True)  # fmt: skip
    if verify:
        checked, wrong = ray_batch.verify(book)
        for dst, problem in wrong:
            typer.secho(f"privis: {shown(dst)}: {problem}", fg=typer.colors.YELLOW, err=True)
        typer.echo(f"verified {checked - len(wrong)} of {checked} output(s) against the manifest", err=True)
        failed = failed + wrong
    if failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def _print_outcome(problems: list[tuple[str, str]], notes: list[tuple[str, str]], report: Any) -> list:
    """Print a batch's skipped files and notes (escaped); returns every failure."""
    failed = problems + report.failed
    for src, reason in failed:
        typer.secho(f"privis: skipped {shown(src)}: {shown(for_cli(reason))}", fg=typer.colors.YELLOW, err=True)
    for src, note in notes + report.notes:
        typer.secho(f"privis: note: {shown(src)}: {shown(note)}", err=True)
    return failed


def _check_side_files(jobs: Sequence[Any], **side: Path | None) -> None:
    """Refuse an --audit or --text-out file that is one of the run's inputs or outputs."""
    claimed = {p.resolve(): p for j in jobs for p in (j.src, j.dst) if p is not None}
    for flag, path in side.items():
        if path is not None and path.resolve() in claimed:
            option = "--" + flag.replace("_", "-")
            raise PrivisError(f"{option} {path} is also an input or output of this run; name another file")


def _run_with_progress(run, anonymizer, jobs, overwrite, keep_metadata, quiet, label="anonymizing"):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    if quiet or not jobs:
        return run(anonymizer, jobs, overwrite=overwrite, keep_metadata=keep_metadata)

    class Rate(ProgressColumn):
        """Items per second (frames per second on the video bar)."""

        def render(self, task):  # noqa: ANN001 - rich's signature
            from rich.text import Text

            unit = "fps" if task.description.startswith("video") else "/s"
            return Text(f"{task.speed:5.1f} {unit}" if task.speed else "", style="progress.data.speed")

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeRemainingColumn(),
        transient=False,
        console=stderr_console(),
    ) as progress:
        from privis.media.video import count_frames

        task = progress.add_task(label, total=len(jobs))
        videos = [j for j in jobs if j.kind == "video"]
        counts = [count_frames(j.src) for j in videos]
        total = sum(c or 0 for c in counts) if videos and all(counts) else None
        frames = progress.add_task("video frames", total=total, visible=bool(videos))
        return run(
            anonymizer,
            jobs,
            overwrite=overwrite,
            keep_metadata=keep_metadata,
            advance=lambda job: progress.advance(task),
            frame_tick=lambda: progress.advance(frames),
        )


class _EntityCounter:
    """A text detector that also counts what it finds by entity type (for --report and --json)."""

    def __init__(self, detector: Any, counts: Any) -> None:
        self.detector, self.counts = detector, counts

    def __call__(self, frame: Any) -> Any:
        found = self.detector(frame)
        self.counts.update(str(e) for e in found.data.get("entity", ()))
        return found

    def for_dicom(self, terms: Any) -> _EntityCounter:
        """The same, for one DICOM file (`TextPiiDetector.for_dicom`)."""
        return _EntityCounter(self.detector.for_dicom(terms), self.counts)


def _pseudonym_key(key_file: Path | None) -> bytes:
    """The --text-out key: from a file, or $PRIVIS_PSEUDONYM_KEY; never a default."""
    import os

    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise PrivisError(f"{key_file}: cannot read the key ({exc.strerror})") from None
    else:
        key = os.environ.get("PRIVIS_PSEUDONYM_KEY", "").encode()
    if len(key) < 16:
        raise PrivisError("--text-out needs a secret key of at least 16 bytes: --key-file FILE or PRIVIS_PSEUDONYM_KEY")
    return key


@app.command("redact-text")
@guard
def redact_text(
    inputs: Annotated[list[Path], typer.Argument(help="Images (and videos) with text; files and folders.")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Output folder (or file, for one input). Default: beside the input."),
    ] = None,
    ocr: OcrOpt = Ocr.auto,
    entities: EntitiesOpt = None,
    allow: Annotated[
        str | None, typer.Option("--allow", help="Values never to redact, comma-separated (e.g. your own number).")
    ] = None,
    deny: Annotated[
        str | None, typer.Option("--deny", help="Words or phrases always redacted, comma-separated.")
    ] = None,
    text: Annotated[
        str,
        typer.Option(
            "--text",
            help="pii: the personal data found; all: every word but --keep (medical overlays); auto: all in DICOM"
            " files, pii elsewhere.",
        ),
    ] = "auto",
    preset: PresetOpt = None,
    keep: Annotated[
        str | None,
        typer.Option(
            "--keep",
            help="With --text all: regular expressions of words to leave, comma-separated"
            " (default: L, R and values such as 120kV, 250mAs, 5cm).",
        ),
    ] = None,
    fill: Annotated[str, typer.Option("--fill", help="R,G,B of the redaction boxes.")] = "0,0,0",
    pad: Annotated[int, typer.Option("--pad", min=0, help="Pixels added around each box.")] = 2,
    audit: AuditOpt = None,
    text_out: Annotated[
        Path | None,
        typer.Option("--text-out", help="Also write the recognized text, entities replaced by keyed pseudonyms."),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Secret key for --text-out pseudonyms (or $PRIVIS_PSEUDONYM_KEY)."),
    ] = None,
    report: Annotated[bool, typer.Option("--report", help="Print the redactions by entity type.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the counts on stdout.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Redact personal data written in images: names, e-mails, phones, cards, IBANs, IDs (OCR + recognizers)."""
    from collections import Counter

    from privis.auditlog import AuditLog
    from privis.batch import plan, run
    from privis.detect import create_detector
    from privis.pipeline import Anonymizer

    key = _pseudonym_key(key_file) if text_out else None
    detector = create_detector(
        "text-pii",
        ocr=(ocr or Ocr.auto).value,
        entities=listed(entities) or None,
        allow=listed(allow),
        deny=listed(deny),
        text_pad=pad,
        pseudonym_key=key,
        text="all" if preset == "medical" and text == "auto" else text,
        keep=listed(keep) if keep else None,
    )
    counts: Counter[str] = Counter()
    counting = _EntityCounter(detector, counts)

    jobs, problems, notes = plan(inputs, out, suffix="_redacted")
    _check_side_files(jobs, audit=audit, text_out=text_out)
    # Text boxes get no margin beyond the detector's --pad (`LABEL_MARGINS`).
    redactor = Anonymizer(targets="text", method="fill", detectors=[counting], color=parse_color(fill), shape="box")
    redactor.audit = AuditLog(audit) if audit else None
    if text_out:
        from privis.text.transcript import TranscriptWriter

        redactor.audit = TranscriptWriter(text_out, audit=redactor.audit, overwrite=overwrite)
    try:
        result = _run_with_progress(run, redactor, jobs, overwrite, False, quiet or as_json, label="redacting")
    finally:
        if redactor.audit is not None:
            redactor.audit.close()
    failed = _print_outcome(problems, notes, result)
    summary = {"files": result.done, "redactions": result.regions, "by_entity": dict(sorted(counts.items())),
               "failed": [{"file": f, "reason": r} for f, r in failed]}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        where = f" -> {shown(out)}" if out else ""
        typer.echo(f"{result.done} file(s) done, {result.regions} redaction(s), {len(failed)} failed{where}", err=True)
        if report:
            for name, n in sorted(counts.items()):
                typer.echo(f"{name:<16} {n}")
    if failed:
        raise typer.Exit(EXIT_SOME_FAILED)


@app.command()
@guard
def stream(
    source: Annotated[str, typer.Argument(help="Webcam index (0), rtsp:// or http:// URL, or a video file.")],
    serve: Annotated[
        str | None, typer.Option("--serve", help="HOST:PORT to serve the anonymized stream as MJPEG with a web page.")
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Also encode the anonymized stream to this file.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --record file.")] = False,
    config: ConfigOpt = None,
    targets: TargetsOpt = None,
    method: MethodOpt = None,
    fill_color: FillColorOpt = None,
    cell: CellOpt = None,
    blur_strength: BlurOpt = None,
    epsilon: EpsilonOpt = None,
    dp_cell: DpCellOpt = None,
    dp_m: DpMOpt = None,
    dp_refresh: DpRefreshOpt = None,
    dp_track_budget: DpBudgetOpt = None,
    shape: ShapeOpt = None,
    threshold: PerLabelThresholdOpt = None,
    small_faces: MediaSmallFacesOpt = None,
    mask_scale: VideoMaskScaleOpt = None,
    mask_pad: VideoMaskPadOpt = None,
    linger: LingerOpt = None,
    detect_every: DetectEveryOpt = None,
    audit: AuditOpt = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", min=1, help="Stop after N frames.")] = None,
    seconds: Annotated[float | None, typer.Option("--seconds", min=0.1, help="Stop after this many seconds.")] = None,
    as_fast: Annotated[
        bool, typer.Option("--as-fast-as-possible", help="Files: do not pace to real time (no frame is dropped).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the counts on stdout.")] = False,
    count: Annotated[
        bool, typer.Option("--count", help="Count people crossing --line and standing in --zone; adds person.")
    ] = False,
    line: Annotated[
        list[str] | None, typer.Option("--line", help="[NAME=]x1,y1,x2,y2 in pixels; repeatable (README).")
    ] = None,
    zone: Annotated[
        list[str] | None, typer.Option("--zone", help="[NAME=]x1,y1,x2,y2,x3,y3,... polygon in pixels; repeatable.")
    ] = None,
    count_config: Annotated[
        Path | None, typer.Option("--count-config", help="YAML or JSON file with lines, zones, bucket_seconds.")
    ] = None,
    bucket: Annotated[
        float | None, typer.Option("--bucket", min=1.0, help="Seconds per published aggregate (default 60).")
    ] = None,
    anchor: Annotated[
        str | None, typer.Option("--anchor", help="Point of a person that counts: bottom (feet, default) or center.")
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="SQLite database for the counts (default: privis-counts.sqlite).")
    ] = None,
    jsonl: Annotated[Path | None, typer.Option("--jsonl", help="Also append one JSON line per bucket here.")] = None,
    metrics: Annotated[
        str | None, typer.Option("--metrics", help="HOST:PORT to serve the last bucket as Prometheus /metrics.")
    ] = None,
    epsilon_per_day: Annotated[
        float | None,
        typer.Option("--epsilon-per-day", min=1e-6, help="Release counts with differential privacy: ε per UTC day."),
    ] = None,
    dp_epsilon: Annotated[
        float | None,
        typer.Option(
            "--dp-epsilon-per-release", min=1e-9, help="ε one bucket may spend (default: the day's / buckets)."
        ),
    ] = None,
    dp_mechanism: Annotated[
        str, typer.Option("--dp-mechanism", help="laplace (pure ε) or gaussian (zCDP, compared at --dp-delta).")
    ] = "laplace",
    dp_delta: Annotated[float, typer.Option("--dp-delta", min=1e-12, max=0.5, help="gaussian: δ.")] = 1e-6,
) -> None:
    """Anonymize a live source. No frame is written anywhere unless --serve or --record names a sink.

    With --count, only aggregates per time bucket leave: into --db (default), --jsonl or --metrics.
    """
    from privis.analytics.publish import run_counting
    from privis.auditlog import AuditLog
    from privis.cli.counts import count_publisher, counts_text  # registered after this module: imported here
    from privis.pipeline import Anonymizer

    where = parse_host_port(serve, option="--serve") if serve else None
    counts_people = bool(count or line or zone or count_config)

    def settings_for(targets: str | None) -> Any:
        return media_settings(
            config, targets=targets, method=method, threshold=threshold, small_faces=small_faces, shape=shape,
            mask_scale=mask_scale, mask_pad=mask_pad, fill_color=fill_color, cell=cell, blur_strength=blur_strength,
            epsilon=epsilon, dp_cell=dp_cell, dp_m=dp_m, dp_refresh=dp_refresh, dp_track_budget=dp_track_budget,
            linger=linger, detect_every=detect_every,
        )  # fmt: skip

    settings = settings_for(targets)
    if counts_people and "person" not in settings.targets:
        settings = settings_for(",".join([*settings.targets, "person"]))
    anonymizer = Anonymizer(settings=settings, kind="video")
    # the sinks open (a database file, a port) only once the anonymizer's settings are known to be good
    publisher = None
    if counts_people:
        publisher = count_publisher(
            source, line or [], zone or [], count_config, bucket, anchor, db, jsonl, metrics,
            epsilon_per_day, dp_epsilon, dp_mechanism, dp_delta,
        )  # fmt: skip
    anonymizer.audit = AuditLog(audit) if audit else None

    def ready(url: str) -> None:
        if url and not as_json:
            typer.echo(f"serving {url} (Ctrl-C to stop)", err=True)

    options: dict[str, Any] = dict(serve=where, record=record, overwrite=overwrite, realtime=False if as_fast else None,
                                   max_frames=max_frames, max_seconds=seconds, on_ready=ready)  # fmt: skip
    try:
        if publisher is None:
            report = anonymizer.stream(source, **options)
        else:
            report = run_counting(anonymizer, source, publisher, **options)
    finally:
        if anonymizer.audit is not None:
            anonymizer.audit.close()
    if as_json:
        typer.echo(json.dumps(report))
    else:
        hidden = f", {report['regions']} region(s) hidden" if "regions" in report else ""
        typer.echo(
            f"{report['frames']} frame(s) processed, {report['dropped']} dropped to keep up, "
            f"{report['fps']} fps{hidden}",
            err=True,
        )
        if "counts" in report:
            typer.echo(counts_text(report["counts"]), err=True)
