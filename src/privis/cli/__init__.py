"""The `privis` command: a thin skin over the library, one module per command group.

Each command parses its flags, builds the settings, calls one library function and
prints; `core` holds the application and the error handling every command shares.
Commands are listed in `privis --help` in the order their modules register them.
"""

# isort: off
from privis.cli import media, counts, evaluate, audit, learn, config, serve  # noqa: F401
from privis.cli.core import app, run

# isort: on

__all__ = ["app", "run"]
