"""What every benchmark script shares: where the data is, and how results are printed and saved."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("PRIVIS_DATA", REPO.parent / "shared" / "data"))
PRIVIS = [sys.executable, "-m", "privis.cli"]
# How every comparison paints faces: solid magenta boxes, read back by colour.
PAINT = ["--method", "fill", "--fill-color", "255,0,255", "--shape", "box"]


def video_args(doc: str | None) -> argparse.Namespace:
    """The arguments of a benchmark on the shared videos: `--data` (their folder), `--json`, `--out`."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "videos")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    return ap.parse_args()


def run_json(cmd: Sequence[str], **kwargs: object) -> dict:
    """Run a `privis ... --json` command line; its one JSON object (the last line of stdout)."""
    done = subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kwargs)
    return json.loads(done.stdout.strip().splitlines()[-1])


def privis_anonymize(src: Path, dst: Path, *extra: str) -> list[str]:
    """The `privis anonymize` command line the benchmarks time."""
    return [*PRIVIS, "anonymize", str(src), "-o", str(dst), *PAINT, "--quiet", *extra]


def recall_row(name: str, mode: str, summary: dict, ms_per_image: float) -> dict:
    """One row of the detector tables from a `RecallReport.summary()`."""
    return {
        "set": name,
        "mode": mode,
        "recall": summary["recall"],
        "recall_under_16px": summary["by_height"]["<16"]["recall"],
        "false_share": summary["false_obfuscated_share"],
        "ms_per_image": round(ms_per_image, 1),
    }


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; None cells print as '-'."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("-" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def detector_table(rows: Sequence[dict], mode_title: str) -> str:
    """The recall/speed table shared by the detector benchmarks."""
    header = ["set", mode_title, "recall", "recall <16 px", "false share", "detector ms/image"]
    cells = [
        [r["set"], r["mode"], r["recall"], r["recall_under_16px"], r["false_share"], r["ms_per_image"]] for r in rows
    ]
    return markdown_table(header, cells)


def rss_mib(pid: int) -> float:
    """Resident memory of process `pid` in MiB, from /proc (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_sampled(cmd: Sequence[str], every_s: float = 1.0) -> tuple[list[float], float]:
    """Run `cmd`, sampling its resident memory every `every_s` seconds: (samples in MiB, wall seconds).

    Exits with the command's stderr if it fails. Its stderr goes to a file, not a pipe,
    so a chatty run cannot fill the pipe and stall.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=err)
        samples = []
        while proc.poll() is None:
            samples.append(rss_mib(proc.pid))
            time.sleep(every_s)
        wall = time.perf_counter() - start
        if proc.returncode:
            err.seek(0)
            raise SystemExit(err.read().decode(errors="replace")[-2000:])
    return [s for s in samples if s > 0] or [0.0], wall


def emit(name: str, report: dict, table: str, out: Path | None, as_json: bool) -> None:
    """Save `table` and `report` under `out` (name.md, name.json); print one of them."""
    report = {"benchmark": name, "cpu_count": os.cpu_count(), **report}
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.md").write_text(table + "\n")
        (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report) if as_json else table)
