"""`privis serve` under hostile requests and under load, on loopback (issue 20).

Starts the real service (`privis serve`, its own process, a fresh token database) and:

1. **Hostile requests**: `--hostile` (1000) malformed or hostile requests from 8 client
   threads (`tests/hostile_requests.py`: truncated and corrupt images, decompression
   bombs, wrong content types, huge headers, bad, missing and revoked tokens, path tricks,
   bad parameters, oversized and malformed requests, a wrong method, slow clients that
   take 8 s to send a body against a 3 s limit). Every answer's status is counted per
   kind; the server's resident memory is read from /proc after one good request (models
   loaded) and after every 100 hostile ones; at the end the server must still be running
   and answer a good request.
2. **Throughput**: 640×480 photos (`faces_afw`, resized; faces in most) sent to
   ``/v1/anonymize`` by 1, 4 and 16 concurrent clients: images per second, p50 and p99
   latency; and the same images through ``privis anonymize DIR`` (the CLI, one process,
   model load excluded: it is timed from a warm second run over the folder).

Usage::

    python benchmarks/serve.py [--hostile 1000] [--images 120] [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, PRIVIS, REPO, emit, markdown_table, rss_mib
from PIL import Image

sys.path.insert(0, str(REPO))
from tests.hostile_requests import hostile, post, send  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(state: Path, port: int, *extra: str) -> subprocess.Popen:
    """`privis serve` on loopback, once it answers /healthz."""
    proc = subprocess.Popen([*PRIVIS, "serve", "--port", str(port), "--state", str(state), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("privis serve did not start")


def token(state: Path, name: str) -> str:
    done = subprocess.run([*PRIVIS, "serve", "token", "create", name, "--state", str(state)],
                          check=True, capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip()


def hostile_run(port: int, pid: int, tok: str, revoked: str, n: int) -> dict:
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    memory = [round(rss_mib(pid), 1)]
    requests = hostile(tok, revoked)
    with ThreadPoolExecutor(8) as pool:
        for start_i in range(0, n, 100):
            batch = [next(requests) for _ in range(min(100, n - start_i))]
            for req, status in zip(batch, pool.map(lambda r: send(port, r), batch), strict=True):
                by_kind[req.kind][status] += 1
            memory.append(round(rss_mib(pid), 1))
    return {"by_kind": {k: dict(v) for k, v in sorted(by_kind.items())}, "rss_mib_every_100": memory}


def photos(data: Path, count: int) -> list[bytes]:
    """`count` 640×480 JPEGs made from faces_afw photos (centre crop to 4:3, then resized)."""
    files = sorted((data / "faces_afw" / "images").glob("*.jpg"))[:count]
    out = []
    for f in files:
        im = Image.open(f).convert("RGB")
        w, h = im.size
        cw, ch = (w, round(w * 3 / 4)) if w * 3 / 4 <= h else (round(h * 4 / 3), h)
        im = im.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)).resize((640, 480))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=92)
        out.append(buf.getvalue())
    return out


def load_run(port: int, tok: str, images: list[bytes], clients: int) -> dict:
    post(port, tok, images[0], "image/jpeg")  # warm
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    start_t = time.perf_counter()

    def one(body: bytes) -> None:
        status, seconds = post(port, tok, body, "image/jpeg")
        with lock:
            statuses[status] += 1
            latencies.append(seconds)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, images))
    wall = time.perf_counter() - start_t
    ms = np.array(latencies) * 1000
    return {"clients": clients, "images": len(images), "images_per_s": round(len(images) / wall, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "statuses": dict(statuses)}  # fmt: skip


def cli_run(images: list[bytes]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for i, body in enumerate(images):
            (src / f"{i:04d}.jpg").write_bytes(body)
        walls = []
        for k in range(2):  # the second run is timed against the first's model load
            dst = Path(tmp) / f"out{k}"
            start_t = time.perf_counter()
            subprocess.run([*PRIVIS, "anonymize", str(src), "-o", str(dst), "--quiet"], check=True)
            walls.append(time.perf_counter() - start_t)
        start_t = time.perf_counter()
        subprocess.run([*PRIVIS, "anonymize", str(src / "0000.jpg"), "-o", str(Path(tmp) / "one.jpg"), "--quiet"],
                       check=True)  # fmt: skip
        startup = time.perf_counter() - start_t
    per_image = (min(walls) - startup) / max(len(images) - 1, 1)
    return {"images": len(images), "wall_s": round(min(walls), 2), "startup_s": round(startup, 2),
            "images_per_s": round(1 / per_image, 2)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--hostile", type=int, default=1000)
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    report: dict = {}
    with tempfile.TemporaryDirectory() as state:
        tok, revoked = token(Path(state), "bench"), token(Path(state), "gone")
        subprocess.run([*PRIVIS, "serve", "token", "revoke", "gone", "--state", state], check=True,
                       capture_output=True)  # fmt: skip
        port = free_port()
        proc = start(Path(state), port, "--timeout", "3", "--rate", "0")  # 3 s: the slow clients are 8 s
        try:
            post(port, tok, photos(args.data, 1)[0], "image/jpeg")  # models loaded: memory is measured from here
            report["hostile"] = hostile_run(port, proc.pid, tok, revoked, args.hostile)
            report["hostile"]["server_alive"] = proc.poll() is None
            report["hostile"]["good_request_after"] = post(port, tok, photos(args.data, 1)[0], "image/jpeg")[0]
            print(report["hostile"], file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait(30)
        port = free_port()
        proc = start(Path(state), port, "--rate", "0")  # the default 60 s limit: 16 clients queue for seconds
        try:
            images = photos(args.data, args.images)
            report["load"] = [load_run(port, tok, images, c) for c in (1, 4, 16)]
            print(report["load"], file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait(30)
    report["cli"] = cli_run(photos(args.data, args.images))
    print(report["cli"], file=sys.stderr)
    h = report["hostile"]
    codes = collections.Counter()
    for counts in h["by_kind"].values():
        codes.update({int(k): v for k, v in counts.items()})
    rows = [[kind, sum(c.values()), ", ".join(f"{k}: {v}" for k, v in sorted(c.items()))]
            for kind, c in h["by_kind"].items()]  # fmt: skip
    five = sum(v for k, v in codes.items() if k >= 500 or k == 0)
    table = markdown_table(["hostile kind", "requests", "answers"], rows)
    mem = h["rss_mib_every_100"]
    table += (f"\n\n{sum(codes.values())} hostile requests: {five} answered 5xx or not at all; server alive: "
              f"{h['server_alive']}; a good request after them: {h['good_request_after']}; resident memory every 100 "
              f"requests (MiB): {mem}\n\n")  # fmt: skip
    cli = report["cli"]["images_per_s"]
    table += markdown_table(
        ["clients", "images/s", "of the CLI's", "p50 ms", "p99 ms", "answers"],
        [[r["clients"], r["images_per_s"], f"{r['images_per_s'] / cli:.0%}", r["p50_ms"], r["p99_ms"], r["statuses"]]
         for r in report["load"]] + [["CLI (`privis anonymize DIR`, one process)", cli, "100%", "-", "-", "-"]],
    )  # fmt: skip
    emit("serve", {**report, "cpu_count": os.cpu_count()}, table, args.out, args.json)
    return 0 if five == 0 and h["server_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
