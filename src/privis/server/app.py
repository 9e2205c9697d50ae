"""`privis serve`: the HTTP service over the library, for edge boxes and colleagues without a terminal.

``POST /v1/anonymize``
    body: one image (JPEG, PNG, WebP, BMP, TIFF) as raw bytes. Query: ``targets``,
    ``method``, ``output`` (``image``, the default: the anonymized image in the upload's
    format; ``json``: the regions found, nothing painted). The image is decoded, processed
    and answered from memory; nothing is written to disk.
``POST /v1/redact-text``
    body: an image, a PDF or a DICOM file; the personal data written in it blacked out
    (every page or frame; a DICOM header de-identified), answered in the same format.
``/v1/jobs``
    videos, as jobs: see `privis.server.jobs`.
``/v1/streams``
    the operator's live sources: MJPEG, counts per bucket and the DP budget left today
    (`privis.server.streams`); the page ``/ui/live.html?stream=NAME`` shows them.
``GET /healthz``
    liveness, without a token.
``GET /metrics``
    Prometheus counters of this app (requests, regions hidden, seconds); not the images.
``GET /docs``
    the OpenAPI page (its scripts served from the package: it works offline).
``GET /``
    the web page: drop images, pick targets and method, compare before and after, download.

Every request but ``/healthz`` needs ``Authorization: Bearer <token>`` (`TokenStore`,
``privis serve token create NAME``). Bodies are bounded per request and across all
requests in flight (413, 503), images by pixel count read from the header before any
pixel is decoded (413: a decompression bomb never expands), tokens by a request rate
(429), headers by their size (431), and each request by a time limit (408). Errors are JSON ``{"detail": ...}`` with
no traceback.
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request` type of the endpoints below.
import asyncio
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

import numpy as np

from privis.config import Settings
from privis.errors import ImageTooLargeError, PrivisError
from privis.media.image import image_size
from privis.server.limits import ByteBudget, limited_body
from privis.server.tokens import TokenStore

log = logging.getLogger(__name__)

IMAGE_TYPES = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/bmp": "BMP", "image/tiff": "TIFF",
    "application/octet-stream": "",
}  # fmt: skip
ANSWER_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}  # others are answered as PNG
MAX_HEADER_BYTES = 16 << 10  # all request headers together (431 beyond them)


@dataclass(frozen=True)
class ServeLimits:
    """What one client may ask of the service.

    Attributes
    ----------
    max_upload_bytes : int
        Largest image upload (413 beyond it, before it is read when it declares its length).
    max_video_bytes : int
        Largest video upload (written to the job's folder as it arrives, never held in memory).
    max_in_flight_bytes : int
        Bodies of all requests in flight together (503 with Retry-After beyond it).
    max_pixels : int
        Largest image, width × height from its header (413 beyond it, before decoding).
    rate_per_minute : int
        Requests a token may make a minute (429 with Retry-After beyond it); 0: no limit.
    timeout_s : float
        Longest a request may take, reading its body included (408 beyond it: a slow client
        gives up its worker).
    upload_timeout_s : float
        Longest a video upload may take.
    workers : int
        Images processed at once (the rest wait their turn within `timeout_s`).
    """

    max_upload_bytes: int = 32 << 20
    max_video_bytes: int = 1 << 30
    max_in_flight_bytes: int = 256 << 20
    max_pixels: int = 50_000_000
    rate_per_minute: int = 600
    timeout_s: float = 60.0
    upload_timeout_s: float = 1800.0
    workers: int = max(1, min(4, os.cpu_count() or 1))


class _Rates:
    """A token bucket per token: `per_minute` requests, refilled evenly."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """0 if `key` may make a request now (and it is counted), else the seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        now, rate = time.monotonic(), self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / rate
            self._buckets[key] = (tokens - 1, now)
            return 0.0


class _Anonymizers:
    """One `Anonymizer` per (targets, method) asked for, built on first use from `settings`: models load once."""

    def __init__(self, settings: Settings, size: int = 8) -> None:
        self.settings, self.size = settings, size
        self._made: OrderedDict[tuple[str | None, str | None], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, targets: str | None, method: str | None) -> Any:
        from privis.pipeline import Anonymizer

        key = (targets, method)
        with self._lock:
            if key in self._made:
                self._made.move_to_end(key)
                return self._made[key]
        made = Anonymizer(targets or None, method or None, settings=self.settings, kind="image")
        with self._lock:
            self._made[key] = made
            while len(self._made) > self.size:
                self._made.popitem(last=False)
        return made


def _metrics() -> Any:
    """This app's own Prometheus registry and instruments (never the process-wide default)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    return {
        "registry": registry,
        "requests": Counter("privis_requests", "Requests answered", ["endpoint", "status"], registry=registry),
        "regions": Counter("privis_regions_hidden", "Regions hidden", ["label"], registry=registry),
        "seconds": Histogram("privis_processing_seconds", "Seconds to process one image", registry=registry),
        "jobs": Counter("privis_video_jobs", "Video jobs accepted", registry=registry),
    }


def create_app(
    settings: Settings | None = None,
    *,
    tokens: TokenStore | None = None,
    limits: ServeLimits | None = None,
    state: str | os.PathLike[str] | None = None,
    streams: Sequence[Any] = (),
    routers: Sequence[Any] = (),
) -> Any:
    """The service as a FastAPI app: `settings` (the configuration of `privis.config`) give
    the defaults each request may narrow; `tokens` None serves without authentication
    (tests, and a socket only this machine's user can reach). With a `state` folder, video
    jobs are taken (``/v1/jobs``) and kept there until downloaded. `streams` (`StreamSpec`)
    are live sources anonymized from the start, watched and counted at ``/v1/streams``.
    `routers` are included as they are (the encrypted-inference routes,
    `privis.server.encrypted.create_router`, whose sessions belong to the client's address)."""
    from fastapi import FastAPI, HTTPException, Query, Request, Response
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from privis import __version__

    settings = settings or Settings()
    limits = limits or ServeLimits()
    budget = ByteBudget(limits.max_in_flight_bytes)
    rates = _Rates(limits.rate_per_minute)
    anonymizers = _Anonymizers(settings)
    working = asyncio.Semaphore(limits.workers)
    metrics = _metrics()

    app = FastAPI(title="privis", version=__version__, description=__doc__.split("\n\n")[0], docs_url=None,
                  redoc_url=None)  # fmt: skip
    app.state.budget, app.state.tokens, app.state.limits = budget, tokens, limits
    _pages(app)

    def authorize(request: Request) -> str:
        """The token's name, or 401 / 429."""
        if tokens is None:
            return "-"
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        name = tokens.check(token.strip()) if scheme.lower() == "bearer" else None
        if name is None:
            raise HTTPException(401, "a valid bearer token is needed (privis serve token create NAME)",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        wait = rates.wait(name)
        if wait:
            raise HTTPException(429, f"over {limits.rate_per_minute} requests a minute for this token",
                                headers={"Retry-After": str(max(1, round(wait)))})  # fmt: skip
        return name

    @app.middleware("http")
    async def count_and_time(request: Request, call_next: Any) -> Any:
        endpoint = request.url.path if request.url.path in _ENDPOINTS else "other"
        header_bytes = sum(len(k) + len(v) + 4 for k, v in request.headers.raw)
        if header_bytes > MAX_HEADER_BYTES:
            response: Any = JSONResponse({"detail": f"{header_bytes} bytes of headers is over {MAX_HEADER_BYTES}"},
                                         status_code=431)  # fmt: skip
        else:
            limit = limits.upload_timeout_s if request.url.path == "/v1/jobs" else limits.timeout_s
            try:
                response = await asyncio.wait_for(call_next(request), timeout=limit)
            except TimeoutError:
                response = JSONResponse({"detail": f"the request took over {limit:.0f} s"}, status_code=408)
        metrics["requests"].labels(endpoint, str(response.status_code)).inc()
        response.headers.update(_SECURITY_HEADERS)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s: %s", request.method, request.url.path, exc.__class__.__name__, exc)
        return JSONResponse({"detail": "internal error (logged on the server)"}, status_code=500)

    @app.get("/healthz", responses=_errors(408, 431))
    def healthz() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    text: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}

    @app.get("/metrics", response_class=Response, responses=text | _errors(401, 408, 429, 431))
    def prometheus(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        authorize(request)
        return Response(generate_latest(metrics["registry"]), media_type=CONTENT_TYPE_LATEST)

    from privis.config import LABELS
    from privis.obfuscate.base import available_obfuscators

    label = "(" + "|".join(LABELS) + ")"
    targets_pattern = f"^{label}(,{label})*$"
    method_pattern = "^(" + "|".join(map(re.escape, available_obfuscators())) + ")$"
    binary = _BINARY
    app.state.targets_pattern, app.state.method_pattern = targets_pattern, method_pattern

    @app.post(
        "/v1/anonymize",
        response_class=Response,
        responses={200: {"content": {t: {"schema": binary} for t in ANSWER_TYPES.values()}
                         | {"application/json": {"schema": {"type": "object"}}}},
                   **_errors(400, 401, 408, 413, 415, 422, 429, 431, 503)},
        openapi_extra={"requestBody": {"required": True, "content": {
            t: {"schema": binary} for t in IMAGE_TYPES}}},
    )  # fmt: skip
    async def anonymize(
        request: Request,
        targets: str | None = Query(
            None, max_length=64, pattern=targets_pattern, description="what to hide, e.g. face,plate"
        ),
        method: str | None = Query(None, max_length=64, pattern=method_pattern, description="how to hide it"),
        output: Literal["image", "json"] = Query("image", description="the image, or the regions as JSON"),
    ) -> Response:
        authorize(request)
        _media_type(request, IMAGE_TYPES, "image")
        try:
            anonymizer = await run_in_threadpool(anonymizers.get, targets, method)
        except PrivisError as exc:
            raise HTTPException(422, str(exc)) from None
        async with limited_body(request, budget, limits.max_upload_bytes, "an image") as body:
            if not _within_pixels(body.data, limits.max_pixels):
                raise HTTPException(422, "the body is not an image privis can read (JPEG, PNG, WebP, BMP, TIFF)")
            async with working:
                try:
                    answer = await run_in_threadpool(_anonymize, anonymizer, body, output, limits.max_pixels)
                except ImageTooLargeError as exc:
                    raise HTTPException(413, str(exc)) from None
                except PrivisError as exc:
                    raise HTTPException(422, str(exc)) from None
        content, media_type, regions, seconds = answer
        metrics["seconds"].observe(seconds)
        for label in regions.label.astype(str) if len(regions) else ():
            metrics["regions"].labels(label).inc()
        return Response(content, media_type=media_type, headers={"X-Privis-Regions": str(len(regions))})

    redactors = _Redactors()
    documents = {**{t: "" for t in IMAGE_TYPES}, "application/pdf": ".pdf", "application/dicom": ".dcm"}

    @app.post(
        "/v1/redact-text",
        response_class=Response,
        responses={200: {"content": {t: {"schema": binary} for t in [*ANSWER_TYPES.values(), "application/pdf",
                                                                     "application/dicom"]}},
                   **_errors(400, 401, 408, 413, 415, 422, 429, 431, 503)},
        openapi_extra={"requestBody": {"required": True, "content": {t: {"schema": binary} for t in documents}}},
    )  # fmt: skip
    async def redact_text(
        request: Request,
        text: Literal["auto", "pii", "all"] = Query(
            "auto", description="pii: the personal data found; all: every word (overlays); auto: all in DICOM"
        ),
    ) -> Response:
        """Personal data written in an image, a PDF (every page, as an image-only PDF) or a DICOM file
        (every frame, and its header de-identified) blacked out; answered in the same format."""
        authorize(request)
        kind = _media_type(request, documents, "file")
        redactor = await run_in_threadpool(redactors.get, text)
        async with limited_body(request, budget, limits.max_upload_bytes, "a document") as body:
            if not documents[kind]:
                _within_pixels(body.data, limits.max_pixels)  # an unreadable image fails to decode below: 422
            async with working:
                try:
                    content, media_type, found = await run_in_threadpool(
                        _redact, redactor, body, documents[kind] or None, limits.max_pixels
                    )
                except ImageTooLargeError as exc:
                    raise HTTPException(413, str(exc)) from None
                except PrivisError as exc:
                    raise HTTPException(422, str(exc)) from None
        metrics["regions"].labels("text").inc(found)
        return Response(content, media_type=media_type, headers={"X-Privis-Regions": str(found)})

    if state is not None:
        _jobs(app, Path(state), settings, limits, authorize, metrics)
    _streams(app, streams, settings, state, authorize)
    for router in routers:
        app.include_router(router)
    return app


def stop_app(app: Any) -> None:
    """Stop the app's threads (live streams, the job runner): for tests and embedding; a
    `privis serve` process ends them by exiting."""
    for stream in getattr(app.state, "streams", {}).values():
        stream.stop()
    runner = getattr(app.state, "job_runner", None)
    if runner is not None:
        runner.stop()


MAX_VIEWERS = 8  # MJPEG clients per stream at once (503 beyond them)
TICKET_S = 300  # how long a viewing ticket opens a stream's MJPEG


def _streams(app: Any, specs: Sequence[Any], settings: Settings, state: Any, authorize: Any) -> None:
    """``/v1/streams``: the operator's live sources, as MJPEG and counts. An ``<img>`` cannot send
    a bearer token, so the page asks for a short-lived ticket (an HMAC of the stream and its
    expiry under a key this process draws at start) and puts it in the MJPEG URL."""
    import hashlib
    import hmac
    import secrets

    from fastapi import HTTPException, Request
    from fastapi.responses import StreamingResponse
    from starlette.concurrency import run_in_threadpool

    from privis.server.streams import LiveStream

    live = {spec.name: LiveStream(spec, settings, Path(state) if state is not None else None) for spec in specs}
    for stream in live.values():
        stream.start()
    app.state.streams = live
    key = secrets.token_bytes(32)
    viewers = dict.fromkeys(live, 0)
    lock = threading.Lock()

    def sign(name: str, expires: int) -> str:
        return hmac.new(key, f"{name}|{expires}".encode(), hashlib.sha256).hexdigest()

    def stream_of(name: str) -> Any:
        if name not in live:
            raise HTTPException(404, f"no stream {name!r} (see GET /v1/streams)")
        return live[name]

    @app.get("/v1/streams", responses=_errors(401, 408, 429, 431))
    def list_streams(request: Request) -> dict[str, Any]:
        authorize(request)
        return {"streams": [{"name": n, "state": s.state, "frames": s.frames} for n, s in live.items()]}

    @app.get("/v1/streams/{name}/counts", responses=_errors(401, 404, 408, 429, 431))
    def counts(name: str, request: Request) -> dict[str, Any]:
        authorize(request)
        return stream_of(name).status()

    @app.get("/v1/streams/{name}/ticket", responses=_errors(401, 404, 408, 429, 431))
    def ticket(name: str, request: Request) -> dict[str, Any]:
        authorize(request)
        stream_of(name)
        expires = int(time.time()) + TICKET_S
        value = f"{expires}.{sign(name, expires)}"
        return {"ticket": value, "expires": expires, "url": f"/v1/streams/{name}?ticket={value}"}

    @app.get("/v1/streams/{name}", response_class=StreamingResponse,
             responses={200: {"content": {"multipart/x-mixed-replace": {"schema": {"type": "string"}}}},
                        **_errors(401, 404, 408, 429, 431, 503)})  # fmt: skip
    async def watch(name: str, request: Request, ticket: str | None = None) -> StreamingResponse:
        stream = stream_of(name)
        if ticket is None:
            authorize(request)
        else:
            expires, _, mac = ticket.partition(".")
            live_ticket = expires.isdigit() and int(expires) > time.time()
            if not (live_ticket and hmac.compare_digest(mac, sign(name, int(expires)))):
                raise HTTPException(401, "the viewing ticket is wrong or has expired: ask GET /v1/streams/NAME/ticket")
        with lock:
            if viewers[name] >= MAX_VIEWERS:
                raise HTTPException(503, f"{MAX_VIEWERS} viewers already watch {name!r}", headers={"Retry-After": "10"})
            viewers[name] += 1

        async def parts() -> Any:
            seq = 0
            try:
                while not await request.is_disconnected():
                    new, jpeg = await run_in_threadpool(stream.view.wait, seq, 2.0)
                    if new == seq:
                        if stream.state not in ("starting", "running"):
                            break
                        continue
                    seq = new
                    yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%b\r\n" % (len(jpeg), jpeg)
            finally:
                with lock:
                    viewers[name] -= 1

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame",
                                 headers={"Cache-Control": "no-store"})  # fmt: skip


class _Redactors:
    """One text redactor (OCR, recognizers, black boxes) per `text` mode, built on first use."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, text: str) -> Any:
        from privis.detect import create_detector
        from privis.pipeline import Anonymizer

        with self._lock:
            if text not in self._made:
                detector = create_detector("text-pii", text=text)
                self._made[text] = Anonymizer(targets="text", method="fill", detectors=[detector], color=(0, 0, 0),
                                              shape="box")  # fmt: skip
            return self._made[text]


def _redact(redactor: Any, body: Any, suffix: str | None, max_pixels: int) -> tuple[bytes, str, int]:
    """Redact one upload (worker thread): bytes, media type, regions. A PDF or DICOM file goes
    through a private temporary folder (0700), deleted before the answer leaves."""
    import tempfile

    if suffix is None:
        from privis.media.image import decode_image

        loaded = decode_image(body.data, "the upload", max_pixels=max_pixels)
        pixels, regions = redactor.process(loaded.rgb, loaded.pixels)
        fmt = loaded.format if loaded.format in ANSWER_TYPES else "PNG"
        return _encode(pixels, loaded.mode, fmt), ANSWER_TYPES[fmt], len(regions)
    from privis.media.dicom import anonymize_dicom
    from privis.media.pdf import anonymize_pdf

    with tempfile.TemporaryDirectory(prefix="privis-serve-") as tmp:
        src, dst = Path(tmp) / f"upload{suffix}", Path(tmp) / f"redacted{suffix}"
        src.write_bytes(body.data)
        if suffix == ".pdf":
            found = anonymize_pdf(redactor, src, dst, name="upload.pdf")
            return dst.read_bytes(), "application/pdf", found
        found = anonymize_dicom(redactor, src, dst, name="upload.dcm")
        return dst.read_bytes(), "application/dicom", found


VIDEO_TYPES = {
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/x-matroska": ".mkv", "video/webm": ".webm",
    "video/x-msvideo": ".avi", "image/gif": ".gif", "application/octet-stream": ".mp4",
}  # fmt: skip


def _jobs(app: Any, state: Path, settings: Settings, limits: ServeLimits, authorize: Any, metrics: dict) -> None:
    """``/v1/jobs``: videos queued in SQLite under `state`, one at a time, each result downloaded once."""
    from fastapi import HTTPException, Query, Request
    from fastapi.responses import FileResponse
    from starlette.background import BackgroundTask

    from privis.auditlog import AuditLog
    from privis.media.video import count_frames, video_output_suffix
    from privis.pipeline import Anonymizer
    from privis.server.jobs import JobRunner, JobStore

    store = JobStore(state)
    for line in store.recover():
        log.warning("%s", line)

    def process(job: Any, folder: Path, on_frame: Any) -> None:
        src = folder / f"input{job.suffix}"
        store.update(job.id, frames_total=count_frames(src))
        options = job.options
        # A fresh anonymizer per job: its audit log is the job's own, and models load in a second.
        anonymizer = Anonymizer(options.get("targets"), options.get("method"), settings=settings, kind="video")
        with AuditLog(folder / "audit.jsonl") as audit:
            anonymizer.audit = audit
            anonymizer.video(src, folder / f"output{video_output_suffix(src)}", name=f"job {job.id}",
                             on_frame=on_frame)  # fmt: skip

    runner = JobRunner(store, process)
    runner.start()
    app.state.jobs, app.state.job_runner = store, runner

    def mine(job_id: str, request: Request) -> Any:
        job = store.get(job_id, authorize(request))
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} for this token")
        return job

    def described(job: Any) -> dict[str, Any]:
        base = f"/v1/jobs/{job.id}"
        return {**job.public(), "status_url": base, "result_url": base + "/result", "audit_url": base + "/audit"}

    @app.post("/v1/jobs", status_code=202, responses=_errors(400, 401, 408, 413, 415, 422, 429, 431, 507),
              openapi_extra={"requestBody": {"required": True, "content": {
                  t: {"schema": _BINARY} for t in VIDEO_TYPES}}})  # fmt: skip
    async def submit(
        request: Request,
        targets: str | None = Query(None, max_length=64, pattern=app.state.targets_pattern),
        method: str | None = Query(None, max_length=64, pattern=app.state.method_pattern),
    ) -> dict[str, Any]:
        owner = authorize(request)
        kind = _media_type(request, VIDEO_TYPES, "video")
        job = store.create(owner, VIDEO_TYPES[kind], {"targets": targets, "method": method})
        target = store.folder(job.id) / f"input{job.suffix}"
        size = 0
        try:
            with open(target, "wb") as out:  # to disk, a chunk at a time: a video never sits in memory
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limits.max_video_bytes:
                        raise HTTPException(413, f"the video is over this server's {limits.max_video_bytes >> 20} MB")
                    out.write(chunk)
            if not size:
                raise HTTPException(400, "empty body: expected a video")
        except BaseException:
            store.delete(job.id)
            raise
        if count_frames(target) is None and not _decodes(target):
            store.delete(job.id)
            raise HTTPException(422, "the body is not a video privis can read")
        store.queue(job.id)
        runner.wake.set()
        metrics["jobs"].inc()
        return described(store.get(job.id, owner))

    # One route for both methods, so that a 405 on this path names them both in its Allow header.
    @app.api_route("/v1/jobs/{job_id}", methods=["GET", "DELETE"], responses=_errors(401, 404, 408, 429, 431))
    def status(job_id: str, request: Request) -> dict[str, Any]:
        """GET: the job's state and progress. DELETE: forget the job and delete its files."""
        job = mine(job_id, request)
        if request.method == "DELETE":
            store.delete(job.id)
            return {"deleted": True}
        return described(job)

    @app.get("/v1/jobs/{job_id}/result", response_class=FileResponse, responses=_errors(401, 404, 408, 409, 410, 429,
                                                                                         431))  # fmt: skip
    def result(job_id: str, request: Request) -> Any:
        job = mine(job_id, request)
        if job.state == "downloaded":
            raise HTTPException(410, "the result was downloaded once and deleted")
        if job.state == "failed":
            raise HTTPException(409, f"the job failed: {job.error}")
        if job.state != "done":
            raise HTTPException(409, f"the job is {job.state}; ask again when it is done")
        found = sorted(store.folder(job.id).glob("output.*"))
        if not found:
            raise HTTPException(410, "the result is gone")

        def forget() -> None:  # after the last byte is sent: the video leaves this machine's disk
            for f in store.folder(job.id).glob("output.*"):
                f.unlink(missing_ok=True)
            store.update(job.id, state="downloaded")

        return FileResponse(found[0], media_type="video/mp4", filename=f"anonymized-{job.id}{found[0].suffix}",
                            background=BackgroundTask(forget))  # fmt: skip

    @app.get("/v1/jobs/{job_id}/audit", responses=_errors(401, 404, 408, 410, 429, 431))
    def audit(job_id: str, request: Request) -> Any:
        from fastapi.responses import PlainTextResponse

        job = mine(job_id, request)
        path = store.folder(job.id) / "audit.jsonl"
        if not path.exists():
            raise HTTPException(410, "the audit log is gone with the job")
        return PlainTextResponse(path.read_text(), media_type="application/x-ndjson")


def _decodes(path: Path) -> bool:
    """Whether PyAV can decode one frame of `path`."""
    import av

    try:
        with av.open(str(path)) as c:
            return next(c.decode(video=0), None) is not None
    except Exception:
        return False


_ENDPOINTS = frozenset(["/healthz", "/metrics", "/v1/anonymize", "/v1/redact-text", "/v1/jobs", "/v1/streams"])


_BINARY = {"type": "string", "format": "binary"}  # an upload or an answer of raw bytes, in the schema


def _media_type(request: Any, accepted: Any, what: str) -> str:
    """The request's media type if it is one of `accepted`, else 415."""
    from fastapi import HTTPException

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in accepted:
        raise HTTPException(415, f"send the {what}'s bytes as the body, with one of: {', '.join(accepted)}")
    return str(kind)


def _within_pixels(data: bytes, max_pixels: int) -> bool:
    """Whether `data`'s header names an image size (False: no image format privis reads);
    413 when it is over `max_pixels` or Pillow calls it a decompression bomb, before any
    pixel is decoded."""
    from fastapi import HTTPException

    try:
        size = image_size(data)
    except ImageTooLargeError as exc:
        raise HTTPException(413, str(exc)) from None
    if size is not None and size[0] * size[1] > max_pixels:
        raise HTTPException(413, f"{size[0]}x{size[1]} pixels is over this server's {max_pixels / 1e6:.0f} MP limit")
    return size is not None


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers: ``{"detail": "one line"}``."""
    schema = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    return {code: {"description": HTTPStatus(code).phrase, "content": {"application/json": {"schema": schema}}}
            for code in codes}  # fmt: skip


# The page and the API docs load nothing from elsewhere, and nothing may frame them.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _pages(app: Any) -> None:
    """The web page at ``/`` and the OpenAPI page at ``/docs``, both from files in installed packages."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/ui", StaticFiles(directory=Path(__file__).with_name("static"), html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")

    try:
        import fastapi_offline
    except ImportError:  # the docs page then needs the network for its scripts; the API works all the same
        log.info("fastapi-offline is not installed: /docs is not served")
        return
    assets = Path(fastapi_offline.__file__).with_name("static")
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="privis API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")  # fmt: skip


def _anonymize(anonymizer: Any, body: Any, output: str, max_pixels: int) -> tuple[bytes, str, Any, float]:
    """Decode, anonymize and encode one upload (worker thread): bytes, media type, regions, seconds."""
    import json

    from privis.media.image import decode_image

    start = time.perf_counter()
    loaded = decode_image(body.data, "the upload", max_pixels=max_pixels)
    if output == "json":
        regions = anonymizer.detect(loaded.rgb)
        h, w = loaded.rgb.shape[:2]
        found = [{"label": str(r.label), "box": [round(float(v), 1) for v in r.box],
                  "score": None if r.score is None else round(float(r.score), 4)} for r in regions]  # fmt: skip
        content = json.dumps({"width": w, "height": h, "regions": found}).encode()
        return content, "application/json", regions, time.perf_counter() - start
    pixels, regions = anonymizer.process(loaded.rgb, loaded.pixels)
    fmt = loaded.format if loaded.format in ANSWER_TYPES else "PNG"
    content = _encode(pixels, loaded.mode, fmt)
    return content, ANSWER_TYPES[fmt], regions, time.perf_counter() - start


def _encode(pixels: np.ndarray, mode: str, fmt: str) -> bytes:
    """`pixels` as an image file in memory, encoded as `privis anonymize` writes it: no metadata
    of the upload goes back."""
    from privis.media.image import encode_image

    return encode_image(pixels, "." + fmt.lower(), mode=mode)


def default_state_dir() -> Path:
    """Where the service keeps its database: ``$PRIVIS_STATE``, else ``$XDG_STATE_HOME/privis``."""
    if os.environ.get("PRIVIS_STATE"):
        return Path(os.environ["PRIVIS_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "privis"
