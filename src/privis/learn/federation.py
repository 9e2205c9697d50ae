"""Federated learning as a deployment: Flower's SuperLink and SuperNodes as real processes,
TLS between them with certificates privis makes, SecAgg+ as in the simulation.

`serve` starts a SuperLink (`flower-superlink`) bound to loopback unless told otherwise,
waits for the SuperNodes, submits privis's Flower App (`flwr run`, the app in
``flower_app/``) and follows its rounds from the result file the ServerApp writes. `join`
starts one SuperNode (`flower-supernode`) with its own data. Flower's state (its database,
installed app bundles, CLI configuration) lives under the federation's own folder
(``FLWR_HOME``), never in the user's home.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from privis.errors import PrivisError, RuntimeFailure
from privis.hosts import url_host, warn_if_exposed
from privis.learn.certs import Certificates, ensure_certificates
from privis.learn.federated import FederatedConfig, FederatedResult

log = logging.getLogger(__name__)

APP_DIR = Path(__file__).with_name("flower_app")


def _tool(name: str) -> str:
    """A Flower program beside this Python (the venv's bin), else on PATH."""
    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise PrivisError(f"{name} not found: install privis's [learn] extra (flwr)")
    return found


def _env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # Flower's own helpers
    return dict(os.environ, FLWR_HOME=str(home), FLWR_DISABLE_UPDATE_CHECK="1", RAY_USAGE_STATS_ENABLED="0",
                PATH=path)  # fmt: skip


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Return once `host:port` accepts connections; `RuntimeFailure` if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeFailure(
                    f"the process meant to listen on {host}:{port} exited ({proc.returncode})"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"nothing listens on {host}:{port} after {timeout:.0f} s") from None
            time.sleep(0.2)


def start_superlink(state: Path, certs: Certificates, *, host: str = "127.0.0.1", port: int = 9100,
                    log_file: Path | None = None) -> subprocess.Popen:  # fmt: skip
    """A SuperLink serving TLS on `host:port` (its Fleet and Control APIs), its state in `state`."""
    warn_if_exposed(host, "the SuperLink")
    cmd = [_tool("flower-superlink"), "--ssl-ca-certfile", str(certs.ca), "--ssl-certfile", str(certs.cert),
           "--ssl-keyfile", str(certs.key), "--host", host, "--port", str(port),
           "--disable-runtime-dependency-installation", "--database", str(state / "superlink.db")]  # fmt: skip
    out = open(log_file or state / "superlink.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(cmd, env=_env(state / "flwr"), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    out.close()
    try:
        wait_for_port(host, port, 60, proc)
    except RuntimeFailure:
        stop(proc)
        raise
    return proc


def start_supernode(home: Path, ca: Path, superlink: str, *, data: str, partition: int | None = None,
                    partitions: int | None = None, port: int = 9200,
                    log_file: Path | None = None) -> subprocess.Popen:  # fmt: skip
    """A SuperNode connected over TLS to `superlink`, trusting `ca`, training on `data` (a
    folder of its own, or a built-in set with ``partition`` of ``partitions``)."""
    config = f"data={json.dumps(data)}"
    if partition is not None:
        if partitions is None or not 0 <= partition < partitions:
            raise PrivisError(f"--partition must be in 0..{(partitions or 1) - 1} of --partitions")
        config += f" partition-id={partition} num-partitions={partitions}"
    cmd = [_tool("flower-supernode"), "--root-certificates", str(ca), "--superlink", superlink,
           "--node-config", config, "--host", "127.0.0.1", "--port", str(port), "--max-retries", "30",
           "--max-wait-time", "120"]  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    out = open(log_file or home / "supernode.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(cmd, env=_env(home / "flwr"), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    out.close()
    return proc


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a Flower process and the apps it started (its process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def submit(state: Path, certs: Certificates, address: str, config: FederatedConfig, *, data: str, result: Path,
           timeout: float = 120.0, wait: float = 300.0, min_clients: int = 0) -> str:  # fmt: skip
    """Submit privis's Flower App to the SuperLink at `address` (`flwr run`); returns its output."""
    import tomli_w

    home = state / "flwr"
    connection = {
        "superlink": {"default": "privis", "privis": {"address": address, "root-certificates": str(certs.ca)}}
    }
    (home / "config.toml").write_text(tomli_w.dumps(connection))
    run_config = {"federation": json.dumps(asdict(config)), "data": data, "result": str(result),
                  "timeout": float(timeout), "wait": float(wait), "min-clients": int(min_clients)}  # fmt: skip
    overrides = state / "run.toml"
    overrides.write_text(tomli_w.dumps(run_config))
    proc = subprocess.run([_tool("flwr"), "run", str(APP_DIR), "privis", "--run-config", str(overrides)],
                          env=_env(home), capture_output=True, text=True, timeout=120)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeFailure(f"flwr run failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout


def follow(result: Path, rounds: int, *, timeout: float, on_round: Callable[[dict[str, float]], None] | None = None,
           alive: Callable[[], bool] | None = None) -> dict[str, Any]:  # fmt: skip
    """Read the ServerApp's result file until the run is done or failed (or `timeout`)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        record: dict[str, Any] = {}
        if result.exists():
            try:
                record = json.loads(result.read_text())
            except ValueError:
                record = {}
        for row in record.get("history", [])[seen:]:
            if on_round:
                on_round(row)
        seen = max(seen, len(record.get("history", [])))
        if record.get("status") in ("done", "failed"):
            return record
        if alive is not None and not alive():
            raise RuntimeFailure("the SuperLink stopped before the run ended (see superlink.log)")
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"the run did not finish in {timeout:.0f} s ({seen} of {rounds} rounds)")
        time.sleep(0.5)


def serve(config: FederatedConfig, *, data: str, state: str | os.PathLike[str], host: str = "127.0.0.1",
          port: int = 9100, timeout: float = 120.0, wait: float = 300.0, min_clients: int = 0,
          run_timeout: float = 3600.0, on_round: Callable[[dict[str, float]], None] | None = None,
          on_ready: Callable[[str, Certificates], None] | None = None) -> FederatedResult:  # fmt: skip
    """Run a federation's server: a TLS SuperLink on `host:port`, then privis's app over the
    SuperNodes that join (`config.clients` of them), until the last round; the test images
    are `data`'s. `on_ready(address, certificates)` is told when SuperNodes may join."""
    state = Path(state)
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    certs = ensure_certificates(state / "certs", hosts=(host, "localhost") if host != "localhost" else (host,))
    result = state / "result.json"
    result.unlink(missing_ok=True)
    started = time.perf_counter()
    link = start_superlink(state, certs, host=host, port=port)
    address = f"{url_host(host)}:{port}"
    try:
        if on_ready:
            on_ready(address, certs)
        submit(state, certs, address, config, data=data, result=result, timeout=timeout, wait=wait,
               min_clients=min_clients)  # fmt: skip
        record = follow(result, config.rounds, timeout=run_timeout, on_round=on_round,
                        alive=lambda: link.poll() is None)  # fmt: skip
    finally:
        stop(link)
    history = record.get("history", [])
    if record.get("status") != "done":
        raise RuntimeFailure(f"the federated run failed: {record.get('reason', 'see superlink.log')}")
    return FederatedResult(config, history[-1]["test_accuracy"], history, None, time.perf_counter() - started, [])


def join(superlink: str, *, ca: str | os.PathLike[str], data: str, state: str | os.PathLike[str],
         partition: int | None = None, partitions: int | None = None, port: int = 9200) -> int:  # fmt: skip
    """Run one SuperNode in the foreground until it ends or Ctrl-C; returns its exit status."""
    if not Path(ca).is_file():
        raise PrivisError(f"{ca}: no CA certificate here (the server's state folder holds certs/ca.crt)")
    proc = start_supernode(Path(state), Path(ca), superlink, data=data, partition=partition, partitions=partitions,
                           port=port)  # fmt: skip
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop(proc)
        return 130


def local_federation(config: FederatedConfig, *, data: str, state: str | os.PathLike[str], port: int = 9100,
                     timeout: float = 120.0, on_round: Callable[[dict[str, float]], None] | None = None,
                     after_ready: Callable[[Sequence[subprocess.Popen]], None] | None = None,
                     min_clients: int = 0) -> FederatedResult:  # fmt: skip
    """A SuperLink and `config.clients` SuperNodes on this machine (each its own process, its
    own partition of `data`), all on loopback with TLS: what the tests and benchmarks run.
    `after_ready` gets the SuperNode processes once they are started (e.g. to kill one)."""
    state = Path(state)
    nodes: list[subprocess.Popen] = []

    def ready(address: str, certs: Certificates) -> None:
        for k in range(config.clients):
            nodes.append(start_supernode(state / f"node{k}", certs.ca, address, data=data, partition=k,
                                         partitions=config.clients, port=port + 100 + k))  # fmt: skip
        if after_ready:
            after_ready(nodes)

    try:
        return serve(config, data=data, state=state, port=port, timeout=timeout, on_round=on_round, on_ready=ready,
                     min_clients=min_clients)  # fmt: skip
    finally:
        for node in nodes:
            stop(node)
