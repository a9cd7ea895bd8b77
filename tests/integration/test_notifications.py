"""Notifications end to end: committed events -> the outbox -> a real SMTP server and local stand-ins of Tencent Cloud
SMS and the WeChat API that check every request's signature and body (tests/notify_fakes.py), and the in-app inbox
with its live stream. The outbox pass and the send tasks run in the test (as the worker runs them), except in the
last test, where the real worker sends."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from tests.factories import ok
from tests.integration.test_share_and_live import EventStream
from tests.notify_fakes import (
    SMS_APP_ID,
    SMS_SECRET_ID,
    SMS_SECRET_KEY,
    SMS_SIGN_NAME,
    WECHAT_APP_ID,
    WECHAT_SECRET,
    ProviderServer,
    SmtpSink,
    provider_env,
)

pytestmark = pytest.mark.integration
API = "/api/v1"


@pytest.fixture(scope="module")
def smtp() -> Any:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def providers() -> Any:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def notify(smtp: SmtpSink, providers: ProviderServer) -> Any:
    """Settings that send through the fakes, with retries a few milliseconds apart."""
    from notify.config import NotifySettings, SmsSettings, SmtpSettings, WechatSettings

    providers.state.unavailable_for = 0
    return NotifySettings(
        smtp=SmtpSettings(
            host="127.0.0.1", port=smtp.port, starttls=False, sender="Diesel Direct <noreply@diesel.test>"
        ),
        sms=SmsSettings(
            secret_id=SMS_SECRET_ID,
            secret_key=SMS_SECRET_KEY,
            base_url=providers.url,
            sdk_app_id=SMS_APP_ID,
            sign_name=SMS_SIGN_NAME,
            templates=(("*", "1000001"), ("order_confirmed", "1000002")),
        ),
        wechat=WechatSettings(
            app_id=WECHAT_APP_ID, app_secret=WECHAT_SECRET, base_url=providers.url, templates=(("*", "TPL_ALL"),)
        ),
        backoff_s=0.05,
        backoff_max_s=0.2,
    )


class Outbox:
    """Runs the outbox pass and the send tasks as the worker would, in this process."""

    def __init__(self, settings: Any, notify: Any) -> None:
        self.settings, self.notify = settings, notify

    async def run(self, *, now: datetime | None = None, send: bool = True) -> dict[str, list[str]]:
        from core.clock import FrozenClock
        from notify.tasks import outbox_pass, send_batch

        queued: dict[str, list[str]] = defaultdict(list)
        await outbox_pass(
            database_url=self.settings.db.url,
            settings=self.notify,
            app_settings=self.settings,
            enqueue=lambda channel, ids: queued[channel].extend(ids),
            now=now,
        )
        if send:
            clock = FrozenClock(now) if now is not None else None
            for channel, ids in queued.items():
                await send_batch(
                    channel,
                    [uuid.UUID(i) for i in ids],
                    settings=self.notify,
                    database_url=self.settings.db.url,
                    clock=clock,
                )
        return queued


@pytest.fixture
def outbox(settings: Any, notify: Any) -> Outbox:
    return Outbox(settings, notify)


async def rows_of(settings: Any, customer_id: str) -> list[Any]:
    from core.db import create_engine, session_factory
    from notify.models import Notification

    engine = create_engine(settings.db.url, null_pool=True)
    try:
        async with session_factory(engine)() as session:
            found = await session.scalars(
                select(Notification)
                .where(Notification.customer_id == uuid.UUID(customer_id))
                .order_by(Notification.created_at, Notification.channel)
            )
            return list(found)
    finally:
        await engine.dispose()


async def rewind_cursor(settings: Any) -> None:
    """The outbox's cursor five minutes back: its next run reads the same events again (as after a crash before
    its commit)."""
    from core.db import create_engine, session_factory, unit_of_work
    from notify.webhooks.models import OutboxCursor
    from notify.webhooks.outbox import uuid7_floor

    engine = create_engine(settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await session.execute(
                update(OutboxCursor)
                .where(OutboxCursor.name == "notifications")
                .values(last_event_id=uuid7_floor(datetime.now(UTC) - timedelta(minutes=5)))
            )
    finally:
        await engine.dispose()


def phone() -> str:
    return "+86139" + str(uuid.uuid4().int)[:8]


def channels(*, email: str | None = None, sms: str | None = None, wechat: str | None = None, web: bool = True):  # type: ignore[no-untyped-def]
    return {"web": web, "email": email, "sms": sms, "wechat": wechat}


async def choose(customer: Any, **body: Any) -> dict[str, Any]:
    body.setdefault("events", ["*"])
    return ok(await customer.world.client.put(f"{API}/me/notification-settings", headers=customer.h, json=body))


async def test_a_confirmed_order_reaches_email_sms_and_wechat_in_each_users_language(
    world, outbox, smtp, providers
) -> None:
    english, chinese = await world.new_customer(), await world.new_customer()
    en_mail, zh_mail = f"ops-{uuid.uuid4().hex[:6]}@acme.test", f"ops-{uuid.uuid4().hex[:6]}@acme.test"
    en_phone, zh_phone = phone(), phone()
    openid = "oUpF8u" + uuid.uuid4().hex[:20]
    await choose(english, channels=channels(email=en_mail, sms=en_phone, wechat=openid), language="en")
    await choose(chinese, channels=channels(email=zh_mail, sms=zh_phone))  # the default language: zh-CN
    en_order = ok(await english.order(), 201)
    zh_order = ok(await chinese.order(), 201)
    assert en_order["status"] == zh_order["status"] == "confirmed"

    await outbox.run()

    [mail] = smtp.to(en_mail)
    assert mail.subject == f"Order {en_order['reference']} confirmed"
    assert "5,000 L of" in mail.text and "is confirmed" in mail.text and "¥" in mail.text
    assert mail.sender == "noreply@diesel.test"
    [zh] = smtp.to(zh_mail)
    assert zh.subject == f"订单 {zh_order['reference']} 已确认"
    assert "已确认，金额 ¥" in zh.text and "5,000 升" in zh.text
    [sms] = providers.sms_to(en_phone)
    assert sms.template_id == "1000002"  # the template of the kind, before the catch-all
    assert sms.params[0] == en_order["reference"] and sms.params[3].startswith("¥")
    [zh_sms] = providers.sms_to(zh_phone)
    [message] = providers.wechat_to(openid)
    assert message.data["first"]["value"] == f"Order {en_order['reference']} confirmed"
    assert message.data["keyword1"]["value"] == en_order["reference"]
    assert message.url is not None and message.url.endswith(f"/app/customer/orders/{en_order['id']}")
    assert not providers.state.refused, providers.state.refused
    statuses = {(r.channel, r.status) for r in await rows_of(outbox.settings, english.id)}
    assert statuses == {("email", "sent"), ("sms", "sent"), ("wechat", "sent"), ("web", "sent")}
    assert zh_sms.session_context in {str(r.id) for r in await rows_of(outbox.settings, chinese.id)}


async def test_a_provider_down_for_a_while_gets_the_message_once_it_is_back(world, outbox, providers) -> None:
    customer = await world.new_customer()
    number = phone()
    await choose(customer, channels=channels(sms=number, web=False))
    order = ok(await customer.order(), 201)
    providers.state.unavailable_for = 2  # the next two requests: 503

    await outbox.run()
    [row] = await rows_of(outbox.settings, customer.id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
    assert providers.sms_to(number) == []
    for _ in range(20):  # the outbox queues it again once its backoff has passed
        await asyncio.sleep(0.1)
        await outbox.run()
        [row] = await rows_of(outbox.settings, customer.id)
        if row.status == "sent":
            break
    assert (row.status, row.attempts) == ("sent", 3)
    [sms] = providers.sms_to(number)
    assert sms.params[0] == order["reference"] and sms.session_context == str(row.id)
    await outbox.run()  # nothing more to do
    assert len(providers.sms_to(number)) == 1


async def test_after_the_last_attempt_a_notification_is_failed_and_admins_see_it(
    world, outbox, providers, notify
) -> None:
    customer = await world.new_customer()
    number = phone()
    await choose(customer, channels=channels(sms=number, web=False))
    ok(await customer.order(), 201)
    outbox.notify = replace(notify, max_attempts=2)
    providers.state.unavailable_for = 1000
    try:
        for _ in range(20):
            await outbox.run()
            [row] = await rows_of(outbox.settings, customer.id)
            if row.status == "failed":
                break
            await asyncio.sleep(0.1)
    finally:
        providers.state.unavailable_for = 0
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "HTTP 503")
    failed = ok(await world.client.get(f"{API}/notifications", headers=world.h("admin"), params={"status": "failed"}))
    [entry] = [e for e in failed["items"] if e["id"] == str(row.id)]
    assert (entry["channel"], entry["address"], entry["attempts"]) == ("sms", number, 2)
    refused = await world.client.get(f"{API}/notifications", headers=customer.h)
    assert refused.status_code == 403
    await outbox.run()  # a failed notification is never sent again
    assert providers.sms_to(number) == []


async def test_the_same_event_read_twice_and_sent_twice_makes_one_message(world, outbox, settings, smtp) -> None:
    from notify.tasks import send_batch

    customer = await world.new_customer()
    address = f"dup-{uuid.uuid4().hex[:6]}@acme.test"
    await choose(customer, channels=channels(email=address))
    ok(await customer.order(), 201)
    queued = await outbox.run(send=False)
    # The cursor goes back: the next pass reads the same events again (as after a crash before its commit).
    await rewind_cursor(settings)
    await outbox.run(send=False)
    rows = await rows_of(settings, customer.id)
    assert sorted(r.channel for r in rows) == ["email", "web"]
    [email] = [r for r in rows if r.channel == "email"]
    assert str(email.id) in queued["email"]
    # The send task arrives twice (a redelivered message): the second finds nothing to send.
    twice = [send_batch("email", [email.id], settings=outbox.notify, database_url=settings.db.url) for _ in range(2)]
    assert sorted(await asyncio.gather(*twice)) == [0, 1]
    assert len(smtp.to(address)) == 1


async def test_quiet_hours_hold_sms_and_wechat_until_they_end_but_not_email(world, outbox, smtp, providers) -> None:
    customer = await world.new_customer()
    address, number, openid = f"q-{uuid.uuid4().hex[:6]}@acme.test", phone(), "oQuiet" + uuid.uuid4().hex[:20]
    shanghai = ZoneInfo("Asia/Shanghai")
    local = datetime.now(shanghai)
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    await choose(
        customer,
        channels=channels(email=address, sms=number, wechat=openid),
        quiet_hours={"start": start, "end": end, "timezone": "Asia/Shanghai"},
    )
    ok(await customer.order(), 201)

    await outbox.run()
    assert len(smtp.to(address)) == 1
    assert providers.sms_to(number) == [] and providers.wechat_to(openid) == []
    held = {r.channel: r for r in await rows_of(outbox.settings, customer.id)}
    quiet_end = held["sms"].next_attempt_at.astimezone(shanghai)
    assert quiet_end.strftime("%H:%M") == end and quiet_end > local
    assert held["sms"].status == held["wechat"].status == "pending" and held["sms"].attempts == 0

    await outbox.run(now=quiet_end + timedelta(seconds=1))  # the quiet hours are over
    assert len(providers.sms_to(number)) == 1 and len(providers.wechat_to(openid)) == 1
    assert len(smtp.to(address)) == 1


async def test_settings_are_respected_and_checked(world, outbox, smtp, providers) -> None:
    customer = await world.new_customer()
    number, address = phone(), f"s-{uuid.uuid4().hex[:6]}@acme.test"
    settings = await choose(
        customer, channels=channels(sms=number, email=address, web=False), events=["order_delivered", "daily_price"]
    )
    assert settings["events"] == ["order_delivered", "daily_price"] and settings["channels"]["web"] is False
    assert settings["available_channels"] == ["web"]  # the API process here has no provider configured
    mine = ok(await world.client.get(f"{API}/me/notification-settings", headers=customer.h))
    assert mine["channels"] == {"web": False, "email": address, "sms": number, "wechat": None}
    ok(await customer.order(), 201)
    await outbox.run()
    assert await rows_of(outbox.settings, customer.id) == []  # a confirmation was not asked for
    assert smtp.to(address) == [] and providers.sms_to(number) == []

    client = world.client
    for body, code in [
        ({"channels": {"web": True, "email": "not-an-address"}, "events": ["*"]}, "invalid_address"),
        ({"channels": {"web": True, "sms": "13800138000"}, "events": ["*"]}, "invalid_address"),
        ({"channels": {"web": True}, "events": ["order_teleported"]}, "unknown_event_type"),
        (
            {"channels": {"web": True}, "events": ["*"], "quiet_hours": {"start": "22:00", "end": "22:00"}},
            "invalid_quiet_hours",
        ),
        (
            {
                "channels": {"web": True},
                "events": ["*"],
                "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"},
            },
            "invalid_timezone",
        ),
        ({"channels": {"web": True}, "events": ["*"], "language": "fr"}, "invalid_language"),
    ]:
        response = await client.put(f"{API}/me/notification-settings", headers=customer.h, json=body)
        assert (response.status_code, response.json()["code"]) == (422, code), body
    # A body of the wrong shape is the client's error (`channels` once shared a name with a dependency: 500).
    wrong_shape = await client.put(
        f"{API}/me/notification-settings", headers=customer.h, json={"channels": [None, None], "events": []}
    )
    assert (wrong_shape.status_code, wrong_shape.json()["code"]) == (400, "validation_error")
    still = ok(await client.get(f"{API}/me/notification-settings", headers=customer.h))
    assert still["channels"]["sms"] == number  # a refused change changed nothing
    staff = await client.get(f"{API}/me/notification-settings", headers=world.h("dispatcher"))
    assert staff.status_code == 403


@pytest.fixture
async def http(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=live_server, timeout=httpx.Timeout(30.0), headers={"Accept": "text/event-stream"}
    ) as client:
        yield client


async def test_the_in_app_inbox_lists_counts_and_pushes_live(world, outbox, http) -> None:
    customer, stranger = await world.new_customer(), await world.new_customer()
    async with http.stream("GET", f"{API}/me/notifications/live", headers=customer.h) as response:
        assert response.status_code == 200
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"
        order = ok(await customer.order(), 201)
        await outbox.run()
        pushed = await stream.until(lambda e: e["type"] == "notification")
    assert pushed["subject_id"] == ok(await world.client.get(f"{API}/me", headers=customer.h))["user"]["id"]
    assert pushed["data"]["title"] == f"订单 {order['reference']} 已确认"

    inbox = ok(await world.client.get(f"{API}/me/notifications", headers=customer.h))
    assert (inbox["total"], inbox["unread"]) == (1, 1)
    [item] = inbox["items"]
    assert item["id"] == pushed["data"]["notification_id"] and item["kind"] == "order_confirmed"
    assert item["read_at"] is None and item["link"].endswith(f"/app/customer/orders/{order['id']}")
    # Another customer's real notification id: not found, and not marked.
    other = await world.client.post(f"{API}/me/notifications/{item['id']}/read", headers=stranger.h)
    assert (other.status_code, other.json()["code"]) == (404, "notification_not_found")
    assert ok(await world.client.get(f"{API}/me/notifications", headers=stranger.h))["total"] == 0
    read = ok(await world.client.post(f"{API}/me/notifications/{item['id']}/read", headers=customer.h))
    assert read["read_at"] is not None
    again = ok(await world.client.post(f"{API}/me/notifications/{item['id']}/read", headers=customer.h))
    assert again["read_at"] == read["read_at"]  # the first reading counts
    after = ok(await world.client.get(f"{API}/me/notifications", headers=customer.h, params={"unread": "true"}))
    assert (after["total"], after["unread"]) == (0, 0)


async def test_payments_held_orders_and_nearly_used_credit_are_told(world, outbox) -> None:
    customer = await world.new_customer(credit=4_000_000)  # ¥40,000: a 5,000 L order (¥39,000) takes over 90 %
    await choose(customer, channels=channels(), language="en")
    assert ok(await customer.order(), 201)["status"] == "confirmed"
    await outbox.run()  # the credit is read when the confirmation is told: a payment since would have freed it
    ok(
        await world.client.post(
            f"{API}/customers/{customer.id}/payments",
            headers=world.h("admin"),
            json={"amount_minor": 300_000, "reference": "bank 42"},
        )
    )
    await outbox.run()
    inbox = ok(await world.client.get(f"{API}/me/notifications", headers=customer.h))
    by_kind = {item["kind"]: item for item in inbox["items"]}
    assert set(by_kind) == {"order_confirmed", "credit_nearly_used", "payment_received"}
    assert by_kind["payment_received"]["title"] == "Payment of ¥3,000.00 received"
    assert "Your available credit is ¥1,000.00 (2% of your ¥40,000.00 limit)" in by_kind["credit_nearly_used"]["body"]
    # Confirmed again the same day, under 10 % again: no second warning. Then one that does not fit is held.
    assert ok(await customer.order(quantity_litres=500), 201)["status"] == "confirmed"
    held = ok(await customer.order(quantity_litres=500), 201)
    assert held["status"] == "on_hold"
    await outbox.run()
    items = ok(await world.client.get(f"{API}/me/notifications", headers=customer.h))["items"]
    kinds = [i["kind"] for i in items]
    assert kinds.count("credit_nearly_used") == 1 and kinds.count("order_confirmed") == 2
    [on_hold] = [i for i in items if i["kind"] == "order_on_hold"]
    assert on_hold["title"] == f"Order {held['reference']} on hold"
    assert "over its credit limit; it is confirmed once a payment frees credit" in on_hold["body"]


async def test_the_days_price_carries_each_customers_own_net_price_and_a_link_to_order_the_same(
    world, outbox, providers, clock
) -> None:
    from core.units import apply_bps, per_tonne
    from tests.factories import FIRST_DAY

    # A depot of their own, right where they are: their orders are served from it.
    lat, lon = 29.0 + uuid.uuid4().int % 1000 / 10_000, 119.0
    depot = await world.new_depot(lat=lat, lon=lon)
    plain, contracted = await world.new_customer(lat=lat, lon=lon), await world.new_customer(lat=lat, lon=lon)
    plain_phone, contract_phone = phone(), phone()
    await choose(plain, channels=channels(sms=plain_phone), language="en")
    await choose(contracted, channels=channels(sms=contract_phone), language="en")
    ok(
        await world.client.put(
            f"{API}/customers/{contracted.id}/contract-prices",
            headers=world.h("admin"),
            json=[{"product_code": "diesel-0", "valid_from": FIRST_DAY.isoformat(), "discount_per_litre_minor": 30}],
        )
    )
    for customer in (plain, contracted):
        order = ok(await customer.order(quantity_litres=6000, window_start="10:00"), 201)
        assert order["depot_id"] == depot["id"]
    await outbox.run()  # the confirmations
    tomorrow = (FIRST_DAY + timedelta(days=1)).isoformat()
    ok(
        await world.client.put(
            f"{API}/prices",
            headers=world.h("admin"),
            json=[
                {
                    "depot_id": depot["id"],
                    "product_code": "diesel-0",
                    "valid_from": tomorrow,
                    "price_per_litre_minor": 800,
                }
            ],
        )
    )
    await outbox.run(now=clock.now())  # the app's clock: the link expires a week after it, as the API reads it

    density = {p["code"]: p["density_kg_m3"] for p in ok(await world.client.get(f"{API}/products", headers=plain.h))}[
        "diesel-0"
    ]
    tier_0 = ok(await world.client.get(f"{API}/settings/tiers", headers=plain.h))[0][
        "discount_bps"
    ]  # new customers' tier
    expected = {plain.id: 800 - apply_bps(800, tier_0), contracted.id: 800 - 30 - apply_bps(800, tier_0)}
    for customer, number in ((plain, plain_phone), (contracted, contract_phone)):
        [price] = [
            r for r in await rows_of(outbox.settings, customer.id) if r.kind == "daily_price" and r.channel == "sms"
        ]
        net = expected[customer.id]
        assert price.status == "sent"
        assert f"¥{net // 100}.{net % 100:02d}/L" in price.body
        tonne = per_tonne(net, density)
        assert f"¥{tonne // 100:,}.{tonne % 100:02d}/t" in price.body
        [sms] = [m for m in providers.sms_to(number) if m.session_context == str(price.id)]
        assert sms.params[2:] == [price.params["values"]["per_tonne"], price.params["values"]["per_litre"]]

        token = price.link.split("repeat=")[1]
        form = ok(await world.client.get(f"{API}/me/repeat-order/{token}", headers=customer.h))
        assert (form["quantity_litres"], form["window_start"], form["product_code"]) == (6000, "10:00", "diesel-0")
        assert form["site_id"] == customer.site["id"]
    # The link is bound to its account and cannot be altered.
    stolen = await world.client.get(f"{API}/me/repeat-order/{token}", headers=plain.h)
    assert (stolen.status_code, stolen.json()["code"]) == (404, "repeat_link_not_found")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    altered = await world.client.get(f"{API}/me/repeat-order/{forged}", headers=contracted.h)
    assert altered.status_code == 404


@pytest.mark.slow
async def test_the_real_worker_sends_through_the_providers(
    world, settings, notify, start_worker, smtp, providers, redis_available
) -> None:
    from notify.tasks import outbox_pass

    start_worker(**provider_env(smtp, providers))
    customer = await world.new_customer()
    address, number, openid = f"w-{uuid.uuid4().hex[:6]}@acme.test", phone(), "oWorker" + uuid.uuid4().hex[:20]
    await choose(customer, channels=channels(email=address, sms=number, wechat=openid), language="en")
    order = ok(await customer.order(), 201)
    # The outbox pass queues on the real broker, every second as the worker's beat would (every 2 s). Another
    # worker of the test session, without these providers, leaves what it cannot send queued for this one.
    quick = replace(notify, stale_after_s=1)
    deadline = time.monotonic() + 90
    while not (smtp.to(address) and providers.sms_to(number) and providers.wechat_to(openid)):
        assert time.monotonic() < deadline, "the worker did not send them"
        await outbox_pass(database_url=settings.db.url, settings=quick, app_settings=settings)
        await asyncio.sleep(1)
    assert smtp.to(address)[0].subject == f"Order {order['reference']} confirmed"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = await rows_of(settings, customer.id)
        if all(r.status == "sent" for r in rows):
            break
        await asyncio.sleep(0.2)
    assert {(r.channel, r.status) for r in rows} == {
        ("email", "sent"),
        ("sms", "sent"),
        ("wechat", "sent"),
        ("web", "sent"),
    }
    assert not providers.state.refused


# --- the pickup pass: an SMS to a phone that is nobody's login ------------------------------------------------------


def driver_phone() -> tuple[str, str]:
    """A Chinese mobile number as a customer types it, and as the SMS provider gets it (E.164)."""
    local = "139" + str(uuid.uuid4().int)[:8]
    return local, "+86" + local


async def pass_rows(settings: Any, customer_id: str) -> list[Any]:
    return [r for r in await rows_of(settings, customer_id) if r.kind == "pickup_pass"]


async def test_a_pickup_pass_reaches_the_drivers_phone_by_sms_with_its_link(world, outbox, providers) -> None:
    from tests.integration.test_pickup_pass import book

    depot = await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    typed, number = driver_phone()
    path = f"{API}/pickups/{booking['id']}/pass"
    sent = ok(await world.client.post(path, headers=customer.h, json={"phone": typed, "language": "en"}), 201)
    assert providers.sms_to(number) == []  # sent by the outbox after the commit, not in the request

    await outbox.run()
    [row] = await pass_rows(outbox.settings, customer.id)
    assert (row.recipient, row.user_id, row.channel, row.address, row.status) == ("phone", None, "sms", number, "sent")
    assert row.language == "en" and sent["url"] in row.body and row.body.startswith(f"Pickup {booking['reference']}")
    [sms] = providers.sms_to(number)  # the fake checked the TC3 signature and the body
    assert sms.template_id == "1000001" and sms.session_context == str(row.id)
    shanghai = ZoneInfo("Asia/Shanghai")  # the depot's
    start, end = (datetime.fromisoformat(booking[key]).astimezone(shanghai) for key in ("slot_start", "slot_end"))
    slot = f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}"
    assert sms.params == [booking["reference"], booking["vehicle_plate"], slot, sent["url"]]
    token = sms.params[3].removeprefix("https://diesel.test/pass/")
    assert ok(await world.client.get(f"{API}/pass/{token}"))["reference"] == booking["reference"]  # it opens

    # Chinese unless asked otherwise; nobody of the account hears of it (it is the driver's), nor sees it in-app.
    typed_zh, number_zh = driver_phone()
    zh = ok(await world.client.post(path, headers=customer.h, json={"phone": typed_zh}), 201)
    await outbox.run()
    [zh_row] = [r for r in await pass_rows(outbox.settings, customer.id) if r.address == number_zh]
    assert zh_row.language == "zh-CN" and zh_row.title.startswith("自提") and zh["url"] in zh_row.body
    assert len(providers.sms_to(number_zh)) == 1 and len(providers.sms_to(number)) == 1
    inbox = ok(await world.client.get(f"{API}/me/notifications", headers=customer.h))["items"]
    assert all(item["kind"] != "pickup_pass" for item in inbox)
    # A number no SMS can reach is refused up front, not taken and never sent.
    for unreachable in ("+0123456789", "0012345", "123456789012345"):
        refused = await world.client.post(path, headers=customer.h, json={"phone": unreachable})
        assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (422, "invalid_phone", "phone")
    outbox_view = ok(await world.client.get(f"{API}/notifications", headers=world.h("admin")))["items"]
    [entry] = [e for e in outbox_view if e["id"] == str(row.id)]
    assert (entry["recipient"], entry["user_id"], entry["address"]) == ("phone", None, number)


async def test_a_pass_sms_waits_out_a_provider_down_and_arrives_once(world, outbox, providers, settings) -> None:
    from tests.integration.test_pickup_pass import book

    depot = await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    typed, number = driver_phone()
    providers.state.unavailable_for = 2  # the next two requests: 503
    ok(await world.client.post(f"{API}/pickups/{booking['id']}/pass", headers=customer.h, json={"phone": typed}), 201)

    await outbox.run()
    [row] = await pass_rows(settings, customer.id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
    assert providers.sms_to(number) == []
    for _ in range(20):  # queued again once its backoff has passed
        await asyncio.sleep(0.1)
        await outbox.run()
        [row] = await pass_rows(settings, customer.id)
        if row.status == "sent":
            break
    assert (row.status, row.attempts) == ("sent", 3)
    # The event read again (the cursor back, as after a crash before the pass's commit): still one message.
    await rewind_cursor(settings)
    await outbox.run()
    assert len(await pass_rows(settings, customer.id)) == 1
    [sms] = providers.sms_to(number)
    assert sms.session_context == str(row.id)


async def test_a_pass_request_retried_with_its_idempotency_key_sends_one_sms(world, outbox, providers) -> None:
    from tests.integration.test_pickup_pass import book

    depot = await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    typed, number = driver_phone()
    path = f"{API}/pickups/{booking['id']}/pass"
    headers = {**customer.h, "Idempotency-Key": f"pass-{uuid.uuid4()}"}
    first = await world.client.post(path, headers=headers, json={"phone": typed})
    again = await world.client.post(path, headers=headers, json={"phone": typed})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    ok(await world.client.get(f"{API}/pass/{first.json()['token']}"))  # the retry ended nothing
    other = await world.client.post(path, headers=headers, json={"phone": "13900000000"})
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    events = ok(await world.client.get(f"{API}/pickups/{booking['id']}/events", headers=customer.h))
    assert len([e for e in events if e["type"] == "pickup_pass_sent"]) == 1

    await outbox.run()
    await outbox.run()
    assert len(providers.sms_to(number)) == 1
    assert len(await pass_rows(outbox.settings, customer.id)) == 1
