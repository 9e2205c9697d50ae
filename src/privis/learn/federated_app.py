"""The Flower App of a federation deployed with `privis federated serve` and `join`.

The same training as the simulation (`privis.learn.federated`), read from the run's
configuration (set by `serve`) and each SuperNode's own (set by `join`): the server holds
the test images; each SuperNode its own training images, a folder of its own or one
partition of a built-in set (``partition-id`` of ``num-partitions``, split as the
simulation splits them).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.client import ClientApp
from flwr.server import ServerApp

from privis.errors import RuntimeFailure
from privis.learn.data import load_image_set
from privis.learn.federated import (
    FederatedConfig,
    _Trainer,
    client_mods,
    evaluator,
    flower_client,
    initial_parameters,
    run_rounds,
    split_clients,
)


def federated_config(run_config: Any) -> FederatedConfig:
    """The run's `FederatedConfig`, as `serve` wrote it."""
    return FederatedConfig(**json.loads(str(run_config["federation"])))


def _client_fn(context: Context) -> Any:
    config = federated_config(context.run_config)
    node = context.node_config
    data = load_image_set(str(node["data"]), seed=config.seed)
    idx, cid = data.train, int(node.get("partition-id", 0))
    if "num-partitions" in node:
        parts = split_clients(data.y[idx], int(node["num-partitions"]), split=config.split, alpha=config.alpha,
                              seed=config.seed)  # fmt: skip
        idx = idx[parts[cid]]
    return flower_client(_Trainer(config, data.x[idx], data.y[idx], data.shape, data.n_classes, cid))


def _mods(msg: Any, context: Context, call_next: Callable[[Any, Context], Any]) -> Any:
    """The run's own client mods (SecAgg+, clipping), chosen from its configuration."""
    for mod in reversed(client_mods(federated_config(context.run_config))):
        call_next = functools.partial(_then, mod, call_next)
    return call_next(msg, context)


def _then(mod: Any, call_next: Callable[[Any, Context], Any], msg: Any, context: Context) -> Any:
    return mod(msg, context, call_next)


client_app = ClientApp(client_fn=_client_fn, mods=[_mods])
server_app = ServerApp()


@server_app.main()
def _main(grid: Any, context: Context) -> None:
    run = context.run_config
    config = federated_config(run)
    data = load_image_set(str(run["data"]), seed=config.seed)
    result = Path(str(run["result"])) if run.get("result") else None
    deadline = time.monotonic() + float(run.get("wait", 300.0))
    while (joined := len(list(grid.get_node_ids()))) < config.clients:
        if time.monotonic() > deadline:
            _write(result, {"status": "failed", "reason": f"only {joined} of {config.clients} SuperNodes joined"})
            raise RuntimeFailure(f"only {joined} of {config.clients} SuperNodes joined in {run.get('wait')} s")
        time.sleep(1.0)
    history: list[dict[str, float]] = []
    started = time.monotonic()

    def on_round(_: dict[str, float]) -> None:
        _write(result, {"status": "running", "history": history, "seconds": round(time.monotonic() - started, 1)})

    evaluate = evaluator(config, data, history, on_round)
    least = int(run.get("min-clients", 0)) or None
    try:
        run_rounds(grid, context, config, initial_parameters(config, data), evaluate, min_clients=least,
                   timeout=float(run.get("timeout", 120.0)))  # fmt: skip
    except Exception as exc:
        _write(result, {"status": "failed", "reason": f"{exc.__class__.__name__}: {exc}", "history": history})
        raise
    done = len(history) == config.rounds
    _write(result, {"status": "done" if done else "failed", "history": history,
                    "seconds": round(time.monotonic() - started, 1),
                    **({} if done else {"reason": f"{len(history)} of {config.rounds} rounds finished"})})  # fmt: skip


def _write(path: Path | None, record: dict[str, Any]) -> None:
    """Replace the result file whole, so a reader never sees half of it."""
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)
