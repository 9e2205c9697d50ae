"""schemathesis against `privis serve`'s OpenAPI schema: generated requests to every operation,
checked for server errors and for answers the schema does not describe (issue 20).

One check is left out: "schema-valid data is accepted". An image body is ``format: binary``
in the schema, so any bytes are schema-valid, but only bytes that decode as an image can be
anonymized; the others are answered 422, which the schema says.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from privis.server.app import ServeLimits, create_app, stop_app  # noqa: E402
from privis.server.tokens import TokenStore  # noqa: E402

STORE = TokenStore(":memory:")
TOKEN = STORE.create("schemathesis")
STATE = tempfile.mkdtemp(prefix="privis-schema-")
APP = create_app(tokens=STORE, limits=ServeLimits(rate_per_minute=0), state=STATE)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _stop_the_app():
    yield
    stop_app(APP)
    shutil.rmtree(STATE, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_schema_says(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[positive_data_acceptance])
