"""Schemathesis against the served OpenAPI document: generated requests for every operation, as an admin and as
a customer; no 500s, every answer matches its documented status, content type and schema, and every operation
that declares the bearer token refuses the same request without it or with an invalid one (`ignored_auth`).

The PostgreSQL tier (CI runs it with DATABASE_URL set) tries more examples per operation than the SQLite tier."""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import postgres_url
from tests.factories import PASSWORD, ok

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory, database_url):  # type: ignore[no-untyped-def]
    from tests.system.conftest import Stack

    stack = Stack(
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL"),
        data_dir=tmp_path_factory.mktemp("schemathesis"),
        SECRET_KEY=os.environ["SECRET_KEY"],
        LOGIN_ATTEMPTS_PER_WINDOW="100000",
    )
    stack.start(worker=False)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
async def tokens(world, served):  # type: ignore[no-untyped-def]
    """Logins of their own: generated requests may change what a token may do (never the other tests' tokens)."""

    def login(username: str) -> str:
        body = {"username": username, "password": PASSWORD}
        return str(ok(httpx.post(f"{served.base}/api/v1/auth/token", json=body))["access_token"])

    customer = await world.new_customer()
    # Generated admin requests replace the one shared tier table: the other tests get it back as it was.
    tiers = ok(await world.client.get("/api/v1/settings/tiers", headers=world.h("admin")))
    yield {"admin": login(world.usernames["admin"]), "customer": login(customer.username)}
    kept = [{"from_tonnes": b["from_tonnes"], "discount_bps": b["discount_bps"]} for b in tiers]
    ok(await world.client.put("/api/v1/settings/tiers", headers=world.h("admin"), json=kept))


def _document() -> dict:  # type: ignore[type-arg]
    """The same document the app serves at /schema/openapi.json, built without a server."""
    import json

    from litestar.serialization import encode_json

    from api.app import create_app

    return json.loads(encode_json(create_app().openapi_schema.to_schema()))


# Logout would end the token the rest of the run uses (tests/integration/test_sessions.py covers it).
schema = schemathesis.openapi.from_dict(_document()).exclude(path="/api/v1/auth/logout")
# No 500s, every answer documented (status, content type, body schema), and no operation that needs the token
# answers without it.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]
EXAMPLES = 25 if postgres_url() else 8


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_as_admin(case, tokens, served) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(base_url=served.base, headers={"Authorization": f"Bearer {tokens['admin']}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_as_customer(case, tokens, served) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(
        base_url=served.base, headers={"Authorization": f"Bearer {tokens['customer']}"}, checks=CHECKS
    )
