"""End-to-end fixtures: the real app (`diesel demo`: a migrated SQLite database in a temporary folder, the demo
data, the API and the worker) on a free port, and Debian's Chromium driven by Playwright (launched by its path;
Playwright never downloads a browser). Browser tests are skipped cleanly when Chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser import SHANGHAI, Server, browser_missing, launch
from tests.fake_geocoder import fake_nominatim

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end in a real browser (Chromium + Playwright)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true" and any("e2e" in item.keywords for item in items):
        raise pytest.UsageError(f"CI runs the browser tests, but {reason} (make test installs Chromium)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server was not healthy within {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl+C to `diesel demo` (it stops its worker), then whatever is left of the process group it started."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=25)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _add_all_day_depot(server: Server) -> dict[str, Any]:
    """A depot open round the clock with prices for today and the next days, so that a pickup slot starting
    within the next half hour always exists (its code is valid from 2 h before the slot), whenever the run."""
    depot = server.send(
        "POST",
        "/depots",
        "admin",
        {
            "code": "e2e-allday",
            "name": "All-day Depot 全天油库",
            "lat": 31.30,
            "lon": 121.50,
            "timezone": "Asia/Shanghai",
            "opening_hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}],
            # Room for the tanker loads the dispatcher tests plan here besides every test's pickups (one bay calendar).
            "loading_bays": 12,
            "products": ["diesel-0", "diesel-m10"],
        },
    )
    today = datetime.now(SHANGHAI).date()
    prices = [
        {
            "depot_id": depot["id"],
            "product_code": code,
            "date": (today + timedelta(days=d)).isoformat(),
            "price_per_litre_minor": 790,
        }
        for d in range(3)
        for code in depot["products"]
    ]
    server.send("PUT", "/prices", "admin", prices)
    return dict(depot)


def _put_rack1_at_the_all_day_depot_too(server: Server) -> None:
    """The demo's rack1 works at Pudong; the browser tests load at the all-day depot, so it works there too."""
    pudong = next(d for d in server.get("/depots", "admin") if d["code"] == "sh-pudong")
    rack1 = server.get("/me", "rack1")["user"]["id"]
    depot_ids = [pudong["id"], server.all_day_depot["id"]]
    server.send("PUT", f"/users/{rack1}/depots", "admin", {"depot_ids": depot_ids})


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    data_dir = tmp_path_factory.mktemp("e2e-data")
    port = _free_port()
    log = data_dir / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["LOGIN_ATTEMPTS_PER_WINDOW"] = "10000"
    # Pages of earlier tests stay open, each following a live stream as the same demo user.
    env["LIVE_STREAMS_PER_USER"] = "1000"
    # A short cut-off lets the driver's test order for later today (its load code must be valid now), whatever the hour.
    env["ORDER_LEAD_TIME_MINUTES"] = "30"
    # Every browser test orders into the same demo days: refusing full windows (the product's default) would make a
    # test's order depend on how many came before it. The refusal itself is tested in tests/integration/test_promise.py.
    env["PROMISE_MODE"] = "flag"
    # The demo's one worker thread would spend 20 s of each minute re-solving the days the tests fill, and the
    # dispatcher's and finance's tests wait for that thread. The rebuild is tested in test_promise_rebuild.py.
    env["PROMISE_REBUILD_INTERVAL_S"] = "3600"
    env.pop("MAP_TILE_URL", None)  # maps on the plain background: the tests never leave the machine
    geocoder = contextlib.ExitStack()
    # The site form's address search asks a local stand-in for Nominatim (tests/fake_geocoder.py).
    env["GEOCODER"], env["GEOCODER_URL"] = "nominatim", geocoder.enter_context(fake_nominatim()).url
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "demo", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Server(f"http://127.0.0.1:{port}", log)
    try:
        _wait_healthy(running.url, process, log)
        running.all_day_depot = _add_all_day_depot(running)
        _put_rack1_at_the_all_day_depot_too(running)
        yield running
    finally:
        running.http.close()
        _stop(process)
        geocoder.close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    b = launch(playwright)
    yield b
    b.close()
