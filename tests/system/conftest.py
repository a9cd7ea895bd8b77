"""A real stack in processes for fault tests: `diesel serve`, `diesel worker --beat` and, where a test needs
to stop it, a private redis-server. Traffic goes over HTTP to 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import stop_process_group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own, so a test can take it down and bring it back without touching the shared one."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir, self.process = port, workdir, None  # type: ignore[var-annotated]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()  # a redis-server that came up too late must not outlive the test
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)
            self.process = None


class Stack:
    def __init__(self, *, database_url: str, redis_url: str | None, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # The delivery promise is off (a test may set it): these tests pour orders into one depot's day, which the
        # promise would refuse once its fleet is full (its own tests: tests/integration/test_promise.py).
        self.env = {
            **os.environ,
            "PROMISE_MODE": "off",
            "DATABASE_URL": database_url,
            "DIESEL_DATA_DIR": str(data_dir),
            **env,
        }
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        # The log is kept for the failure report; the child writes to its own copy of the file descriptor.
        with (self.logs / f"{args[0]}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start(self, *, worker: bool = True) -> None:
        self._spawn("serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1")
        if worker:
            self._spawn("worker", "--concurrency", "2", "--beat", "--loglevel", "INFO")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the API did not become healthy")

    def stop(self) -> None:
        for process in self.processes:
            stop_process_group(process)


@pytest.fixture
def make_stack(database_url: str, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    stacks: list[Stack] = []

    def make(**kwargs: object) -> Stack:
        stack = Stack(database_url=database_url, data_dir=tmp_path / f"stack{len(stacks)}", **kwargs)  # type: ignore[arg-type]
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is needed for the fault tests")
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(free_port(), tmp_path)
    try:
        redis.start()
        yield redis
    finally:
        redis.stop()
