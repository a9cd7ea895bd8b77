"""Webhooks end to end: a real HTTP receiver on 127.0.0.1, the outbox pass, a real Celery worker sending signed
deliveries, retries with backoff after failures, and the delivery log through the API. The address check is the
real one: only the receivers' address (127.0.0.1/32) is allowed, as an operator would allow an on-premise one."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from core.db import UTCDateTime
from tests.factories import ok

pytestmark = pytest.mark.integration

# Read by the API (registration) and by every worker started from now on (the session's and ours).
RECEIVERS = "127.0.0.1/32"
WEBHOOK_ENV = {"WEBHOOK_ALLOWED_NETWORKS": RECEIVERS, "WEBHOOK_BACKOFF_S": "1", "WEBHOOK_BACKOFF_MAX_S": "4"}
for _name, _value in WEBHOOK_ENV.items():
    os.environ.setdefault(_name, _value)


class Receiver:
    """A webhook receiver on a local address (a free port unless given) that answers 500 to the first `fail_first`
    requests."""

    def __init__(self, fail_first: int = 0, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 200
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hooks/diesel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def accepted(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(body) for _, body, status in self.requests if status == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made: list[Receiver] = []

    def make(fail_first: int = 0, **where: Any) -> Receiver:
        r = Receiver(fail_first, **where)
        r.thread.start()
        made.append(r)
        return r

    yield make  # type: ignore[misc]
    for r in made:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def webhook_worker(start_worker):  # type: ignore[no-untyped-def]
    """A worker with the webhook settings of these tests (the shared one, if running, has them too)."""
    return start_worker(**WEBHOOK_ENV)


async def register(world, customer, url: str, events: list[str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return ok(
        await world.client.post("/api/v1/webhooks", headers=customer.h, json={"url": url, "events": events}),
        201,
    )


async def outbox_pass(database_url: str, enqueue=None) -> int:  # type: ignore[no-untyped-def]
    from core.settings import async_database_url
    from notify.webhooks.config import load_webhook_settings
    from notify.webhooks.tasks import outbox_pass as run

    return await run(database_url=async_database_url(database_url), settings=load_webhook_settings(), enqueue=enqueue)


async def wait_for(condition, *, database_url: str, seconds: float = 45.0) -> None:  # type: ignore[no-untyped-def]
    """Run outbox passes (as beat would) until `condition()` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await outbox_pass(database_url)
        if await condition():
            return
        await asyncio.sleep(0.5)
    raise AssertionError("timed out waiting for webhook deliveries")


def signature(secret: str, body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_an_order_placed_reaches_the_receiver_signed(world, database_url, receiver, webhook_worker) -> None:
    target = receiver()
    customer = await world.new_customer()
    hook = await register(world, customer, target.url, ["order_placed", "order_confirmed"])
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["order_placed", "order_confirmed"]
    order = ok(await customer.order(), 201)

    async def both_arrived() -> bool:
        return len(target.accepted()) >= 2

    await wait_for(both_arrived, database_url=database_url)
    await asyncio.sleep(1)  # nothing more is coming
    assert len(target.requests) == 2
    for headers, body, _ in target.requests:
        assert headers["content-type"] == "application/json"
        assert headers["x-diesel-signature"] == signature(hook["secret"], body)
        assert headers["x-diesel-delivery"] == json.loads(body)["delivery_id"]
    events = sorted((b["event"] for b in target.accepted()), key=lambda e: e["id"])
    assert [e["type"] for e in events] == ["order_placed", "order_confirmed"]
    assert {e["subject_id"] for e in events} == {order["id"]}
    assert events[1]["from_status"] == "placed" and events[1]["to_status"] == "confirmed"

    deliveries = ok(await world.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=customer.h))
    assert sorted(d["event_type"] for d in deliveries) == ["order_confirmed", "order_placed"]
    for d in deliveries:
        assert d["status"] == "delivered" and d["attempts"] == 1 and d["next_attempt_at"] is None
        assert [a["status_code"] for a in d["attempt_log"]] == [200]


async def test_a_receiver_failing_twice_gets_the_event_accepted_once_after_three_attempts(
    world, database_url, receiver, webhook_worker
) -> None:
    target = receiver(fail_first=2)
    customer = await world.new_customer()
    hook = await register(world, customer, target.url, ["order_cancelled"])
    order = ok(await customer.order(), 201)
    ok(await world.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.h, json={"reason": "x"}))
    started = time.monotonic()

    async def delivered() -> bool:
        rows = ok(await world.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=customer.h))
        return bool(rows) and rows[0]["status"] == "delivered"

    await wait_for(delivered, database_url=database_url)
    assert time.monotonic() - started < 60
    await asyncio.sleep(2)  # a late duplicate would show up now
    assert [status for _, _, status in target.requests] == [500, 500, 200]
    delivery_ids = {headers["x-diesel-delivery"] for headers, _, _ in target.requests}
    assert len(delivery_ids) == 1  # every retry is the same delivery ...
    assert len({body for _, body, _ in target.requests}) == 1  # ... with the same signed body
    assert [e["event"]["type"] for e in target.accepted()] == ["order_cancelled"]

    (row,) = ok(await world.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=customer.h))
    assert row["id"] in delivery_ids and row["attempts"] == 3 and row["last_status_code"] == 200
    log = row["attempt_log"]
    assert [(a["number"], a["status_code"]) for a in log] == [(1, 500), (2, 500), (3, 200)]
    assert log[0]["error"] == "HTTP 500"
    # Exponential backoff between attempts: 1 s, then 2 s.
    at = [datetime.fromisoformat(a["at"]) for a in log]
    assert at[1] - at[0] >= timedelta(seconds=0.9) and at[2] - at[1] >= timedelta(seconds=1.9)


async def test_the_outbox_dedupes_and_catches_events_that_committed_late(world, database_url) -> None:
    from core.settings import sync_database_url

    customer = await world.new_customer()
    hook = await register(world, customer, "http://127.0.0.1:9/never", ["*"])
    assert hook["events"] == ["*"]
    queued: list[str] = []
    await asyncio.sleep(0.05)
    ok(await customer.order(), 201)
    await outbox_pass(database_url, queued.append)
    await outbox_pass(database_url, queued.append)  # the overlap window sees the same events again: no new rows
    rows = ok(await world.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=customer.h))
    assert sorted(r["event_type"] for r in rows) == ["order_confirmed", "order_placed"]
    assert {r["id"] for r in rows} <= set(queued) and len(set(queued)) == len(queued)

    # An event whose id (time) is older than the cursor, as if its transaction had committed late.
    from core.ids import new_id
    from notify.webhooks.outbox import uuid7_floor, uuid7_time

    hook_time = uuid7_time(uuid.UUID(hook["id"]))
    late_id = uuid.UUID(int=uuid7_floor(hook_time + timedelta(milliseconds=2)).int | (new_id().int & (2**62 - 1)))
    assert uuid.UUID(hook["id"]) < late_id < min(uuid.UUID(r["event_id"]) for r in rows)
    engine = sa.create_engine(sync_database_url(database_url))
    with engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        conn.execute(
            sa.text(
                "INSERT INTO events (id, subject_type, subject_id, customer_id, type, actor_role, at) "
                "VALUES (:id, 'pickup', :subject, :customer, 'pickup_cancelled', 'system', :at)"
            ).bindparams(sa.bindparam("at", type_=UTCDateTime())),
            {
                "id": late_id.hex if sqlite else late_id,
                "subject": uuid.uuid4().hex if sqlite else uuid.uuid4(),
                "customer": uuid.UUID(customer.id).hex if sqlite else uuid.UUID(customer.id),
                "at": datetime(2030, 1, 7, 1, 0, tzinfo=UTC),
            },
        )
    engine.dispose()
    await outbox_pass(database_url, queued.append)
    rows = ok(await world.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=customer.h))
    assert sorted(r["event_type"] for r in rows) == ["order_confirmed", "order_placed", "pickup_cancelled"]


async def test_registration_rules_and_visibility(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    base = "/api/v1/webhooks"
    cases = [
        ({"url": "ftp://example.com/x", "events": ["*"]}, 422, "webhook_url_scheme"),
        ({"url": "https://user:pw@example.com/x", "events": ["*"]}, 422, "webhook_url_invalid"),
        ({"url": "https://example.com:99999/x", "events": ["*"]}, 422, "webhook_url_invalid"),
        ({"url": "https://example.com/x", "events": ["order_teleported"]}, 422, "unknown_event_type"),
        ({"url": "https://example.com/x", "events": []}, 400, "validation_error"),
        ({"url": "https://example.com/x"}, 400, "validation_error"),
    ]
    for body, status, code in cases:
        response = await world.client.post(base, headers=alice.h, json=body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    hook = await register(world, alice, "https://example.com/hook", ["order_confirmed", "order_confirmed"])
    assert hook["events"] == ["order_confirmed"]
    listed = ok(await world.client.get(base, headers=alice.h))
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert ok(await world.client.get(base, headers=bob.h)) == []
    for method, path in [
        ("GET", f"{base}/{hook['id']}"),
        ("GET", f"{base}/{hook['id']}/deliveries"),
        ("POST", f"{base}/{hook['id']}/rotate-secret"),
        ("DELETE", f"{base}/{hook['id']}"),
    ]:
        response = await world.client.request(method, path, headers=bob.h)
        assert (response.status_code, response.json()["code"]) == (404, "webhook_not_found")
    assert (await world.client.get(base, headers=world.h("dispatcher"))).status_code == 403
    assert (await world.client.get(base)).status_code == 401
    bad = await world.client.get(f"{base}/{hook['id']}/deliveries?status=lost", headers=alice.h)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_status")
    assert "order_confirmed" in ok(await world.client.get(f"{base}/event-types", headers=alice.h))
    assert (await world.client.delete(f"{base}/{hook['id']}", headers=alice.h)).status_code == 204
    assert (await world.client.get(f"{base}/{hook['id']}", headers=alice.h)).status_code == 404


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1/x", "127.0.0.1/32"),
        ("http://localhost:8080/x", "127.0.0.1/32"),  # names are checked when sending, once networks are allowed
        ("http://10.1.2.3/x", "10.1.2.0/24"),
        ("http://192.168.0.10/x", "192.168.0.0/16"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254/32"),
        ("http://[::1]/x", "::1/128"),
        ("http://0.0.0.0/x", "0.0.0.0/32"),
        ("https://printer.local/x", "10.1.2.0/24"),
        ("http://100.64.0.1/x", "100.64.0.0/10"),
        ("http://[64:ff9b::a00:1]/x", "64:ff9b::/96"),
    ],
)
def test_internal_targets_are_refused_unless_the_operator_allowed_their_network(url: str, allowed: str) -> None:
    from core.errors import InvalidInput
    from notify.webhooks.addresses import parse_networks
    from notify.webhooks.service import check_url

    with pytest.raises(InvalidInput) as refused:
        check_url(url, allowed_networks=())
    assert refused.value.code == "webhook_url_private"
    assert check_url(url, allowed_networks=parse_networks(allowed)) == url
    assert check_url("https://hooks.example.com/diesel", allowed_networks=())


async def test_registration_refuses_odd_ipv4_spellings_credentials_schemes_and_internal_literals(world) -> None:
    """Through the API, with the test deployment's allow-list (127.0.0.1/32 only)."""
    customer = await world.new_customer()
    cases = {
        # 127.0.0.1 (inside the allow-list!) or 10.0.0.1 as inet_aton and browsers read them
        "http://2130706433/x": "webhook_url_ip_spelling",
        "http://0x7f000001/x": "webhook_url_ip_spelling",
        "http://0x7f.1/x": "webhook_url_ip_spelling",
        "http://0177.0.0.1/x": "webhook_url_ip_spelling",
        "http://127.1/x": "webhook_url_ip_spelling",
        "http://127.0.1/x": "webhook_url_ip_spelling",
        "http://012.0.0.1/x": "webhook_url_ip_spelling",
        "http://167772161/x": "webhook_url_ip_spelling",
        "http://1.2.3.4.5/x": "webhook_url_ip_spelling",
        # credentials, even empty ones
        "https://user:pw@example.com/x": "webhook_url_invalid",
        "https://@example.com/x": "webhook_url_invalid",
        "https://user@127.0.0.1/x": "webhook_url_invalid",
        # other schemes
        "ftp://example.com/x": "webhook_url_scheme",
        "file:///etc/passwd": "webhook_url_scheme",
        "gopher://example.com:70/_x": "webhook_url_scheme",
        "javascript:alert(1)": "webhook_url_scheme",
        # internal addresses written plainly (127.0.0.2 is loopback too, outside the allow-list)
        "http://127.0.0.2/x": "webhook_url_private",
        "http://169.254.169.254/latest/meta-data": "webhook_url_private",
        "http://100.64.0.1/x": "webhook_url_private",
        "http://198.18.0.1/x": "webhook_url_private",
        "http://192.0.2.1/x": "webhook_url_private",
        "http://192.0.0.9/x": "webhook_url_private",
        "http://240.0.0.1/x": "webhook_url_private",
        "http://[::ffff:10.0.0.1]/x": "webhook_url_private",
        "http://[::7f00:2]/x": "webhook_url_private",
        "http://[64:ff9b::a9fe:a9fe]/x": "webhook_url_private",
        "http://[64:ff9b:1::1]/x": "webhook_url_private",
        "http://[2002:7f00:2::]/x": "webhook_url_private",
        "http://[2001::1]/x": "webhook_url_private",
        "http://[2001:db8::1]/x": "webhook_url_private",
        "http://[fec0::1]/x": "webhook_url_private",
        "http://[fd00::1]/x": "webhook_url_private",
        "http://[fe80::1%25eth0]/x": "webhook_url_private",
        "http://[100::1]/x": "webhook_url_private",
    }
    for url, code in cases.items():
        response = await world.client.post("/api/v1/webhooks", headers=customer.h, json={"url": url, "events": ["*"]})
        assert (response.status_code, response.json()["code"], response.json().get("field")) == (422, code, "url"), url
    assert ok(await world.client.get("/api/v1/webhooks", headers=customer.h)) == []
    # The allowed address itself, and public ones in every form, are accepted.
    for url in ["http://127.0.0.1:8080/x", "https://[2606:4700:4700::1111]/x", "https://[64:ff9b::808:808]/x"]:
        await register(world, customer, url, ["*"])


def test_backoff_doubles_up_to_the_cap() -> None:
    from notify.webhooks.config import WebhookSettings

    settings = WebhookSettings(backoff_s=5, backoff_max_s=60)
    assert [settings.backoff(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


# --- secrets at rest and rotation -----------------------------------------------------------------------------


def webhook_rows(database_url: str) -> list[str]:
    """Every webhook row as the database holds it, one text per row."""
    from core.settings import sync_database_url

    engine = sa.create_engine(sync_database_url(database_url))
    try:
        with engine.connect() as conn:
            query = "SELECT * FROM webhooks" if conn.dialect.name == "sqlite" else "SELECT w::text FROM webhooks w"
            return [" ".join(str(v) for v in row) for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def sqlite_dump(database_url: str) -> str:
    """The whole SQLite database as SQL text (never by reading its file here: closing a second descriptor of it
    would drop this process's locks on it)."""
    from core.settings import sync_database_url

    engine = sa.create_engine(sync_database_url(database_url))
    try:
        with engine.connect() as conn:
            return "\n".join(conn.connection.dbapi_connection.iterdump())  # type: ignore[union-attr]
    finally:
        engine.dispose()


def signatures(headers: dict[str, str]) -> list[str]:
    return headers["x-diesel-signature"].split(",")


async def rotate(world, customer, hook_id: str, key: str | None = None, via=None):  # type: ignore[no-untyped-def]
    headers = {**customer.h, **({"Idempotency-Key": key} if key else {})}
    return await (via or world.client).post(f"/api/v1/webhooks/{hook_id}/rotate-secret", headers=headers)


async def test_the_database_holds_no_webhook_secret_in_plain_text(world, database_url) -> None:
    customer = await world.new_customer()
    hook = await register(world, customer, "https://example.com/at-rest", ["*"])
    rotated = ok(await rotate(world, customer, hook["id"]))
    rows = [row for row in webhook_rows(database_url) if hook["id"].replace("-", "") in row.replace("-", "")]
    assert len(rows) == 1
    for secret in (hook["secret"], rotated["secret"], os.environ["SECRET_KEY"]):
        assert secret not in rows[0]
        assert secret.removeprefix("whsec_") not in rows[0]
    assert rows[0].count("v1.") == 2  # the current and the previous secret, both sealed
    if not database_url.startswith("postgres"):
        dump = sqlite_dump(database_url)
        assert hook["id"].replace("-", "") in dump
        assert hook["secret"] not in dump and rotated["secret"] not in dump


async def test_rotation_signs_with_both_secrets_during_the_grace_period_then_only_the_new_one(
    world, database_url, receiver, webhook_worker, clock
) -> None:
    target = receiver()
    customer = await world.new_customer()
    hook = await register(world, customer, target.url, ["order_placed", "order_cancelled"])
    rotated = ok(await rotate(world, customer, hook["id"]))
    assert rotated["id"] == hook["id"] and rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != hook["secret"]
    assert datetime.fromisoformat(rotated["previous_secret_expires_at"]) == clock.now() + timedelta(hours=24)
    order = ok(await customer.order(), 201)

    async def first_arrived() -> bool:
        return len(target.accepted()) >= 1

    await wait_for(first_arrived, database_url=database_url)
    headers, body, _ = target.requests[0]
    new, old = signatures(headers)
    assert new == signature(rotated["secret"], body) and old == signature(hook["secret"], body)
    assert json.loads(body)["event"]["type"] == "order_placed"

    # The worker signs by the real clock: a rotation made a day and 5 minutes ago is past its grace period.
    t0 = clock.now()
    clock.set(datetime.now(UTC) - timedelta(hours=24, minutes=5))
    latest = ok(await rotate(world, customer, hook["id"]))
    clock.set(t0)
    ok(await world.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.h, json={"reason": "x"}))

    async def second_arrived() -> bool:
        return len(target.accepted()) >= 2

    await wait_for(second_arrived, database_url=database_url)
    headers, body, _ = target.requests[1]
    assert signatures(headers) == [signature(latest["secret"], body)]
    assert json.loads(body)["event"]["type"] == "order_cancelled"


async def test_the_grace_period_ends_exactly_at_its_expiry(world, database_url, receiver) -> None:
    """The sender's clock decides: one second before the expiry two signatures, at it only the new one."""
    from core.db import create_engine, session_factory, unit_of_work
    from core.settings import async_database_url, load_settings
    from notify.webhooks import sender
    from notify.webhooks.addresses import parse_networks
    from notify.webhooks.config import WebhookSettings
    from notify.webhooks.crypto import cipher_for

    target = receiver()
    customer = await world.new_customer()
    hook = await register(world, customer, target.url, ["order_placed", "order_confirmed"])
    rotated = ok(await rotate(world, customer, hook["id"]))
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    ok(await customer.order(), 201)
    queued: list[str] = []
    await outbox_pass(database_url, queued.append)
    rows = ok(await world.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=customer.h))
    assert len(rows) == 2
    settings = WebhookSettings(allowed_networks=parse_networks(RECEIVERS))
    cipher = cipher_for(load_settings().auth)
    engine = create_engine(async_database_url(database_url), null_pool=True)
    try:
        for row, now in zip(rows, [expires - timedelta(seconds=1), expires], strict=True):
            async with unit_of_work(session_factory(engine)) as session:
                outgoing = await sender.claim(
                    session, uuid.UUID(row["id"]), now=now, lease_s=settings.lease_s, cipher=cipher
                )
            assert outgoing is not None
            outcome = await sender.post(outgoing, settings=settings)
            assert outcome.ok
            async with unit_of_work(session_factory(engine)) as session:
                await sender.record(session, outgoing, outcome, now=now, settings=settings)
    finally:
        await engine.dispose()
    (before, body_before, _), (after, body_after, _) = target.requests
    assert signatures(before) == [signature(rotated["secret"], body_before), signature(hook["secret"], body_before)]
    assert signatures(after) == [signature(rotated["secret"], body_after)]


async def test_rotation_is_idempotent_and_only_for_the_owner(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    hook = await register(world, alice, "https://example.com/rotate", ["*"])
    other_hook = await register(world, alice, "https://example.com/rotate-2", ["*"])

    refused = await rotate(world, bob, hook["id"], key="bob-key")
    assert (refused.status_code, refused.json()["code"]) == (404, "webhook_not_found")
    assert hook["secret"] not in refused.text
    missing = await rotate(world, alice, str(uuid.uuid4()))
    assert (missing.status_code, missing.json()["code"]) == (404, "webhook_not_found")

    first = await rotate(world, alice, hook["id"], key="rotate-1")
    retry = await rotate(world, alice, hook["id"], key="rotate-1")
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and first.json()["secret"] != hook["secret"]
    # The same key for another webhook is another request.
    reused = await rotate(world, alice, other_hook["id"], key="rotate-1")
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    # Keys are per account: Bob's key of the same name is his own (and still finds no webhook of Alice's).
    assert (await rotate(world, bob, hook["id"], key="rotate-1")).status_code == 404

    # Without a key, or with a new one, every request rotates.
    second = ok(await rotate(world, alice, hook["id"]))
    third = ok(await rotate(world, alice, hook["id"], key="rotate-2"))
    assert len({hook["secret"], first.json()["secret"], second["secret"], third["secret"]}) == 4
    late = await rotate(world, alice, hook["id"], key="rotate-1")
    assert (late.status_code, late.json()["code"]) == (409, "secret_rotated_again")
    assert first.json()["secret"] not in late.text
    bad = await rotate(world, alice, hook["id"], key=" ")
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_idempotency_key")

    listed = ok(await world.client.get("/api/v1/webhooks", headers=alice.h))
    assert all("secret" not in h for h in listed)


async def test_a_concurrent_retry_of_a_rotation_gets_the_same_secret(world, racer) -> None:
    customer = await world.new_customer()
    hook = await register(world, customer, "https://example.com/burst", ["*"])
    responses = await asyncio.gather(*(rotate(world, customer, hook["id"], key="burst", via=racer) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert len({r.json()["secret"] for r in responses}) == 1


# --- where a delivery may connect: resolved once, every address checked, the connection pinned ---------------


class ScriptedDns:
    """A DNS stand-in given to the sender (as the worker gives it the system's): answers `answers[n]` to the n-th
    lookup (the last one again after that), or raises when the answer is an exception."""

    def __init__(self, *answers: list[str] | OSError) -> None:
        self.answers, self.lookups = answers, []  # type: ignore[var-annotated]

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        answer = self.answers[min(len(self.lookups), len(self.answers)) - 1]
        if isinstance(answer, OSError):
            raise answer
        return answer


def receivers_on_one_port(receiver, *hosts: str, fail_first: int = 0) -> list[Receiver]:  # type: ignore[no-untyped-def]
    """Receivers on the same port of several loopback addresses: which address a request reached tells them apart."""
    for _ in range(10):
        first = receiver(fail_first, host=hosts[0])
        try:
            return [first, *(receiver(fail_first, host=host, port=first.port) for host in hosts[1:])]
        except OSError:  # that port is taken on another address: try another
            continue
    raise AssertionError("no port free on every address")


async def deliveries_of(world, customer, hook_id: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return ok(await world.client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=customer.h))


async def one_pending_delivery(world, database_url, customer, url: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A webhook on `url` with one delivery (an order placed) that no worker was asked to send."""
    hook = await register(world, customer, url, ["order_placed"])
    ok(await customer.order(), 201)
    await outbox_pass(database_url, lambda _: None)
    (delivery,) = await deliveries_of(world, customer, hook["id"])
    return hook["id"], delivery["id"]


async def attempt(database_url: str, delivery_id: str, *, settings, resolver, now: datetime):  # type: ignore[no-untyped-def]
    """One attempt as the worker makes it (claim, POST, record), with the resolver given."""
    from core.db import create_engine, session_factory, unit_of_work
    from core.settings import async_database_url, load_settings
    from notify.webhooks import sender
    from notify.webhooks.crypto import cipher_for

    engine = create_engine(async_database_url(database_url), null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            outgoing = await sender.claim(
                session,
                uuid.UUID(delivery_id),
                now=now,
                lease_s=settings.lease_s,
                cipher=cipher_for(load_settings().auth),
            )
        assert outgoing is not None
        outcome = await sender.post(outgoing, settings=settings, resolver=resolver)
        async with unit_of_work(session_factory(engine)) as session:
            await sender.record(session, outgoing, outcome, now=now, settings=settings)
    finally:
        await engine.dispose()
    return outcome


def send_settings(allowed: str = RECEIVERS, **overrides: Any):  # type: ignore[no-untyped-def]
    from notify.webhooks.addresses import parse_networks
    from notify.webhooks.config import WebhookSettings

    return WebhookSettings(allowed_networks=parse_networks(allowed), timeout_s=3, backoff_s=1, **overrides)


async def test_a_dns_answer_that_changes_after_the_check_cannot_reach_an_internal_address(
    world, database_url, receiver
) -> None:
    """Rebinding: the first lookup answers the allowed 127.0.0.1, every later one 127.0.0.2, where an internal
    service listens on the same port. The request goes to the address that was checked, and only there."""
    allowed, internal = receivers_on_one_port(receiver, "127.0.0.1", "127.0.0.2", fail_first=1)
    customer = await world.new_customer()
    hook_id, delivery_id = await one_pending_delivery(
        world, database_url, customer, f"http://hooks.rebind.test:{allowed.port}/hook"
    )
    dns = ScriptedDns(["127.0.0.1"], ["127.0.0.2"])
    settings = send_settings(max_attempts=5)
    now = datetime.now(UTC)

    first = await attempt(database_url, delivery_id, settings=settings, resolver=dns, now=now)
    # One lookup, and the connection went to its answer: the receiver there saw the URL's host (and said 500).
    assert dns.lookups == [("hooks.rebind.test", allowed.port)]
    assert (first.status_code, first.permanent) == (500, False)
    assert [headers["host"] for headers, _, _ in allowed.requests] == [f"hooks.rebind.test:{allowed.port}"]
    assert internal.requests == []

    second = await attempt(database_url, delivery_id, settings=settings, resolver=dns, now=now + timedelta(seconds=5))
    # The retry resolves again, gets the internal address, and sends nothing.
    assert len(dns.lookups) == 2
    assert (second.status_code, second.permanent) == (None, True)
    assert internal.requests == [] and len(allowed.requests) == 1

    (row,) = await deliveries_of(world, customer, hook_id)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 2, None)
    log = [(a["number"], a["status_code"], a["error"]) for a in row["attempt_log"]]
    assert log == [(1, 500, "HTTP 500"), (2, None, "refused: the host resolves to an internal address")]
    assert "127.0.0.2" not in str(row)  # the customer's log names no internal address


async def test_a_failed_lookup_sends_nothing_and_is_recorded(world, database_url, receiver) -> None:
    """The name's lookup fails: no connection at all (not even where the system's resolver would go: `localhost`
    is the allowed receiver's address), the attempt is logged and retried, then the delivery fails."""
    target = receiver()
    customer = await world.new_customer()
    hook_id, delivery_id = await one_pending_delivery(
        world, database_url, customer, f"http://localhost:{target.port}/hook"
    )
    dns = ScriptedDns(OSError(-3, "Temporary failure in name resolution"))
    settings = send_settings(max_attempts=2)
    now = datetime.now(UTC)
    first = await attempt(database_url, delivery_id, settings=settings, resolver=dns, now=now)
    assert (first.status_code, first.permanent) == (None, False)
    (row,) = await deliveries_of(world, customer, hook_id)
    assert row["status"] == "pending" and row["next_attempt_at"] is not None
    await attempt(database_url, delivery_id, settings=settings, resolver=dns, now=now + timedelta(seconds=5))

    assert target.requests == [] and len(dns.lookups) == 2
    (row,) = await deliveries_of(world, customer, hook_id)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    refused = "refused: the host name could not be resolved"
    assert [(a["status_code"], a["error"]) for a in row["attempt_log"]] == [(None, refused), (None, refused)]


@pytest.mark.parametrize(
    "answer",
    [
        ["93.184.215.14", "127.0.0.2"],  # public, then internal
        ["127.0.0.2", "93.184.215.14"],
        ["127.0.0.1", "10.0.0.1"],  # the allowed receiver, and a private address
        ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:127.0.0.2"],
        ["93.184.215.14", "64:ff9b::a9fe:a9fe"],  # NAT64 of the metadata address
    ],
    ids=["public+loopback", "loopback+public", "allowed+private", "v6-public+mapped-loopback", "public+nat64"],
)
async def test_a_host_with_an_internal_address_among_its_addresses_is_refused(
    world, database_url, receiver, answer: list[str]
) -> None:
    allowed, internal = receivers_on_one_port(receiver, "127.0.0.1", "127.0.0.2")
    customer = await world.new_customer()
    hook_id, delivery_id = await one_pending_delivery(
        world, database_url, customer, f"http://mixed.example.com:{allowed.port}/hook"
    )
    dns = ScriptedDns(answer)
    outcome = await attempt(database_url, delivery_id, settings=send_settings(), resolver=dns, now=datetime.now(UTC))
    assert (outcome.status_code, outcome.permanent) == (None, True)
    assert allowed.requests == internal.requests == [] and len(dns.lookups) == 1
    (row,) = await deliveries_of(world, customer, hook_id)
    assert (row["status"], row["last_error"]) == ("failed", "refused: the host resolves to an internal address")


async def test_a_name_with_several_allowed_addresses_is_sent_to_the_next_one_when_one_is_down(
    world, database_url, receiver
) -> None:
    """Every address was checked, so falling back to the next one (nothing listens on the first) is safe."""
    down, up = receivers_on_one_port(receiver, "127.0.0.3", "127.0.0.1")
    down.server.shutdown()
    down.server.server_close()
    customer = await world.new_customer()
    hook_id, delivery_id = await one_pending_delivery(
        world, database_url, customer, f"http://two.example.com:{up.port}/hook"
    )
    dns = ScriptedDns(["127.0.0.3", "127.0.0.1"])
    settings = send_settings("127.0.0.3/32, 127.0.0.1/32")
    outcome = await attempt(database_url, delivery_id, settings=settings, resolver=dns, now=datetime.now(UTC))
    assert outcome.ok and len(dns.lookups) == 1
    assert [headers["host"] for headers, _, _ in up.requests] == [f"two.example.com:{up.port}"]
    (row,) = await deliveries_of(world, customer, hook_id)
    assert (row["status"], row["attempts"]) == ("delivered", 1)


def test_the_pinned_connection_keeps_the_urls_host_for_sni_and_the_certificate(tmp_path) -> None:
    """HTTPS to the checked address: the server sees the URL's host as the TLS server name and in Host, the
    certificate is verified against that name (it has no IP address in it), and a certificate for another
    name is refused."""
    import ssl

    import httpx

    from notify.webhooks.addresses import literal_address
    from notify.webhooks.pinning import PinnedTransport, Target

    cert, key = _self_signed(tmp_path, "hooks.example")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    target = Receiver()
    target.server.socket = server_tls.wrap_socket(target.server.socket, server_side=True)
    target.thread.start()
    trusted = ssl.create_default_context(cafile=str(cert))
    address = literal_address("127.0.0.1")
    assert address is not None

    async def post(host: str) -> httpx.Response:
        transport = PinnedTransport(Target(host=host, addresses=(address,)), verify=trusted)
        async with httpx.AsyncClient(transport=transport, trust_env=False, timeout=5) as client:
            return await client.post(f"https://{host}:{target.port}/hook", content=b"{}")

    try:
        assert asyncio.run(post("hooks.example")).status_code == 200
        assert names == ["hooks.example"]
        assert target.requests[0][0]["host"] == f"hooks.example:{target.port}"
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            asyncio.run(post("other.example"))
        assert len(target.requests) == 1
    finally:
        target.server.shutdown()
        target.server.server_close()


def _self_signed(folder, name: str):  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
