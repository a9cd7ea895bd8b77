"""What a stranger can do without a token: guess passwords, spoof its address, apply for accounts, enumerate
usernames, stall the server with password hashing. Over real HTTP, each client from an address of its own on the
loopback range; the counters are the app's own (memory, or Redis when REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.conftest import served_over_http
from tests.factories import PASSWORD, ok

pytestmark = pytest.mark.integration

API = "/api/v1"
WRONG = "not-the-password"


def loopback() -> str:
    """An address of its own for a test's client: its counters (in a Redis shared with other runs) start at 0."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def documentation_address() -> str:
    return f"2001:db8::{random.getrandbits(48):x}"


@asynccontextmanager
async def served(
    settings: Any, clock: Any, *, trusted_proxies: tuple[str, ...] = (), **auth: Any
) -> AsyncIterator[str]:
    """An app with its own limits on the tests' database, served over HTTP as `diesel serve` serves it."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    app = create_app(
        settings=replace(settings, auth=replace(settings.auth, **auth), trusted_proxies=trusted_proxies), clock=clock
    )
    async with AsyncTestClient(app=app) as client, served_over_http(app, client) as url:
        yield url


@asynccontextmanager
async def client_at(url: str, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as client:
        yield client


async def new_user(world: Any) -> str:
    username = f"victim-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "dispatcher"}
    ok(await world.client.post(f"{API}/users", headers=world.h("admin"), json=body), 201)
    return username


async def login(client: httpx.AsyncClient, username: str, password: str, **headers: str) -> httpx.Response:
    return await client.post(f"{API}/auth/token", json={"username": username, "password": password}, headers=headers)


def limited(response: httpx.Response, code: str) -> int:
    """The Retry-After of a 429 problem with `code` (fails otherwise)."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text
    return int(response.headers["retry-after"])


async def test_a_strangers_wrong_passwords_do_not_lock_the_user_out(world, settings, clock) -> None:
    """Eleven wrong passwords for `dispatcher` used to lock the real dispatcher out for the whole window."""
    username = await new_user(world)
    async with (
        served(settings, clock, login_attempts_per_window=100, login_free_failures=3) as url,
        client_at(url, loopback()) as stranger,
        client_at(url, loopback()) as victim,
    ):
        started = time.monotonic()
        answers = [(await login(stranger, username, f"guess-{n}")).status_code for n in range(12)]
        elapsed = time.monotonic() - started
        # Three free failures, the fourth at once; then one more guess per delay that has run out (1 s, 2 s, 4 s …),
        # however slowly this machine sends the burst.
        assert answers[:4] == [401] * 4 and answers[4] == 429, answers
        assert answers.count(401) - 4 <= math.floor(math.log2(elapsed + 1)), (answers, elapsed)
        # Slowed down, not merely refused: the right password waits too.
        assert limited(await login(stranger, username, PASSWORD), "login_delayed") >= 1
        ok(await login(victim, username, PASSWORD))


async def test_attempts_for_one_username_and_address_are_spaced_exponentially(world, settings, clock) -> None:
    username = await new_user(world)
    async with (
        served(settings, clock, login_attempts_per_window=100, login_free_failures=2) as url,
        client_at(url, loopback()) as guesser,
    ):
        for _ in range(3):  # two free failures, and the third goes at once (the next must wait 1 s)
            assert (await login(guesser, username, WRONG)).status_code == 401
        assert limited(await login(guesser, username, WRONG), "login_delayed") == 1
        assert limited(await login(guesser, username, PASSWORD), "login_delayed") == 1
        await asyncio.sleep(1.1)
        assert (await login(guesser, username, WRONG)).status_code == 401
        assert limited(await login(guesser, username, WRONG), "login_delayed") == 2
        await asyncio.sleep(2.1)
        ok(await login(guesser, username, PASSWORD))
        # A success clears the slate: failures are free again.
        for _ in range(2):
            assert (await login(guesser, username, WRONG)).status_code == 401


async def test_successful_logins_do_not_count_toward_the_address_limit(world, settings, clock) -> None:
    username = await new_user(world)
    async with (
        served(settings, clock, login_attempts_per_window=3, login_free_failures=100) as url,
        client_at(url, loopback()) as office,
    ):
        for _ in range(5):
            ok(await login(office, username, PASSWORD))
        for _ in range(3):  # failures count, for any username
            assert (await login(office, f"nobody-{uuid.uuid4().hex[:6]}", WRONG)).status_code == 401
        assert limited(await login(office, username, PASSWORD), "too_many_login_attempts") >= 1


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(world, settings, clock) -> None:
    """A caller used to pick its own bucket with X-Forwarded-For (uvicorn trusted it from 127.0.0.1)."""
    async with served(settings, clock, login_attempts_per_window=3, trusted_proxies=("10.0.0.0/8",)) as url:
        for peer in ("127.0.0.1", loopback()):
            async with client_at(url, peer) as caller:
                spoofs = [
                    {"X-Forwarded-For": documentation_address()},
                    {"Forwarded": f'for="[{documentation_address()}]"'},
                    {"X-Forwarded-For": f"{documentation_address()}, 10.0.0.1"},
                ]
                answers = [(await login(caller, f"x-{uuid.uuid4().hex[:6]}", WRONG, **h)).status_code for h in spoofs]
                if peer != "127.0.0.1":  # (127.0.0.1 is shared by other tests: its first answers may be 429 already)
                    assert answers == [401, 401, 401]
                spoofed = await login(caller, "anyone", WRONG, **{"X-Forwarded-For": documentation_address()})
                limited(spoofed, "too_many_login_attempts")


async def test_a_trusted_proxy_names_the_client(world, settings, clock) -> None:
    proxy = loopback()
    async with (
        served(settings, clock, login_attempts_per_window=3, trusted_proxies=(f"{proxy}/32",)) as url,
        client_at(url, proxy) as through_proxy,
    ):
        client, neighbour = documentation_address(), documentation_address()
        for _ in range(3):
            response = await login(through_proxy, "anyone", WRONG, **{"X-Forwarded-For": client})
            assert response.status_code == 401
        limited(await login(through_proxy, "anyone", WRONG, **{"X-Forwarded-For": client}), "too_many_login_attempts")
        # What the client itself wrote left of its address does not get it out of its bucket.
        chain = {"X-Forwarded-For": f"{neighbour}, {client}"}
        limited(await login(through_proxy, "anyone", WRONG, **chain), "too_many_login_attempts")
        # Another client behind the same proxy has a bucket of its own (either header).
        assert (await login(through_proxy, "anyone", WRONG, **{"X-Forwarded-For": neighbour})).status_code == 401
        forwarded = {"Forwarded": f'for="[{documentation_address()}]:4711";proto=https'}
        assert (await login(through_proxy, "anyone", WRONG, **forwarded)).status_code == 401


def application(username: str) -> dict[str, Any]:
    return {
        "company_name": "杭州申通物流有限公司",
        "tax_id": "91330100MA2XXXXX9",
        "contact_name": "赵敏",
        "contact_phone": "13700000000",
        "username": username,
        "password": "applicant-password-1",
        "site": {
            "name": "萧山堆场",
            "address": "Xiaoshan, Hangzhou",
            "lat": 30.18,
            "lon": 120.26,
            "tank_capacity_litres": 30_000,
            "receiving_hours": [{"days": [1, 2, 3, 4, 5], "open": "07:00", "close": "19:00"}],
        },
    }


async def test_applications_are_limited_per_client_address(world, settings, clock) -> None:
    async with (
        served(settings, clock, applications_per_window=2) as url,
        client_at(url, loopback()) as applicant,
        client_at(url, loopback()) as another,
    ):
        for _ in range(2):
            ok(await applicant.post(f"{API}/applications", json=application(f"a-{uuid.uuid4().hex[:8]}")), 201)
        third = await applicant.post(f"{API}/applications", json=application(f"a-{uuid.uuid4().hex[:8]}"))
        assert limited(third, "too_many_applications") > 1000  # the window is an hour
        ok(await another.post(f"{API}/applications", json=application(f"a-{uuid.uuid4().hex[:8]}")), 201)


async def test_anonymous_applicants_cannot_tell_whether_a_username_exists(world) -> None:
    """`POST /applications` answered 409 `username_taken` for staff usernames: a list of logins to guess."""
    answers = {}
    for name in (world.usernames["admin"], f"free-{uuid.uuid4().hex[:8]}"):
        response = await world.client.post(f"{API}/applications", json=application(name))
        assert response.status_code == 201, response.text
        answers[name] = response
    taken, free = answers.values()
    assert set(taken.json()) == set(free.json()) and taken.headers.keys() == free.headers.keys()
    assert taken.json()["status"] == free.json()["status"] == "pending"
    # The admin hears of the clash when approving, and rejects it with a reason.
    approve = await world.client.post(
        f"{API}/applications/{taken.json()['id']}/approve", headers=world.h("admin"), json={"credit_limit_minor": 1}
    )
    assert approve.status_code == 409 and approve.json()["code"] == "username_taken"
    ok(
        await world.client.post(
            f"{API}/applications/{taken.json()['id']}/reject",
            headers=world.h("admin"),
            json={"reason": "this username is taken: apply again with another"},
        )
    )
    ok(
        await world.client.post(
            f"{API}/applications/{free.json()['id']}/approve", headers=world.h("admin"), json={"credit_limit_minor": 1}
        )
    )


async def test_health_stays_fast_while_applications_hash_passwords(world, racer) -> None:
    """24 applications at once took /health from 3 ms to 72 ms median (1.1 s max) while argon2 ran on the loop."""
    from core.auth import hash_password

    started = time.perf_counter()
    hash_password("one-hash-to-time")
    one_hash_s = time.perf_counter() - started
    latencies: list[float] = []
    applying = [
        asyncio.ensure_future(racer.post(f"{API}/applications", json=application(f"h-{uuid.uuid4().hex[:8]}")))
        for _ in range(12)
    ]
    while not all(task.done() for task in applying) or len(latencies) < 5:
        sent = time.perf_counter()
        assert (await racer.get("/health")).status_code == 200
        latencies.append(time.perf_counter() - sent)
        await asyncio.sleep(0.01)
    assert all(task.result().status_code == 201 for task in applying)
    # On the event loop, /health waited for every queued hash (12 of them); off it, for none.
    slowest, median = max(latencies), statistics.median(latencies)
    assert slowest < 3 * one_hash_s, (
        f"/health took up to {slowest * 1000:.0f} ms (median {median * 1000:.0f} ms); one hash takes "
        f"{one_hash_s * 1000:.0f} ms"
    )


async def test_429_is_documented_wherever_a_rate_limit_answers(client) -> None:
    """A client generated from the document got `None` for the login's 429."""
    document = ok(await client.get("/schema/openapi.json"))
    limited_operations = [
        ("/api/v1/auth/token", "post"),
        ("/api/v1/applications", "post"),
        ("/api/v1/me/password", "post"),
    ]
    for path, method in limited_operations:
        answer = document["paths"][path][method]["responses"].get("429")
        assert answer is not None, f"{method.upper()} {path} does not document 429"
        schema = answer["content"]["application/problem+json"]["schema"]
        assert schema["$ref"].endswith("/Problem"), schema
    assert "429" not in document["paths"]["/api/v1/orders"]["get"]["responses"]
