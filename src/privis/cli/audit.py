"""`privis audit membership|reid|inversion|gradients`: what trained models, updates and obfuscated faces leak."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from privis.audit.inversion import TV_WEIGHTS
from privis.audit.methods import REID_METHODS
from privis.cli.core import audit_app, count_progress, guard, ticker
from privis.cli.options import listed
from privis.errors import PrivisError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
ReconstructionsOpt = Annotated[
    Path | None, typer.Option("--out", help="Write the table, JSON and the reconstructions (PNG) here.")
]


def _report(name: str, summary: dict[str, Any], table: str, grid: Callable[[Path], None], out_dir: Path | None,
            as_json: bool) -> None:  # fmt: skip
    """Write NAME.md, NAME.json and NAME.png under `out_dir` (if given); print the JSON or the table."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{name}.md").write_text(table + "\n")
        (out_dir / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
        grid(out_dir / f"{name}.png")
    typer.echo(json.dumps(summary) if as_json else table)


@audit_app.command("membership")
@guard
def audit_membership_cmd(
    model: Annotated[Path, typer.Argument(help="A model saved by `privis train --out`.")],
    shadows: Annotated[
        int, typer.Option("--shadows", min=2, help="Shadow models, each trained exactly as the target was.")
    ] = 16,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the shadows' training sets.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the table, JSON and ROC plot (PNG) here.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Membership inference: LiRA (online and offline) and the loss baseline; AUC and TPR at 0.1% and 1% FPR."""
    from privis.audit.lira import audit_membership, membership_table, write_outputs

    with count_progress("shadow models", shadows, not (quiet or as_json)) as on_shadow:
        report = audit_membership(model, shadows=shadows, seed=seed, on_shadow=on_shadow)
    summary = report.summary()
    if out_dir is not None:
        write_outputs(report, out_dir)
    typer.echo(json.dumps(summary) if as_json else membership_table(summary))


@audit_app.command("reid")
@guard
def audit_reid(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="Aligned faces (labels.csv or a folder per person), photos (labels.csv with identities),"
            " or 'att', 'identity'.",
        ),
    ],
    methods: Annotated[
        str,
        typer.Option(
            "--methods", help="Comma-separated: clear, blur[:strength], pixelate:CELL, fill, dp-pixelate:eps=E[,b=,m=]."
        ),
    ] = REID_METHODS,
    attackers: Annotated[
        str | None,
        typer.Option(
            "--attackers",
            help="cnn, pca-svm, naive (CNN trained on clear), dlib, dlib-obf (pretrained recognizer with clear or"
            " obfuscated references). Default: cnn,pca-svm,naive for aligned faces, dlib,dlib-obf for photos.",
        ),
    ] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Random train/test splits.")] = 3,
    n_train: Annotated[int, typer.Option("--train-per-person", min=1, help="Training images per person.")] = 5,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="CNN training epochs.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Splits, noise and training seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write reid.csv, reid.json and PNG plots here.")] = None,
) -> None:
    """Re-identification attack on obfuscated faces (McPherson et al. 2016 protocol)."""
    from privis.audit import reidentify

    def say(line: str) -> None:
        if not as_json:
            typer.echo(line, err=True)

    report = reidentify(dataset, methods, attackers=listed(attackers) or None, repeats=repeats, n_train=n_train,
                        epochs=epochs, seed=seed, progress=say)  # fmt: skip
    if out_dir is not None:
        report.write(out_dir)
    typer.echo(json.dumps(report.summary()) if as_json else report.table())


@audit_app.command("inversion")
@guard
def audit_inversion_cmd(
    models: Annotated[list[Path], typer.Argument(help="Classifiers saved by `privis train --out`, one data set.")],
    data: Annotated[
        str | None, typer.Option("--data", help="Their images, where the name saved with them no longer resolves.")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Adam steps per reconstruction.")] = 500,
    tv: Annotated[
        str, typer.Option("--tv", help="Total-variation prior weights tried, comma-separated; the best is reported.")
    ] = ",".join(f"{w:g}" for w in TV_WEIGHTS),
    evaluator_epochs: Annotated[
        int, typer.Option("--evaluator-epochs", min=1, help="Training epochs of the independent evaluator.")
    ] = 60,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
    out_dir: ReconstructionsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Model inversion (MI-Face): each person's face drawn from the model alone, named by an independent classifier."""
    from privis.audit.inversion import audit_inversion, inversion_table, write_grid
    from privis.learn.data import model_data
    from privis.learn.dp_train import load_model

    try:
        weights = tuple(float(w) for w in tv.split(",") if w.strip())
    except ValueError:
        raise PrivisError(f"--tv takes numbers, comma-separated, e.g. 0.05,0.3; got {tv!r}") from None
    if not weights or min(weights) < 0:
        raise PrivisError(f"--tv takes non-negative numbers, comma-separated; got {tv!r}")
    loaded = [(path.stem, *load_model(path)) for path in models]
    names = {(m["data"]["name"], tuple(m["data"]["shape"])) for _, _, m in loaded}
    if len(names) > 1:
        raise PrivisError(f"the models were trained on different data: {sorted(names)}; audit them one set at a time")
    images = model_data(loaded[0][2], data)
    with count_progress("models", len(loaded), not (quiet or as_json)) as progress:
        report = audit_inversion(loaded, images, steps=steps, tv=weights, evaluator_epochs=evaluator_epochs,
                                 seed=seed, on_model=ticker(progress))  # fmt: skip
    summary = report.summary()
    _report("inversion", summary, inversion_table(summary), lambda path: write_grid(report, path), out_dir, as_json)


@audit_app.command("gradients")
@guard
def audit_gradients_cmd(
    data: Annotated[str, typer.Argument(help="mnist, digits, or a folder of class folders: the clients' images.")],
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Client batch sizes, comma-separated.")] = "1,4,16",
    trials: Annotated[int, typer.Option("--trials", min=1, help="Clients attacked per setting.")] = 3,
    clients: Annotated[int, typer.Option("--clients", min=2, help="Clients in a SecAgg+ sum.")] = 10,
    clip: Annotated[float, typer.Option("--clip", min=1e-6, help="DP: the update's clipping norm.")] = 1.0,
    sigma: Annotated[float, typer.Option("--sigma", min=0.0, help="DP: Gaussian noise, times the clip.")] = 1.0,
    steps: Annotated[int, typer.Option("--steps", min=20, help="L-BFGS steps of the attack.")] = 600,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
    out_dir: ReconstructionsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Training images rebuilt from a client's update (DLG): plain, a SecAgg+ sum, and DP-clipped; SSIM."""
    from privis.audit.gradients import SCENARIOS, audit_gradients, gradient_table, write_grid
    from privis.learn.data import load_image_set

    sizes = tuple(int(b) for b in batch_sizes.split(",") if b.strip())
    if not sizes or min(sizes) < 1:
        raise PrivisError(f"--batch-sizes takes positive integers, e.g. 1,4,16; got {batch_sizes!r}")
    images = load_image_set(data, seed=seed)
    total = len(sizes) * len(SCENARIOS) * trials
    with count_progress("attacks", total, not (quiet or as_json)) as progress:
        report = audit_gradients(images, batch_sizes=sizes, trials=trials, clients=clients, clip=clip, sigma=sigma,
                                 steps=steps, seed=seed, on_step=ticker(progress))  # fmt: skip
    summary = {"data": images.name, "clients": clients, "clip": clip, "sigma": sigma, **report.summary()}
    _report("gradients", summary, gradient_table(summary), lambda path: write_grid(report, path), out_dir, as_json)
