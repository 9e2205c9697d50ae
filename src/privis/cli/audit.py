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
    from privis.audit.report import write_report

    if out_dir is not None:
        write_report(out_dir, name, summary, table, grid)
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

    weights = _numbers(tv, "--tv", float, 0.0)
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


@audit_app.command("extraction")
@guard
def audit_extraction_cmd(
    model: Annotated[
        Path, typer.Argument(help="The served model, saved by `privis train` or `privis encrypted train`.")
    ],
    answers: Annotated[
        str,
        typer.Option(
            "--answers",
            help="What the service answers, comma-separated: logits, labels, rounded:D,"
            " encrypted[=URL] (the CKKS service; he-cnn), mpc (3-party argmax; mlp).",
        ),
    ] = "logits,labels",
    queries: Annotated[str, typer.Option("--queries", help="Query counts N, comma-separated.")] = "50,100,200,500,1000",
    substitute: Annotated[str, typer.Option("--substitute", help="The attacker's network.")] = "small-cnn",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Adam steps per substitute.")] = 600,
    data: Annotated[
        str | None, typer.Option("--data", help="Its images, where the name saved with it no longer resolves.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the table, JSON and the curve (PNG) here.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Model extraction: a substitute trained on N answers of the served model; agreement and accuracy against N."""
    import contextlib

    from privis.audit.extraction import audit_extraction, extraction_table, open_oracles
    from privis.audit.extraction import write_curve as write_extraction_curve
    from privis.learn.data import model_data
    from privis.learn.dp_train import load_model

    counts = _numbers(queries, "--queries")
    target, meta = load_model(model)
    images = model_data(meta, data)
    kinds = [a.strip() for a in answers.split(",") if a.strip()]
    with contextlib.ExitStack() as stack:
        oracles = open_oracles(stack, target, kinds, classes=images.classes)
        with count_progress("substitutes", len(oracles) * len(set(counts)), not (quiet or as_json)) as progress:
            report = audit_extraction(target, images, oracles, counts=counts, substitute=substitute, steps=steps,
                                      seed=seed, on_step=ticker(progress))  # fmt: skip
    summary = report.summary()
    _report("extraction", summary, extraction_table(summary), lambda p: write_extraction_curve(summary, p), out_dir,
            as_json)  # fmt: skip


def _numbers(text: str, option: str, kind: type = int, low: float = 1) -> tuple[Any, ...]:
    """Comma-separated numbers of `kind`, each at least `low`, or a one-line error naming `option`."""
    noun = "integers" if kind is int else "numbers"
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < low:
        raise PrivisError(f"{option} takes {noun} of at least {low:g}, comma-separated, e.g. 1,4,16; got {text!r}")
    return values


@audit_app.command("all")
@guard
def audit_all_cmd(
    model: Annotated[Path, typer.Argument(help="A model saved by `privis train --out`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.md, report.json and every part's files.")],
    parts: Annotated[
        str, typer.Option("--parts", help="Comma-separated: membership, inversion, extraction, gradients.")
    ] = "membership,inversion,extraction,gradients",
    shadows: Annotated[int, typer.Option("--shadows", min=2, help="Membership: shadow models.")] = 8,
    queries: Annotated[str, typer.Option("--queries", help="Extraction: query counts N.")] = "50,100,200,500",
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Gradients: client batch sizes.")] = "1,4,16",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Every audit of a trained model in one report (Markdown, JSON, figures), as a privacy officer files it."""
    from privis.audit.report import audit_all, report_markdown

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    with count_progress("audits", len(chosen), not (quiet or as_json)) as progress:
        tick = ticker(progress)
        summary = audit_all(model, out_dir, parts=chosen, shadows=shadows, queries=_numbers(queries, "--queries"),
                            batch_sizes=_numbers(batch_sizes, "--batch-sizes"), seed=seed,
                            on_part=lambda _part: tick())  # fmt: skip
    typer.echo(json.dumps(summary) if as_json else report_markdown(summary))


@audit_app.command("gradients")
@guard
def audit_gradients_cmd(
    data: Annotated[str, typer.Argument(help="mnist, digits, or a folder of class folders: the clients' images.")],
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Client batch sizes, comma-separated.")] = "1,4,16",
    trials: Annotated[int, typer.Option("--trials", min=1, help="Clients attacked per setting.")] = 3,
    clients: Annotated[int, typer.Option("--clients", min=2, help="Clients in a SecAgg+ sum.")] = 10,
    clip: Annotated[float, typer.Option("--clip", min=1e-6, help="DP: the update's clipping norm.")] = 1.0,
    sigma: Annotated[float, typer.Option("--sigma", min=0.0, help="DP: Gaussian noise, times the clip.")] = 1.0,
    steps: Annotated[int, typer.Option("--steps", min=20, help="Optimisation steps of the attack.")] = 600,
    attack: Annotated[
        str,
        typer.Option("--attack", help="dlg (L2 distance, L-BFGS) or cosine (Geiping et al.: scale-blind, TV prior)."),
    ] = "dlg",
    via: Annotated[
        str,
        typer.Option(
            "--via",
            help="simulated (updates computed here) or flower (one real Flower round per setting,"
            " attacked where its strategy receives them).",
        ),
    ] = "simulated",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
    out_dir: ReconstructionsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Training images rebuilt from a client's update (DLG): plain, a SecAgg+ sum, and DP-clipped; SSIM."""
    from privis.audit.gradients import SCENARIOS, audit_gradients, gradient_table, write_grid
    from privis.learn.data import load_image_set

    sizes = _numbers(batch_sizes, "--batch-sizes")
    images = load_image_set(data, seed=seed)
    total = len(sizes) * len(SCENARIOS) * trials
    with count_progress("attacks", total, not (quiet or as_json)) as progress:
        report = audit_gradients(images, batch_sizes=sizes, trials=trials, clients=clients, clip=clip, sigma=sigma,
                                 steps=steps, attack=attack, via=via, seed=seed, on_step=ticker(progress))  # fmt: skip
    summary = {"data": images.name, "clients": clients, "clip": clip, "sigma": sigma, **report.summary()}
    _report("gradients", summary, gradient_table(summary), lambda path: write_grid(report, path), out_dir, as_json)
