"""`privis serve` answers every kind of hostile request with a 4xx and keeps serving (issue 20).

Two rounds of each kind in `tests/hostile_requests.py`; `benchmarks/serve.py` sends 1000
and measures the server's memory as it goes.
"""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")

from privis.server.app import ServeLimits, create_app  # noqa: E402
from privis.server.http import running  # noqa: E402
from privis.server.tokens import TokenStore  # noqa: E402
from tests.hostile_requests import hostile, png, post, send  # noqa: E402

KINDS = 27  # requests in one round of `hostile`


def test_every_hostile_request_gets_a_4xx_and_the_server_goes_on():
    store = TokenStore(":memory:")
    token, revoked = store.create("good"), store.create("gone")
    store.revoke("gone")
    with running(create_app(tokens=store, limits=ServeLimits(timeout_s=3))) as url:
        port = int(url.rsplit(":", 1)[1])
        requests = hostile(token, revoked)
        batch = [next(requests) for _ in range(2 * KINDS)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda r: send(port, r), batch))
        by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for request, status in zip(batch, answers, strict=True):
            by_kind[request.kind][status] += 1
        wrong = {k: dict(c) for k, c in by_kind.items() if any(not 400 <= s < 500 for s in c)}
        assert not wrong, wrong
        assert len(by_kind) == 13  # every kind was sent
        assert post(port, token, png(), timeout=60)[0] == 200


def test_sixteen_clients_at_once_are_all_answered_in_bounded_time():
    store = TokenStore(":memory:")
    token = store.create("load")
    with running(create_app(tokens=store, limits=ServeLimits(rate_per_minute=0))) as url:
        port = int(url.rsplit(":", 1)[1])
        body = png(320, 240)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: post(port, token, body), range(48)))
    assert [s for s, _ in answers] == [200] * 48
    assert max(t for _, t in answers) < 60  # every client is served well inside the request time limit
