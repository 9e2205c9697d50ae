"""Federated learning on MNIST, simulated with Flower: 10 clients, SecAgg+ on, against centralized training.

Runs `privis train mnist` (centralized, not private) and `privis federated mnist --clients 10
--rounds 15` with an IID split, a Dirichlet(α = 0.5) split under FedAvg and FedProx, and
the IID split with client-level DP (clipping 1.0, noise multiplier 0.5, ε at δ = 1e-5).
Same 8,000 training and 2,000 test images as benchmarks/dp_training.py.

Usage::

    python benchmarks/federated.py [--rounds 15] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import PRIVIS, emit, markdown_table, run_json

RUNS = (
    ("IID, FedAvg", ["--split", "iid"]),
    ("Dirichlet α=0.5, FedAvg", ["--split", "dirichlet", "--alpha", "0.5"]),
    ("Dirichlet α=0.5, FedProx μ=0.01", ["--split", "dirichlet", "--alpha", "0.5", "--strategy", "fedprox"]),
    ("IID, FedAvg, client DP (clip 1, σ 0.5)", ["--split", "iid", "--noise-multiplier", "0.5", "--clipping-norm", "1"]),
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    central = run_json([*PRIVIS, "train", "mnist", "--json"])
    print({"centralized": central["test_accuracy"]}, file=sys.stderr)
    rows = []
    for name, extra in RUNS:
        fed = run_json(
            [*PRIVIS, "federated", "mnist", "--clients", "10", "--rounds", str(args.rounds), *extra, "--json"]
        )
        rows.append({"run": name, "test_accuracy": fed["test_accuracy"], "epsilon": fed["epsilon"],
                     "seconds": fed["seconds"], "secagg": fed["secagg"], "client_sizes": fed["client_sizes"],
                     "history": fed["history"]})  # fmt: skip
        print({k: rows[-1][k] for k in ("run", "test_accuracy", "epsilon", "seconds")}, file=sys.stderr)
    table = markdown_table(
        ["run (10 clients, SecAgg+)", "rounds", "test accuracy", "points below centralized", "client ε", "seconds"],
        [["centralized (privis train)", "-", central["test_accuracy"], 0, "-", "-"]]
        + [[r["run"], args.rounds, r["test_accuracy"], round(100 * (central["test_accuracy"] - r["test_accuracy"]), 2),
            r["epsilon"] or "-", r["seconds"]] for r in rows],
    )  # fmt: skip
    emit("federated", {"centralized": central["test_accuracy"], "rounds": args.rounds, "runs": rows}, table,
         args.out, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
