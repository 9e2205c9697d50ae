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

The server keeps the last few sessions' contexts in memory (each is about 100 MB
deserialized) and never writes them anywhere.
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request` type of the endpoints below.
import json
import secrets
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from privis.errors import PrivisError
from privis.learn.encrypted import DEPTH, EncryptedServer, default_parameters, export_weights

PREFIX = "/v1/encrypted"
MAX_CONTEXT_BYTES = 512 << 20  # N = 16384 contexts with all Galois keys are a few hundred MB
MAX_CIPHERTEXT_BYTES = 16 << 20


def create_app(model: Any, *, classes: list[str] | None = None, max_sessions: int = 4) -> Any:
    """A FastAPI app that evaluates `model` (an he-cnn) on ciphertexts for clients who hold their own keys."""
    from fastapi import FastAPI, HTTPException, Request, Response
    from starlette.concurrency import run_in_threadpool

    weights = export_weights(model)
    sessions: OrderedDict[str, EncryptedServer] = OrderedDict()
    lock = threading.Lock()
    app = FastAPI(title="privis encrypted inference", docs_url=None, redoc_url=None)
    info = {
        "model": "he-cnn",
        "input": [28, 28],
        "classes": classes or [str(c) for c in range(len(weights["fc2_bias"]))],
        "depth": DEPTH,
        "parameters": asdict(default_parameters()),
        "scaling": "pixels in [0, 1] mapped to [-1, 1]",
    }

    async def read_body(request: Request, limit: int, what: str) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"{what} of {int(declared)} bytes is over the {limit}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"{what} is over the {limit}-byte limit")
            chunks.append(chunk)
        if not size:
            raise HTTPException(400, f"empty body: expected {what}")
        return b"".join(chunks)

    def session(sid: str) -> EncryptedServer:
        with lock:
            server = sessions.get(sid)
            if server is None:
                raise HTTPException(404, f"no session {sid!r} (expired or never opened): open a new one")
            sessions.move_to_end(sid)
            return server

    @app.get(PREFIX)
    def describe() -> dict[str, Any]:
        return info

    @app.post(PREFIX + "/sessions")
    async def open_session(request: Request) -> dict[str, str]:
        context = await read_body(request, MAX_CONTEXT_BYTES, "a public context")
        try:
            server = await run_in_threadpool(EncryptedServer, context, weights)
        except PrivisError as exc:
            raise HTTPException(400, str(exc)) from None
        sid = secrets.token_urlsafe(16)
        with lock:
            sessions[sid] = server
            while len(sessions) > max_sessions:
                sessions.popitem(last=False)
        return {"session": sid}

    @app.post(PREFIX + "/sessions/{sid}/infer")
    async def infer(sid: str, request: Request) -> Response:
        server = session(sid)
        ciphertext = await read_body(request, MAX_CIPHERTEXT_BYTES, "an encrypted image")
        try:
            result = await run_in_threadpool(server.infer, ciphertext)
        except PrivisError as exc:
            raise HTTPException(400, str(exc)) from None
        return Response(result, media_type="application/octet-stream")

    @app.delete(PREFIX + "/sessions/{sid}")
    def close_session(sid: str) -> dict[str, bool]:
        with lock:
            return {"closed": sessions.pop(sid, None) is not None}

    return app


class EncryptedService:
    """The client's side of the protocol: talks to a server at `url` (standard library HTTP only)."""

    def __init__(self, url: str, *, timeout: float = 600.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
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
            raise PrivisError(f"the server at {self.url} refused: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrivisError(f"cannot reach the server at {self.url} ({reason})") from None

    def describe(self) -> dict[str, Any]:
        """What the server runs, and the parameters the client's keys need."""
        return json.loads(self._request("GET", ""))

    def connect(self, public_context: bytes) -> Callable[[bytes], bytes]:
        """Open a session with `public_context`; returns the function that sends one ciphertext and gets the result."""
        sid = json.loads(self._request("POST", "/sessions", public_context))["session"]
        return lambda ciphertext: self._request("POST", f"/sessions/{sid}/infer", ciphertext)
