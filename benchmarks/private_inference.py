"""Inference the model's owner cannot see: CKKS encryption (TenSEAL) and 3-party MPC (MPyC) on MNIST.

HE: trains the he-cnn with `privis encrypted train mnist` (8,000 training images), then runs
`privis encrypted infer --dataset mnist --n N --model ... --json`: fresh keys, a server on
loopback over HTTP, N held-out test images encrypted one at a time.

MPC: `privis mpc --dataset mnist --n N --json` trains an mlp (784-64-10, ReLU) on the same
8,000 images, then runs 3 parties as processes on loopback, model secret-shared by
party 0, images by party 1, which alone learns the predicted class.

Usage::

    python benchmarks/private_inference.py [--he-n 1000] [--mpc-n 100] [--only he|mpc] [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import PRIVIS, emit, markdown_table, run_json


def he(n: int, work: Path) -> dict:
    model = work / "he.pt"
    trained = run_json([*PRIVIS, "encrypted", "train", "mnist", "-o", str(model), "--json"])
    result = run_json(
        [*PRIVIS, "encrypted", "infer", "--dataset", "mnist", "--n", str(n), "--model", str(model), "--json", "--quiet"]
    )
    return {"trained_test_accuracy": trained["test_accuracy"], **result}


def mpc(n: int) -> dict:
    return run_json([*PRIVIS, "mpc", "--dataset", "mnist", "--n", str(n), "--json", "--quiet"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--he-n", type=int, default=1000)
    ap.add_argument("--mpc-n", type=int, default=100)
    ap.add_argument("--only", choices=["he", "mpc"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    report, rows = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "he"):
            r = report["he"] = he(args.he_n, Path(tmp))
            print(r, file=sys.stderr)
            traffic = f"{r['bytes_up_per_image'] / 1e3:.0f} kB up, {r['bytes_down_per_image'] / 1e3:.0f} kB down"
            rows.append(
                [
                    "CKKS (TenSEAL), he-cnn",
                    r["n_images"],
                    r["encrypted_accuracy"],
                    r["plaintext_accuracy"],
                    r["agreement"],
                    r["seconds_per_image"],
                    traffic,
                    f"{r['context_bytes'] / 1e6:.1f} MB",
                ]
            )
        if args.only in (None, "mpc"):
            r = report["mpc"] = mpc(args.mpc_n)
            print(r, file=sys.stderr)
            rows.append(
                [
                    "3-party MPC (MPyC), mlp",
                    r["n_images"],
                    r["mpc_accuracy"],
                    r["plaintext_accuracy"],
                    r["agreement"],
                    r["seconds_per_image"],
                    f"{r['bytes_per_image'] / 1e3:.0f} kB among the parties",
                    "-",
                ]
            )
    table = markdown_table(
        [
            "protocol",
            "images",
            "private accuracy",
            "plaintext accuracy",
            "agreement",
            "s/image",
            "traffic per image",
            "public context",
        ],
        rows,
    )
    emit("private_inference" + (f"_{args.only}" if args.only else ""), report, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
