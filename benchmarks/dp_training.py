"""DP-SGD on MNIST and what a membership-inference attack gets out of each model.

Trains `privis train mnist` without DP and at ε = 3 and ε = 1 (δ = 1e-5; 8,000 train and
2,000 test images of ../shared/data/mnist), then runs `privis audit membership` (LiRA
online and offline, and the loss baseline, 16 shadow models trained exactly as the
target) on the non-private and the ε = 1 models.

Usage::

    python benchmarks/dp_training.py [--shadows 16] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import PRIVIS, emit, markdown_table, run_json

LEVELS = (None, 3.0, 1.0)
AUDITED = (None, 1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shadows", type=int, default=16)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    train_rows, audit_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for eps in LEVELS:
            model = Path(tmp) / f"mnist_{eps or 'plain'}.pt"
            cmd = [*PRIVIS, "train", "mnist", "--out", str(model), "--json"]
            if eps is not None:
                cmd += ["--epsilon", str(eps), "--delta", "1e-5"]
            summary = run_json(cmd)
            summary.pop("history")
            train_rows.append(summary)
            print(summary, file=sys.stderr)
            if eps in AUDITED:
                cmd = [*PRIVIS, "audit", "membership", str(model), "--shadows", str(args.shadows), "--json"]
                if args.out:
                    cmd += ["--out", str(args.out / f"membership_{'plain' if eps is None else f'eps{eps:g}'}")]
                report = run_json(cmd)
                audit_rows.append(report)
                print({k: v["tpr_at_0.1%_fpr"] for k, v in report["attacks"].items()}, file=sys.stderr)
    plain = train_rows[0]["seconds_per_epoch"]
    table = markdown_table(
        ["ε (δ = 1e-5)", "test accuracy", "epochs", "s per epoch", "× non-private", "noise multiplier"],
        [[r["epsilon"] or "not private", r["test_accuracy"], r["epochs"], r["seconds_per_epoch"],
          round(r["seconds_per_epoch"] / plain, 2), r["noise_multiplier"]] for r in train_rows],
    ) + "\n\n" + markdown_table(
        ["model", "attack", "AUC", "TPR at 0.1% FPR [95% CI]", "× FPR", "TPR at 1% FPR [95% CI]"],
        [[a["target_epsilon"] or "not private", name, m["auc"],
          f"{m['tpr_at_0.1%_fpr']} [{m['tpr_at_0.1%_fpr_ci95'][0]}, {m['tpr_at_0.1%_fpr_ci95'][1]}]",
          m["tpr_at_0.1%_fpr_over_fpr"],
          f"{m['tpr_at_1%_fpr']} [{m['tpr_at_1%_fpr_ci95'][0]}, {m['tpr_at_1%_fpr_ci95'][1]}]"]
         for a in audit_rows for name, m in a["attacks"].items()],
    )  # fmt: skip
    emit("dp_training", {"training": train_rows, "membership": audit_rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
