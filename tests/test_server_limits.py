"""Issue 23 item 5: the encrypted server holds memory to a budget and each client's keys to that client.

Raw sockets make the timing deterministic: an upload held half-sent occupies the budget
until its client hangs up, and 127.0.0.2 / 127.0.0.3 are other clients on one machine.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time

import pytest

ts = pytest.importorskip("tenseal")
pytest.importorskip("torch")
pytest.importorskip("fastapi")

from privis.learn.models import create_model  # noqa: E402
from privis.server.encrypted import PREFIX, create_app  # noqa: E402
from privis.server.http import running  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return create_model("he-cnn", (1, 28, 28), 10)


@pytest.fixture(scope="module")
def public_context() -> bytes:
    """A small public CKKS context: enough to open a session (this test never infers)."""
    context = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 60])
    context.make_context_public()
    return context.serialize()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _ask(url: str, method: str, path: str, body: bytes | None = None, source: str = "127.0.0.1"):
    """(status, JSON or bytes, headers) of one request sent from the loopback address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", _port(url), timeout=60, source_address=(source, 0))
    try:
        conn.request(method, PREFIX + path, body=body, headers={"Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        data = response.read()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return response.status, data, dict(response.headers)
    finally:
        conn.close()


def _start_upload(url: str, declared: int, sent: int) -> socket.socket:
    """A session upload that declares `declared` bytes, sends `sent` of them and waits."""
    sock = socket.create_connection(("127.0.0.1", _port(url)), timeout=30)
    sock.sendall(f"POST {PREFIX}/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                 f"Content-Length: {declared}\r\n\r\n".encode() + b"\0" * sent)  # fmt: skip
    return sock


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_uploads_beyond_the_byte_budget_are_refused_503_and_a_hang_up_frees_them(model):
    app = create_app(model, max_in_flight=4 << 20)
    errors = _Errors()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn", "privis", "")]
    with running(app) as url:
        for logger in loggers:  # after uvicorn has configured its loggers, which drops earlier handlers
            logger.addHandler(errors)
        try:
            held = _start_upload(url, declared=3 << 20, sent=64 << 10)  # holds 3 of the 4 MiB
            assert _wait_for(lambda: app.state.budget.in_flight == 3 << 20)
            status, body, headers = _ask(url, "POST", "/sessions", b"\0" * (2 << 20))
            assert status == 503 and "in flight" in body["detail"]
            assert headers.get("retry-after") == "5"
            status, _, _ = _ask(url, "POST", "/sessions", b"\0" * (512 << 10))  # fits beside it: read, then refused
            assert status == 400
            held.close()  # hang up mid-upload
            assert _wait_for(lambda: app.state.budget.in_flight == 0)
            status, body, _ = _ask(url, "POST", "/sessions", b"\0" * (2 << 20))
            assert status == 400, body  # admitted now, and refused only as not a context
        finally:
            for logger in loggers:
                logger.removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]  # no traceback for a hang-up


def test_an_oversized_declared_upload_is_refused_before_it_is_read(model):
    with running(create_app(model)) as url:
        sock = _start_upload(url, declared=(512 << 20) + 1, sent=0)
        sock.settimeout(10)
        answer = sock.recv(4096).decode("latin-1")
        sock.close()
    assert answer.startswith("HTTP/1.1 413")


def test_sessions_belong_to_the_client_that_opened_them(model, public_context):
    app = create_app(model, max_sessions=2, max_per_client=1, idle_s=3600)
    with running(app) as url:
        status, body, _ = _ask(url, "POST", "/sessions", public_context, source="127.0.0.1")
        assert status == 200, body
        alice = body["session"]
        status, body, _ = _ask(url, "POST", "/sessions", public_context, source="127.0.0.2")
        assert status == 200, body
        bob_first = body["session"]
        status, body, _ = _ask(url, "POST", "/sessions", public_context, source="127.0.0.2")
        assert status == 200, body  # replaces Bob's own first session, not Alice's
        bob = body["session"]

        # Bob cannot use, close or see Alice's session; his first one is gone.
        assert _ask(url, "POST", f"/sessions/{alice}/infer", b"x", source="127.0.0.2")[0] == 404
        assert _ask(url, "DELETE", f"/sessions/{alice}", source="127.0.0.2")[1] == {"closed": False}
        assert _ask(url, "POST", f"/sessions/{bob_first}/infer", b"x", source="127.0.0.2")[0] == 404
        # Alice's is alive: her garbage ciphertext is read and refused as such, not as unknown.
        status, body, _ = _ask(url, "POST", f"/sessions/{alice}/infer", b"x", source="127.0.0.1")
        assert status == 400 and "ciphertext" in body["detail"]

        # A third client finds every slot holding another's live keys: told to wait, nothing dropped.
        status, body, headers = _ask(url, "POST", "/sessions", public_context, source="127.0.0.3")
        assert status == 503 and "other clients" in body["detail"] and headers.get("retry-after") == "60"
        assert _ask(url, "POST", f"/sessions/{bob}/infer", b"x", source="127.0.0.2")[0] == 400
        assert _ask(url, "DELETE", f"/sessions/{alice}", source="127.0.0.1")[1] == {"closed": True}
        assert _ask(url, "POST", "/sessions", public_context, source="127.0.0.3")[0] == 200


def test_an_idle_session_gives_its_slot_to_another_client(model, public_context):
    app = create_app(model, max_sessions=1, max_per_client=1, idle_s=0.3)
    with running(app) as url:
        status, body, _ = _ask(url, "POST", "/sessions", public_context, source="127.0.0.1")
        assert status == 200
        assert _ask(url, "POST", "/sessions", public_context, source="127.0.0.2")[0] == 503
        time.sleep(0.5)
        assert _ask(url, "POST", "/sessions", public_context, source="127.0.0.2")[0] == 200
        assert _ask(url, "POST", f"/sessions/{body['session']}/infer", b"x", source="127.0.0.1")[0] == 404


def _bodies_alive(size: int) -> list[str]:
    """Where live Python objects still refer to a bytes object of `size` (frames, containers)."""
    import gc

    places = []
    for obj in gc.get_objects():
        try:
            values = obj.f_locals.values() if type(obj).__name__ == "frame" else (
                obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ())  # fmt: skip
            if any(isinstance(v, bytes) and len(v) == size for v in values):
                places.append(getattr(getattr(obj, "f_code", None), "co_name", type(obj).__name__))
        except Exception:  # noqa: BLE001, S112 - some objects refuse introspection
            continue
    return places


def test_a_refused_upload_is_not_kept_alive_by_its_traceback_or_worker_thread(model):
    """Exception chains and idle worker threads once held every refused 300 MB upload until gc ran."""
    import gc

    size = (3 << 20) + 17
    gc.collect()
    gc.disable()  # cycles stay: only references that are really gone count as freed
    try:
        with running(create_app(model)) as url:
            for _ in range(3):
                assert _ask(url, "POST", "/sessions", b"\1" * size)[0] == 400
            time.sleep(0.2)
            assert _bodies_alive(size) == []
    finally:
        gc.enable()
