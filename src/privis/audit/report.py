"""One privacy report for a trained model, as a privacy officer would file it: membership,
inversion, extraction and what its training updates give away, each with its table and figure.

Every part is one of privis's audits, run on the model and the data saved with it:

- **membership** (`privis audit membership`): LiRA with shadows trained as the model was;
- **inversion** (`privis audit inversion`): MI-Face, each class drawn from the model;
- **extraction** (`privis audit extraction`): a substitute trained on N answers;
- **gradients** (`privis audit gradients`): DLG against one client's update, if the model
  were trained by federated learning on these images, plain, behind SecAgg+, and with DP.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PARTS = ("membership", "inversion", "extraction", "gradients")


def write_report(out_dir: Path, name: str, summary: dict[str, Any], table: str, figure: Callable[[Path], None]) -> None:
    """NAME.md (the table), NAME.json (the summary) and NAME.png (`figure(path)` draws it) under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.md").write_text(table + "\n")
    (out_dir / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    figure(out_dir / f"{name}.png")


def audit_all(model_path: str | Path, out_dir: str | Path, *, parts: tuple[str, ...] = PARTS, shadows: int = 8,
              queries: tuple[int, ...] = (50, 100, 200, 500), answers: tuple[str, ...] = ("logits", "labels"),
              batch_sizes: tuple[int, ...] = (1, 4, 16), seed: int = 0,
              options: dict[str, dict[str, Any]] | None = None,
              on_part: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run each audit in `parts` on the saved model; write every part's files and report.md and
    report.json under `out_dir`; return the report's summary.

    `options` passes further keywords to a part's audit function, e.g.
    ``{"inversion": {"steps": 100}, "gradients": {"trials": 1}}``.
    """
    from privis.audit import extraction, gradients, inversion, lira
    from privis.errors import PrivisError
    from privis.learn.data import model_data
    from privis.learn.dp_train import load_model

    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise PrivisError(f"unknown part(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(PARTS)}")
    model_path, out = Path(model_path), Path(out_dir)
    model, meta = load_model(model_path)
    data = model_data(meta)
    facts = {"model": str(model_path), "architecture": meta["config"]["model"], "data": meta["data"]["name"],
             "train_images": len(data.train), "test_images": len(data.test),
             "test_accuracy": meta["summary"].get("test_accuracy"), "epsilon": meta["summary"].get("epsilon"),
             "delta": meta["summary"].get("delta")}  # fmt: skip
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    def more(part: str) -> dict[str, Any]:
        return dict((options or {}).get(part, {}))

    for part in parts:
        if on_part:
            on_part(part)
        start = time.perf_counter()
        if part == "membership":
            report = lira.membership_of(model, meta, data, str(model_path), shadows=shadows, seed=seed, **more(part))
            lira.write_outputs(report, out)
            results[part] = report.summary()
        elif part == "inversion":
            inv = inversion.audit_inversion([(model_path.stem, model, meta)], data, seed=seed, **more(part))
            results[part] = inv.summary()
            write_report(out, part, results[part], inversion.inversion_table(results[part]),
                         functools.partial(inversion.write_grid, inv))  # fmt: skip
        elif part == "extraction":
            pool = len(extraction.query_split(data, seed)[0])
            counts = tuple(n for n in queries if n <= pool) or (pool,)
            with contextlib.ExitStack() as stack:
                oracles = extraction.open_oracles(stack, model, answers, classes=data.classes)
                ext = extraction.audit_extraction(model, data, oracles, counts=counts, seed=seed, **more(part))
            results[part] = ext.summary()
            write_report(out, part, results[part], extraction.extraction_table(results[part]),
                         functools.partial(extraction.write_curve, results[part]))  # fmt: skip
        else:
            grad = gradients.audit_gradients(data, batch_sizes=batch_sizes, seed=seed, **{"trials": 2, **more(part)})
            results[part] = grad.summary()
            write_report(out, part, results[part], gradients.gradient_table(results[part]),
                         functools.partial(gradients.write_grid, grad))  # fmt: skip
        seconds[part] = round(time.perf_counter() - start, 1)
    summary = {"report": "privis privacy audit", "facts": facts, "findings": findings(results),
               "seconds": seconds, **results}  # fmt: skip
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.md").write_text(report_markdown(summary) + "\n")
    return summary


def findings(results: dict[str, Any]) -> list[str]:
    """One sentence per audit that ran: the figure a reader acts on, beside its chance level."""
    out = []
    if "membership" in results:
        mem = results["membership"]
        # a rate at FPR f needs about 10 non-members above the threshold to mean anything
        usable = [f for f in (0.1, 1.0) if mem["non_members"] * f / 100 >= 10]
        if usable:
            key = f"tpr_at_{usable[0]:g}%_fpr"
            name, m = max(mem["attacks"].items(), key=lambda kv: kv[1][key])
            lo, hi = m[f"{key}_ci95"]
            out.append(f"Membership: the strongest attack ({name}) finds {m[key] * 100:.2f} % of the training images"
                       f" [{lo * 100:.2f}, {hi * 100:.2f}] at {usable[0]:g} % false positives"
                       f" ({m[f'{key}_over_fpr']}× chance), AUC {m['auc']:.3f}.")  # fmt: skip
        else:
            name, m = max(mem["attacks"].items(), key=lambda kv: kv[1]["auc"])
            out.append(f"Membership: the strongest attack ({name}) has AUC {m['auc']:.3f} (0.5 is chance); with"
                       f" {mem['non_members']} non-members, no rate at a low false-positive rate can be"
                       " measured.")  # fmt: skip
    if "inversion" in results:
        r = results["inversion"]["rows"][0]
        lo, hi = r["top1_ci"]
        flag = " (flag: accuracy high, SSIM low)" if r["accuracy_high_ssim_low"] else ""
        out.append(f"Inversion: an independent classifier names {r['top1'] * 100:.1f} % of the drawn classes"
                   f" [{lo * 100:.1f}, {hi * 100:.1f}] (chance {r['chance_top1'] * 100:.1f} %); the nearest"
                   f" training image is the class's own for {r['nn_identified'] * 100:.1f} %{flag}.")  # fmt: skip
    if "extraction" in results:
        rows = results["extraction"]["rows"]
        for name in dict.fromkeys(r["answers"] for r in rows):
            mine = [r for r in rows if r["answers"] == name]
            first, last = mine[0], mine[-1]
            then = f", {last['queries']} to {last['agreement'] * 100:.1f} %" if len(mine) > 1 else ""
            out.append(f"Extraction ({name}): {first['queries']} queries copy the model to"
                       f" {first['agreement'] * 100:.1f} % agreement{then}.")  # fmt: skip
    if "gradients" in results:
        rows = {(r["scenario"], r["batch"]): r["ssim_mean"] for r in results["gradients"]["rows"]}
        small = min(b for _, b in rows)
        out.append(f"Federated updates: at batch {small} the server rebuilds a client's images at SSIM"
                   f" {rows.get(('plain', small), float('nan')):.2f} from its own update,"
                   f" {rows.get(('secagg', small), float('nan')):.2f} behind SecAgg+ and"
                   f" {rows.get(('dp', small), float('nan')):.2f} with DP.")  # fmt: skip
    return out


def report_markdown(summary: dict[str, Any]) -> str:
    """The report: the model's facts, the findings, then each part's table and figure."""
    from privis.audit import extraction, gradients, inversion, lira

    f = summary["facts"]
    eps = "not private" if f["epsilon"] is None else f"ε = {f['epsilon']:.3g}, δ = {f['delta']:g}"
    lines = [f"# Privacy audit of {Path(f['model']).name}", "",
             f"{f['architecture']} trained on {f['data']} ({f['train_images']} training, {f['test_images']} test"
             f" images), {eps}, test accuracy {f['test_accuracy']}.", "", "## Findings", ""]  # fmt: skip
    lines += [f"- {line}" for line in summary["findings"]]
    tables = {"membership": lira.membership_table, "inversion": inversion.inversion_table,
              "extraction": extraction.extraction_table, "gradients": gradients.gradient_table}  # fmt: skip
    for part in PARTS:
        if part in summary:
            figure = "membership_roc.png" if part == "membership" else f"{part}.png"
            lines += ["", f"## {part.capitalize()} ({summary['seconds'][part]} s)", "", tables[part](summary[part]),
                      "", f"![{part}]({figure})"]  # fmt: skip
    return "\n".join(lines)
