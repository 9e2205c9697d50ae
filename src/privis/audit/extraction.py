"""Model extraction through queries (Tramèr et al. 2016): how many answers of a served model
does it take to train a copy that agrees with it?

The attacker holds unlabelled images of the right kind (the held-out half of the model's
own test split: images the model never trained on) and a query interface, and trains a
substitute (a small CNN: it does not know the target's architecture) on its answers. What
the interface answers is the whole difference:

- ``logits``: every class score, as the encrypted-inference client decrypts them (the
  server cannot withhold them: it never sees them in the clear);
- ``labels``: the top class only (label-only output, the defence: the client still gets
  the answer, so it costs no accuracy);
- ``rounded:D``: scores rounded to D decimals;
- ``encrypted``: the real CKKS service over HTTP (logits, decrypted by the attacker's own key);
- ``mpc``: the 3-party MPC path, which reveals the top class only.

A substitute learns from scores by regressing them (centred, as softmax ignores a shift:
Ba and Caruana 2014) and from labels by cross-entropy. It is scored on the other half of
the test split: agreement with the target's predictions, and its own accuracy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privis.errors import PrivisError

QUERY_COUNTS = (50, 100, 200, 500, 1000)
Oracle = Callable[[np.ndarray], np.ndarray]  # images (N, C, H, W) in [0, 1] -> logits (N, K) or labels (N,)


def plain_oracle(model: Any, output: str = "logits") -> Oracle:
    """A model served in the clear, answering ``logits``, ``labels`` or ``rounded:D``.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> plain_oracle(net, "labels")(np.zeros((2, 1, 2, 2), np.float32)).shape
    (2,)
    """
    from privis.learn.dp_train import predict_logits

    if output == "logits":
        return lambda x: predict_logits(model, x)
    if output == "labels":
        return lambda x: predict_logits(model, x).argmax(1)
    if output.startswith("rounded:"):
        try:
            decimals = int(output.split(":", 1)[1])
        except ValueError:
            raise PrivisError(f"rounded takes a number of decimals, e.g. rounded:1; got {output!r}") from None
        return lambda x: np.round(predict_logits(model, x), decimals)
    raise PrivisError(f"unknown answer {output!r}; known: logits, labels, rounded:D, encrypted, mpc")


@contextlib.contextmanager
def encrypted_oracle(model: Any, *, url: str | None = None, classes: list[str] | None = None) -> Iterator[Oracle]:
    """The CKKS service over HTTP (started on loopback for `model` unless `url` names one): the
    attacker encrypts each query with its own key and decrypts the logits."""
    from privis.learn.encrypted import EncryptedClient, check_he_model
    from privis.server.encrypted import EncryptedService, create_app
    from privis.server.http import running

    check_he_model(model)
    with contextlib.ExitStack() as stack:
        if url is None:
            url = stack.enter_context(running(create_app(model, classes=classes)))
        client = EncryptedClient()
        infer = EncryptedService(url).connect(client.public_context())

        def ask(x: np.ndarray) -> np.ndarray:
            return np.stack([client.decrypt(infer(client.encrypt(image[0]))) for image in x])

        yield ask


def mpc_oracle(model: Any) -> Oracle:
    """Three MPyC parties on loopback; the image owner learns the top class and nothing else."""
    from privis.learn.mpc import run_mpc

    return lambda x: np.asarray(run_mpc(model, x)["predictions"], np.int64)


def open_oracles(stack: contextlib.ExitStack, model: Any, kinds: list[str] | tuple[str, ...], *,
                 classes: list[str] | None = None) -> dict[str, Oracle]:  # fmt: skip
    """One oracle per kind (``logits``, ``labels``, ``rounded:D``, ``encrypted[=URL]``, ``mpc``);
    a CKKS service started for ``encrypted`` stays up until `stack` closes."""
    if not kinds:
        raise PrivisError("give at least one answer kind: logits, labels, rounded:D, encrypted, mpc")
    oracles: dict[str, Oracle] = {}
    for kind in kinds:
        if kind == "encrypted" or kind.startswith("encrypted="):
            url = kind.split("=", 1)[1] if "=" in kind else None
            oracles[kind] = stack.enter_context(encrypted_oracle(model, url=url, classes=classes))
        elif kind == "mpc":
            oracles[kind] = mpc_oracle(model)
        else:
            oracles[kind] = plain_oracle(model, kind)
    return oracles


def train_substitute(x: np.ndarray, answers: np.ndarray, n_classes: int, *, model: str = "small-cnn",
                     steps: int = 600, seed: int = 0) -> Any:  # fmt: skip
    """A fresh `model` fitted to the oracle's `answers` on images `x`: logits are regressed
    (centred, scaled by their spread), labels learnt by cross-entropy. Adam, batches of 64."""
    import torch

    from privis.learn.dp_train import scale_inputs
    from privis.learn.models import create_model

    torch.manual_seed(seed)
    net = create_model(model, tuple(x.shape[1:]), n_classes)
    inputs = torch.from_numpy(scale_inputs(x.astype(np.float32)))
    soft = answers.ndim == 2
    if soft:
        target = answers - answers.mean(axis=1, keepdims=True)
        target = torch.from_numpy((target / max(float(target.std()), 1e-6)).astype(np.float32))
    else:
        target = torch.from_numpy(answers.astype(np.int64))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(steps):
        batch = torch.randint(0, len(inputs), (min(64, len(inputs)),), generator=gen)
        out = net(inputs[batch])
        if soft:
            loss = ((out - out.mean(dim=1, keepdim=True) - target[batch]) ** 2).mean()
        else:
            loss = torch.nn.functional.cross_entropy(out, target[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@dataclass
class ExtractionAudit:
    """Per interface and query count: the substitute's agreement with the target and its accuracy."""

    data: str
    target_accuracy: float
    evaluation_images: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"attack": "substitute training on the answers to N queries (Tramèr et al. 2016)",
                "data": self.data, "target_accuracy": round(self.target_accuracy, 4),
                "evaluation_images": self.evaluation_images, "rows": self.rows}  # fmt: skip


def query_split(data: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The attacker's query pool and the evaluation images: the test split, shuffled and halved
    (a file's order is often its source's: MNIST's test set is two populations, one after the other)."""
    order = np.random.default_rng(seed).permutation(data.test)
    half = len(order) // 2
    return order[:half], order[half:]


def audit_extraction(target: Any, data: Any, oracles: dict[str, Oracle], *, counts: tuple[int, ...] = QUERY_COUNTS,
                     substitute: str = "small-cnn", steps: int = 600, seed: int = 0,
                     on_step: Callable[[], None] | None = None) -> ExtractionAudit:  # fmt: skip
    """Query each oracle with the first max(`counts`) pool images, then train a substitute on
    the first N answers for each N in `counts`, and score it against `target` (in the clear)."""
    from privis.learn.dp_train import predict_logits

    pool, held = query_split(data, seed)
    counts = tuple(sorted(set(counts)))
    if not counts or counts[0] < 1:
        raise PrivisError(f"query counts must be positive, got {counts}")
    if counts[-1] > len(pool):
        raise PrivisError(f"{counts[-1]} queries asked, but the query pool (half of {data.name}'s held-out images)"
                          f" holds {len(pool)}")  # fmt: skip
    x_eval, y_eval = data.x[held], data.y[held]
    target_pred = predict_logits(target, x_eval).argmax(1)
    report = ExtractionAudit(data.name, float((target_pred == y_eval).mean()), len(held))
    queries = data.x[pool[: counts[-1]]]
    for name, oracle in oracles.items():
        answers = np.asarray(oracle(queries))
        if len(answers) != len(queries):
            raise PrivisError(f"the {name} oracle answered {len(answers)} of {len(queries)} queries")
        top = answers.argmax(1) if answers.ndim == 2 else answers
        served = float((top == data.y[pool[: counts[-1]]]).mean())  # what the honest client gets: the defence's cost
        for n in counts:
            sub = train_substitute(queries[:n], answers[:n], data.n_classes, model=substitute, steps=steps, seed=seed)
            pred = predict_logits(sub, x_eval).argmax(1)
            agreement, accuracy = float((pred == target_pred).mean()), float((pred == y_eval).mean())
            report.rows.append({"answers": name, "queries": n, "agreement": round(agreement, 4),
                                "substitute_accuracy": round(accuracy, 4),
                                "served_accuracy": round(served, 4)})  # fmt: skip
            if on_step:
                on_step()
    return report


def extraction_table(summary: dict[str, Any]) -> str:
    """Markdown: agreement (and substitute accuracy) per interface, one column per query count."""
    rows = summary["rows"]
    counts = sorted({r["queries"] for r in rows})
    names = list(dict.fromkeys(r["answers"] for r in rows))
    cell = {(r["answers"], r["queries"]): r for r in rows}
    lines = [f"Extraction of the {summary['data']} model (target accuracy {summary['target_accuracy']:.3f}): the"
             f" substitute's agreement with the target (its accuracy) on {summary['evaluation_images']} other images,"
             " after N queries", "",
             "| answers | served accuracy | " + " | ".join(f"N = {n}" for n in counts) + " |",
             "|---|---|" + "---|" * len(counts)]  # fmt: skip
    for name in names:
        served = next(r["served_accuracy"] for r in rows if r["answers"] == name)
        values = [f"{cell[name, n]['agreement']:.3f} ({cell[name, n]['substitute_accuracy']:.3f})" for n in counts]
        lines.append(f"| {name} | {served:.3f} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def write_curve(summary: dict[str, Any], path: Any) -> None:
    """A PNG: agreement with the target against the number of queries, one line per interface."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name in dict.fromkeys(r["answers"] for r in summary["rows"]):
        pts = [(r["queries"], r["agreement"]) for r in summary["rows"] if r["answers"] == name]
        ax.plot(*zip(*pts, strict=True), marker="o", label=name)
    ax.set_xscale("log")
    counts = sorted({r["queries"] for r in summary["rows"]})
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.minorticks_off()
    ax.set_xlabel("queries")
    ax.set_ylabel("agreement with the target")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Extraction of the {summary['data']} model", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
