"""Tokens that can be ended: logout, deactivation, a role change and a new password end tokens on the next
request, in this server process and in another one on the same database (api/sessions.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import postgres_url
from tests.factories import PASSWORD, bearer, ok

pytestmark = pytest.mark.integration

API = "/api/v1"
NEW_PASSWORD = "another-password-2"


async def new_user(world: Any, role: str) -> tuple[str, str]:
    """A staff user of `role`: its id and username."""
    username = f"{role[:4]}-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": role}
    user = ok(await world.client.post(f"{API}/users", headers=world.h("admin"), json=body), 201)
    return user["id"], username


async def logout(client: Any, headers: dict[str, str]) -> None:
    response = await client.post(f"{API}/auth/logout", headers=headers)
    assert response.status_code == 204, response.text


def refused(response: Any) -> bool:
    return response.status_code == 401 and response.json()["code"] == "session_ended"


async def test_logout_ends_that_token_only_and_may_be_repeated(world) -> None:
    _, username = await new_user(world, "dispatcher")
    first, second = bearer(await world.login(username)), bearer(await world.login(username))
    ok(await world.client.get(f"{API}/customers", headers=first))  # now remembered by the process
    assert (await world.client.post(f"{API}/auth/logout", headers=first)).status_code == 204
    assert refused(await world.client.get(f"{API}/customers", headers=first))
    assert refused(await world.client.get(f"{API}/me", headers=first))
    ok(await world.client.get(f"{API}/customers", headers=second))
    again = await world.client.post(f"{API}/auth/logout", headers=first)
    assert again.status_code == 204, again.text  # idempotent: the session stays ended
    assert refused(await world.client.get(f"{API}/me", headers=first))


async def test_a_disabled_user_loses_its_tokens_at_once_and_cannot_log_in(world) -> None:
    customer = await world.new_customer()
    ok(await customer.order(), 201)
    ok(await world.client.get(f"{API}/orders", headers=customer.h))
    me = ok(await world.client.get(f"{API}/me", headers=customer.h))
    url = f"{API}/users/{me['user']['id']}"
    changed = ok(await world.client.put(url, headers=world.h("admin"), json={"is_active": False}))
    assert changed["is_active"] is False
    assert refused(await world.client.get(f"{API}/orders", headers=customer.h))
    assert refused(await customer.order())
    login = await world.client.post(f"{API}/auth/token", json={"username": customer.username, "password": PASSWORD})
    assert login.status_code == 401 and login.json()["code"] == "user_disabled"
    # Enabling the user again does not bring its old tokens back.
    ok(await world.client.put(url, headers=world.h("admin"), json={"is_active": True}))
    assert refused(await world.client.get(f"{API}/orders", headers=customer.h))
    ok(await world.client.get(f"{API}/orders", headers=bearer(await world.login(customer.username))))


async def test_a_new_role_ends_the_tokens_of_the_old_one(world) -> None:
    user_id, username = await new_user(world, "dispatcher")
    dispatcher = bearer(await world.login(username))
    ok(await world.client.get(f"{API}/customers", headers=dispatcher))
    changed = ok(await world.client.put(f"{API}/users/{user_id}", headers=world.h("admin"), json={"role": "driver"}))
    assert changed["role"] == "driver"
    assert refused(await world.client.get(f"{API}/customers", headers=dispatcher))
    driver = bearer(await world.login(username))
    assert (await world.client.get(f"{API}/customers", headers=driver)).status_code == 403
    # Name and phone change nothing about the logins.
    ok(await world.client.put(f"{API}/users/{user_id}", headers=world.h("admin"), json={"display_name": "Li Wei"}))
    ok(await world.client.get(f"{API}/me", headers=driver))


async def test_staff_cannot_become_customers_nor_customers_staff(world) -> None:
    customer = await world.new_customer()
    me = ok(await world.client.get(f"{API}/me", headers=customer.h))
    response = await world.client.put(
        f"{API}/users/{me['user']['id']}", headers=world.h("admin"), json={"role": "dispatcher"}
    )
    assert response.status_code == 422 and response.json()["code"] == "role_change_not_allowed"
    ok(await world.client.get(f"{API}/me", headers=customer.h))  # refused changes end nothing


async def test_a_new_password_ends_the_other_logins_and_keeps_this_one(world) -> None:
    _, username = await new_user(world, "rack_operator")
    this, other = bearer(await world.login(username)), bearer(await world.login(username))
    ok(await world.client.get(f"{API}/me", headers=other))
    url = f"{API}/me/password"
    wrong = await world.client.post(
        url, headers=this, json={"current_password": "wrong-password", "new_password": NEW_PASSWORD}
    )
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password"
    short = await world.client.post(url, headers=this, json={"current_password": PASSWORD, "new_password": "short-9ch"})
    assert short.status_code == 400 and short.json()["code"] == "validation_error"
    ok(await world.client.get(f"{API}/me", headers=other))  # refused changes end nothing
    changed = await world.client.post(
        url, headers=this, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204, changed.text
    ok(await world.client.get(f"{API}/me", headers=this))
    assert refused(await world.client.get(f"{API}/me", headers=other))
    old = await world.client.post(f"{API}/auth/token", json={"username": username, "password": PASSWORD})
    assert old.status_code == 401
    await world.login(username, NEW_PASSWORD)


async def test_head_is_authenticated_like_get(world) -> None:
    """HEAD went past authentication (Litestar's default) to a 405 that listed the route's methods to anyone."""
    _, username = await new_user(world, "dispatcher")
    token = bearer(await world.login(username))
    anonymous = await world.client.head(f"{API}/orders")
    assert anonymous.status_code == 401 and anonymous.content == b""
    allowed = await world.client.head(f"{API}/orders", headers=token)
    get = await world.client.get(f"{API}/orders", headers=token)
    assert allowed.status_code == get.status_code == 200 and allowed.content == b""
    assert allowed.headers["content-type"] == get.headers["content-type"]
    assert (await world.client.head(f"{API}/customers", headers=world.h("driver"))).status_code == 403
    await logout(world.client, token)
    assert (await world.client.head(f"{API}/orders", headers=token)).status_code == 401
    assert (await world.client.head("/health")).status_code == 200


async def test_users_are_listed_in_pages(world) -> None:
    for _ in range(3):
        await new_user(world, "driver")
    first = ok(await world.client.get(f"{API}/users?limit=2", headers=world.h("admin")))
    assert set(first) == {"items", "total", "limit", "offset"} and len(first["items"]) == 2
    assert first["total"] >= 7 and first["limit"] == 2 and first["offset"] == 0
    second = ok(await world.client.get(f"{API}/users?limit=2&offset=2", headers=world.h("admin")))
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second["items"]}
    for query in ("limit=501", "limit=0", "offset=-1", f"offset={10**9 + 1}"):
        response = await world.client.get(f"{API}/users?{query}", headers=world.h("admin"))
        assert response.status_code == 400, (query, response.text)


async def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(app) -> None:
    """Run against the real service in a transaction that sees every other admin disabled, then rolled back."""
    import sqlalchemy as sa

    from core.auth import Principal, Role
    from core.db import create_engine, session_factory
    from core.errors import Conflict
    from core.models import User
    from orders import accounts, users

    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with session_factory(engine)() as session:
            now = app.state.clock.now()
            admin = await accounts.create_user(
                session, username=f"last-{uuid.uuid4().hex[:8]}", password=PASSWORD, role=Role.ADMIN, now=now
            )
            other = await accounts.create_user(
                session, username=f"other-{uuid.uuid4().hex[:8]}", password=PASSWORD, role=Role.ADMIN, now=now
            )
            await session.execute(
                sa.update(User)
                .where(User.role == "admin", User.id.not_in([admin.id, other.id]))
                .values(is_active=False)
            )
            actor = Principal(id=admin.id, username=admin.username, role=Role.ADMIN)
            await users.update_user(session, user_id=other.id, actor=actor, now=now, is_active=False)  # one is left
            for change in ({"is_active": False}, {"role": Role.DISPATCHER}):
                with pytest.raises(Conflict) as refused_change:
                    await users.update_user(session, user_id=admin.id, actor=actor, now=now, **change)  # type: ignore[arg-type]
                assert refused_change.value.code == "last_admin"
            await session.rollback()
    finally:
        await engine.dispose()


# --- two server processes on one PostgreSQL database ---------------------------------------------------------

needs_postgres = pytest.mark.skipif(
    postgres_url() is None, reason="SQLite serves from one process; two processes share PostgreSQL"
)


@pytest.fixture
async def second_instance(settings, clock) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    """Another app on the same database, with its own event loop, cache and listening connection: what a second
    `diesel serve` worker process is."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    other = create_app(settings=settings, clock=clock)
    async with AsyncTestClient(app=other, base_url="http://other.local") as client:
        guard = other.state.session_guard
        deadline = time.monotonic() + 10
        while not guard.trusted:  # its listener connects at start-up
            assert time.monotonic() < deadline, "the second instance never listened"
            await asyncio.sleep(0.05)
        yield client


@needs_postgres
async def test_revocations_through_one_process_reach_the_other_on_the_next_request(world, second_instance) -> None:
    other = second_instance
    _, username = await new_user(world, "dispatcher")
    token = bearer(await world.login(username))
    for client in (world.client, other):
        ok(await client.get(f"{API}/customers", headers=token))  # remembered by both
    await logout(world.client, token)
    assert refused(await other.get(f"{API}/customers", headers=token))

    user_id, username = await new_user(world, "dispatcher")
    token = bearer(await world.login(username))
    ok(await world.client.get(f"{API}/customers", headers=token))
    ok(await other.get(f"{API}/customers", headers=token))
    # This time the other process ends it (an admin's request lands there) and the first one must know.
    ok(await other.put(f"{API}/users/{user_id}", headers=world.h("admin"), json={"role": "driver"}))
    assert refused(await world.client.get(f"{API}/customers", headers=token))


@needs_postgres
async def test_while_its_channel_is_down_a_process_reads_the_database(world, second_instance, monkeypatch) -> None:
    """A message sent while a process was not listening is lost: that process must not trust what it remembers."""
    import sqlalchemy as sa

    import api.sessions
    from core.db import create_engine

    other = second_instance
    guard = other.app.state.session_guard  # type: ignore[attr-defined]
    _, username = await new_user(world, "dispatcher")
    token = bearer(await world.login(username))
    ok(await other.get(f"{API}/customers", headers=token))  # remembered while the channel is up
    monkeypatch.setattr(api.sessions, "RECONNECT_S", 60.0)  # stays down for the rest of the test
    pid = guard.listener.connection.get_server_pid()
    engine = create_engine(world.client.app.state.settings.db.url, null_pool=True)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await engine.dispose()
    deadline = time.monotonic() + 5
    while guard.trusted:
        assert time.monotonic() < deadline, "the lost connection went unnoticed"
        await asyncio.sleep(0.02)
    await logout(world.client, token)  # its message reaches nobody there
    assert refused(await other.get(f"{API}/customers", headers=token))
    assert not guard.trusted
