"""``python -m privis.cli``: the same as the `privis` command."""

from privis.cli import run

run()
