"""`privis counts`, and the counting side of `privis stream --count`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from privis.cli.core import app, guard
from privis.errors import PrivisError
from privis.hosts import parse_host_port


def count_publisher(source: str, lines: list[str], zones: list[str], config_file: Path | None, bucket: float | None,
                    anchor: str | None, db: Path | None, jsonl: Path | None, metrics: str | None,
                    epsilon_per_day: float | None, epsilon_per_release: float | None, mechanism: str,
                    delta: float) -> Any:  # fmt: skip
    """The counter, DP releaser and sinks that `stream --count` feeds, from its flags."""
    from privis.analytics.counting import count_config
    from privis.analytics.publish import CountPublisher

    if epsilon_per_release is not None and epsilon_per_day is None:
        raise PrivisError("--dp-epsilon-per-release needs --epsilon-per-day (the budget it is taken from)")
    config = count_config(lines, zones, config_file=config_file, bucket_seconds=bucket, anchor=anchor)
    where = parse_host_port(metrics, option="--metrics") if metrics else None
    return CountPublisher.open(
        config, source=source, db=db, jsonl=jsonl, metrics=where, epsilon_per_day=epsilon_per_day,
        epsilon_per_release=epsilon_per_release, mechanism=mechanism, delta=delta,
    )  # fmt: skip


def counts_text(totals: dict[str, Any]) -> str:
    """The published totals in a few lines."""
    parts = [f"line {n}: {v.get('forward', 0):g} forward, {v.get('backward', 0):g} backward"
             for n, v in totals["lines"].items()]  # fmt: skip
    parts += [f"zone {n}: at most {v.get('max_occupancy', 0):g} at once, {v.get('entries', 0):g} entries"
              for n, v in totals["zones"].items()]  # fmt: skip
    dp = " (differentially private)" if "dp" in totals else ""
    return f"{totals['buckets']} bucket(s) published{dp}, {totals['refused']} refused; " + "; ".join(parts)


@app.command("counts")
@guard
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
