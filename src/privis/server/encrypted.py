"""Encrypted inference over HTTP: the model owner's server and the image owner's client.

The protocol, all bodies raw bytes (``application/octet-stream``):

``GET  /v1/encrypted``
    what the server runs: the model and the CKKS parameters a client's keys need.
``POST /v1/encrypted/sessions``
    body: the client's public context (evaluation keys, tens of MB; never the secret key,
    which the server refuses). Answers ``{"session": id}``.
``POST /v1/encrypted/sessions/{id}/infer``
    body: one encrypted image. Answers the encrypted logits, which only the client can read.
``DELETE /v1/encrypted/sessions/{id}``
    forget the session's keys.

The server keeps a few sessions' contexts in memory (each is about 175 MB deserialized)
and never writes them anywhere. A session belongs to the client address that opened it.
Request bodies of all clients together are held to a byte budget: beyond it, and when
every session slot holds another client's live keys, the answer is 503 with Retry-After.
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request` type of the endpoints below.
import asyncio
import json
import logging
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from privis.errors import PrivisError, RuntimeFailure
from privis.learn.encrypted import DEPTH, EncryptedServer, default_parameters, export_weights
from privis.server.limits import ByteBudget, limited_body

log = logging.getLogger(__name__)

PREFIX = "/v1/encrypted"
MAX_CONTEXT_BYTES = 512 << 20  # N = 16384 contexts with all Galois keys are a few hundred MB
MAX_CIPHERTEXT_BYTES = 16 << 20
MAX_IN_FLIGHT_BYTES = 1 << 30  # request bodies of all clients together
IDLE_S = 600.0  # a session unused this long may give its slot to another client


@dataclass
class _Session:
    server: EncryptedServer
    owner: str  # the client's address: only it may use or close the session
    used: float


def create_app(model: Any, **options: Any) -> Any:
    """A FastAPI app that evaluates `model` (an he-cnn) on ciphertexts for clients who hold their own keys.

    `options` are `create_router`'s (classes, session slots, the byte budget, idle time),
    which holds memory to its bounds and each session to the address that opened it.
    """
    from fastapi import FastAPI

    router, budget = create_router(model, **options)
    app = FastAPI(title="privis encrypted inference", docs_url=None, redoc_url=None)
    app.include_router(router)
    app.state.budget = budget  # what is in flight, for monitoring and tests
    return app


def create_router(
    model: Any,
    *,
    classes: list[str] | None = None,
    max_sessions: int = 4,
    max_per_client: int | None = None,
    max_in_flight: int = MAX_IN_FLIGHT_BYTES,
    idle_s: float = IDLE_S,
) -> tuple[Any, ByteBudget]:
    """The routes of `create_app` as an APIRouter (what `privis serve --encrypted-model`
    includes in the service), and the byte budget they hold request bodies to.

    Memory is bounded by `max_in_flight` bytes of request bodies (beyond it: 503), one
    context being deserialized at a time, and `max_sessions` deserialized contexts. A
    session belongs to the address that opened it: a new one replaces only that client's
    oldest (beyond `max_per_client`, default half the slots) or one idle for `idle_s`.
    """
    from fastapi import APIRouter, HTTPException, Request, Response
    from starlette.concurrency import run_in_threadpool

    weights = export_weights(model)
    per_client = max_per_client or max(1, max_sessions // 2)
    sessions: OrderedDict[str, _Session] = OrderedDict()
    lock = threading.Lock()
    budget = ByteBudget(max_in_flight)
    loading = asyncio.Semaphore(1)  # deserializing a context copies it: one at a time
    computing = asyncio.Semaphore(max(1, os.cpu_count() or 1))
    app = APIRouter(tags=["encrypted inference"])
    info = {
        "model": "he-cnn",
        "input": [28, 28],
        "classes": classes or [str(c) for c in range(len(weights["fc2_bias"]))],
        "depth": DEPTH,
        "parameters": asdict(default_parameters()),
        "scaling": "pixels in [0, 1] mapped to [-1, 1]",
    }

    def client_of(request: Request) -> str:
        return request.client.host if request.client else ""

    def owned(sid: str, owner: str) -> _Session | None:
        """The session `sid` if `owner` opened it (call with `lock` held)."""
        found = sessions.get(sid)
        return found if found is not None and secrets.compare_digest(found.owner, owner) else None

    def session(sid: str, owner: str) -> EncryptedServer:
        with lock:
            found = owned(sid, owner)
            if found is None:
                raise HTTPException(404, f"no session {sid!r} (expired or never opened): open a new one")
            found.used = time.monotonic()
            sessions.move_to_end(sid)
            return found.server

    def make_room(owner: str) -> None:
        """Free a slot for `owner`, or refuse: others' live sessions are never dropped."""
        now = time.monotonic()
        for sid in [sid for sid, s in sessions.items() if now - s.used > idle_s]:
            del sessions[sid]
        mine = [sid for sid, s in sessions.items() if s.owner == owner]
        if len(mine) >= per_client:
            del sessions[mine[0]]  # the least recently used of this client's own
        elif len(sessions) >= max_sessions:
            raise HTTPException(503, f"all {max_sessions} session slots hold other clients' keys; retry in a "
                                     "few minutes (or start the server with more --max-sessions)",
                                headers={"Retry-After": "60"})  # fmt: skip

    @app.get(PREFIX)
    def describe() -> dict[str, Any]:
        return info

    @app.post(PREFIX + "/sessions")
    async def open_session(request: Request) -> dict[str, str]:
        owner = client_of(request)
        with lock:
            make_room(owner)  # refuse before reading hundreds of MB we could not keep
        async with limited_body(request, budget, MAX_CONTEXT_BYTES, "a public context") as context:
            async with loading:
                try:  # the thread gets the Body, not its bytes: an idle worker keeps its last job's arguments
                    server = await run_in_threadpool(lambda: EncryptedServer(context.data, weights))
                except PrivisError as exc:
                    raise HTTPException(400, str(exc)) from None
        sid = secrets.token_urlsafe(16)
        with lock:
            make_room(owner)
            sessions[sid] = _Session(server, owner, time.monotonic())
        return {"session": sid}

    @app.post(PREFIX + "/sessions/{sid}/infer")
    async def infer(sid: str, request: Request) -> Response:
        server = session(sid, client_of(request))
        async with limited_body(request, budget, MAX_CIPHERTEXT_BYTES, "an encrypted image") as ciphertext:
            async with computing:
                try:
                    result = await run_in_threadpool(lambda: server.infer(ciphertext.data))
                except PrivisError as exc:
                    raise HTTPException(400, str(exc)) from None
        return Response(result, media_type="application/octet-stream")

    @app.delete(PREFIX + "/sessions/{sid}")
    def close_session(sid: str, request: Request) -> dict[str, bool]:
        with lock:
            if owned(sid, client_of(request)) is None:
                return {"closed": False}
            del sessions[sid]
            return {"closed": True}

    return app, budget


class EncryptedService:
    """The client's side of the protocol: talks to a server at `url` (standard library HTTP only).

    A busy server (503) is asked again after the wait it names, up to `retries` times.
    """

    def __init__(self, url: str, *, timeout: float = 600.0, retries: int = 3) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries

    def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url + PREFIX + path, data=body, method=method,
                                             headers={"Content-Type": "application/octet-stream"})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                try:
                    detail = json.loads(exc.read()).get("detail", exc.reason)
                except (ValueError, AttributeError):
                    detail = exc.reason
                wait = exc.headers.get("Retry-After", "") if exc.headers else ""
                if exc.code == 503 and attempt < self.retries and wait.isdigit():
                    log.info("the server is busy (%s); asking again in %s s", detail, wait)
                    time.sleep(min(int(wait), 60))
                    continue
                raise RuntimeFailure(f"the server at {self.url} refused: {detail}") from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise RuntimeFailure(f"cannot reach the server at {self.url} ({reason})") from None
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def describe(self) -> dict[str, Any]:
        """What the server runs, and the parameters the client's keys need."""
        return json.loads(self._request("GET", ""))

    def connect(self, public_context: bytes) -> Callable[[bytes], bytes]:
        """Open a session with `public_context`; returns the function that sends one ciphertext and gets the result."""
        sid = json.loads(self._request("POST", "/sessions", public_context))["session"]
        return lambda ciphertext: self._request("POST", f"/sessions/{sid}/infer", ciphertext)
