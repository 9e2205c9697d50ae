"""Membership inference against a trained model: LiRA (Carlini et al. 2022) and the loss baseline.

The question an auditor asks of a model trained on people's images: given an image,
can one tell whether it was in the training set? The likelihood-ratio attack answers
with shadow models, trained by privis exactly as the target was (same network, epochs,
batch, learning rate, clipping and ε, on training sets of the same size drawn from the
same pool), so that for each image the attacker knows how its score behaves when it
is in the training set and when it is not:

- **online**: a Gaussian fitted to the image's scores in the shadows that trained on it
  and another to those that did not; the statistic is the log-likelihood ratio;
- **offline**: only the shadows that did not train on it; the statistic is how far
  the target's score lies above them (one-sided);
- **loss**: the loss-threshold baseline (Yeom et al. 2018): low loss means member.

The score of an image is the logit-scaled confidence in its true class,
log(p / (1 - p)), which is close to Gaussian. With few shadows, one variance shared
by all images is used (Carlini et al. recommend it under 64 shadows). Members are the
target's training images, non-members its test images; the report gives AUC and the
true-positive rate at 0.1 % and 1 % false positives, with 95 % bootstrap intervals
(members and non-members resampled), and a log-log ROC plot; for a DP model, also the
most any attack could reach, e^ε·FPR + δ.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError

log = logging.getLogger(__name__)
ATTACKS = ("lira-online", "lira-offline", "loss")
FPRS = (0.001, 0.01)


def logit_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log(p_y / (1 - p_y)) from logits, computed stably: z_y - logsumexp(z without y)."""
    z = np.asarray(logits, np.float64)
    true = z[np.arange(len(z)), labels]
    rest = z.copy()
    rest[np.arange(len(z)), labels] = -np.inf
    top = rest.max(axis=1, keepdims=True)
    return true - (top[:, 0] + np.log(np.exp(rest - top).sum(axis=1)))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    top = z.max(axis=1, keepdims=True)
    return (top[:, 0] + np.log(np.exp(z - top).sum(axis=1))) - z[np.arange(len(z)), labels]


def lira_scores(target: np.ndarray, shadow: np.ndarray, inside: np.ndarray) -> dict[str, np.ndarray]:
    """Online and offline LiRA statistics (higher: more likely a member).

    `target` (n,) is the target's confidence per image, `shadow` (k, n) the shadows',
    `inside` (k, n) whether shadow k trained on image i.
    """
    from scipy.stats import norm

    shadow = np.asarray(shadow, np.float64)
    inside = np.asarray(inside, bool)

    def per_image_mean(mask: np.ndarray) -> np.ndarray:
        count = mask.sum(axis=0)
        total = np.where(mask, shadow, 0.0).sum(axis=0)
        overall = shadow[mask].mean() if mask.any() else 0.0
        return np.where(count > 0, total / np.maximum(count, 1), overall)

    mu_in, mu_out = per_image_mean(inside), per_image_mean(~inside)
    resid_in = (shadow - mu_in)[inside]
    resid_out = (shadow - mu_out)[~inside]
    sd_in = float(np.std(resid_in)) if resid_in.size > 1 else 1.0
    sd_out = float(np.std(resid_out)) if resid_out.size > 1 else 1.0
    sd_in, sd_out = max(sd_in, 1e-6), max(sd_out, 1e-6)
    online = norm.logpdf(target, mu_in, sd_in) - norm.logpdf(target, mu_out, sd_out)
    offline = norm.logcdf((target - mu_out) / sd_out)
    return {"lira-online": online, "lira-offline": offline}


def tpr_at_fpr(scores: np.ndarray, member: np.ndarray, fpr: float) -> float:
    """The highest true-positive rate of a threshold whose false-positive rate is at most `fpr`."""
    from sklearn.metrics import roc_curve

    f, t, _ = roc_curve(member, scores, drop_intermediate=False)
    ok = f <= fpr
    return float(t[ok].max()) if ok.any() else 0.0


def attack_metrics(scores: np.ndarray, member: np.ndarray, *, boot: int = 200, seed: int = 0) -> dict[str, Any]:
    """AUC, TPR at each FPR in `FPRS` with 95 % bootstrap intervals, and the ROC curve.

    The intervals resample members and non-members both: at 0.1 % FPR the threshold
    rests on a handful of non-members, and an interval on the TPR alone would hide that.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    scores, member = np.asarray(scores, float), np.asarray(member, bool)
    fpr, tpr, _ = roc_curve(member, scores)
    inside, outside = np.flatnonzero(member), np.flatnonzero(~member)
    rng = np.random.default_rng(seed)
    draws = [np.concatenate([rng.choice(inside, len(inside)), rng.choice(outside, len(outside))]) for _ in range(boot)]
    out: dict[str, Any] = {"auc": round(float(roc_auc_score(member, scores)), 4)}
    for target in FPRS:
        rate = tpr_at_fpr(scores, member, target)
        again = [tpr_at_fpr(scores[d], member[d], target) for d in draws]
        key = f"tpr_at_{target * 100:g}%_fpr"
        out[key] = round(rate, 5)
        out[f"{key}_ci95"] = [round(float(np.percentile(again, 2.5)), 5), round(float(np.percentile(again, 97.5)), 5)]
        out[f"{key}_over_fpr"] = round(rate / target, 2)
    out["roc"] = (fpr, tpr)
    return out


@dataclass
class MembershipReport:
    """Per attack: AUC and TPR at low FPR; and what the audit was run on."""

    model: str
    attacks: dict[str, dict[str, Any]]
    facts: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            **self.facts,
            "attacks": {name: {k: v for k, v in m.items() if k != "roc"} for name, m in self.attacks.items()},
        }


def audit_membership(
    model_path: str | Path,
    *,
    shadows: int = 16,
    seed: int = 0,
    on_shadow: Callable[[int], None] | None = None,
) -> MembershipReport:
    """Attack the model at `model_path` (saved by `privis train`) with LiRA and the loss baseline;
    the shadows are trained exactly as it was, on the same data set."""
    from privis.learn.data import model_data
    from privis.learn.dp_train import load_model

    model, meta = load_model(model_path)
    try:
        data = model_data(meta)
    except PrivisError as exc:
        raise PrivisError(f"{model_path}: {exc}") from None
    return membership_of(model, meta, data, str(model_path), shadows=shadows, seed=seed, on_shadow=on_shadow)


def membership_of(
    model: Any,
    meta: dict[str, Any],
    data: Any,
    name: str,
    *,
    shadows: int = 16,
    seed: int = 0,
    on_shadow: Callable[[int], None] | None = None,
) -> MembershipReport:
    """`audit_membership` of a model already loaded (`load_model`) with its data (`model_data`)."""
    from dataclasses import replace

    from privis.learn.dp_train import TrainConfig, predict_logits, train_classifier

    config = TrainConfig(**meta["config"])

    def shadow_logits(k: int, chosen: np.ndarray) -> np.ndarray:
        shadow = train_classifier(data, replace(config, seed=config.seed + 1000 + k), train_indices=chosen)
        log.info("shadow %d/%d: test accuracy %.4f", k + 1, shadows, shadow.test_accuracy)
        return predict_logits(shadow.model, data.x)

    member = np.isin(np.arange(len(data.x)), data.train)
    attacks, facts = _attack(predict_logits(model, data.x), data.y, member, shadow_logits, shadows=shadows,
                             seed=seed, on_shadow=on_shadow)  # fmt: skip
    facts = {"data": meta["data"]["name"], **facts, "target_epsilon": meta["summary"].get("epsilon"),
             "target_test_accuracy": meta["summary"].get("test_accuracy")}  # fmt: skip
    eps, delta = meta["summary"].get("epsilon"), meta["summary"].get("delta") or 0.0
    if eps is not None:  # (ε, δ)-DP bounds every attack: TPR <= e^ε · FPR + δ
        facts["dp_tpr_bound"] = {f"{f * 100:g}%": round(min(1.0, math.exp(eps) * f + delta), 5) for f in FPRS}
    return MembershipReport(name, attacks, facts)


def audit_model(
    model: Any,
    train_data: Any,
    test_data: Any,
    *,
    train: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    shadows: int = 16,
    epochs: int = 10,
    seed: int = 0,
    on_shadow: Callable[[int], None] | None = None,
) -> MembershipReport:
    """Attack a user's own torch classifier: members are `train_data`, non-members `test_data`,
    each a torch ``Dataset`` of (image, label) or a pair of arrays (images as the model takes
    them, integer labels).

    The shadows must be trained as the target was: give `train` (``(x, y) -> model``) to
    do that. Without it, each shadow is a copy of `model` with its parameters reset,
    trained with Adam (lr 1e-3, batches of 128) for `epochs`; LiRA is only as strong as
    that recipe is close to yours, so the report says which was used.
    """
    x_in, y_in = _arrays(train_data, "train_data")
    x_out, y_out = _arrays(test_data, "test_data")
    if x_in.shape[1:] != x_out.shape[1:]:
        raise PrivisError(f"train_data images {x_in.shape[1:]} and test_data images {x_out.shape[1:]} differ in shape")
    x, y = np.concatenate([x_in, x_out]), np.concatenate([y_in, y_out])
    member = np.arange(len(x)) < len(x_in)
    fit = train or (lambda xs, ys: _retrained_copy(model, xs, ys, epochs=epochs, seed=seed))

    def shadow_logits(k: int, chosen: np.ndarray) -> np.ndarray:
        return _logits(fit(x[chosen], y[chosen]), x)

    attacks, facts = _attack(_logits(model, x), y, member, shadow_logits, shadows=shadows, seed=seed,
                             on_shadow=on_shadow)  # fmt: skip
    recipe = "yours (train=)" if train is not None else f"a reset copy, Adam 1e-3, {epochs} epochs"
    return MembershipReport(type(model).__name__, attacks, {"data": "given", **facts, "shadow_training": recipe})


def _attack(
    target_logits: np.ndarray,
    labels: np.ndarray,
    member: np.ndarray,
    shadow_logits: Callable[[int, np.ndarray], np.ndarray],
    *,
    shadows: int,
    seed: int,
    on_shadow: Callable[[int], None] | None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """LiRA (online, offline) and the loss baseline against the target's logits on a pool of
    images, `member` marking its training images; each shadow trains on a random subset of
    the pool of the target's training-set size (`shadow_logits(k, indices)` gives its logits)."""
    if shadows < 2:
        raise PrivisError(f"LiRA needs at least 2 shadow models, got {shadows}")
    pool = np.arange(len(labels))
    n_train = int(member.sum())
    target = logit_confidence(target_logits, labels)
    rng = np.random.default_rng(seed)
    shadow_scores, inside = [], []
    for k in range(shadows):
        # a training set of the target's size from the same pool: each image is in ~n_train/pool of them
        chosen = np.sort(rng.choice(pool, size=n_train, replace=False))
        shadow_scores.append(logit_confidence(shadow_logits(k, chosen), labels))
        inside.append(np.isin(pool, chosen))
        if on_shadow:
            on_shadow(k + 1)
    stats = lira_scores(target, np.stack(shadow_scores), np.stack(inside))
    stats["loss"] = -cross_entropy(target_logits, labels)
    attacks = {name: attack_metrics(stats[name], member, seed=seed) for name in ATTACKS}
    least_out = int((~np.stack(inside)).sum(axis=0).min())
    facts = {"members": n_train, "non_members": int((~member).sum()), "shadows": shadows,
             "shadow_train_size": n_train, "min_out_shadows_per_image": least_out}  # fmt: skip
    return attacks, facts


def _arrays(data: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) as float32 and int64 arrays from a pair of arrays or a torch Dataset."""
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = data
    else:
        try:
            items = [data[i] for i in range(len(data))]
        except TypeError:
            raise PrivisError(f"{name} must be a torch Dataset of (image, label) or a pair (images, labels)") from None
        x, y = [item[0] for item in items], [item[1] for item in items]
    x = np.stack([np.asarray(v, np.float32) for v in x]) if not isinstance(x, np.ndarray) else x.astype(np.float32)
    y = np.asarray([int(v) for v in y], np.int64)
    if len(x) != len(y) or not len(x):
        raise PrivisError(f"{name}: {len(x)} images and {len(y)} labels; need the same number, at least one")
    return x, y


def _logits(model: Any, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """A torch classifier's logits for `x`, in evaluation mode, without gradients."""
    import torch

    was = model.training
    model.eval()
    with torch.no_grad():
        out = [model(torch.from_numpy(x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
    model.train(was)
    return np.concatenate(out).astype(np.float64)


def _retrained_copy(model: Any, x: np.ndarray, y: np.ndarray, *, epochs: int, seed: int) -> Any:
    """A copy of `model` with every parameter reset, trained on (x, y) with Adam and cross-entropy."""
    import copy

    import torch

    torch.manual_seed(seed)
    shadow = copy.deepcopy(model)
    for module in shadow.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    opt = torch.optim.Adam(shadow.parameters(), lr=1e-3)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    shadow.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xs), generator=gen).split(128):
            loss = torch.nn.functional.cross_entropy(shadow(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return shadow


def write_outputs(report: MembershipReport, out: Path) -> list[Path]:
    """The JSON summary, a Markdown table and the log-log ROC plot (PNG) under `out`."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    summary = report.summary()
    (out / "membership.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "membership.md").write_text(membership_table(summary) + "\n")
    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    for name, m in report.attacks.items():
        fpr, tpr = m["roc"]
        ax.loglog(np.maximum(fpr, 1e-5), np.maximum(tpr, 1e-5), label=f"{name} (AUC {m['auc']:.3f})")
    ax.loglog([1e-5, 1], [1e-5, 1], "k:", label="chance")
    eps = summary.get("target_epsilon")
    ax.set_title(f"Membership inference, {summary['data']}" + (f", ε = {eps:g}" if eps else ", not private"))
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(1e-4, 1)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "membership_roc.png")
    plt.close(fig)
    return [out / "membership.json", out / "membership.md", out / "membership_roc.png"]


def membership_table(summary: dict[str, Any]) -> str:
    """The attacks as a Markdown table."""
    lines = [
        f"model {Path(summary['model']).name} ({summary['data']}, ε = {summary.get('target_epsilon')}), "
        f"{summary['members']} members / {summary['non_members']} non-members, {summary['shadows']} shadows",
        "",
        "| attack | AUC | TPR at 0.1% FPR [95% bootstrap CI] | TPR at 1% FPR [95% bootstrap CI] |",
        "|---|---:|---:|---:|",
    ]
    for name, m in summary["attacks"].items():
        cells = [f"{m[k]} [{m[k + '_ci95'][0]}, {m[k + '_ci95'][1]}]" for k in ("tpr_at_0.1%_fpr", "tpr_at_1%_fpr")]
        lines.append(f"| {name} | {m['auc']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
