"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when DATABASE_URL says so), the app
with a frozen clock, and an HTTP client on it.

With CI=true an unreachable PostgreSQL or Redis is an error, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# Tests never read a developer's ./var: settings are pointed at a throwaway folder before anything imports them.
_TMP = Path(os.environ.get("PYTEST_DATA_DIR", f"/tmp/diesel-tests-{os.getpid()}"))
os.environ["DIESEL_DATA_DIR"] = str(_TMP)
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 32)
os.environ.setdefault("LOGIN_ATTEMPTS_PER_WINDOW", "1000")
# Tests send many wrong passwords and applications from one address; the limits' own tests set them low.
os.environ.setdefault("LOGIN_FREE_FAILURES", "1000")
os.environ.setdefault("APPLICATIONS_PER_WINDOW", "100000")

IN_CI = os.environ.get("CI") == "true"
# Monday 2030-01-07 09:00 in Shanghai: far from real dates so no test depends on the day it runs.
T0 = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return url if url and url.startswith("postgres") else None


def redis_url() -> str | None:
    return os.environ.get("REDIS_URL") or None


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    from core.settings import sync_database_url

    engine = sa.create_engine(sync_database_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL at {url} is not reachable: {error}", pytrace=False)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for the whole run (migrations, never create_all)."""
    from api.migrate import upgrade

    url = postgres_url()
    if url is None:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        _reset_postgres(url)
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def redis_available() -> bool:
    url = redis_url()
    if url is None:
        return False
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if IN_CI:
            pytest.fail(f"Redis at {url} is not reachable: {error}", pytrace=False)
        return False
    return True


@pytest.fixture(scope="session")
def settings(database_url: str, redis_available: bool):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from core.settings import async_database_url, load_settings

    base = load_settings()
    # A deployment's public address (links sent by SMS need one); tests of relative links unset it themselves.
    public = base.public_base_url or "https://diesel.test"
    # The shared world's depots gain tankers as tests go (plans, walks, trips): the promise would refuse a later test's
    # order at one of them. Off for the session; the tests of the promise turn it on (fixture `fleet_promise`).
    promise = replace(base.promise, mode="off")
    return replace(
        base, db=replace(base.db, url=async_database_url(database_url)), public_base_url=public, promise=promise
    )


@pytest.fixture(scope="session")
def clock():  # type: ignore[no-untyped-def]
    from core.clock import FrozenClock

    return FrozenClock(T0)


@pytest.fixture(autouse=True)
def _reset_clock(clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0)


@pytest.fixture(scope="session")
async def app(settings, clock):  # type: ignore[no-untyped-def]
    from api.app import create_app

    return create_app(settings=settings, clock=clock)


@pytest.fixture(scope="session")
async def client(app) -> AsyncIterator:  # type: ignore[no-untyped-def]
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture(scope="session")
async def world(client, app):  # type: ignore[no-untyped-def]
    """Catalogue, depots, prices and one user per staff role, created once per run."""
    from tests.factories import build_world

    return await build_world(client, app)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


def _worker_process(database_url: str, redis_ok: bool, *extra_env: tuple[str, str]):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": database_url, **dict(extra_env)}
    if not redis_ok:
        env.pop("REDIS_URL", None)
    # Its log goes to a file: a pipe nobody reads fills up and blocks the worker.
    with open(Path(tempfile.gettempdir()) / f"diesel-test-worker-{os.getpid()}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--concurrency", "1", "--loglevel", "WARNING"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # its own process group: a test can kill -9 the worker and its children
        )


def stop_process_group(process) -> None:  # type: ignore[no-untyped-def]
    import signal
    import subprocess

    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def start_worker(database_url, redis_available):  # type: ignore[no-untyped-def]
    """Start real Celery worker processes on the test database; all are stopped after the test."""
    started = []

    def start(**env: str):  # type: ignore[no-untyped-def]
        process = _worker_process(database_url, redis_available, *env.items())
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process_group(process)


class WorkerManager:
    """The real worker the tests share: tests that kill it (kill -9) leave it to be restarted."""

    def __init__(self, database_url: str, redis_ok: bool) -> None:
        self.database_url, self.redis_ok = database_url, redis_ok
        self.process = None  # type: ignore[var-annotated]

    def ensure_running(self):  # type: ignore[no-untyped-def]
        if self.process is None or self.process.poll() is not None:
            self.process = _worker_process(self.database_url, self.redis_ok)
        return self.process

    def kill9(self) -> None:
        import signal

        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)


@pytest.fixture(scope="session")
def worker(database_url, redis_available):  # type: ignore[no-untyped-def]
    """A real Celery worker on the test database, started on first use."""
    manager = WorkerManager(database_url, redis_available)
    manager.ensure_running()
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def monaco_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Monaco OSRM dataset (MLD), built once per test session: one road engine per process, as in production."""
    pytest.importorskip("osrm", reason="the osrm-bindings wheel (extra 'osrm') is not installed")
    from routing.osrm import build_dataset

    pbf = Path(__file__).resolve().parent / "data" / "osm" / "monaco.osm.pbf"
    return build_dataset(pbf, tmp_path_factory.mktemp("osrm-monaco"), profile="car")


@pytest.fixture(scope="session")
def monaco_osrm_server(monaco_dataset: Path) -> Iterator[str]:
    """`osrm-routed` serving the Monaco dataset on a free port (tables capped at 10 locations, to test blocks)."""
    import socket
    import subprocess
    import time
    import urllib.request

    from routing.osrm import osrm_binary

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(osrm_binary("osrm-routed")), "--algorithm", "mld", "-i", "127.0.0.1", "-p", str(port)]
    command += ["--max-table-size", "10", str(monaco_dataset)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/nearest/v1/driving/7.42,43.73", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("osrm-routed did not start")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@asynccontextmanager
async def served_over_http(app, client) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """`app` served over real HTTP by uvicorn as `diesel serve` runs it (no proxy headers of uvicorn's own), on
    the event loop its test client runs it on (its blocking portal: the database pool and the channels belong to
    that loop)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1, proxy_headers=False)
    server = uvicorn.Server(config)
    running = client.blocking_portal.start_task_soon(server.serve, [sock])
    while not server.started:
        assert not running.done(), running.exception()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:  # a failed test must stop the server too, or closing its test client waits for ever
        server.should_exit = True
        running.result(timeout=10)


@pytest.fixture
async def live_server(app, client) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """The session's app served over real HTTP (`served_over_http`)."""
    async with served_over_http(app, client) as url:
        yield url


@pytest.fixture
async def racer(live_server: str) -> AsyncIterator[Any]:
    """An HTTP client whose requests really run at once: the test client (`client`) waits for each response
    before it sends the next, so `asyncio.gather` over it is sequential and races nothing."""
    import httpx

    async with httpx.AsyncClient(base_url=live_server, timeout=httpx.Timeout(60.0)) as http:
        yield http


@pytest.fixture(params=["refuse"])
def fleet_promise(request, settings, app):  # type: ignore[no-untyped-def]
    """The delivery promise on, in the mode of the parameter (`refuse` unless a test parametrizes it), for one test."""
    from dataclasses import replace

    from orders import promise_port
    from promise.availability import FleetPromise

    kept = promise_port.current()
    promise_port.register(
        FleetPromise(
            settings=replace(settings.promise, mode=request.param),
            rules=settings.rules,
            default_tz=settings.default_timezone,
        )
    )
    yield request.param
    promise_port.register(kept)
