"""The `privis` application object, its sub-command groups, and what every command shares.

Every command turns `PrivisError` into one red line and a non-zero exit (a traceback
only with ``--debug``): 2 for a usage error or bad input, 1 when some inputs of a batch
failed, 3 for a runtime failure (a bug). Commands that report figures take ``--json``
and then print exactly one JSON object on stdout.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

import typer

from privis import __version__
from privis.errors import PrivisError, RuntimeFailure

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

_state = {"debug": False}


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


# Exit codes: a usage error or bad input, some inputs of a batch failed, a runtime failure.
EXIT_USAGE, EXIT_SOME_FAILED, EXIT_RUNTIME = 2, 1, 3

# The library names its parameters; the CLI says the flag that sets them.
FLAG_FOR = {"pass overwrite=True": "pass --overwrite"}


def for_cli(message: str) -> str:
    """A library message with its parameter names put as the CLI's flags.

    >>> for_cli("out.png exists; pass overwrite=True to replace it")
    'out.png exists; pass --overwrite to replace it'
    """
    for words, flag in FLAG_FOR.items():
        message = message.replace(words, flag)
    return message


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.secho(f"privis: error: {shown(for_cli(message))}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def guard(func):
    """Turn errors into one red line and an exit code (a traceback with --debug): 2 for a
    `PrivisError` (bad usage or input), 3 for a `RuntimeFailure` or an unexpected error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PrivisError as exc:
            if _state["debug"]:
                raise
            code = EXIT_RUNTIME if isinstance(exc, RuntimeFailure) else EXIT_USAGE
            _fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__, code=code)
        except KeyboardInterrupt:
            _fail("interrupted", code=130)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # a bug or the machine (disk full): still one line, the traceback with --debug
            if _state["debug"]:
                raise
            logging.getLogger("privis").debug("unexpected error", exc_info=True)
            _fail(f"unexpected {exc.__class__.__name__}: {exc} (rerun with --debug for the traceback)", EXIT_RUNTIME)

    return wrapper


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


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def progress_iter(items):
    from rich.progress import track

    items = list(items)
    return track(items, description="evaluating", console=stderr_console(), transient=True)


def run() -> None:
    """Console-script entry point. SIGTERM stops privis as Ctrl-C does, so that temporary
    files are removed and threads stopped before it exits."""
    import signal

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    app(args=optional_values(sys.argv[1:]))


_RAY_ADDRESS = re.compile(r"^(auto|local|ray://\S+|\[[0-9a-fA-F:.]+\]:\d+|[\w.-]+:\d+)$")


def optional_values(args: list[str]) -> list[str]:
    """``--ray`` with or without an address: alone (or before anything that is not an address) it
    means a local Ray, which Typer's options cannot say by themselves.

    >>> optional_values(["anonymize", "--ray", "in/", "-o", "out/"])
    ['anonymize', '--ray', 'local', 'in/', '-o', 'out/']
    >>> optional_values(["anonymize", "--ray", "10.0.0.5:6379", "in/"])
    ['anonymize', '--ray', '10.0.0.5:6379', 'in/']
    """
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray" and (i + 1 == len(args) or not _RAY_ADDRESS.match(args[i + 1])):
            out.append("local")
    return out


@contextlib.contextmanager
def count_progress(label: str, total: int, show: bool, *, info: bool = False):  # noqa: ANN202
    """A progress bar of `total` steps; yields a callback ``(done, info="")`` (None when not shown)."""
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn("{task.fields[info]}")] if info else []
    with Progress(*columns, TimeRemainingColumn(), console=stderr_console(), transient=True) as progress:
        task = progress.add_task(label, total=total, info="")
        yield lambda done, text="": progress.update(task, completed=done, info=text)


def ticker(progress: Callable[..., None] | None) -> Callable[[], None]:
    """A callback that advances a `count_progress` bar by one step (or does nothing without one)."""
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress:
            progress(done[0])

    return tick
