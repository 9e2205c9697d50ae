"""`privis train`, `federated`, `encrypted ...` and `mpc`: private training and inference."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from privis.cli.core import EXIT_SOME_FAILED, app, count_progress, encrypted_app, guard, ticker
from privis.errors import PrivisError


@app.command("train")
@guard
def train(
    data: Annotated[str, typer.Argument(help="digits, mnist, or a folder with one subfolder of images per class.")],
    model: Annotated[
        str, typer.Option("--model", help="small-cnn, resnet-gn (no BatchNorm), mlp (for `privis mpc`) or he-cnn.")
    ] = "small-cnn",
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", min=1e-3, help="Train with DP-SGD to this ε (none: not private).")
    ] = None,
    delta: Annotated[float, typer.Option("--delta", min=1e-12, max=0.1, help="δ of the guarantee.")] = 1e-5,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Expected logical batch size.")] = 512,
    lr: Annotated[float, typer.Option("--lr", min=1e-6, help="SGD learning rate (momentum 0.9).")] = 0.1,
    max_grad_norm: Annotated[float, typer.Option("--max-grad-norm", min=1e-6, help="Per-example clip.")] = 1.0,
    size: Annotated[int, typer.Option("--size", min=4, help="Folder images are resized to this square side.")] = 32,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the training.")] = 0,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Save the model here (.pt).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train an image classifier, with DP-SGD (Opacus) when --epsilon is given; ε per epoch is reported and saved."""
    from privis.learn.dp_train import TrainConfig

    config = TrainConfig(model=model, epochs=epochs, batch_size=batch_size, lr=lr, epsilon=epsilon, delta=delta,
                         max_grad_norm=max_grad_norm, seed=seed)  # fmt: skip
    _train_and_report(data, config, size=size, out=out, overwrite=overwrite, as_json=as_json, quiet=quiet)


def _train_and_report(
    data: str, config: Any, *, size: int, out: Path | None, overwrite: bool, as_json: bool, quiet: bool
) -> None:
    """Train as `config` says on the set `data`, save to `out` and report (`train` and `encrypted train`)."""
    from privis.learn.data import load_image_set
    from privis.learn.dp_train import save_model, train_classifier

    if out is not None and out.exists() and not overwrite:
        raise PrivisError(f"{out} exists; pass --overwrite to replace it")
    images = load_image_set(data, seed=config.seed, size=size)
    show = not (quiet or as_json)
    with count_progress("training", config.epochs, show, info=True) as progress:
        on_epoch = None
        if progress:

            def on_epoch(row: dict[str, Any]) -> None:
                eps = f", ε {row['epsilon']}" if row.get("epsilon") is not None else ""
                progress(row["epoch"], f"accuracy {row['test_accuracy']}{eps}")

        result = train_classifier(images, config, on_epoch=on_epoch)
    summary = {"data": images.name, "train_images": len(images.train), "test_images": len(images.test),
               **result.summary()}  # fmt: skip
    if out is not None:
        summary["saved"] = str(save_model(out, result, images, overwrite=overwrite))
    if as_json:
        typer.echo(json.dumps(summary))
        return
    eps = f"ε = {summary['epsilon']} at δ = {summary['delta']}" if config.epsilon is not None else "not private"
    typer.echo(f"{config.model}: test accuracy {summary['test_accuracy']} after {config.epochs} epochs ({eps}), "
               f"{summary['seconds_per_epoch']} s per epoch" + (f"; saved {out}" if out else ""))  # fmt: skip


class _SimulateByDefault(TyperGroup):
    """`privis federated DATA ...` is `privis federated simulate DATA ...`, as before there were
    `serve` and `join`."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args.insert(0, "simulate")
        return super().resolve_command(ctx, args)


federated_app = typer.Typer(
    cls=_SimulateByDefault,
    help="Federated learning with Flower: simulated on this machine, or deployed (serve, join) over TLS.",
    no_args_is_help=True,
)
app.add_typer(federated_app, name="federated")


@federated_app.command("simulate")
@guard
def federated(
    data: Annotated[str, typer.Argument(help="digits, mnist, or a folder with one subfolder of images per class.")],
    clients: Annotated[int, typer.Option("--clients", min=2, help="Simulated clients.")] = 10,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 10,
    strategy: Annotated[str, typer.Option("--strategy", help="fedavg or fedprox.")] = "fedavg",
    proximal_mu: Annotated[float, typer.Option("--proximal-mu", min=0.0, help="fedprox: μ.")] = 0.01,
    split: Annotated[str, typer.Option("--split", help="iid, or dirichlet (non-IID over the classes).")] = "iid",
    alpha: Annotated[float, typer.Option("--alpha", min=1e-3, help="dirichlet: concentration α.")] = 0.5,
    secagg: Annotated[
        bool, typer.Option("--secagg/--no-secagg", help="SecAgg+: the server sees only the sum (default on).")
    ] = True,
    noise_multiplier: Annotated[
        float | None,
        typer.Option("--noise-multiplier", min=1e-3, help="Client-level DP: Gaussian noise / clip on the sum."),
    ] = None,
    clipping_norm: Annotated[float, typer.Option("--clipping-norm", min=1e-6, help="Client-level DP: clip.")] = 1.0,
    delta: Annotated[float, typer.Option("--delta", min=1e-12, max=0.1, help="δ of the client-level ε.")] = 1e-5,
    local_epochs: Annotated[int, typer.Option("--local-epochs", min=1)] = 1,
    lr: Annotated[float, typer.Option("--lr", min=1e-6)] = 0.05,
    model: Annotated[str, typer.Option("--model", help="small-cnn or resnet-gn.")] = "small-cnn",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Federated training simulated on this machine (Flower): FedAvg/FedProx, SecAgg+, client-level DP."""
    from privis.learn.data import load_image_set
    from privis.learn.federated import FederatedConfig, run_federated

    config = FederatedConfig(
        clients=clients, rounds=rounds, strategy=strategy, proximal_mu=proximal_mu, split=split, alpha=alpha,
        secagg=secagg, noise_multiplier=noise_multiplier, clipping_norm=clipping_norm, delta=delta,
        local_epochs=local_epochs, lr=lr, model=model, seed=seed,
    )  # fmt: skip
    images = load_image_set(data, seed=seed)
    with count_progress("rounds", rounds, not (quiet or as_json)) as progress:
        on_round = (lambda row: progress(row["round"])) if progress else None
        result = run_federated(images, config, on_round=on_round)
    summary = {"data": images.name, **result.summary()}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    eps = f", client-level ε = {summary['epsilon']} at δ = {delta}" if summary["epsilon"] is not None else ""
    typer.echo(f"test accuracy {summary['test_accuracy']} after {rounds} rounds over {clients} clients "
               f"({split}{', SecAgg+' if secagg else ''}{eps}), {summary['seconds']} s")  # fmt: skip


@federated_app.command("serve")
@guard
def federated_serve(
    data: Annotated[str, typer.Argument(help="The server's test images: digits, mnist, or a folder of class folders.")],
    clients: Annotated[int, typer.Option("--clients", min=2, help="SuperNodes to wait for and train with.")] = 4,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 10,
    listen: Annotated[str, typer.Option("--listen", help="The SuperLink's HOST:PORT (loopback by default).")] = (
        "127.0.0.1:9100"
    ),
    state: Annotated[
        Path, typer.Option("--state", help="The federation's folder: certificates, Flower's state, logs, result.")
    ] = Path("privis-federation"),
    split: Annotated[str, typer.Option("--split", help="How partitioned SuperNodes split a built-in set.")] = "iid",
    secagg: Annotated[bool, typer.Option("--secagg/--no-secagg", help="SecAgg+ (default on).")] = True,
    min_clients: Annotated[
        int, typer.Option("--min-clients", min=0, help="Clients a round needs once started (0: all).")
    ] = 0,
    round_timeout: Annotated[
        float, typer.Option("--round-timeout", min=1.0, help="Seconds a round waits for a client before going on.")
    ] = 120.0,
    local_epochs: Annotated[int, typer.Option("--local-epochs", min=1)] = 1,
    lr: Annotated[float, typer.Option("--lr", min=1e-6)] = 0.05,
    model: Annotated[str, typer.Option("--model", help="small-cnn or resnet-gn.")] = "small-cnn",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Start a SuperLink (TLS, certificates made in --state), wait for --clients SuperNodes, train."""
    from privis.hosts import parse_host_port
    from privis.learn.federated import FederatedConfig
    from privis.learn.federation import serve

    host, port = parse_host_port(listen, option="--listen")
    config = FederatedConfig(clients=clients, rounds=rounds, split=split, secagg=secagg, local_epochs=local_epochs,
                             lr=lr, model=model, seed=seed)  # fmt: skip

    def ready(address: str, certs: Any) -> None:
        typer.echo(f"SuperLink on {address} (TLS); SuperNodes join with: privis federated join {address} "
                   f"--ca {certs.ca} --data DATA [--partition K --partitions {clients}]", err=True)  # fmt: skip

    def on_round(row: dict[str, float]) -> None:
        if not as_json:
            typer.echo(f"round {row['round']}: test accuracy {row['test_accuracy']}", err=True)

    result = serve(config, data=data, state=state, host=host, port=port, timeout=round_timeout,
                   min_clients=min_clients, on_round=on_round, on_ready=ready)  # fmt: skip
    summary = {"data": data, "deployed": True, "tls": True, **result.summary()}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"test accuracy {summary['test_accuracy']} after {rounds} rounds over {clients} SuperNodes "
               f"(TLS{', SecAgg+' if secagg else ''}), {summary['seconds']} s")  # fmt: skip


@federated_app.command("join")
@guard
def federated_join(
    superlink: Annotated[str, typer.Argument(help="The SuperLink's HOST:PORT, as `serve` printed it.")],
    ca: Annotated[Path, typer.Option("--ca", help="The federation's CA certificate (certs/ca.crt in its --state).")],
    data: Annotated[
        str,
        typer.Option(
            "--data", help="This node's images: a folder of class folders, or a built-in set with --partition."
        ),
    ] = "digits",  # fmt: skip
    partition: Annotated[
        int | None, typer.Option("--partition", min=0, help="This node's part of a built-in set.")
    ] = None,
    partitions: Annotated[int | None, typer.Option("--partitions", min=1, help="Parts the set is split into.")] = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="This node's local runtime port.")] = 9200,
    state: Annotated[Path, typer.Option("--state", help="This node's own folder (Flower's state, log).")] = Path(
        "privis-supernode"
    ),
) -> None:
    """Start a SuperNode that trains on its own data for the SuperLink at SUPERLINK (TLS); runs until stopped."""
    from privis.learn.federation import join

    code = join(superlink, ca=ca, data=data, state=state, partition=partition, partitions=partitions, port=port)
    if code not in (0, 130):
        raise typer.Exit(EXIT_SOME_FAILED)


@encrypted_app.command("train")
@guard
def encrypted_train(
    data: Annotated[str, typer.Argument(help="mnist, or a folder of class subfolders (images become 28×28 grey).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Save the model here (.pt).")],
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", min=1e-3, help="Train with DP-SGD to this ε (none: not private).")
    ] = None,
    delta: Annotated[float, typer.Option("--delta", min=1e-12, max=0.1, help="δ of the guarantee.")] = 1e-5,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Default 60 (30 with --epsilon).")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Logical batch size (default 64; 512 with --epsilon).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", min=1e-6, help="Adam learning rate, cosine schedule (1e-3; 1e-2 with DP).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the training.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train the he-cnn (polynomial layers only, so it runs on ciphertexts) in plaintext, optionally with DP-SGD."""
    from privis.learn.encrypted import HE_TRAINING, HE_TRAINING_DP

    base = HE_TRAINING if epsilon is None else HE_TRAINING_DP
    config = dataclasses.replace(base, epochs=epochs or base.epochs, batch_size=batch_size or base.batch_size,
                                 lr=lr or base.lr, epsilon=epsilon, delta=delta, seed=seed)  # fmt: skip
    _train_and_report(data, config, size=28, out=out, overwrite=overwrite, as_json=as_json, quiet=quiet)


@encrypted_app.command("keygen")
@guard
def encrypted_keygen(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for secret.ctx, public.ctx, parameters.json.")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Make CKKS keys for the he-cnn: the secret key stays in secret.ctx (owner-only), public.ctx goes to servers."""
    from privis.learn.encrypted import EncryptedClient, save_keys

    client = EncryptedClient()
    paths = save_keys(client, out, overwrite=overwrite)
    summary = {name: {"path": str(p), "bytes": p.stat().st_size} for name, p in paths.items()}
    summary["parameters"] = dataclasses.asdict(client.params)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    p = client.params
    typer.echo(f"CKKS N = {p.poly_modulus_degree}, primes {list(p.coeff_mod_bit_sizes)} bits, scale 2^{p.scale_bits}")
    for path in paths.values():
        typer.echo(f"  {path}  {path.stat().st_size / 1e6:.1f} MB")


@encrypted_app.command("serve")
@guard
def encrypted_serve(
    model: Annotated[Path, typer.Option("--model", help="An he-cnn saved by `privis encrypted train`.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless you say otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8600,
    max_sessions: Annotated[int, typer.Option("--max-sessions", min=1, help="Clients' keys kept in memory.")] = 4,
    max_in_flight_mb: Annotated[
        int, typer.Option("--max-in-flight-mb", min=1, help="Request bodies held at once, all clients together.")
    ] = 1024,
) -> None:
    """Serve the model over HTTP for clients who send encrypted images; it never holds a secret key.

    Memory stays under the idle server (about 250 MB), plus --max-in-flight-mb of uploads
    (and an eighth), one context being deserialized (three times its size) and about 175 MB
    per session with the default keys: beyond that the server answers 503 (busy), never grows.
    """
    from privis.learn.dp_train import load_model
    from privis.server.encrypted import create_app
    from privis.server.http import serve

    he_model, meta = load_model(model)
    app = create_app(he_model, classes=meta["data"]["classes"], max_sessions=max_sessions,
                     max_in_flight=max_in_flight_mb << 20)  # fmt: skip
    typer.secho(f"serving {model} for encrypted inference on http://{host}:{port}/v1/encrypted (Ctrl-C stops)",
                err=True)  # fmt: skip
    serve(app, host, port)


@encrypted_app.command("infer")
@guard
def encrypted_infer(
    images: Annotated[
        list[Path] | None, typer.Argument(help="Images to classify (28×28 grey after resizing; MNIST: white on black).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="A `privis encrypted serve` server.")] = None,
    keys: Annotated[Path | None, typer.Option("--keys", help="Folder from `privis encrypted keygen`.")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Evaluate on this set's held-out images instead (mnist).")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="--dataset: how many held-out images.")] = 100,
    model: Annotated[
        Path | None, typer.Option("--model", help="--dataset: the he-cnn (default: train one now, ~10 s).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="--dataset: seed of the split (and of the training).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Classify encrypted images on a server that never sees them or the result.

    With --url and --keys: IMAGES. With --dataset: the whole protocol (keys, a server on loopback
    unless --url, N held-out images) with accuracy against plaintext, latency and bytes each way.
    """
    from privis.learn.encrypted import EncryptedClient, load_client
    from privis.learn.private_inference import classify_encrypted, evaluate_encrypted_set
    from privis.server.encrypted import EncryptedService

    client = load_client(keys) if keys else None
    if dataset is None:
        if not images or url is None or client is None:
            raise PrivisError("give IMAGES with --url and --keys, or --dataset to evaluate")
        _print_predictions(classify_encrypted(images, EncryptedService(url), client), as_json)
        return
    if images:
        raise PrivisError("give IMAGES or --dataset, not both")
    if url is not None and model is None:
        raise PrivisError("--dataset with --url needs --model too: the plaintext model the server runs")
    with count_progress("encrypted inference", n, not (quiet or as_json)) as progress:
        summary = evaluate_encrypted_set(dataset, n, client=client or EncryptedClient(), model_path=model, url=url,
                                         seed=seed, on_image=ticker(progress))  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(
        f"{summary['n_images']} images: encrypted accuracy {summary['encrypted_accuracy']:.4f}, plaintext "
        f"{summary['plaintext_accuracy']:.4f} ({summary['agreement']:.2%} agree); {summary['seconds_per_image']} s per "
        f"image, {summary['bytes_up_per_image'] / 1e3:.0f} kB up and {summary['bytes_down_per_image'] / 1e3:.0f} kB "
        f"down per image; public context {summary['context_bytes'] / 1e6:.1f} MB (N = "
        f"{summary['poly_modulus_degree']}, primes {summary['coeff_mod_bit_sizes']})"
    )


@app.command("mpc")
@guard
def mpc(
    images: Annotated[
        list[Path] | None, typer.Argument(help="Images to classify (resized to the model's input).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="An mlp or linear model from `privis train --model mlp`.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Evaluate on this set's held-out images instead (mnist, digits).")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="--dataset: how many held-out images.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="--dataset: seed of the split (and of the training).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Secret-shared inference among 3 parties on loopback (MPyC); only the images' owner learns each class.

    Party 0 shares the model, party 1 the images, party 2 computes. With --dataset: agreement with the
    plaintext model, time and traffic per image.
    """
    from privis.learn.dp_train import load_model
    from privis.learn.mpc import MPC_TRAINING, run_mpc
    from privis.learn.private_inference import held_out_and_model, read_images

    if (dataset is None) == (not images):
        raise PrivisError("give IMAGES (with --model) or --dataset")
    labels, names = None, None
    if dataset is not None:
        data, net, test = held_out_and_model(dataset, n, seed, model, MPC_TRAINING)
        x, labels = data.x[test], data.y[test]
    else:
        if model is None:
            raise PrivisError("IMAGES need --model (an mlp from `privis train DATA --model mlp -o FILE`)")
        net, meta = load_model(model)
        x, names, failed = read_images(images or [], tuple(meta["data"]["shape"]))
        classes = meta["data"]["classes"]
        if not names:
            raise PrivisError(failed[0]["error"])
    with count_progress("MPC inference", len(x), not (quiet or as_json)) as progress:
        summary = run_mpc(net, x, labels, on_image=ticker(progress))
    if names is not None:
        rows = [{"image": name, "class": classes[c]} for name, c in zip(names, summary["predictions"], strict=True)]
        _print_predictions({**summary, "predictions": rows + failed, "failed": len(failed)}, as_json)
        return
    summary = {"data": dataset, **{k: v for k, v in summary.items() if k != "predictions"}}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(
        f"{summary['n_images']} images among {summary['parties']} parties: {summary['agreement']:.2%} agree with "
        f"plaintext (accuracy {summary['mpc_accuracy']} under MPC, {summary['plaintext_accuracy']} in plaintext); "
        f"{summary['seconds_per_image']} s per image, {summary['setup_seconds']} s to start and share the model"
    )


def _print_predictions(summary: dict[str, Any], as_json: bool) -> None:
    """Print one line per image (unless --json); exit 1 after the JSON if any image could not be read."""
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for row in summary["predictions"]:
            typer.echo(f"{row['image']}: {row['class']}" if "class" in row else f"error: {row['error']}")
    if summary["failed"]:
        raise typer.Exit(EXIT_SOME_FAILED)
