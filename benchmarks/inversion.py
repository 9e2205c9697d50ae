"""Model inversion (MI-Face) on AT&T faces (issue 22): plain and DP-SGD classifiers of 40 people.

Trains, with `privis train att`, one MLP without privacy and one at each ε (the same recipe:
60 epochs, batches of 64, SGD at 0.05; only the noise differs), and the small CNN without
privacy; then runs `privis audit inversion` on all of them, which writes inversion.md,
inversion.json and inversion.png to --out.

Usage::

    python benchmarks/inversion.py [--eps 16,4,1] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from _common import PRIVIS, run_json

RECIPE = ["--epochs", "60", "--batch-size", "64", "--lr", "0.05", "--size", "32"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eps", default="16,4,1", help="ε of the DP-SGD models, comma-separated")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="privis-inversion-") as tmp:
        plans = [("mlp", ["--model", "mlp"]), ("small-cnn", ["--model", "small-cnn"])]
        plans[1:1] = [(f"mlp_eps{e}", ["--model", "mlp", "--epsilon", e]) for e in args.eps.split(",") if e.strip()]
        models = []
        for name, extra in plans:
            path = Path(tmp) / f"{name}.pt"
            start = time.perf_counter()
            trained = run_json([*PRIVIS, "train", "att", *extra, *RECIPE, "-o", str(path), "-q", "--json"])
            print(f"{name}: test accuracy {trained['test_accuracy']}, ε {trained['epsilon']},"
                  f" {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
            models.append(str(path))
        cmd = [*PRIVIS, "audit", "inversion", *models, "-q"]
        if args.out:
            cmd += ["--out", str(args.out)]
        if args.json:
            print(json.dumps(run_json([*cmd, "--json"])))
        else:
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
