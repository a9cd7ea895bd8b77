"""The planning task's progress watcher and the end of the solve, on the embedded SQLite default.

The worker runs each task in `asyncio.run` on its only thread. The watcher used to be cancelled when the solve
returned, wherever it was: inside its unit of work, SQLAlchemy then terminated the aiosqlite connection, and
when asyncio.run cancelled it once more (the task's other work had ended first) that connection's close waited
for ever: the task never finished and no later task ran. Here another connection holds SQLite's write lock (as
the API's requests do), so that the watcher is inside its write when the solve returns.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

import routing
from core.db import create_engine, session_factory
from dispatch import tasks

pytestmark = pytest.mark.integration
SOLVED = object()  # what the stand-in solver returns
HUNG_S = 30.0  # far above a run's second or two: a run still going by then is stuck


class Lock:
    """SQLite's write lock, held by a connection of the test's own until released (once, from any thread)."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._connection.execute("BEGIN IMMEDIATE")
        self._released = threading.Lock()
        self.held = True

    def release(self) -> None:
        with self._released:
            if self.held:
                self._connection.execute("ROLLBACK")
                self._connection.close()
                self.held = False


@pytest.fixture
def sqlite_path(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock: the embedded default only")
    return database_url.split(":///", 1)[1]


@pytest.fixture
def running_job(database_url: str, sqlite_path: str) -> Iterator[uuid.UUID]:
    job_id = uuid.uuid4()
    with sqlite3.connect(sqlite_path) as connection:  # as the app's first connection left it (core/db.py)
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()
    engine = sa.create_engine(f"sqlite:///{sqlite_path}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO plan_jobs (id, date, time_limit_s, status, progress, attempts, cancel_requested,"
                " created_at) VALUES (:id, :day, 10, 'running', 0, 1, 0, :now)"
            ),
            {"id": job_id.hex, "day": "2030-01-09", "now": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S.%f}"},  # as stored
        )
    yield job_id
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM plan_jobs WHERE id = :id"), {"id": job_id.hex})
    engine.dispose()


def _progress(sqlite_path: str, job_id: uuid.UUID) -> float:
    with sqlite3.connect(sqlite_path) as connection:
        (value,) = connection.execute("SELECT progress FROM plan_jobs WHERE id = ?", (job_id.hex,)).fetchone()
    connection.close()
    return float(value)


def _solver_returning_mid_write(monkeypatch: pytest.MonkeyPatch, writing: threading.Event) -> threading.Event:
    """routing.solve returns once the watcher has begun its write (which waits for the test's lock)."""
    returned = threading.Event()

    def solve(problem: Any, **_: Any) -> Any:
        assert writing.wait(HUNG_S), "the watcher never began a write"
        returned.set()
        return SOLVED

    monkeypatch.setattr(routing, "solve", solve)
    return returned


def _busy_database(
    monkeypatch: pytest.MonkeyPatch, sqlite_path: str, *, release_after_s: float
) -> tuple[threading.Event, Lock]:
    """The test holds SQLite's write lock, routing.solve returns once the watcher has begun its write, and the lock
    is released `release_after_s` after that.  Returns the watcher's write-begun event and the lock."""
    writing = threading.Event()
    returned = _solver_returning_mid_write(monkeypatch, writing)
    lock = Lock(sqlite_path)

    def release() -> None:
        if returned.wait(HUNG_S):
            threading.Timer(release_after_s, lock.release).start()

    threading.Thread(target=release, daemon=True).start()
    return writing, lock


def _engine_telling_writes(url: str, writing: threading.Event) -> Any:
    engine = create_engine(url, null_pool=True)

    @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):  # the unit of work's BEGIN IMMEDIATE, which waits for the lock
            writing.set()

    return engine


async def _watched_solve(
    database_url: str, writing: threading.Event, job_id: uuid.UUID
) -> tuple[Any, list[asyncio.Task[Any]]]:
    """The planning task's solve with its progress watcher, on an engine of its own (as `_plan_day` has): its
    result, and the tasks still pending the moment it returned (before anything else yields to the loop)."""
    engine = _engine_telling_writes(database_url, writing)
    try:
        result = await tasks._solve_watching(session_factory(engine), job_id, None, 10)  # type: ignore[arg-type]
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    finally:
        await engine.dispose()


def _run_on_a_thread(main: Any) -> dict[str, Any]:
    """asyncio.run on a thread of its own, as the worker's thread pool runs a task; its result, or nothing if
    it did not return (the thread is a daemon: a hung run is left behind, not waited for)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = asyncio.run(main())

    thread = threading.Thread(target=run, name="task-thread", daemon=True)
    thread.start()
    thread.join(HUNG_S)
    return outcome


def test_the_watchers_write_under_way_ends_before_the_solve_returns(
    database_url: str, sqlite_path: str, running_job: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    writing, lock = _busy_database(monkeypatch, sqlite_path, release_after_s=0.0)

    async def main() -> tuple[Any, list[asyncio.Task[Any]]]:
        return await _watched_solve(database_url, writing, running_job)

    try:
        outcome = _run_on_a_thread(main)
    finally:
        lock.release()
    assert "result" in outcome, "asyncio.run did not return: the task's event loop is stuck on its watcher"
    result, left = outcome["result"]
    assert result is SOLVED
    assert left == [], "the watcher was left running (in its unit of work) after the solve returned"
    assert _progress(sqlite_path, running_job) > 0  # the write under way was finished, not cut off


def test_a_task_thread_runs_one_plan_after_another_while_the_database_is_busy(
    database_url: str, sqlite_path: str, running_job: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's case: several runs on one thread, each solve ending while the watcher waits for the lock,
    and the lock free again only once the run's own work is over (its loop is then shutting down). Whether the
    old cancel hung depended on the order asyncio.run cancelled what was left; every run must come back."""
    for run in range(8):
        result = _run_ending_while_the_watcher_waits(database_url, sqlite_path, running_job, monkeypatch)
        assert result is SOLVED, f"run {run}: asyncio.run did not return (the task hung)"


def _run_ending_while_the_watcher_waits(
    database_url: str, sqlite_path: str, job_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> Any:
    # Code that waits for its watcher needs the lock back before its run can end: 1 s after the solve, at the latest.
    writing, lock = _busy_database(monkeypatch, sqlite_path, release_after_s=1.0)

    async def main() -> Any:
        try:
            result, _ = await _watched_solve(database_url, writing, job_id)
            for _ in range(3):  # the task's own work after the solve (store_plan) yields to the loop
                await asyncio.sleep(0)
            return result
        finally:
            # Due at the loop's next turn: after asyncio.run has cancelled whatever this run left behind.
            asyncio.get_running_loop().call_later(0, lock.release)

    try:
        return _run_on_a_thread(main).get("result")
    finally:
        lock.release()
