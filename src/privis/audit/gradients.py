"""Reconstruction of training images from what a federated client sends (Zhu et al. 2019,
"Deep Leakage from Gradients"), measured without a defence and with each of privis's two.

The attacker is the server. It knows the model and a client's labels, and it holds what the
client sent for one step on one batch. It optimises dummy images until their gradient matches
that update (L2 distance, L-BFGS with a strong-Wolfe line search, as DLG does). The model is
Zhu's LeNet: sigmoid activations, so the gradient is twice differentiable and the attack works
at its best. Three things the server may hold:

- ``plain``: the client's own update (FedAvg without secure aggregation);
- ``secagg``: the sum of the updates of `clients` clients, all that SecAgg+ lets it see;
- ``dp``: the client's update clipped to norm `clip` with Gaussian noise of `sigma`·`clip`
  (client-side clipping and noise, as DP-FedAvg adds it).

Each reconstruction is scored by SSIM against the client's own images (each true image against
its best-matching reconstruction), so 1 is a perfect copy and about 0 is noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privis.audit.similarity import ssim, total_variation
from privis.errors import PrivisError
from privis.learn.dp_train import scale_inputs
from privis.learn.models import lenet

SCENARIOS = ("plain", "secagg", "dp")
ATTACKS = ("dlg", "cosine")


def update(model: Any, x: Any, y: Any) -> list[Any]:
    """The gradient of the cross-entropy of batch (`x`, `y`): one client's update for one step."""
    import torch
    import torch.nn.functional as F

    loss = F.cross_entropy(model(x), y)
    return [g.detach() for g in torch.autograd.grad(loss, list(model.parameters()))]


def defended(own: list[Any], scenario: str, *, others: list[list[Any]] | None = None, clip: float = 1.0,
             sigma: float = 1.0, seed: int = 0) -> list[Any]:  # fmt: skip
    """What the server holds of a client's update `own` under `scenario`."""
    import torch

    if scenario == "plain":
        return own
    if scenario == "secagg":
        return [sum(parts) for parts in zip(own, *(others or []), strict=True)]
    if scenario == "dp":
        norm = float(torch.sqrt(sum((g * g).sum() for g in own)))
        gen = torch.Generator().manual_seed(seed)
        return [g * min(1.0, clip / max(norm, 1e-12)) + sigma * clip * torch.randn(g.shape, generator=gen)
                for g in own]  # fmt: skip
    raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")


def reconstruct(model: Any, target: list[Any], labels: Any, shape: tuple[int, int, int], *, steps: int = 600,
                attack: str = "dlg", tv: float = 1e-2, seed: int = 0) -> Any:  # fmt: skip
    """Images (len(labels), *shape) in [-1, 1] whose gradient best matches `target`.

    ``dlg`` (Zhu et al. 2019): the L2 distance of the gradients, L-BFGS. ``cosine`` (Geiping
    et al. 2020): one minus their cosine similarity plus `tv` times the total variation, Adam
    on signed gradients; blind to the update's scale, so clipping does not stop it.
    """
    import torch
    import torch.nn.functional as F

    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
    gen = torch.Generator().manual_seed(seed)
    dummy = torch.randn((len(labels), *shape), generator=gen).requires_grad_(True)
    params = list(model.parameters())
    if attack == "cosine":
        flat_target = torch.cat([t.reshape(-1) for t in target])
        opt = torch.optim.Adam([dummy], lr=0.1)
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(steps * f) for f in (0.375, 0.625, 0.875)], 0.1)
        for _ in range(steps):
            opt.zero_grad()
            grads = torch.autograd.grad(F.cross_entropy(model(dummy), labels), params, create_graph=True)
            flat = torch.cat([g.reshape(-1) for g in grads])
            cost = 1 - F.cosine_similarity(flat, flat_target, dim=0) + tv * total_variation(dummy)
            dummy.grad = torch.autograd.grad(cost, dummy)[0].sign()
            opt.step()
            sched.step()
            with torch.no_grad():
                dummy.clamp_(-1, 1)
        return dummy.detach()
    opt_lbfgs = torch.optim.LBFGS([dummy], lr=1, max_iter=20, history_size=100, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt_lbfgs.zero_grad()
        grads = torch.autograd.grad(F.cross_entropy(model(dummy), labels), params, create_graph=True)
        cost = sum(((a - b) ** 2).sum() for a, b in zip(grads, target, strict=True))
        cost.backward()
        return cost

    for _ in range(max(1, steps // 20)):
        opt_lbfgs.step(closure)
        if not torch.isfinite(dummy).all():
            break
    return torch.nan_to_num(dummy.detach()).clamp(-1, 1)


def best_match_ssim(true: np.ndarray, rec: np.ndarray) -> list[float]:
    """For each true image (N, 1, H, W) in [0, 1], the SSIM of its best-matching reconstruction."""
    return [max(ssim(t[0], r[0]) for r in rec) for t in true]


@dataclass
class GradientAudit:
    """SSIM per scenario and batch size over `trials` clients, and one example of each."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # key: scenario/batch
    attack: str = "dlg"
    via: str = "simulated"

    def summary(self) -> dict[str, Any]:
        names = {"dlg": "DLG (L2, L-BFGS)", "cosine": "cosine similarity + TV, Adam (Geiping et al. 2020)"}
        where = ("updates recorded where the Flower strategy receives them, one real round" if self.via == "flower"
                 else "updates computed as the server would receive them")  # fmt: skip
        return {"attack": f"{names[self.attack]} on Zhu's sigmoid LeNet", "via": self.via, "source": where,
                "rows": self.rows}  # fmt: skip


FLOWER_LR = 0.01  # the clients' step size in a recorded round: one SGD step, so the update is lr × gradient


def flower_round(data: Any, *, batch: int, clients: int, scenario: str, clip: float = 1.0, sigma: float = 1.0,
                 seed: int = 0) -> tuple[Any, list[tuple[list[Any], Any, Any]]]:  # fmt: skip
    """One real Flower round (simulation) of `clients` LeNet clients holding `batch` images of
    `data` each, one SGD step; returns the model the server sent and, per client, what the
    server's strategy received of it as a gradient, with the client's images and labels.

    ``plain``: FedAvg, each client's own parameters. ``secagg``: SecAgg+, the unmasked
    aggregate only (the same for every client). ``dp``: Flower's client-side fixed clipping
    (`clip`), whose noise (`sigma`) the server adds after aggregating: the strategy receives
    each client's clipped update (`clip` bounds the gradient's norm: lr × `clip` the update's).
    """
    import tempfile
    from pathlib import Path

    import torch

    from privis.learn.data import ImageSet
    from privis.learn.federated import FederatedConfig, _put, initial_parameters, run_federated, split_clients

    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    rng = np.random.default_rng(seed)
    pick = rng.choice(data.train, clients * batch, replace=False)
    test = data.test[:20]
    both = np.concatenate([pick, test])
    sub = ImageSet(data.name, data.x[both], data.y[both], data.classes, np.arange(len(pick)),
                   np.arange(len(pick), len(both)), seed)  # fmt: skip
    noise = sigma if scenario == "dp" else None
    # Flower clips the parameter update, lr × gradient: `clip` is a gradient norm, as in the simulated path
    config = FederatedConfig(clients=clients, rounds=1, local_epochs=1, batch_size=batch, lr=FLOWER_LR, momentum=0.0,
                             model="lenet", secagg=scenario == "secagg", noise_multiplier=noise,
                             clipping_norm=clip * FLOWER_LR, seed=seed)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="privis-flower-round-") as tmp:
        run_federated(sub, config, record_dir=tmp)

        def arrays(name: str) -> list[np.ndarray]:
            with np.load(Path(tmp) / name) as f:
                return [f[f"arr_{i}"] for i in range(len(f.files) - ("n" in f.files))]

        received = [arrays(f"received_round1_{k}.npz") for k in range(clients)]
        trained = [arrays(f"client{c}_round1.npz") for c in range(clients)]
    initial = initial_parameters(config, sub)
    model = lenet(sub.shape, sub.n_classes)
    _put(model, initial)

    def step(params: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([(a - b).ravel() for a, b in zip(initial, params, strict=True)])

    # The strategy's results come in no client order: each is matched to the client whose own
    # step it points along (the audit knows the truth; the attack does not use it).
    own = [step(t) for t in trained]
    parts = split_clients(sub.y[sub.train], clients, split=config.split, alpha=config.alpha, seed=seed)
    out = []
    for k, got in enumerate(received):
        vec = step(got)
        c = k if scenario == "secagg" else int(np.argmax([vec @ o / (np.linalg.norm(vec) * np.linalg.norm(o) + 1e-12)
                                                           for o in own]))  # fmt: skip
        grad = [torch.from_numpy((a - b) / FLOWER_LR) for a, b in zip(initial, got, strict=True)]
        idx = sub.train[parts[c]]
        out.append((grad, torch.from_numpy(scale_inputs(sub.x[idx])), torch.from_numpy(sub.y[idx])))
    return model, out


def audit_gradients(data: Any, *, batch_sizes: tuple[int, ...] = (1, 4, 16), scenarios: tuple[str, ...] = SCENARIOS,
                    trials: int = 3, clients: int = 10, clip: float = 1.0, sigma: float = 1.0, steps: int = 600,
                    attack: str = "dlg", via: str = "simulated", seed: int = 0,
                    on_step: Any = None) -> GradientAudit:  # fmt: skip
    """The attack against `trials` clients per scenario and batch size, on images of `data` (an
    `ImageSet`); an untrained LeNet, as at the first round of a federation.

    ``via="simulated"`` computes each update here as the server would receive it;
    ``via="flower"`` runs one real Flower round of `clients` clients per setting
    (`flower_round`) and attacks what its strategy received.
    """
    import torch

    if via not in ("simulated", "flower"):
        raise PrivisError(f"--via must be simulated or flower, got {via!r}")
    if attack not in ATTACKS:
        raise PrivisError(f"--attack must be one of {', '.join(ATTACKS)}, got {attack!r}")
    torch.manual_seed(seed)
    model = lenet(data.shape, data.n_classes)
    x_all = torch.from_numpy(scale_inputs(data.x[data.train]))
    y_all = torch.from_numpy(data.y[data.train])
    rng = np.random.default_rng(seed)
    report = GradientAudit(attack=attack, via=via)
    for batch in batch_sizes:
        for scenario in scenarios:
            if via == "flower":
                model, held = flower_round(data, batch=batch, clients=max(clients, trials, 2), scenario=scenario,
                                           clip=clip, sigma=sigma, seed=seed + batch)  # fmt: skip
                held = held[:trials]
            else:
                held = []
                for trial in range(trials):
                    pick = rng.choice(len(x_all), size=batch * (clients if scenario == "secagg" else 1), replace=False)
                    x, y = x_all[pick[:batch]], y_all[pick[:batch]]
                    parts = [
                        pick[k * batch : (k + 1) * batch] for k in range(1, clients if scenario == "secagg" else 1)
                    ]
                    others = [update(model, x_all[p], y_all[p]) for p in parts]
                    held.append((defended(update(model, x, y), scenario, others=others, clip=clip, sigma=sigma,
                                          seed=trial), x, y))  # fmt: skip
            scores = []
            for trial, (target, x, y) in enumerate(held):
                rec = reconstruct(model, target, y, data.shape, steps=steps, attack=attack, seed=trial)
                true01, rec01 = (x.numpy() + 1) / 2, (rec.numpy() + 1) / 2
                scores.extend(best_match_ssim(true01, rec01))
                if trial == 0:
                    report.examples[f"{scenario}/{batch}"] = (true01, rec01)
                if on_step:
                    on_step()
            stats = {f"ssim_{k}": round(float(f(scores)), 4) for k, f in (("mean", np.mean), ("min", np.min),
                                                                          ("max", np.max))}  # fmt: skip
            report.rows.append({"scenario": scenario, "batch": batch, **stats, "images": len(scores)})
    return report


def gradient_table(summary: dict[str, Any]) -> str:
    """The audit as a Markdown table."""
    source = f"; {summary['source']}" if summary.get("source") else ""
    lines = [f"{summary['attack']}{source}", "",
             "| server holds | batch | SSIM mean | min | max | images |", "|---|---|---|---|---|---|"]  # fmt: skip
    clients = summary.get("clients", 10)
    if summary.get("via") == "flower":
        names = {"plain": "one client's parameters (FedAvg)", "secagg": f"the SecAgg+ aggregate of {clients}",
                 "dp": "one client's clipped update (Flower DP: noise comes after)"}  # fmt: skip
    else:
        names = {"plain": "one client's update", "secagg": f"the SecAgg+ sum of {clients}",
                 "dp": "clipped + noise (DP)"}  # fmt: skip
    for r in summary["rows"]:
        lines.append(f"| {names.get(r['scenario'], r['scenario'])} | {r['batch']} | {r['ssim_mean']:.3f} | "
                     f"{r['ssim_min']:.3f} | {r['ssim_max']:.3f} | {r['images']} |")  # fmt: skip
    return "\n".join(lines)


def write_grid(report: GradientAudit, path: Any) -> None:
    """A PNG: per scenario and batch size, the client's images above their reconstructions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(report.examples)
    width = max(len(t) for t, _ in report.examples.values())
    fig, axes = plt.subplots(2 * len(keys), width, figsize=(width * 0.9, 2 * len(keys) * 0.95), squeeze=False)
    for row, key in enumerate(keys):
        true, rec = report.examples[key]
        for col in range(width):
            for k, images in enumerate((true, rec)):
                ax = axes[2 * row + k][col]
                ax.axis("off")
                if col < len(images):
                    ax.imshow(images[col][0], cmap="gray", vmin=0, vmax=1)
            axes[2 * row][0].set_title(f"{key}: client (top), reconstruction (below)", fontsize=7, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
