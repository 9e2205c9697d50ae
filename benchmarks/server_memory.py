"""Peak memory of `privis encrypted serve` under many large concurrent uploads: it must stay bounded.

Starts the real server (an untrained he-cnn: the weights do not change memory) in a
subprocess and samples its resident memory from /proc ten times a second while:

1. real clients open `--sessions` sessions with real public contexts (the size of one is
   reported), and
2. `--clients` clients at once each upload `--upload-mb` of garbage as a "context", over
   and over until the server has read it once (a 503 is answered by waiting and asking
   again). Half of them send ``Expect: 100-continue`` and so learn of a 503 before sending
   the body; the other half send the body blindly.

The stated bound is the server with its sessions, plus the byte budget
(``--max-in-flight-mb``) with an eighth for buffer growth, plus one context being
deserialized (one at a time: three times its size). The script exits 1 beyond it.

Usage::

    python benchmarks/server_memory.py [--clients 20] [--upload-mb 300] [--max-in-flight-mb 1024] [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _common import PRIVIS, emit, markdown_table, rss_mib

PREFIX = "/v1/encrypted"


class Sampler(threading.Thread):
    """The peak resident memory of process `pid` since the last `reset`."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.1)

    def reset(self) -> float:
        self.peak = rss_mib(self.pid)
        return self.peak


def save_untrained_model(path: Path) -> Path:
    import torch

    from privis.learn.models import create_model

    model = create_model("he-cnn", (1, 28, 28), 10)
    data = {"name": "bench", "shape": [1, 28, 28], "classes": [str(c) for c in range(10)]}
    payload = {"format": "privis-model-1", "state_dict": model.state_dict(), "config": {"model": "he-cnn"}}
    torch.save({**payload, "data": data}, path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url + PREFIX, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def status_of(sock: socket.socket) -> int:
    """The status code of the next response on `sock` (its head only)."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed")
        head += chunk
    return int(head.split(b" ", 2)[1])


def upload(port: int, body: memoryview, expect: bool) -> int:
    """POST `body` as a session context once: the final status, or 0 if the server hung up mid-body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=300)
    try:
        head = f"POST {PREFIX}/sessions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\n"
        head += f"Content-Length: {len(body)}\r\n" + ("Expect: 100-continue\r\n" if expect else "") + "\r\n"
        sock.sendall(head.encode())
        if expect:
            status = status_of(sock)
            if status != 100:
                return status
        try:
            sock.sendall(body)
        except OSError:
            return 0
        return status_of(sock)
    except OSError:
        return 0
    finally:
        sock.close()


def flood(port: int, clients: int, upload_mb: int, send: str = "both") -> dict:
    """`clients` threads each uploading until the server has read their body once."""
    body = memoryview(bytes(upload_mb << 20))  # one shared buffer: the benchmark's own memory stays small
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def client(i: int) -> None:
        expect = send == "expect" or (send == "both" and i % 2 == 0)
        for _ in range(1000):
            status = upload(port, body, expect)
            key = f"{'expect' if expect else 'plain'}:{status or 'hung up'}"
            with lock:
                counts[key] = counts.get(key, 0) + 1
            if status == 400:  # read in full, refused as not a context: done
                return
            time.sleep(0.5)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"answers": dict(sorted(counts.items())), "wall_s": round(time.perf_counter() - start, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--upload-mb", type=int, default=300)
    ap.add_argument("--max-in-flight-mb", type=int, default=1024)
    ap.add_argument("--sessions", type=int, default=2, help="real sessions opened before the flood")
    ap.add_argument("--send", choices=["both", "expect", "plain"], default="both",
                    help="clients that send Expect: 100-continue, blind ones, or half of each")  # fmt: skip
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from privis.learn.encrypted import EncryptedClient
    from privis.server.encrypted import EncryptedService

    with tempfile.TemporaryDirectory(prefix="privis-srv-") as tmp:
        model = save_untrained_model(Path(tmp) / "he.pt")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [*PRIVIS, "encrypted", "serve", "--model", str(model), "--port", str(port), "--max-sessions",
               str(max(4, args.sessions)), "--max-in-flight-mb", str(args.max_in_flight_mb)]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until_up(url, proc)
            sampler = Sampler(proc.pid)
            sampler.start()
            time.sleep(0.5)
            idle = sampler.reset()

            context = EncryptedClient().public_context()
            context_mb = len(context) / 2**20
            service = EncryptedService(url, retries=0)
            for _ in range(args.sessions):
                service._request("POST", "/sessions", context)
            time.sleep(0.5)
            with_sessions = rss_mib(proc.pid)
            sessions_peak = sampler.peak
            per_session = (with_sessions - idle) / max(1, args.sessions)
            del context

            sampler.reset()
            flooded = flood(port, args.clients, args.upload_mb, args.send)
            flood_peak = sampler.peak
            time.sleep(1.0)
            after = rss_mib(proc.pid)
            sampler.stop.set()
            # One context in deserialization: its bytes copied into TenSEAL and the keys it
            # becomes (about 2.2 times its size, per_session above); never larger than 512 MB.
            one_load = min(args.upload_mb, args.max_in_flight_mb, 512) * 3
            bound = with_sessions + args.max_in_flight_mb * 1.125 + one_load
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report = {
        "clients": args.clients,
        "upload_mb": args.upload_mb,
        "max_in_flight_mb": args.max_in_flight_mb,
        "public_context_mb": round(context_mb, 1),
        "idle_mib": round(idle, 1),
        "sessions": args.sessions,
        "rss_with_sessions_mib": round(with_sessions, 1),
        "peak_opening_sessions_mib": round(sessions_peak, 1),
        "per_session_mib": round(per_session, 1),
        "peak_under_flood_mib": round(flood_peak, 1),
        "rss_after_flood_mib": round(after, 1),
        "stated_bound_mib": round(bound, 1),
        "within_bound": flood_peak <= bound,
        **flooded,
    }
    table = markdown_table(
        ["measure", "MiB"],
        [
            ["idle server", report["idle_mib"]],
            [
                f"one real public context (serialized: {report['public_context_mb']} MB), per session",
                report["per_session_mib"],
            ],  # fmt: skip
            [f"with {args.sessions} real sessions", report["rss_with_sessions_mib"]],
            [f"peak, {args.clients} clients × {args.upload_mb} MB at once", report["peak_under_flood_mib"]],
            ["after the flood", report["rss_after_flood_mib"]],
            ["stated bound", report["stated_bound_mib"]],
        ],
    )
    table += "\n\nanswers: " + ", ".join(f"{k} ×{v}" for k, v in report["answers"].items())
    emit("server_memory", report, table, args.out, args.json)
    return 0 if report["within_bound"] else 1


if __name__ == "__main__":
    sys.exit(main())
