"""The flags `anonymize`, `stream` and `config show` share, and how they become `privis.config.Settings`."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from privis.errors import PrivisError
from privis.obfuscate.blur import STRENGTH as BLUR_STRENGTH
from privis.obfuscate.dp_pixelate import EPSILON as DP_EPSILON


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


def parse_color(text: str) -> tuple[int, int, int]:
    try:
        parts = tuple(int(v) for v in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(not 0 <= v <= 255 for v in parts):
        raise PrivisError(f"--fill-color must be R,G,B with values 0..255, got {text!r}")
    return parts[0], parts[1], parts[2]


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

DetectorOpt = Annotated[
    str | None,
    typer.Option(
        "--detector",
        help="Another registered or plug-in detector for a target, with options: face=NAME[:KEY=VALUE]...",
    ),
]
PresetOpt = Annotated[
    str | None,
    typer.Option("--preset", help="Start from settings for a kind of material: medical (all burned-in text goes)."),
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


def per_label(text: str | None, name: str, cast: Callable[[str], Any]) -> Any:
    """``"0.5"`` → 0.5; ``"face=0.3,plate=0.5"`` → ``{"face": 0.3, "plate": 0.5}``; a bare item
    among labelled ones is the default for the rest (key ``""``). None stays None."""
    if text is None:
        return None
    items = listed(text)
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


def listed(text: str | None) -> list[str]:
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
    from privis.obfuscate import OBFUSCATORS

    return parse_components(text, "--method", OBFUSCATORS.get)


def parse_components(text: str, flag: str, known: Callable[[str], Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """``[LABEL=]NAME[:KEY=VALUE]...`` items of `flag` as ``{label: (name, options)}``; `known`
    raises on a name the registry does not hold (plug-ins' included)."""
    import yaml

    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for item in _split_top(text):
        head, *pairs = item.split(":")
        label, _, name = head.rpartition("=")
        label, name = label.strip(), name.strip()
        if label in out:
            raise PrivisError(f"{flag} gives {label or 'the default'} twice: {text!r}")
        known(name)
        options: dict[str, Any] = {}
        for pair in pairs:
            key, eq, value = pair.partition("=")
            if not eq or not key.strip():
                raise PrivisError(f"{flag} {item!r}: options go as NAME:KEY=VALUE, got {pair!r}")
            try:
                options[key.strip()] = yaml.safe_load(value)
            except yaml.YAMLError:
                raise PrivisError(f"{flag} {item!r}: cannot read the value of {key.strip()}") from None
        out[label] = (name, options)
    if not out:
        raise PrivisError(f"{flag} is empty")
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
    video: dict[str, Any] = {k: given[k] for k in ("linger", "lookahead", "detect_every", "crf") if k in given}
    if "codec" in given:
        video["codec"] = given["codec"].value
    if given.get("no_audio"):
        video["audio"] = False
    if video:
        top["video"] = video
    for flag, cast in (("mask_scale", _number(0.1)), ("mask_pad", _number(0))):
        value = per_label(given.get(flag), "--" + flag.replace("_", "-"), cast)
        for label, v in (value if isinstance(value, dict) else {"": value} if value is not None else {}).items():
            (top.setdefault(label, {}) if label else top)[flag] = v
    if "method" in given:
        for label, (name, inline) in parse_methods(given["method"]).items():
            slot = top.setdefault(label, {}) if label else top
            slot["method"] = name
            slot["method_options"] = inline
    if "detector" in given:
        from privis.detect import DETECTORS

        for label, (name, inline) in parse_components(given["detector"], "--detector", DETECTORS.get).items():
            if not label:
                raise PrivisError(f"--detector {name}: say which target it finds, as LABEL=NAME (face={name})")
            top.setdefault(label, {}).update(detector=name, detector_options=inline)
    settings = load_settings(config, preset=given.get("preset"), **top)
    by_label: dict[str, Any] = {}
    for flag, (key, methods) in METHOD_FLAGS.items():
        if flag not in given:
            continue
        value = given[flag]
        value = parse_color(value) if flag == "fill_color" else getattr(value, "value", value)
        users = [t for t in settings.targets if _method_takes(settings.method_for(t), key, methods)]
        if not users:
            option = "--" + flag.replace("_", "-")
            wanted = " or ".join(methods) if methods else f"a method with the option {key}"
            raise PrivisError(f"{option} is for --method {wanted}, which no target uses")
        for t in users:
            by_label.setdefault(t, {}).setdefault("method_options", {}).setdefault(key, value)
    if by_label:
        settings = settings.updated(by_label)
    options: dict[str, Any] = {}
    if "threshold" in given:
        options["threshold"] = per_label(given["threshold"], "--threshold", _number(0.01, 0.99))
    if "small_faces" in given and "face" in settings.targets:
        options["small_faces"] = {"face": given["small_faces"].value}
    if "text" in settings.targets:
        if "ocr" in given:
            options["ocr"] = {"text": given["ocr"].value}
        if given.get("entities"):
            options["entities"] = {"text": listed(given["entities"])}
    return route_options(settings, options)
