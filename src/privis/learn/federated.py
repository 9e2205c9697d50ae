"""Federated learning on one machine with Flower: FedAvg or FedProx, SecAgg+, client-level DP.

`privis federated DATA --clients N --rounds R` splits the training images over N
simulated clients (IID, or Dirichlet(α) over the classes: the usual non-IID benchmark),
and runs Flower's simulation runtime (`run_simulation`, Ray backend) with:

- **FedAvg** or **FedProx** (the clients add μ/2·‖w − w_global‖² to their loss);
- **SecAgg+** (`SecAggPlusWorkflow` on the server, `secaggplus_mod` on the clients): each
  client sends its parameters quantized and masked with pairwise and private masks, so
  the server only ever learns the sum;
- **client-level DP** (`DifferentialPrivacyClientSideFixedClipping`, `fixedclipping_mod`):
  each client clips its update before masking, the server adds Gaussian noise to the
  sum; ε is accounted with Opacus' RDP analysis of the Gaussian mechanism, every client
  taking part in every round (no sampling amplification is claimed).

The server evaluates the global model on the test images after every round.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from privis.errors import PrivisError, RuntimeFailure
from privis.learn.data import ImageSet

log = logging.getLogger(__name__)
STRATEGIES = ("fedavg", "fedprox")
SPLITS = ("iid", "dirichlet")


@dataclass
class FederatedConfig:
    """How a federation trains; `noise_multiplier` None means no client-level DP."""

    clients: int = 10
    rounds: int = 10
    local_epochs: int = 1
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    model: str = "small-cnn"
    strategy: str = "fedavg"
    proximal_mu: float = 0.01
    split: str = "iid"
    alpha: float = 0.5
    secagg: bool = True
    num_shares: int = 5
    reconstruction_threshold: int = 3
    noise_multiplier: float | None = None
    clipping_norm: float = 1.0
    delta: float = 1e-5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.clients < 2 or self.rounds < 1:
            raise PrivisError(f"need at least 2 clients and 1 round, got {self.clients} and {self.rounds}")
        if self.strategy not in STRATEGIES:
            raise PrivisError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.split not in SPLITS:
            raise PrivisError(f"split must be one of {SPLITS}, got {self.split!r}")
        if self.alpha <= 0:
            raise PrivisError(f"Dirichlet alpha must be > 0, got {self.alpha}")
        if self.secagg:
            shares = min(self.num_shares, self.clients)
            if shares % 2 == 0:  # Flower 1.42's SecAgg+ fails with an even share count
                shares -= 1
            self.num_shares = max(shares, 3)
            self.reconstruction_threshold = max(min(self.reconstruction_threshold, self.num_shares - 1), 2)
            if self.clients < 3:
                raise PrivisError("SecAgg+ needs at least 3 clients")


def split_clients(labels: np.ndarray, clients: int, *, split: str, alpha: float, seed: int) -> list[np.ndarray]:
    """Positions (into `labels`) of each client's examples: an even IID split, or per class
    Dirichlet(α) shares over the clients (small α: each client sees few classes).

    >>> parts = split_clients(np.repeat(np.arange(4), 50), 4, split="iid", alpha=1.0, seed=0)
    >>> [len(p) for p in parts]
    [50, 50, 50, 50]
    """
    rng = np.random.default_rng(seed)
    if split == "iid":
        return [np.sort(p) for p in np.array_split(rng.permutation(len(labels)), clients)]
    parts: list[list[int]] = [[] for _ in range(clients)]
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        shares = rng.dirichlet(np.full(clients, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
        for k, chunk in enumerate(np.split(members, cuts)):
            parts[k].extend(chunk.tolist())
    for k in range(clients):  # a client with no data cannot train: lend it one example
        if not parts[k]:
            donor = max(range(clients), key=lambda j: len(parts[j]))
            parts[k].append(parts[donor].pop())
    return [np.sort(np.asarray(p, int)) for p in parts]


def client_epsilon(noise_multiplier: float, rounds: int, delta: float) -> float:
    """ε of `rounds` Gaussian releases of the clipped sum (sensitivity: one client's clip) at `delta`."""
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    orders = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 256))
    rdp = compute_rdp(q=1.0, noise_multiplier=noise_multiplier, steps=rounds, orders=orders)
    eps, _ = get_privacy_spent(orders=orders, rdp=rdp, delta=delta)
    return float(eps)


@dataclass
class FederatedResult:
    config: FederatedConfig
    test_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)
    epsilon: float | None = None
    seconds: float = 0.0
    client_sizes: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self.config).items()},
            "test_accuracy": round(self.test_accuracy, 4),
            "epsilon": None if self.epsilon is None else round(self.epsilon, 4),
            "seconds": round(self.seconds, 1),
            "client_sizes": self.client_sizes,
            "history": self.history,
        }


def _get(model: Any) -> list[np.ndarray]:
    return [v.detach().cpu().numpy().copy() for v in model.state_dict().values()]


def _put(model: Any, arrays: list[np.ndarray]) -> None:
    import torch

    model.load_state_dict({k: torch.from_numpy(np.asarray(a)) for k, a in zip(model.state_dict(), arrays, strict=True)})


class _Trainer:
    """One client's local training: its own examples, the federation's model and settings."""

    def __init__(self, config: FederatedConfig, x: np.ndarray, y: np.ndarray, shape: tuple[int, int, int],
                 n_classes: int, cid: int, record_dir: str | os.PathLike[str] | None = None) -> None:  # fmt: skip
        self.config, self.x, self.y, self.shape, self.n_classes = config, x, y, shape, n_classes
        self.cid, self.record_dir = cid, record_dir

    def fit(self, parameters: list[np.ndarray], cfg: dict[str, Any]) -> tuple[list[np.ndarray], int, dict]:
        import torch

        from privis.learn.dp_train import scale_inputs
        from privis.learn.models import create_model

        config = self.config
        torch.set_num_threads(1)
        torch.manual_seed(config.seed * 1000 + self.cid * 100 + int(cfg.get("server_round", 0)))
        model = create_model(config.model, self.shape, self.n_classes)
        _put(model, parameters)
        start = [torch.from_numpy(np.asarray(p)).clone() for p in parameters]
        x = torch.from_numpy(scale_inputs(self.x))
        y = torch.from_numpy(self.y)
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
        mu = float(cfg.get("proximal_mu", 0.0))
        model.train()
        for _ in range(config.local_epochs):
            order = torch.randperm(len(y))
            for b in range(0, len(y), config.batch_size):
                sel = order[b : b + config.batch_size]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x[sel]), y[sel])
                if mu > 0:  # FedProx's proximal term
                    loss = loss + mu / 2 * sum(
                        ((p - s) ** 2).sum() for p, s in zip(model.parameters(), start, strict=True)
                    )
                loss.backward()
                opt.step()
        trained = _get(model)
        if self.record_dir is not None:
            name = f"client{self.cid}_round{int(cfg.get('server_round', 0))}.npz"
            np.savez(os.path.join(self.record_dir, name), *trained, n=len(y))
        return trained, len(y), {}


def flower_client(trainer: _Trainer) -> Any:
    """`trainer` as a Flower client."""
    from flwr.client import NumPyClient

    class Client(NumPyClient):
        def fit(self, parameters: list[np.ndarray], cfg: dict[str, Any]) -> tuple[list[np.ndarray], int, dict]:
            return trainer.fit(parameters, cfg)

    return Client().to_client()


def client_mods(config: FederatedConfig) -> list[Any]:
    """The Flower mods every client runs: SecAgg+ masking, client-side clipping for DP."""
    from flwr.client.mod import fixedclipping_mod, secaggplus_mod

    mods: list[Any] = [secaggplus_mod] if config.secagg else []
    if config.noise_multiplier:
        mods.append(fixedclipping_mod)
    return mods


def evaluator(config: FederatedConfig, data: ImageSet, history: list[dict[str, float]],
              on_round: Callable[[dict[str, float]], None] | None = None,
              record_dir: str | os.PathLike[str] | None = None) -> Callable[..., tuple[float, dict]]:  # fmt: skip
    """The server's evaluation of the global model on `data`'s test images after each round."""

    def evaluate(server_round: int, arrays: list[np.ndarray], _: dict) -> tuple[float, dict]:
        from privis.learn.dp_train import predict_logits
        from privis.learn.models import create_model

        model = create_model(config.model, data.shape, data.n_classes)
        _put(model, arrays)
        acc = float((predict_logits(model, data.x[data.test]).argmax(1) == data.y[data.test]).mean())
        if record_dir is not None:
            np.savez(os.path.join(record_dir, f"global_round{server_round}.npz"), *arrays)
        if server_round > 0:
            history.append({"round": server_round, "test_accuracy": round(acc, 4)})
            if on_round:
                on_round(history[-1])
        return 1.0 - acc, {"accuracy": acc}

    return evaluate


def initial_parameters(config: FederatedConfig, data: ImageSet) -> list[np.ndarray]:
    """The global model's starting point, the same for every run with this seed."""
    import torch

    from privis.learn.models import create_model

    torch.manual_seed(config.seed)
    return _get(create_model(config.model, data.shape, data.n_classes))


def recording(strategy: Any, record_dir: str | os.PathLike[str]) -> Any:
    """`strategy`, saving what it receives each round (``received_round{r}_{k}.npz``, the
    parameters and their example count): each client's parameters in FedAvg, after any
    client-side clipping; the unmasked aggregate (once per client) behind SecAgg+."""
    from flwr.common import parameters_to_ndarrays
    from flwr.server.strategy import Strategy

    class Recording(Strategy):
        def initialize_parameters(self, client_manager: Any) -> Any:
            return strategy.initialize_parameters(client_manager)

        def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
            return strategy.configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
            for k, (_, fit) in enumerate(results):
                np.savez(os.path.join(record_dir, f"received_round{server_round}_{k}.npz"),
                         *parameters_to_ndarrays(fit.parameters), n=fit.num_examples)  # fmt: skip
            return strategy.aggregate_fit(server_round, results, failures)

        def configure_evaluate(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
            return strategy.configure_evaluate(server_round, parameters, client_manager)

        def aggregate_evaluate(self, server_round: int, results: Any, failures: Any) -> Any:
            return strategy.aggregate_evaluate(server_round, results, failures)

        def evaluate(self, server_round: int, parameters: Any) -> Any:
            return strategy.evaluate(server_round, parameters)

    return Recording()


def run_rounds(grid: Any, context: Any, config: FederatedConfig, initial: list[np.ndarray],
               evaluate: Callable[..., tuple[float, dict]], *, min_clients: int | None = None,
               timeout: float | None = None, workflow_factory: Callable[..., Any] | None = None,
               record_dir: str | os.PathLike[str] | None = None) -> None:  # fmt: skip
    """The server's side of `config.rounds` rounds (a ServerApp's main): the strategy, the
    client-level DP wrapper and the SecAgg+ workflow. `min_clients` (default: all) is how
    many clients a round needs; `timeout` bounds each exchange, so a client that died is left
    out of the round instead of waited for; `record_dir` saves what the strategy receives."""
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg, FedProx
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    least = config.clients if min_clients is None else min_clients
    common: dict[str, Any] = dict(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=least,
                  min_available_clients=least, initial_parameters=ndarrays_to_parameters(initial),
                  evaluate_fn=evaluate, on_fit_config_fn=lambda r: {"server_round": r})  # fmt: skip
    strategy: Any = (
        FedProx(proximal_mu=config.proximal_mu, **common) if config.strategy == "fedprox" else FedAvg(**common)
    )
    if config.noise_multiplier:
        strategy = DifferentialPrivacyClientSideFixedClipping(
            strategy, noise_multiplier=config.noise_multiplier, clipping_norm=config.clipping_norm,
            num_sampled_clients=config.clients,
        )  # fmt: skip
    if record_dir is not None:
        strategy = recording(strategy, record_dir)
    server_config = ServerConfig(num_rounds=config.rounds, round_timeout=timeout)
    legacy = LegacyContext(context=context, config=server_config, strategy=strategy)
    fit = None
    if config.secagg:
        make = strict_secagg(workflow_factory or SecAggPlusWorkflow)
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        fit = make(num_shares=config.num_shares, reconstruction_threshold=config.reconstruction_threshold, **extra)
    DefaultWorkflow(fit_workflow=fit)(grid, legacy)


def strict_secagg(workflow: Any) -> Any:
    """`workflow` (SecAgg+ or a subclass) that fails the run where the protocol halts.

    Flower's SecAgg+ logs "halted" and leaves the round without an aggregate, so the model
    silently stops learning; a round that cannot recover the sum is an error the operator
    must see: which stage stopped, and what would let it finish. A client that is gone before
    the round starts is left out of it rather than counted as a dropout (see below).
    """
    from flwr.server.workflow.secure_aggregation.secaggplus_workflow import WorkflowState

    def call(self: Any, grid: Any, context: Any) -> None:
        state = WorkflowState()
        for step in (self.setup_stage, self.share_keys_stage, self.collect_masked_vectors_stage, self.unmask_stage):
            ok = step(grid, context, state)
            if ok and step == self.setup_stage:
                # A client sampled but silent in the setup (gone since the last round) sent no
                # keys: no other client masks with it or holds shares of it. Flower 1.42 still
                # counts it as a dropout whose secret must be rebuilt, and halts at the unmask.
                state.sampled_node_ids = set(state.active_node_ids)
            if not ok:
                stage = step.__name__.removesuffix("_stage").replace("_", " ")
                raise RuntimeFailure(
                    f"secure aggregation halted at its {stage} stage: too few clients answered to recover the sum "
                    f"(SecAgg+ with {self.num_shares} shares per client, {self.reconstruction_threshold} needed to "
                    "rebuild a secret); more clients, or a shorter --round-timeout than the clients' training, help"
                )

    return type(f"Strict{workflow.__name__}", (workflow,), {"__call__": call})


def run_federated(
    data: ImageSet,
    config: FederatedConfig,
    *,
    on_round: Callable[[dict[str, float]], None] | None = None,
    workflow_factory: Callable[..., Any] | None = None,
    record_dir: str | os.PathLike[str] | None = None,
) -> FederatedResult:
    """Train `config.model` over `config.clients` simulated clients; returns the global model's accuracy.

    For audits of the secure aggregation: `workflow_factory` replaces
    ``SecAggPlusWorkflow`` (e.g. a subclass that records what the server receives), and
    `record_dir` has each client save the parameters it trained (before masking and
    clipping), the strategy what it received, and the server the global parameters after
    each round, as ``.npz`` files.
    """
    from flwr.app import Context
    from flwr.client import ClientApp
    from flwr.server import ServerApp
    from flwr.simulation import run_simulation

    parts = split_clients(data.y[data.train], config.clients, split=config.split, alpha=config.alpha, seed=config.seed)
    shards = [data.train[p] for p in parts]
    initial = initial_parameters(config, data)

    def client_fn(context: Context) -> Any:
        cid = int(context.node_config["partition-id"])
        idx = shards[cid]
        return flower_client(_Trainer(config, data.x[idx], data.y[idx], data.shape, data.n_classes, cid, record_dir))

    client_app = ClientApp(client_fn=client_fn, mods=client_mods(config))
    history: list[dict[str, float]] = []
    evaluate = evaluator(config, data, history, on_round, record_dir)
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Any, context: Context) -> None:
        run_rounds(grid, context, config, initial, evaluate, workflow_factory=workflow_factory, record_dir=record_dir)

    started = time.perf_counter()
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    run_simulation(
        server_app=server_app, client_app=client_app, num_supernodes=config.clients,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if not history:
        raise RuntimeFailure("the federation finished no round (see the log above)")
    eps = client_epsilon(config.noise_multiplier, config.rounds, config.delta) if config.noise_multiplier else None
    return FederatedResult(config, history[-1]["test_accuracy"], history, eps, seconds, [len(s) for s in shards])
