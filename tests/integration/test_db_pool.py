"""Pooled PostgreSQL connections that the server closed (a restart, an administrator, a failover) are replaced on
checkout, without a round trip: no request after the event sees a dead connection. The server side is real:
`pg_terminate_backend` closes the pool's connections as a restart would."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from core.db import create_engine
from core.settings import async_database_url
from tests.conftest import postgres_url

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
POOL = 4


async def _fill_pool_and_terminate(engine: sa.ext.asyncio.AsyncEngine) -> None:
    connections = [await engine.connect() for _ in range(POOL)]
    pids = [await c.scalar(sa.text("select pg_backend_pid()")) for c in connections]
    for c in connections:
        await c.close()  # back to the pool, alive
    async with create_engine(async_database_url(postgres_url() or ""), null_pool=True).connect() as admin:
        killed = await admin.scalar(
            sa.text("select count(pg_terminate_backend(pid)) from unnest(cast(:p as int[])) pid"), {"p": pids}
        )
    assert killed == POOL
    await asyncio.sleep(0.3)  # the event loop reads the servers' goodbyes


async def _queries_that_fail(engine: sa.ext.asyncio.AsyncEngine) -> int:
    failed = 0
    for _ in range(2 * POOL):
        try:
            async with engine.connect() as connection:
                assert await connection.scalar(sa.text("select 1")) == 1
        except sa.exc.DBAPIError:
            failed += 1
    return failed


async def test_connections_the_server_closed_are_replaced_on_checkout() -> None:
    if postgres_url() is None:
        pytest.skip("runs against PostgreSQL (DATABASE_URL)")
    engine = create_engine(async_database_url(postgres_url() or ""), pool_size=POOL)
    try:
        await _fill_pool_and_terminate(engine)
        assert await _queries_that_fail(engine) == 0
    finally:
        await engine.dispose()


async def test_without_the_checkout_look_a_request_sees_a_dead_connection() -> None:
    """The control: a plain pool hands out what the server closed, so the test above can fail."""
    if postgres_url() is None:
        pytest.skip("runs against PostgreSQL (DATABASE_URL)")
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(async_database_url(postgres_url() or ""), pool_size=POOL, max_overflow=POOL)
    try:
        await _fill_pool_and_terminate(engine)
        assert await _queries_that_fail(engine) >= 1
    finally:
        await engine.dispose()


async def test_the_raw_pool_of_the_order_path_replaces_closed_connections_too() -> None:
    """`core.db.raw_pool` (one statement per order) beside the engine: the same event, the same outcome."""
    if postgres_url() is None:
        pytest.skip("runs against PostgreSQL (DATABASE_URL)")
    from core.db import close_raw_pool, raw_pool, session_factory

    engine = create_engine(async_database_url(postgres_url() or ""), pool_size=POOL)
    try:
        async with session_factory(engine)() as session:
            pool = await raw_pool(session)
            assert await raw_pool(session) is pool  # one pool per engine
        held = [await pool.acquire() for _ in range(POOL)]
        pids = [await c.fetchval("select pg_backend_pid()") for c in held]
        for c in held:
            await pool.release(c)
        async with create_engine(async_database_url(postgres_url() or ""), null_pool=True).connect() as admin:
            killed = await admin.scalar(
                sa.text("select count(pg_terminate_backend(pid)) from unnest(cast(:p as int[])) pid"), {"p": pids}
            )
        assert killed == POOL
        await asyncio.sleep(0.3)
        answers = []
        for _ in range(2 * POOL):
            async with pool.acquire() as connection:
                answers.append(await connection.fetchval("select 1"))
        assert answers == [1] * (2 * POOL)
    finally:
        await close_raw_pool(engine)
        await engine.dispose()
