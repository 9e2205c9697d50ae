"""Federated learning deployed (SuperLink and SuperNodes as real processes, TLS, SecAgg+) against
Flower's simulation of the same federation (issue 21).

Runs, on loopback:

1. `privis federated DATA --clients 4 --rounds R` (the simulation);
2. `privis federated serve DATA --clients 4 --rounds R` and four `privis federated join` processes,
   each training on its own partition (`--partition k --partitions 4`, the simulation's split);
3. the same deployment with SuperNode 3 killed (SIGKILL) once round 1 is in: the rounds left
   must finish with the other three.

Usage::

    python benchmarks/federated_deployed.py [--data mnist] [--rounds 5] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from _common import PRIVIS, emit, markdown_table, run_json


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deployed(data: str, clients: int, rounds: int, work: Path, kill_after: int | None = None) -> dict:
    """`serve` and `clients` `join` processes; with `kill_after`, the last SuperNode is killed
    once that many rounds are in."""
    state, port = work / "server", free_port()
    address = f"127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen([*PRIVIS, "federated", "serve", data, "--clients", str(clients), "--rounds", str(rounds),
                               "--listen", address, "--state", str(state), "--min-clients", str(clients - 1),
                               "--round-timeout", "60", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    ca = state / "certs" / "ca.crt"
    while not ca.exists() or not _listening(port):
        if server.poll() is not None:
            raise SystemExit("privis federated serve exited early")
        time.sleep(0.2)
    nodes = [subprocess.Popen([*PRIVIS, "federated", "join", address, "--ca", str(ca), "--data", data,
                               "--partition", str(k), "--partitions", str(clients), "--port", str(free_port()),
                               "--state", str(work / f"node{k}")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for k in range(clients)]  # fmt: skip
    killed = None
    try:
        while server.poll() is None:
            if kill_after is not None and killed is None and _rounds_in(state / "result.json") >= kill_after:
                nodes[-1].kill()
                killed = _rounds_in(state / "result.json")
            time.sleep(0.3)
        out = server.stdout.read() if server.stdout else ""
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait()
    if server.returncode != 0:
        record = json.loads((state / "result.json").read_text()) if (state / "result.json").exists() else {}
        return {"failed": record.get("reason", f"exit {server.returncode}"), "killed_after_round": killed,
                "seconds": round(time.perf_counter() - started, 1), "history": record.get("history", [])}  # fmt: skip
    summary = json.loads(out.strip().splitlines()[-1])
    summary["killed_after_round"] = killed
    return summary


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _rounds_in(result: Path) -> int:
    try:
        return len(json.loads(result.read_text()).get("history", []))
    except (OSError, ValueError):
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="privis-fed-"))
    sim = run_json([*PRIVIS, "federated", args.data, "--clients", str(args.clients), "--rounds", str(args.rounds),
                    "--json"])  # fmt: skip
    dep = deployed(args.data, args.clients, args.rounds, work / "all")
    dead = deployed(args.data, args.clients, args.rounds, work / "killed", kill_after=1)
    runs = {"simulation": sim, "deployed (TLS, SecAgg+)": dep, "deployed, SuperNode 3 killed after round 1": dead}
    rows = []
    for name, r in runs.items():
        accs = " ".join(f"{h['test_accuracy']:.4f}" for h in r.get("history", []))
        final = r.get("test_accuracy", r.get("failed", ""))
        rows.append([name, accs, final, r.get("seconds", "")])
    table = markdown_table(["run", "accuracy per round", "final", "seconds"], rows)
    gap = abs(dep.get("test_accuracy", 0) - sim["test_accuracy"]) * 100
    table += (f"\n\n{args.data}, {args.clients} clients, {args.rounds} rounds, IID split, SecAgg+ on; the deployed "
              f"accuracy is {gap:.2f} points from the simulation's.")  # fmt: skip
    emit("federated_deployed", {"data": args.data, "clients": args.clients, "rounds": args.rounds,
                                "runs": runs, "gap_points": round(gap, 2)}, table, args.out, args.json)  # fmt: skip


if __name__ == "__main__":
    main()
