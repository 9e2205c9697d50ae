"""Training image classifiers with differential privacy (DP-SGD on Opacus), or without it.

`PrivateTrainer` is one engine object that wraps the caller's own model, optimizer and
data loader, as Opacus' `PrivacyEngine` does, and refuses the setups that silently
break the privacy accounting. `train_classifier` is the loop `privis train` runs:
Poisson sampling, per-example clipping, Gaussian noise calibrated by
`make_private_with_epsilon` to spend the target ε over the planned epochs, the PRV
accountant, and `BatchMemoryManager` so that large logical batches fit in memory.
Without an ε the same loop trains non-privately, so the two can be compared.

Inputs are scaled with fixed constants, never with statistics of the training set,
which would be a release the accountant does not know about.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privis.errors import PrivisError
from privis.learn.data import ImageSet
from privis.learn.models import create_model

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """How a model is trained; saved with it so that shadow models can be trained the same way.

    The defaults were tuned on MNIST's 8,000 training images (README, "Training on
    private images"): logical batches of 512, SGD with momentum, 20 epochs.
    """

    model: str = "small-cnn"
    epochs: int = 20
    batch_size: int = 512
    lr: float = 0.1
    momentum: float = 0.9
    epsilon: float | None = None
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    max_physical_batch: int = 256
    accountant: str = "prv"
    seed: int = 0
    optimizer: str = "sgd"  # or "adam"
    cosine: bool = False  # cosine learning-rate schedule over the epochs
    shift: int = 0  # augment: roll each batch by up to this many pixels (a per-example map, so DP-SGD allows it)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise PrivisError(f"epochs and batch size must be >= 1, got {self.epochs} and {self.batch_size}")
        if self.epsilon is not None and not self.epsilon > 0:
            raise PrivisError(f"epsilon must be > 0, got {self.epsilon}")
        if not 0 < self.delta < 1:
            raise PrivisError(f"delta must be in (0, 1), got {self.delta}")
        if self.max_grad_norm <= 0 or self.lr <= 0:
            raise PrivisError("max grad norm and learning rate must be > 0")
        if self.optimizer not in ("sgd", "adam"):
            raise PrivisError(f"unknown optimizer {self.optimizer!r}; known: sgd, adam")


def _sampler_of(loader: Any) -> Any:
    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(loader, "batch_sampler", None)
    return getattr(batch_sampler, "sampler", None) or sampler


class PrivateTrainer:
    """Makes a model, optimizer and loader private (or leaves them as they are when `epsilon` is None).

    Parameters
    ----------
    model, optimizer, loader
        The caller's own; the loader's batch size is the expected logical batch.
    epsilon, delta : float
        The target guarantee over `epochs` epochs; `epsilon` None trains non-privately.
    max_grad_norm : float
        Per-example gradient clipping bound.
    accountant : str, default 'prv'
        Opacus accountant (``prv``, ``rdp`` or ``gdp``).
    max_physical_batch : int
        Examples per forward pass; logical batches larger than this are split.

    Raises
    ------
    PrivisError
        For a `WeightedRandomSampler` (Opacus replaces the loader's sampler with Poisson
        sampling and the weights are silently lost, so the accounting no longer
        describes the training: opacus#813), or a model with BatchNorm.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        loader: Any,
        *,
        epsilon: float | None,
        delta: float,
        epochs: int,
        max_grad_norm: float = 1.0,
        accountant: str = "prv",
        max_physical_batch: int = 256,
    ) -> None:
        from torch.utils.data import WeightedRandomSampler

        if isinstance(_sampler_of(loader), WeightedRandomSampler) and epsilon is not None:
            raise PrivisError(
                "a WeightedRandomSampler cannot be used with DP-SGD: Opacus replaces it with uniform Poisson "
                "sampling, so the weights are silently dropped (opacus#813); balance the classes in the data "
                "or weight the loss instead"
            )
        self.epsilon_target, self.delta = epsilon, delta
        self.max_physical_batch = int(max_physical_batch)
        self.engine: Any = None
        if epsilon is None:
            self.model, self.optimizer, self.loader = model, optimizer, loader
            return
        from opacus import PrivacyEngine
        from opacus.validators import ModuleValidator

        problems = ModuleValidator.validate(model, strict=False)
        if problems:
            raise PrivisError(f"this model cannot be trained with DP-SGD: {problems[0]}")
        with warnings.catch_warnings():  # "secure RNG turned off": torchcsprng does not install on torch 2.13
            warnings.simplefilter("ignore")
            self.engine = PrivacyEngine(accountant=accountant)
            self.model, self.optimizer, self.loader = self.engine.make_private_with_epsilon(
                module=model, optimizer=optimizer, data_loader=loader, target_epsilon=epsilon,
                target_delta=delta, epochs=epochs, max_grad_norm=max_grad_norm, poisson_sampling=True,
            )  # fmt: skip

    @property
    def private(self) -> bool:
        return self.engine is not None

    @property
    def noise_multiplier(self) -> float | None:
        return float(self.optimizer.noise_multiplier) if self.private else None

    def batches(self) -> Iterator[Any]:
        """One epoch of batches (physical batches of at most `max_physical_batch` under DP)."""
        if not self.private:
            yield from self.loader
            return
        from opacus.utils.batch_memory_manager import BatchMemoryManager

        with BatchMemoryManager(
            data_loader=self.loader, max_physical_batch_size=self.max_physical_batch, optimizer=self.optimizer
        ) as loader:
            yield from loader

    def epsilon(self) -> float | None:
        """ε spent so far at `delta`, from the accountant; None when training is not private."""
        if not self.private:
            return None
        with warnings.catch_warnings():  # the RDP bracket of PRV's search: "optimal order is the largest alpha"
            warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
            return float(self.engine.get_epsilon(self.delta))

    def plain_model(self) -> Any:
        """The caller's model without Opacus' wrapper (for saving, evaluation and audits).

        A private model comes back as a copy without Opacus' hooks: the hooks left in place
        break any later backward pass that needs no parameter gradient (model inversion
        differentiates with respect to the input only).
        """
        if not hasattr(self.model, "_module"):
            return self.model
        import copy

        clean = copy.deepcopy(self.model)
        clean.remove_hooks()
        return clean._module


@dataclass
class TrainResult:
    """A trained model and what its training cost and achieved."""

    model: Any
    config: TrainConfig
    test_accuracy: float
    epsilon: float | None
    noise_multiplier: float | None
    seconds_per_epoch: float
    history: list[dict[str, float | None]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "test_accuracy": round(self.test_accuracy, 4),
            "epsilon": None if self.epsilon is None else round(self.epsilon, 4),
            "delta": self.config.delta if self.epsilon is not None else None,
            "epochs": self.config.epochs,
            "seconds_per_epoch": round(self.seconds_per_epoch, 3),
            "noise_multiplier": None if self.noise_multiplier is None else round(self.noise_multiplier, 4),
            "history": self.history,
        }


def scale_inputs(x: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1] to [-1, 1], with constants rather than data statistics."""
    return (x - 0.5) / 0.5


def predict_logits(model: Any, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """The model's logits for images `x` (N, C, H, W) in [0, 1]."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(model(torch.from_numpy(scale_inputs(x[i : i + batch]))).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def train_classifier(
    data: ImageSet,
    config: TrainConfig,
    *,
    train_indices: np.ndarray | None = None,
    on_epoch: Callable[[dict[str, float | None]], None] | None = None,
) -> TrainResult:
    """Train `config.model` on `data`'s training images (or `train_indices`) and test it on its test images."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(config.seed)
    idx = data.train if train_indices is None else np.asarray(train_indices)
    x = torch.from_numpy(scale_inputs(data.x[idx]))
    y = torch.from_numpy(data.y[idx])
    loader = DataLoader(TensorDataset(x, y), batch_size=min(config.batch_size, len(idx)), shuffle=True,
                        generator=torch.Generator().manual_seed(config.seed))  # fmt: skip
    model = create_model(config.model, data.shape, data.n_classes)
    optimizer: torch.optim.Optimizer
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    trainer = PrivateTrainer(
        model, optimizer, loader, epsilon=config.epsilon, delta=config.delta, epochs=config.epochs,
        max_grad_norm=config.max_grad_norm, accountant=config.accountant,
        max_physical_batch=config.max_physical_batch,
    )  # fmt: skip
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs) if config.cosine else None
    rng = np.random.default_rng(config.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    history: list[dict[str, float | None]] = []
    seconds = []
    accuracy, eps = 0.0, None
    for epoch in range(1, config.epochs + 1):
        trainer.model.train()
        start = time.perf_counter()
        for xb, yb in trainer.batches():
            if len(xb) == 0:  # Poisson sampling can draw an empty batch
                continue
            if config.shift:
                dy, dx = (int(v) for v in rng.integers(-config.shift, config.shift + 1, 2))
                xb = torch.roll(xb, (dy, dx), (2, 3))
            trainer.optimizer.zero_grad()
            with warnings.catch_warnings():  # Opacus' hooks on a first layer whose input needs no gradient
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                loss_fn(trainer.model(xb), yb).backward()
            trainer.optimizer.step()
        if schedule is not None:
            schedule.step()
        seconds.append(time.perf_counter() - start)
        accuracy = float((predict_logits(trainer.model, data.x[data.test]).argmax(1) == data.y[data.test]).mean())
        eps = trainer.epsilon()
        row = {"epoch": epoch, "test_accuracy": round(accuracy, 4), "epsilon": None if eps is None else round(eps, 4),
               "seconds": round(seconds[-1], 3)}  # fmt: skip
        history.append(row)
        log.info("epoch %d: test accuracy %.4f, epsilon %s", epoch, accuracy, row["epsilon"])
        if on_epoch:
            on_epoch(row)
    return TrainResult(
        trainer.plain_model(), config, accuracy, eps, trainer.noise_multiplier,
        float(np.mean(seconds)), history,
    )  # fmt: skip


def save_model(path: str | Path, result: TrainResult, data: ImageSet, *, overwrite: bool = False) -> Path:
    """Write the model with everything an audit needs: its config, ε, the data set and the exact split."""
    import torch

    from privis.media.files import write_atomically

    payload = {
        "format": "privis-model-1",
        "state_dict": result.model.state_dict(),
        "config": asdict(result.config),
        "summary": result.summary(),
        "data": {"name": data.name, "seed": data.seed, "shape": list(data.shape), "classes": data.classes,
                 "train": data.train.tolist(), "test": data.test.tolist()},
    }  # fmt: skip

    return write_atomically(path, lambda tmp: torch.save(payload, tmp), overwrite=overwrite)


def load_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """A saved model (in eval mode) and its metadata."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise PrivisError(f"model not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise PrivisError(f"{path}: not a privis model ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != "privis-model-1":
        raise PrivisError(f"{path}: not a privis model")
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    model = create_model(meta["config"]["model"], tuple(meta["data"]["shape"]), len(meta["data"]["classes"]))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, meta
