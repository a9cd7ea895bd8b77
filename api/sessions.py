"""Every request checks that its token's login session is still open, without a database read per request.

A bearer token names its login session (`sid`, a row of `auth_sessions`). Logout ends that session; a new
password ends the user's other sessions; deactivation or a role change ends all of them. A request is let in
only while its session exists, is open and unexpired, belongs to the token's user, and that user is active
with the token's role; otherwise 401 `session_ended`.

Reading that from the database on every request would cost the order path a round trip, so each server process
caches it (`SessionGuard`: session id -> user, role, active, ended, expiry) and is told when it changes:
- in the revoking process at once: the request that ends sessions evicts them after its commit;
- in the other processes through PostgreSQL LISTEN/NOTIFY: the revocation sends `pg_notify` inside its own
  transaction, so the message leaves exactly when, and only if, the change commits. Each process listens on one
  connection of its own, evicts what the message names, then answers with an acknowledgement. The revoking
  request counts the listening connections (by their application_name) before it commits, and answers only
  when that many processes have acknowledged (or after a second): the caller's next request, wherever it
  lands, is checked against the new state;
- while that connection is down (database restart, network), nothing is cached: every request reads the
  database. Once it is back the cache starts empty, since messages sent meanwhile were lost;
- SQLite (the embedded default) serves from one process, so eviction in the process suffices.
A database read that raced a revocation is not cached (a generation counter), so a stale answer cannot stick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.auth import Principal
from core.db import after_commit
from core.errors import Unauthorized
from core.models import AuthSession, User

log = logging.getLogger("diesel.sessions")
CHANNEL = "diesel_auth_sessions"
LISTENER_NAME = "diesel-session-listener"  # the application_name of every listening connection
CACHE_SIZE = 10_000
ACK_WAIT_S = 1.0
RECONNECT_S = 1.0
PING_S = 10.0  # a connection lost without the socket closing is noticed within this


def session_ended() -> Unauthorized:
    return Unauthorized(
        "this login has ended (logged out, password or role changed, or user disabled): log in again",
        code="session_ended",
    )


@dataclass(frozen=True, slots=True)
class SessionState:
    user_id: uuid.UUID
    role: str
    active: bool
    ended: bool
    expires_at: float  # unix seconds

    def admits(self, principal: Principal, now: float) -> bool:
        return (
            not self.ended
            and self.active
            and self.expires_at > now
            and self.user_id == principal.id
            and self.role == principal.role
        )


class SessionGuard:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._cache: dict[uuid.UUID, SessionState] = {}
        self._generation = 0
        self._acks: dict[str, _Acks] = {}
        self.listener: PostgresListener | None = None
        if engine.dialect.name == "postgresql":
            dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.listener = PostgresListener(dsn, on_message=self._on_message, on_connect=self._forget_all)

    @property
    def trusted(self) -> bool:
        """Whether cached answers hold: always in one process (SQLite), else while the listener is connected."""
        return self.listener is None or self.listener.connected

    async def start(self) -> None:
        if self.listener is not None:
            self.listener.start()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()

    async def check(self, principal: Principal, *, allow_ended: bool = False) -> None:
        """Raise 401 `session_ended` unless the principal's session lets it in (`allow_ended`: logout may repeat)."""
        sid = principal.session_id
        if sid is None:
            raise session_ended()
        state = self._cache.get(sid) if self.trusted else None
        if state is None:
            state = await self._load(sid)
        if state is not None and (
            state.admits(principal, time.time()) or (allow_ended and state.user_id == principal.id)
        ):
            return
        if state is None or not state.ended:  # an ended session stays ended: remembering that costs nothing
            self._cache.pop(sid, None)
        raise session_ended()

    async def _load(self, sid: uuid.UUID) -> SessionState | None:
        generation = self._generation
        query = (
            select(AuthSession.user_id, AuthSession.expires_at, AuthSession.ended_at, User.role, User.is_active)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == sid)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        state = SessionState(
            user_id=row.user_id,
            role=row.role,
            active=row.is_active,
            ended=row.ended_at is not None,
            expires_at=row.expires_at.timestamp(),
        )
        # Not cached if a revocation was heard meanwhile: this answer may predate it.
        if self.trusted and generation == self._generation:
            if len(self._cache) >= CACHE_SIZE:
                del self._cache[next(iter(self._cache))]  # the oldest
            self._cache[sid] = state
        return state

    async def revoked(
        self, db: AsyncSession, *, user_id: uuid.UUID | None = None, session_id: uuid.UUID | None = None
    ) -> None:
        """Say, inside the transaction `db` that ends them, that the sessions of `user_id` (or one session) ended:
        once it commits every process forgets them, before the revoking request answers."""
        target = f"user:{user_id}" if user_id is not None else f"session:{session_id}"
        nonce = uuid.uuid4().hex
        if self.listener is not None:
            listeners = await db.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER_NAME},
            )
            if len(self._acks) >= 1000:  # waits of transactions that rolled back
                self._acks.pop(next(iter(self._acks)))
            self._acks[nonce] = _Acks(expected=int(listeners or 0))
            payload = f"revoke {target} {nonce}"
            await db.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})
        after_commit(db, lambda: self._revoked_here(target, nonce))

    async def _revoked_here(self, target: str, nonce: str) -> None:
        self._forget(target)
        acks = self._acks.get(nonce)
        try:
            if acks is not None and self.trusted:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(acks.all_in.wait(), ACK_WAIT_S)
        finally:
            self._acks.pop(nonce, None)

    def _on_message(self, payload: str) -> None:
        kind, _, rest = payload.partition(" ")
        if kind == "revoke":
            target, _, nonce = rest.partition(" ")
            self._forget(target)
            if self.listener is not None:
                self.listener.acknowledge(nonce)
        elif kind == "ack" and (acks := self._acks.get(rest)) is not None:
            acks.received += 1
            if acks.received >= acks.expected:
                acks.all_in.set()

    def _forget(self, target: str) -> None:
        self._generation += 1
        kind, _, raw = target.partition(":")
        try:
            ident = uuid.UUID(raw)
        except ValueError:
            self._forget_all()
            return
        if kind == "session":
            self._cache.pop(ident, None)
            return
        for sid in [sid for sid, state in self._cache.items() if state.user_id == ident]:
            del self._cache[sid]

    def _forget_all(self) -> None:
        self._generation += 1
        self._cache.clear()


@dataclass
class _Acks:
    expected: int
    received: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)


class PostgresListener:
    """LISTEN on CHANNEL over a connection of its own, connecting again whenever it is lost."""

    def __init__(self, dsn: str, *, on_message: Callable[[str], None], on_connect: Callable[[], None]) -> None:
        self._dsn = dsn
        self._on_message, self._on_connect = on_message, on_connect
        self.connected = False
        self.connection: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()  # one statement at a time on the connection (pings, acknowledgements)
        self._acks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="auth-session-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def acknowledge(self, nonce: str) -> None:
        """Tell the revoking process that this one has evicted (from the message callback: no await there)."""
        task = asyncio.get_running_loop().create_task(self._send(f"ack {nonce}"))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    async def _send(self, payload: str) -> None:
        connection = self.connection
        if connection is None:
            return
        try:
            async with self._busy:
                await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except Exception as error:  # the revoking process stops waiting after a second anyway
            log.warning("could not acknowledge a session revocation: %s", error)

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except Exception as error:
                log.warning("session invalidation channel down (%s): checking the database on every request", error)
            finally:
                self.connected = False
                if self.connection is not None:
                    self.connection.terminate()
                    self.connection = None
            await asyncio.sleep(RECONNECT_S)

    async def _listen(self) -> None:
        lost = asyncio.Event()

        def on_lost(_connection: object) -> None:
            self.connected = False
            lost.set()

        self.connection = connection = await asyncpg.connect(
            self._dsn, timeout=5, server_settings={"application_name": LISTENER_NAME}
        )
        connection.add_termination_listener(on_lost)
        await connection.add_listener(CHANNEL, lambda _c, _pid, _channel, payload: self._on_message(payload))
        self._on_connect()  # messages sent while nobody listened are lost: start from an empty cache
        self.connected = True
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PING_S)
            if not lost.is_set():
                async with self._busy:
                    await connection.fetchval("SELECT 1", timeout=5)
        raise ConnectionError("the listening connection was closed")
