"""`privis config show`: the effective settings."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from privis.cli.core import config_app, guard
from privis.cli.options import ConfigOpt, DetectorOpt, MethodOpt, PresetOpt, TargetsOpt, media_settings


@config_app.command("show")
@guard
def config_show(
    config: ConfigOpt = None,
    preset: PresetOpt = None,
    media: Annotated[str, typer.Option("--media", help="Whose defaults fill what is unset: image or video.")] = "image",
    targets: TargetsOpt = None,
    method: MethodOpt = None,
    detector: DetectorOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of YAML.")] = False,
) -> None:
    """Print the effective settings: defaults for --media, under the --config file, PRIVIS_* variables and flags."""
    import yaml

    settings = media_settings(config, preset=preset, targets=targets, method=method, detector=detector).resolved(media)
    shown_settings = settings.shown()
    typer.echo(json.dumps(shown_settings) if as_json else yaml.safe_dump(shown_settings, sort_keys=False).rstrip())
