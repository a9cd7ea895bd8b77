"""Database kernel: the declarative Base with a naming convention, column types, engines and sessions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import JSON, BigInteger, DateTime, MetaData, event
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from core.ids import new_id
from core.settings import private_dir

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no offset, so it is restored on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # 64-bit integers everywhere: money in fen passes 2^31 at about 21 million CNY.
    type_annotation_map = {int: BigInteger(), datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys and write transactions that take the lock up front.

    SQLite has one writer; `BEGIN IMMEDIATE` makes concurrent writers queue on the busy timeout instead of
    failing when a read transaction later tries to write. That is what keeps races safe on the embedded default.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def prepare_sqlite_file(url: str) -> None:
    """Create a SQLite database file readable by its owner only (its folder 0700 when new) before SQLite opens
    it: SQLite creates a missing file with the umask's mode (often world-readable), and gives its -wal and -shm
    files the database file's mode."""
    database = make_url(url).database
    if not url.startswith("sqlite") or not database or database == ":memory:":
        return
    path = Path(database)
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is an empty database


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False, null_pool: bool = False) -> AsyncEngine:
    prepare_sqlite_file(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if null_pool:
        kwargs["poolclass"] = NullPool
    elif not url.startswith("sqlite"):
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _configure_sqlite(engine)
    elif not null_pool:
        event.listen(engine.sync_engine.pool, "checkout", _replace_closed_connection)
    return engine


def _replace_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """After a database restart every pooled connection is dead, and asyncpg's errors for them do not all
    invalidate the pool.  asyncpg notices the server closing a socket on its own (the event loop reads it), so
    a look at the connection on checkout finds them without a round trip; the pool then connects anew.
    (SQLAlchemy's pool_pre_ping does the same with BEGIN, a query and ROLLBACK on every checkout: 8 % of an
    order's CPU in `make bench-api`.)"""
    is_closed = getattr(record.driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the database closed this pooled connection")


# A plain asyncpg pool beside an engine's own, for a hot path that sends one hand-written statement: checking a
# connection out of SQLAlchemy's pool and wrapping it in a session cost more CPU than the statement itself.
_raw_pools: weakref.WeakKeyDictionary[Engine, asyncio.Task[asyncpg.Pool]] = weakref.WeakKeyDictionary()
# How long a statement of that pool waits for a row lock before it fails (asyncpg.LockNotAvailableError): the
# statement commits on its own, outside any unit of work, so a lock held by a transaction that is itself waiting
# for it would otherwise be waited for for ever. Credit decisions hold an account's lock for milliseconds.
# A server setting of the pool's connections: sent once when connecting, no round trip per statement.
RAW_LOCK_TIMEOUT = timedelta(seconds=3)


async def raw_pool(session: AsyncSession) -> asyncpg.Pool:
    """The asyncpg pool of the (PostgreSQL) database this session talks to, made on first use, as large as the
    engine's pool, its statements waiting at most `RAW_LOCK_TIMEOUT` for a lock; closed by `close_raw_pool`."""
    bind = session.sync_session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    task = _raw_pools.get(engine)
    if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        size = engine.pool.size() if hasattr(engine.pool, "size") else 10
        lock_timeout = f"{RAW_LOCK_TIMEOUT // timedelta(milliseconds=1)}ms"
        task = _raw_pools[engine] = asyncio.ensure_future(
            asyncpg.create_pool(dsn, min_size=1, max_size=size, server_settings={"lock_timeout": lock_timeout})
        )
    return await asyncio.shield(task)


async def close_raw_pool(engine: AsyncEngine) -> None:
    task = _raw_pools.pop(engine.sync_engine, None)
    if task is not None and task.done() and not task.cancelled() and task.exception() is None:
        await task.result().close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


AfterCommit = Callable[[], Any]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the unit of work has committed (never if it rolls back): e.g. enqueue a task."""
    session.info.setdefault("after_commit", []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        result = callback()
        if hasattr(result, "__await__"):
            await result


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on any error, then run the after-commit callbacks."""
    async with factory() as session:
        try:
            yield session
            # Nothing begun, nothing to commit (SQLAlchemy's commit would begin and end an empty transaction):
            # e.g. an order written through its own connection (orders/repository.py).
            if session.in_transaction():
                await session.commit()
        except BaseException:
            await session.rollback()
            raise
    await run_after_commit(session)


def utcnow() -> datetime:
    return datetime.now(UTC)
