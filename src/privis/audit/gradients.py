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

SCENARIOS = ("plain", "secagg", "dp")


def lenet(shape: tuple[int, int, int], n_classes: int) -> Any:
    """Zhu et al.'s LeNet: three 5×5 sigmoid convolutions (12 channels, strides 2, 2, 1) and one
    linear layer."""
    import torch.nn as nn

    c, h, w = shape
    body = nn.Sequential(nn.Conv2d(c, 12, 5, padding=2, stride=2), nn.Sigmoid(),
                         nn.Conv2d(12, 12, 5, padding=2, stride=2), nn.Sigmoid(),
                         nn.Conv2d(12, 12, 5, padding=2, stride=1), nn.Sigmoid(), nn.Flatten())  # fmt: skip
    return nn.Sequential(body, nn.Linear(12 * ((h + 3) // 4) * ((w + 3) // 4), n_classes))


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
                seed: int = 0) -> Any:  # fmt: skip
    """DLG: images (len(labels), *shape) in [-1, 1] whose gradient best matches `target`."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    dummy = torch.randn((len(labels), *shape), generator=gen).requires_grad_(True)
    opt = torch.optim.LBFGS([dummy], lr=1, max_iter=20, history_size=100, line_search_fn="strong_wolfe")
    params = list(model.parameters())

    def closure() -> Any:
        opt.zero_grad()
        grads = torch.autograd.grad(F.cross_entropy(model(dummy), labels), params, create_graph=True)
        cost = sum(((a - b) ** 2).sum() for a, b in zip(grads, target, strict=True))
        cost.backward()
        return cost

    for _ in range(max(1, steps // 20)):
        opt.step(closure)
        if not torch.isfinite(dummy).all():
            break
    return torch.nan_to_num(dummy.detach()).clamp(-1, 1)


def ssim(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """Mean SSIM (Wang et al. 2004) of two grey images in [0, 1], over `win`×`win` windows
    (uniform, the border cropped, as scikit-image computes it by default).

    >>> x = np.random.default_rng(0).random((28, 28))
    >>> round(ssim(x, x), 6), ssim(x, 1 - x) < 0
    (1.0, True)
    """
    from scipy.ndimage import uniform_filter

    a, b = a.astype(np.float64), b.astype(np.float64)
    win = min(win, *a.shape) | 1
    n = win * win
    cov = n / (n - 1)
    ux, uy = uniform_filter(a, win), uniform_filter(b, win)
    vx = cov * (uniform_filter(a * a, win) - ux * ux)
    vy = cov * (uniform_filter(b * b, win) - uy * uy)
    vxy = cov * (uniform_filter(a * b, win) - ux * uy)
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad : s.shape[0] - pad, pad : s.shape[1] - pad].mean())


def best_match_ssim(true: np.ndarray, rec: np.ndarray) -> list[float]:
    """For each true image (N, 1, H, W) in [0, 1], the SSIM of its best-matching reconstruction."""
    return [max(ssim(t[0], r[0]) for r in rec) for t in true]


@dataclass
class GradientAudit:
    """SSIM per scenario and batch size over `trials` clients, and one example of each."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # key: scenario/batch

    def summary(self) -> dict[str, Any]:
        return {"attack": "DLG (L2, L-BFGS) on Zhu's sigmoid LeNet", "rows": self.rows}


def audit_gradients(data: Any, *, batch_sizes: tuple[int, ...] = (1, 4, 16), scenarios: tuple[str, ...] = SCENARIOS,
                    trials: int = 3, clients: int = 10, clip: float = 1.0, sigma: float = 1.0, steps: int = 600,
                    seed: int = 0, on_step: Any = None) -> GradientAudit:  # fmt: skip
    """DLG against `trials` clients per scenario and batch size, on images of `data` (an
    `ImageSet`); an untrained LeNet, as at the first round of a federation."""
    import torch

    torch.manual_seed(seed)
    model = lenet(data.shape, data.n_classes)
    x_all = torch.from_numpy((data.x[data.train] - 0.5) / 0.5)
    y_all = torch.from_numpy(data.y[data.train])
    rng = np.random.default_rng(seed)
    report = GradientAudit()
    for batch in batch_sizes:
        for scenario in scenarios:
            scores = []
            for trial in range(trials):
                pick = rng.choice(len(x_all), size=batch * (clients if scenario == "secagg" else 1), replace=False)
                own = pick[:batch]
                x, y = x_all[own], y_all[own]
                parts = [pick[k * batch : (k + 1) * batch] for k in range(1, clients)] if scenario == "secagg" else []
                others = [update(model, x_all[p], y_all[p]) for p in parts]
                target = defended(update(model, x, y), scenario, others=others, clip=clip, sigma=sigma, seed=trial)
                rec = reconstruct(model, target, y, data.shape, steps=steps, seed=trial)
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
    lines = ["| server holds | batch | SSIM mean | min | max | images |", "|---|---|---|---|---|---|"]
    names = {"plain": "one client's update", "secagg": "the SecAgg+ sum of 10", "dp": "clipped + noise (DP)"}
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
