"""Model inversion (Fredrikson et al. 2015, "MI-Face"): can a face classifier be made to draw
the people it was trained on?

The attacker holds the model and a class index, nothing else. It starts from a grey image
and descends the cross-entropy of that class, plus a total-variation prior (faces are
smooth; adversarial noise is not), keeping pixels in [0, 1]. Written in torch alone: the
attack is a few lines of autograd, while ART (the library that ships it) is a large
dependency, and torchvision does not work beside the CPU torch here.

A reconstruction is scored three ways, because each alone can be fooled:

- an **independent evaluation classifier** (a CNN of another architecture, with BatchNorm,
  trained from scratch on the same people's training photos): top-1 and top-5;
- **SSIM** to the person's own training photos against other people's;
- the **nearest neighbour** (L2) among all training photos: is it the person?

A classifier can be pushed to any label by noise that looks like nobody, so a report whose
evaluator names the people while SSIM says the images resemble nobody in particular is
flagged: "accuracy high, SSIM low". Intervals are 95 % bootstraps over the people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privis.audit.similarity import ssim, total_variation
from privis.errors import PrivisError


def invert(model: Any, classes: np.ndarray, shape: tuple[int, int, int], *, steps: int = 500, tv: float = 0.05,
           lr: float = 0.05) -> np.ndarray:  # fmt: skip
    """MI-Face reconstructions (N, C, H, W) in [0, 1], one per class in `classes`.

    `model` takes images scaled to [-1, 1] (as `privis train` feeds them) and returns
    logits. Adam descends cross-entropy plus `tv` times the total variation.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    >>> invert(net, np.array([0, 1]), (1, 4, 4), steps=5).shape
    (2, 1, 4, 4)
    """
    import torch

    if steps < 1:
        raise PrivisError(f"steps must be at least 1, got {steps}")
    model.eval()
    frozen = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        labels = torch.as_tensor(np.asarray(classes, np.int64))
        x = torch.full((len(labels), *shape), 0.5, requires_grad=True)
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(model((x - 0.5) / 0.5), labels) + tv * total_variation(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)
    finally:
        for p, flag in zip(model.parameters(), frozen, strict=True):
            p.requires_grad_(flag)
    return x.detach().numpy()


def bootstrap(values: np.ndarray, *, boot: int = 1000, seed: int = 0) -> list[float]:
    """95 % percentile interval of the mean of `values` (one per person), resampling the people.

    >>> bootstrap(np.ones(10))
    [1.0, 1.0]
    """
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (boot, len(values)))].mean(axis=1)
    return [round(float(v), 4) for v in np.percentile(means, [2.5, 97.5])]


@dataclass
class Evaluator:
    """The independent classifier that names reconstructions; its accuracy on held-out photos
    says how far its verdicts can be trusted."""

    net: Any
    test_accuracy: float

    @classmethod
    def train(cls, data: Any, *, epochs: int = 60, seed: int = 0) -> Evaluator:
        """Trained on `data`'s training photos, tested on its test photos."""
        from privis.audit.reid import CnnAttacker

        net = CnnAttacker(data.n_classes, epochs=epochs, seed=seed).fit(_grey8(data.x[data.train]), data.y[data.train])
        accuracy = float((net.scores(_grey8(data.x[data.test])).argmax(1) == data.y[data.test]).mean())
        return cls(net, accuracy)

    def scores(self, images: np.ndarray) -> np.ndarray:
        return self.net.scores(_grey8(images))


def _grey8(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] to (N, H, W) grey uint8, as the evaluator takes faces."""
    return (np.clip(x.mean(axis=1), 0, 1) * 255).astype(np.uint8)


def score(rec: np.ndarray, classes: np.ndarray, data: Any, evaluator: Evaluator, *, seed: int = 0) -> dict[str, Any]:
    """The measures of reconstructions `rec` of `classes` against `data`'s training photos."""
    x, y = data.x[data.train], data.y[data.train]
    s = evaluator.scores(rec)
    rank = (s > s[np.arange(len(classes)), classes][:, None]).sum(axis=1)  # how many classes score higher
    top1, top5 = (rank == 0).astype(float), (rank < 5).astype(float)
    own_ssim, other_ssim, nn_hit, dist_ratio = [], [], [], []
    flat = x.reshape(len(x), -1)
    for r, k in zip(rec, classes, strict=True):
        ss = np.array([ssim(r.mean(axis=0), im.mean(axis=0)) for im in x])
        own_ssim.append(ss[y == k].mean())
        other_ssim.append(ss[y != k].mean())
        d = np.linalg.norm(flat - r.reshape(1, -1), axis=1)
        nn_hit.append(float(y[d.argmin()] == k))
        dist_ratio.append(d[y == k].mean() / d[y != k].mean())
    gap = np.array(own_ssim) - np.array(other_ssim)
    out: dict[str, Any] = {"people": len(classes), "chance_top1": round(1 / data.n_classes, 4),
                           "chance_top5": round(min(5, data.n_classes) / data.n_classes, 4)}  # fmt: skip
    for name, values in (("top1", top1), ("top5", top5), ("ssim_own", own_ssim), ("ssim_others", other_ssim),
                         ("ssim_gap", gap), ("nn_identified", nn_hit), ("distance_ratio", dist_ratio)):  # fmt: skip
        out[name] = round(float(np.mean(values)), 4)
        out[f"{name}_ci"] = bootstrap(np.asarray(values), seed=seed)
    # Named by the evaluator above chance (the interval's low end) while no closer to the
    # person's photos than to anyone's: the evaluator answers to adversarial noise, not a face.
    out["accuracy_high_ssim_low"] = bool(out["top1_ci"][0] > out["chance_top1"] and out["ssim_gap_ci"][0] <= 0)
    return out


@dataclass
class InversionAudit:
    """One row of measures per model, and its reconstructions for the grid."""

    data: str
    evaluator_accuracy: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    reconstructions: dict[str, np.ndarray] = field(default_factory=dict)
    real: np.ndarray | None = None  # one training photo per person shown

    def summary(self) -> dict[str, Any]:
        return {"attack": "MI-Face (Fredrikson et al. 2015): cross-entropy + total variation, Adam; per model the"
                          " prior weight (TV) the evaluator names most people from",
                "data": self.data, "evaluator": "CNN (3 conv blocks, BatchNorm) trained on the training photos",
                "evaluator_test_accuracy": round(self.evaluator_accuracy, 4), "rows": self.rows}  # fmt: skip


TV_WEIGHTS = (0.05, 0.3, 1.0)


def audit_inversion(models: list[tuple[str, Any, dict[str, Any]]], data: Any, *, steps: int = 500,
                    tv: tuple[float, ...] = TV_WEIGHTS, lr: float = 0.05, evaluator: Evaluator | None = None,
                    evaluator_epochs: int = 60, seed: int = 0, on_model: Any = None) -> InversionAudit:  # fmt: skip
    """Invert every class of each `(label, model, meta)` (as `load_model` gives them) and score it.

    Each model is attacked with every prior weight in `tv`, and the one the evaluator names
    most people from is reported: the attacker's best case, since an audit must not rest
    on one attacker's choice of prior (a noisy DP model may want a smoother one).
    """
    import torch

    if not tv:
        raise PrivisError("give at least one total-variation weight")
    evaluator = evaluator or Evaluator.train(data, epochs=evaluator_epochs, seed=seed)
    classes = np.arange(data.n_classes)
    first = np.array([data.train[data.y[data.train] == k][0] for k in classes])
    report = InversionAudit(data.name, evaluator.test_accuracy, real=data.x[first])
    for label, model, meta in models:
        tried = []
        for weight in tv:
            torch.manual_seed(seed)
            rec = invert(model, classes, data.shape, steps=steps, tv=weight, lr=lr)
            tried.append((score(rec, classes, data, evaluator, seed=seed), weight, rec))
        best, weight, rec = max(tried, key=lambda t: (t[0]["top1"], t[0]["ssim_gap"]))
        summary = meta.get("summary", {})
        row = {"model": label, "architecture": meta.get("config", {}).get("model"),
               "epsilon": summary.get("epsilon"), "test_accuracy": summary.get("test_accuracy"), "tv": weight,
               "top1_per_tv": {str(w): t["top1"] for t, w, _ in tried}, **best}  # fmt: skip
        report.rows.append(row)
        report.reconstructions[label] = rec
        if on_model:
            on_model()
    return report


def inversion_table(summary: dict[str, Any]) -> str:
    """Markdown: per model, the evaluator's top-1/top-5, SSIM own vs others, NN rate, with intervals."""

    def ci(row: dict[str, Any], key: str) -> str:
        lo, hi = row[f"{key}_ci"]
        return f"{row[key]:.3f} [{lo:.3f}, {hi:.3f}]"

    rows = summary["rows"]
    chance = rows[0]["chance_top1"] if rows else 0
    lines = [f"MI-Face on {summary['data']}: evaluator test accuracy {summary['evaluator_test_accuracy']:.3f},"
             f" chance top-1 {chance:.3f}", "",
             "| model | ε | test acc. | TV | evaluator top-1 [95% CI] | top-5 [95% CI] | SSIM own | SSIM others |"
             " NN is the person [95% CI] | flag |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        eps = "∞" if r["epsilon"] is None else f"{r['epsilon']:.3g}"
        acc = "-" if r["test_accuracy"] is None else f"{r['test_accuracy']:.3f}"
        flag = "accuracy high, SSIM low" if r["accuracy_high_ssim_low"] else ""
        lines.append(
            f"| {r['model']} | {eps} | {acc} | {r['tv']:g} | {ci(r, 'top1')} | {ci(r, 'top5')} |"
            f" {r['ssim_own']:.3f} | {r['ssim_others']:.3f} | {ci(r, 'nn_identified')} | {flag} |"
        )
    return "\n".join(lines)


def write_grid(report: InversionAudit, path: Any, *, people: int = 10) -> None:
    """A PNG: one real training photo per person on top, then each model's reconstructions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("training photo", report.real)] + list(report.reconstructions.items())
    n = min(people, len(rows[0][1]) if rows[0][1] is not None else 0)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.05), squeeze=False)
    for i, (label, images) in enumerate(rows):
        for j in range(n):
            ax = axes[i][j]
            ax.axis("off")
            if images is not None:
                ax.imshow(images[j].mean(axis=0), cmap="gray", vmin=0, vmax=1)
        axes[i][0].set_title(label, fontsize=7, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
