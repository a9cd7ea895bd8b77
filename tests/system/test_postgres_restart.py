"""PostgreSQL restarted while clients write with retries and idempotency keys: afterwards every acknowledged
order exists exactly once, none is duplicated, and the service recovered without being restarted."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import postgres_url
from tests.factories import PASSWORD, ok
from tests.system.test_redis_down import real_world_day

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]


def restart_postgres() -> None:
    versions = sorted(os.listdir("/etc/postgresql"))
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def can_restart_postgres() -> None:
    if postgres_url() is None:
        pytest.skip("runs against PostgreSQL (DATABASE_URL)")
    if not Path("/etc/postgresql").is_dir() or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must be able to restart the local PostgreSQL for this test")
        pytest.skip("cannot restart PostgreSQL here")


async def test_orders_survive_a_database_restart_exactly_once(world, make_stack, can_restart_postgres) -> None:
    _, _, customer, day = await real_world_day(world, shift=3)
    stack = make_stack(redis_url=None, SECRET_KEY=os.environ["SECRET_KEY"])
    stack.start(worker=False)
    token = ok(
        httpx.post(f"{stack.base}/api/v1/auth/token", json={"username": customer.username, "password": PASSWORD})
    )["access_token"]
    acknowledged: dict[str, str] = {}  # idempotency key -> order id
    errors: list[str] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        with httpx.Client(base_url=stack.base, timeout=5) as http:
            for n in range(25):
                key = f"w{worker}-{n}-{uuid.uuid4().hex[:6]}"
                body = customer.order_body(
                    delivery_date=day, quantity_litres=600 + n, window_start="09:00", window_end="17:00"
                )
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    try:
                        response = http.post(
                            "/api/v1/orders",
                            json=body,
                            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                        )
                    except httpx.HTTPError:
                        time.sleep(0.2)
                        continue
                    if response.status_code in (200, 201):
                        with lock:
                            acknowledged[key] = response.json()["id"]
                        break
                    if response.status_code < 500:
                        errors.append(f"{response.status_code} {response.text}")
                        break
                    time.sleep(0.2)  # 503 while the database is away: retry with the same key
                else:
                    errors.append(f"gave up on {key}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    restart_postgres()
    for thread in threads:
        thread.join(timeout=180)
    assert errors == []
    assert len(acknowledged) == 100
    assert len(set(acknowledged.values())) == 100  # one order per key
    with httpx.Client(base_url=stack.base, timeout=10) as http:  # the same server process, not restarted
        listing = ok(http.get("/api/v1/orders?limit=500", headers={"Authorization": f"Bearer {token}"}))
    stored = {o["id"] for o in listing["items"]}
    assert listing["total"] == 100 and stored == set(acknowledged.values())


@pytest.fixture(autouse=True)
async def _session_app_reconnects(world):  # type: ignore[no-untyped-def]
    """The shared test app's pooled connections died with the restart: let it reconnect before other tests."""
    yield
    for _ in range(20):
        if (await world.client.get("/health")).status_code == 200:
            return
        time.sleep(0.5)
