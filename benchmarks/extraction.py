"""Model extraction through queries (issue 22): substitutes trained on N answers of two served
MNIST models, one per private-inference path.

1. The he-cnn behind the CKKS service (`privis encrypted train`): its real HTTP answers
   (logits, which the client decrypts), the same model's plaintext logits, and label-only
   answers (the defence).
2. The mlp behind the 3-party MPC path (`privis train --model mlp`): logits, labels, and
   the MPC's own answers (its argmax: MPC reveals the top class only).

Each target's table, JSON and curve go to --out/extraction_ckks and --out/extraction_mpc.

Usage::

    python benchmarks/extraction.py [--queries 50,100,200,500] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _common import PRIVIS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", default="50,100,200,500")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="privis-extraction-") as tmp:
        he, mlp = Path(tmp) / "he.pt", Path(tmp) / "mlp.pt"
        subprocess.run([*PRIVIS, "encrypted", "train", "mnist", "-o", str(he), "-q"], check=True)
        subprocess.run([*PRIVIS, "train", "mnist", "--model", "mlp", "-o", str(mlp), "-q"], check=True)
        for name, model, answers in (("ckks", he, "encrypted,logits,labels"), ("mpc", mlp, "logits,labels,mpc")):
            start = time.perf_counter()
            subprocess.run([*PRIVIS, "audit", "extraction", str(model), "--answers", answers, "--queries",
                            args.queries, "--out", str(args.out / f"extraction_{name}"), "-q"], check=True)  # fmt: skip
            print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
