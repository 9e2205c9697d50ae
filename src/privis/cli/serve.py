"""`privis serve`: the HTTP service, and the bearer tokens that let clients in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from privis.cli.core import app, guard

serve_app = typer.Typer(
    help="The HTTP service: anonymize images over HTTP (tokens, limits, /metrics, /docs).",
    invoke_without_command=True,
)
token_app = typer.Typer(help="Bearer tokens for `privis serve`, stored hashed.", no_args_is_help=True)
serve_app.add_typer(token_app, name="token")
app.add_typer(serve_app, name="serve")

StateOption = Annotated[
    Path | None,
    typer.Option("--state", help="The service's database folder (default: $PRIVIS_STATE, ~/.local/state/privis)."),
]


def _tokens(state: Path | None):  # noqa: ANN202 - a TokenStore
    from privis.server.app import default_state_dir
    from privis.server.tokens import TokenStore

    return TokenStore((state or default_state_dir()) / "serve.sqlite")


@serve_app.callback()
@guard
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless you say otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8700,
    config: Annotated[Path | None, typer.Option("--config", help="A settings file (YAML or TOML).")] = None,
    state: StateOption = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without tokens (refused unless on loopback).")
    ] = False,
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", min=1, help="Largest request body.")] = 32,
    max_megapixels: Annotated[float, typer.Option("--max-megapixels", min=0.01, help="Largest image.")] = 50.0,
    rate: Annotated[int, typer.Option("--rate", min=0, help="Requests a minute per token (0: no limit).")] = 600,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds a request may take.")] = 60.0,
    stream: Annotated[
        list[str] | None,
        typer.Option("--stream", help="NAME=SOURCE: a live source to anonymize and count (webcam index, URL, file)."),
    ] = None,
    line: Annotated[list[str] | None, typer.Option("--line", help="Counting line NAME=x1,y1,x2,y2.")] = None,
    zone: Annotated[list[str] | None, typer.Option("--zone", help="Zone NAME=x1,y1,x2,y2,x3,y3,...")] = None,
    bucket: Annotated[float, typer.Option("--bucket", min=1.0, help="Seconds per released count.")] = 60.0,
    epsilon_per_day: Annotated[
        float | None, typer.Option("--epsilon-per-day", min=1e-6, help="Release counts with DP under this daily ε.")
    ] = None,
    epsilon_per_release: Annotated[
        float | None, typer.Option("--epsilon-per-release", min=1e-6, help="ε one bucket's release may spend.")
    ] = None,
    loop: Annotated[bool, typer.Option("--loop", help="Play file sources again from the start at their end.")] = False,
    encrypted_model: Annotated[
        Path | None,
        typer.Option("--encrypted-model", help="An he-cnn from `privis encrypted train`: serve /v1/encrypted too."),
    ] = None,
) -> None:
    """Serve privis over HTTP: POST an image to /v1/anonymize; OpenAPI at /docs.

    Create a token first (`privis serve token create NAME`) and send it as
    `Authorization: Bearer TOKEN`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from privis.config import load_settings
    from privis.errors import PrivisError
    from privis.hosts import is_loopback
    from privis.server.app import ServeLimits, create_app
    from privis.server.http import serve as run

    if no_auth and not is_loopback(host):
        raise PrivisError(f"--no-auth on {host} would let anyone who reaches it in: serve on 127.0.0.1, or use tokens")
    from privis.server.app import default_state_dir

    state = state or default_state_dir()
    tokens = None if no_auth else _tokens(state)
    if tokens is not None and not len(tokens):
        raise PrivisError("no live token: create one first with `privis serve token create NAME`")
    limits = ServeLimits(max_upload_bytes=max_upload_mb << 20, max_pixels=int(max_megapixels * 1e6),
                         rate_per_minute=rate, timeout_s=timeout)  # fmt: skip
    from privis.server.streams import StreamSpec

    specs = []
    for text in stream or []:
        name, sep, source = text.partition("=")
        if not sep or not name or not source:
            raise PrivisError(f"--stream takes NAME=SOURCE (e.g. lobby=rtsp://camera/1), got {text!r}")
        specs.append(StreamSpec(name, source, tuple(line or ()), tuple(zone or ()), bucket, epsilon_per_day,
                                epsilon_per_release, loop=loop))  # fmt: skip
    routers = []
    if encrypted_model is not None:
        from privis.learn.dp_train import load_model
        from privis.server.encrypted import create_router

        he_model, meta = load_model(encrypted_model)
        routers.append(create_router(he_model, classes=meta["data"]["classes"])[0])
    service = create_app(load_settings(config), tokens=tokens, limits=limits, state=state, streams=specs,
                         routers=routers)  # fmt: skip
    typer.secho(f"serving privis on http://{host}:{port} (OpenAPI at /docs; Ctrl-C stops)", err=True)
    run(service, host, port)


@token_app.command("create")
@guard
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. camera-desk.")], state: StateOption = None
) -> None:
    """Create a token and print it once: only its hash is kept."""
    typer.echo(_tokens(state).create(name))


@token_app.command("list")
@guard
def token_list(
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The tokens, live and revoked (never their secrets)."""
    found = _tokens(state).list()
    if as_json:
        typer.echo(json.dumps({"tokens": [t.__dict__ for t in found]}))
        return

    def when(t: float | None) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC") if t else "-"

    for t in found:
        typer.echo(f"{t.name}\tcreated {when(t.created)}\t{'revoked ' + when(t.revoked) if t.revoked else 'live'}")


@token_app.command("revoke")
@guard
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")], state: StateOption = None) -> None:
    """Refuse a token from the next request on."""
    _tokens(state).revoke(name)
    typer.echo(f"revoked {name}", err=True)
