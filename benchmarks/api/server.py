"""The benchmarks' services and run header: `diesel serve` / `diesel worker` as subprocesses in their own process
group, the environment they share with the load generator, and the machine/commit facts of a results file."""

from __future__ import annotations

import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

HOST = "127.0.0.1"
PG = f"postgresql://postgres@{HOST}:5432"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def environment(
    tmp: Path, redis_url: str, *, drop: tuple[str, ...], extra: dict[str, str] | None = None, purge: bool = False
) -> dict[str, str]:
    """The services' environment: this one without the `drop` prefixes, with Redis, a fresh SECRET_KEY and `tmp`
    as the data directory; also installed into this process (which mints tokens with the same keys). `purge`
    removes the dropped variables from this process too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env |= {"REDIS_URL": redis_url, "SECRET_KEY": secrets.token_urlsafe(48), "DIESEL_DATA_DIR": str(tmp)}
    env |= extra or {}
    if purge:
        for name in set(os.environ) - set(env):
            del os.environ[name]
    os.environ.update(env)
    return env


def _spawn(args: list[str], url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args, env={**env, "DATABASE_URL": url}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_server(url: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`diesel serve --workers 2` in its own process group; returns once GET /health answers 200."""
    diesel = Path(sys.executable).parent / "diesel"
    args = [str(diesel), "serve", "--workers", "2", "--port", str(port), "--host", HOST]
    server = _spawn(args, url, env, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"the server did not become healthy:\n{log.read_text()[-3000:]}")


def start_worker(url: str, env: dict[str, str], log: Path, *options: str) -> subprocess.Popen[bytes]:
    """`diesel worker <options> --loglevel INFO` in its own process group; returns once Celery says it is ready."""
    diesel = Path(sys.executable).parent / "diesel"
    worker = _spawn([str(diesel), "worker", *options, "--loglevel", "INFO"], url, env, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited ({worker.returncode}):\n{log.read_text()[-3000:]}")
        if " ready." in log.read_text(errors="replace"):
            return worker
        time.sleep(0.3)
    stop_server(worker)
    raise RuntimeError(f"the worker did not become ready:\n{log.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (uvicorn and its workers), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
            server.wait(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return f"{os.cpu_count()} × {model}, {mem_kb / 2**20:.0f} GiB RAM, Linux {platform.release()}"


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", "--no-optional-locks", *a], cwd=ROOT, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + (" + uncommitted changes" if git("status", "--porcelain").strip() else "")


def header() -> dict[str, str]:
    """The first facts of every results file: date, machine, commit."""
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "commit": commit()}
