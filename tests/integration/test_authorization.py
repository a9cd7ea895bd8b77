"""Authorisation, walked from the app's own route table: every endpoint × every kind of caller.

`ACCESS` below is the expected access of every (method, path) under /api/v1. The walk is generated from
`app.routes`, so a new endpoint that nobody added to the table fails `test_every_api_route_is_in_the_access_table`
instead of silently escaping the walk. Path parameters are filled with real ids of a real published day: customer
A's order rides on ONE trip with customer B's, so "customer B asks for A's order" is a real question whose only
right answer is 404 without A's data; trip and stop ids are driver X's, walked by X (the owner) and by driver Y,
who drives the trip of A and B in the same plan and must get 404 without X's data. Plan, job and tanker ids are
the plan's own.

Also here: what a customer sees of its own order's trip (its own stop, never the other customers'), what a driver
sees of the plan (its own trips, nothing else), and the place for rack operators bound to depots.

Also here: forged, expired and tampered bearer tokens, login rate limiting and password storage.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jwt
import pytest
from litestar.routes import HTTPRoute
from sqlalchemy import select

from tests.conftest import T0
from tests.factories import EVERY_DAY, PASSWORD, Customer, SharedTrip, bearer, ok, shared_trip_day
from tests.money_factories import Delivery, money_session
from tests.money_factories import credit as money_credit
from tests.money_factories import invoice as money_invoice

pytestmark = pytest.mark.integration

API = "/api/v1"
ADMIN, DISPATCHER, DRIVER, RACK, CUSTOMER = "admin", "dispatcher", "driver", "rack_operator", "customer"
OTHER_DRIVER = "other_driver"  # a caller of the walk: driver Y, on driver X's trip and stop
FINANCE = "finance"
STAFF_ROLES = (ADMIN, DISPATCHER, RACK, FINANCE)
EVERYONE = frozenset({ADMIN, DISPATCHER, DRIVER, RACK, CUSTOMER, FINANCE})
MONEY = frozenset({ADMIN, FINANCE})
MONEY_OR_CUSTOMER = frozenset({ADMIN, FINANCE, CUSTOMER})
ONLY_ADMIN = frozenset({ADMIN})
STAFF = frozenset({ADMIN, DISPATCHER})
ONLY_CUSTOMER = frozenset({CUSTOMER})
CUSTOMER_OR_STAFF = frozenset({CUSTOMER, ADMIN, DISPATCHER})
RACK_OR_ADMIN = frozenset({RACK, ADMIN})
ONLY_DRIVER = frozenset({DRIVER})
MONEY_READERS = MONEY_OR_CUSTOMER  # admin, finance, or the customer itself
# Methods Litestar answers by itself (CORS preflight / Allow); they carry no data and are checked separately.
AUTOMATIC_METHODS = {"OPTIONS", "HEAD"}


@dataclass(frozen=True)
class Access:
    """Who passes the guard of one operation.

    roles:   the roles whose token is let through (anything else with a valid token gets 403).
    public:  no token needed at all (anonymous callers are let through as well).
    scoped:  the path (or the body) names customer A's resource: another customer gets 404, never the contents.
    driver_scoped: the path names driver X's trip or stop: another driver gets 404, never the contents.
    depot_scoped: the path names the walk's depot, which is not the rack operator's: it gets 403 `not_your_depot`.
    """

    roles: frozenset[str]
    public: bool = False
    scoped: bool = False
    driver_scoped: bool = False
    depot_scoped: bool = False  # the path names a depot: a rack operator passes at its own only (403 not_your_depot)


# Every operation under /api/v1, keyed by (method, path template as Litestar formats it, without the prefix).
ACCESS: dict[tuple[str, str], Access] = {
    # auth and users
    ("POST", "/auth/token"): Access(EVERYONE, public=True),
    ("POST", "/auth/logout"): Access(EVERYONE),
    ("GET", "/me"): Access(EVERYONE),
    ("POST", "/me/password"): Access(EVERYONE),
    # Admins, dispatchers and account managers (any staff role with the `manager` flag: none in the walk).
    ("GET", "/me/referral.svg"): Access(STAFF),
    ("POST", "/users"): Access(ONLY_ADMIN),
    ("GET", "/users"): Access(ONLY_ADMIN),
    ("GET", "/users/{user_id}"): Access(ONLY_ADMIN),
    ("PUT", "/users/{user_id}/depots"): Access(ONLY_ADMIN),
    ("GET", "/audit"): Access(ONLY_ADMIN),
    ("PUT", "/users/{user_id}"): Access(ONLY_ADMIN),
    # catalogue: readable by any logged-in user, written by admins (prices also by dispatchers)
    ("GET", "/products"): Access(EVERYONE),
    ("POST", "/products"): Access(ONLY_ADMIN),
    ("GET", "/depots"): Access(EVERYONE),
    ("POST", "/depots"): Access(ONLY_ADMIN),
    ("GET", "/depots/{depot_id}"): Access(EVERYONE),
    ("GET", "/depots/{depot_id}/slots"): Access(EVERYONE),
    ("GET", "/prices"): Access(EVERYONE),
    ("GET", "/prices/history"): Access(EVERYONE),
    ("PUT", "/prices"): Access(STAFF),
    # pricing: a customer's contract prices (read by the customer itself), the tier table (written by admins)
    ("GET", "/customers/{customer_id}/contract-prices"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("PUT", "/customers/{customer_id}/contract-prices"): Access(ONLY_ADMIN),
    ("GET", "/settings/tiers"): Access(EVERYONE),
    ("PUT", "/settings/tiers"): Access(ONLY_ADMIN),
    # accounts
    ("POST", "/customers"): Access(ONLY_ADMIN),
    ("GET", "/customers"): Access(STAFF | {FINANCE}),
    ("GET", "/customers/{customer_id}"): Access(CUSTOMER_OR_STAFF | {FINANCE}, scoped=True),
    ("PATCH", "/customers/{customer_id}"): Access(ONLY_ADMIN),
    ("POST", "/customers/{customer_id}/payments"): Access(ONLY_ADMIN),
    ("POST", "/sites"): Access(CUSTOMER_OR_STAFF),
    ("GET", "/sites"): Access(CUSTOMER_OR_STAFF),
    ("GET", "/sites/{site_id}"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("PUT", "/sites/{site_id}"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/geocode"): Access(CUSTOMER_OR_STAFF),
    ("GET", "/geocode/status"): Access(CUSTOMER_OR_STAFF),
    ("GET", "/depots/{depot_id}/drivers"): Access(CUSTOMER_OR_STAFF),
    ("POST", "/applications"): Access(EVERYONE, public=True),
    ("GET", "/applications"): Access(ONLY_ADMIN),
    ("GET", "/applications/{application_id}"): Access(ONLY_ADMIN),
    ("POST", "/applications/{application_id}/approve"): Access(ONLY_ADMIN),
    ("POST", "/applications/{application_id}/reject"): Access(ONLY_ADMIN),
    # quotes and delivery orders (the body names A's site, so B is refused with 404)
    ("POST", "/quotes"): Access(ONLY_CUSTOMER, scoped=True),
    ("GET", "/availability"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("POST", "/orders"): Access(ONLY_CUSTOMER, scoped=True),
    ("GET", "/orders"): Access(CUSTOMER_OR_STAFF),
    ("GET", "/orders/{order_id}"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("POST", "/orders/{order_id}/cancel"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/orders/{order_id}/events"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/orders/{order_id}/tracking"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/orders/{order_id}/receipt-code"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/orders/{order_id}/receipt-code.svg"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/orders/{order_id}/receipt-code.png"): Access(CUSTOMER_OR_STAFF, scoped=True),
    # pickup bookings
    ("POST", "/pickups"): Access(ONLY_CUSTOMER),
    ("GET", "/pickups"): Access(CUSTOMER_OR_STAFF),
    ("GET", "/pickups/{booking_id}"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("POST", "/pickups/{booking_id}/cancel"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/pickups/{booking_id}/events"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/pickups/{booking_id}/code"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/pickups/{booking_id}/qr.svg"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/pickups/{booking_id}/qr.png"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/pickups/{booking_id}/check-in"): Access(CUSTOMER_OR_STAFF, scoped=True),
    # the truck driver's pass: sent by the booking's customer, read and used by whoever holds the link
    ("POST", "/pickups/{booking_id}/pass"): Access(ONLY_CUSTOMER, scoped=True),
    ("GET", "/pass/{pass_token}"): Access(EVERYONE, public=True),
    ("GET", "/pass/{pass_token}/qr.svg"): Access(EVERYONE, public=True),
    ("POST", "/pass/{pass_token}/check-in"): Access(EVERYONE, public=True),
    ("GET", "/depots/{depot_id}/gate-code"): Access(frozenset({ADMIN, DISPATCHER, RACK}), depot_scoped=True),
    ("GET", "/depots/{depot_id}/bays"): Access(frozenset({ADMIN, DISPATCHER, RACK}), depot_scoped=True),
    ("GET", "/depots/{depot_id}/gate-code.svg"): Access(frozenset({ADMIN, DISPATCHER, RACK}), depot_scoped=True),
    ("POST", "/rack/check-in"): Access(RACK_OR_ADMIN),
    # the rack: public keys for offline verification; the rest for rack operators (and admins).
    # An operator acts only at its own depots: `test_a_rack_operator_acts_only_at_its_own_depots` below (real ids of
    # another depot's trip) and tests/integration/test_rack_depots.py.
    ("GET", "/rack/keys"): Access(EVERYONE, public=True),
    ("GET", "/rack/depots"): Access(RACK_OR_ADMIN),
    ("POST", "/rack/verify"): Access(RACK_OR_ADMIN),
    ("POST", "/rack/redeem"): Access(RACK_OR_ADMIN),
    ("POST", "/rack/offline-redemptions"): Access(RACK_OR_ADMIN),
    ("GET", "/rack/conflicts"): Access(RACK_OR_ADMIN),
    # fleet and planning: dispatchers and admins
    ("POST", "/tankers"): Access(STAFF),
    ("GET", "/tankers"): Access(STAFF),
    ("PATCH", "/tankers/{tanker_id}"): Access(STAFF),
    ("POST", "/drivers"): Access(STAFF),
    ("GET", "/drivers"): Access(STAFF),
    ("POST", "/pairings"): Access(STAFF),
    ("GET", "/pairings"): Access(STAFF),
    ("POST", "/plans"): Access(STAFF),
    ("GET", "/plans"): Access(STAFF),
    ("GET", "/plans/{plan_id}"): Access(STAFF),
    ("GET", "/plans/{plan_id}/geojson"): Access(STAFF),
    ("POST", "/plans/{plan_id}/publish"): Access(STAFF),
    ("PATCH", "/plans/{plan_id}/stops/{stop_id}"): Access(STAFF),
    ("GET", "/plan-jobs/{job_id}"): Access(STAFF),
    ("POST", "/plan-jobs/{job_id}/cancel"): Access(STAFF),
    # the driver's cab
    ("GET", "/driver/route"): Access(ONLY_DRIVER),
    ("GET", "/driver/trips/{trip_id}/code"): Access(ONLY_DRIVER, driver_scoped=True),
    ("GET", "/driver/trips/{trip_id}/qr.svg"): Access(ONLY_DRIVER, driver_scoped=True),
    ("POST", "/driver/trips/{trip_id}/depart"): Access(ONLY_DRIVER, driver_scoped=True),
    ("POST", "/driver/positions"): Access(ONLY_DRIVER),
    ("POST", "/stops/{stop_id}/arrive"): Access(ONLY_DRIVER, driver_scoped=True),
    ("POST", "/stops/{stop_id}/deliver"): Access(ONLY_DRIVER, driver_scoped=True),
    ("POST", "/stops/{stop_id}/fail"): Access(ONLY_DRIVER, driver_scoped=True),
    # webhooks: a customer's own
    ("POST", "/webhooks"): Access(ONLY_CUSTOMER),
    ("GET", "/webhooks"): Access(ONLY_CUSTOMER),
    ("GET", "/webhooks/event-types"): Access(ONLY_CUSTOMER),
    ("GET", "/webhooks/{webhook_id}"): Access(ONLY_CUSTOMER, scoped=True),
    ("DELETE", "/webhooks/{webhook_id}"): Access(ONLY_CUSTOMER, scoped=True),
    ("GET", "/webhooks/{webhook_id}/deliveries"): Access(ONLY_CUSTOMER, scoped=True),
    ("POST", "/webhooks/{webhook_id}/rotate-secret"): Access(ONLY_CUSTOMER, scoped=True),
    # notifications: a customer user's own settings and inbox; the outbox for admins
    ("GET", "/me/notification-settings"): Access(ONLY_CUSTOMER),
    ("PUT", "/me/notification-settings"): Access(ONLY_CUSTOMER),
    ("GET", "/me/notifications"): Access(ONLY_CUSTOMER),
    ("POST", "/me/notifications/{notification_id}/read"): Access(ONLY_CUSTOMER, scoped=True),
    ("POST", "/me/notifications/read-all"): Access(ONLY_CUSTOMER),
    ("GET", "/me/notifications/live"): Access(ONLY_CUSTOMER),
    ("GET", "/me/repeat-order/{repeat_token}"): Access(ONLY_CUSTOMER, scoped=True),
    # a customer account's people (its admins) and the approvers' decisions (api/people.py)
    ("POST", "/me/users"): Access(ONLY_CUSTOMER),
    ("GET", "/me/users"): Access(ONLY_CUSTOMER),
    ("GET", "/me/users/{user_id}"): Access(ONLY_CUSTOMER, scoped=True),
    ("PUT", "/me/users/{user_id}"): Access(ONLY_CUSTOMER, scoped=True),
    ("POST", "/orders/{order_id}/approve"): Access(ONLY_CUSTOMER, scoped=True),
    ("POST", "/orders/{order_id}/reject"): Access(ONLY_CUSTOMER, scoped=True),
    # regular orders: standing orders and the same again (orders/standing_controllers.py)
    ("POST", "/standing-orders"): Access(ONLY_CUSTOMER, scoped=True),
    ("GET", "/standing-orders"): Access(ONLY_CUSTOMER),
    ("GET", "/standing-orders/{standing_id}"): Access(ONLY_CUSTOMER, scoped=True),
    ("DELETE", "/standing-orders/{standing_id}"): Access(ONLY_CUSTOMER, scoped=True),
    ("POST", "/orders/{order_id}/repeat"): Access(ONLY_CUSTOMER, scoped=True),
    ("GET", "/notifications"): Access(ONLY_ADMIN),
    # share links: made by the order's customer or staff, read by anyone holding the link
    ("POST", "/orders/{order_id}/share"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/orders/{order_id}/share"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("DELETE", "/orders/{order_id}/share/{link_id}"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/share/{token}"): Access(EVERYONE, public=True),
    # live streams (Server-Sent Events)
    ("GET", "/orders/{order_id}/live"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/pickups/{booking_id}/live"): Access(CUSTOMER_OR_STAFF, scoped=True),
    ("GET", "/dispatch/live"): Access(STAFF),
    # money's documents: a customer's own; checking an invoice's seal needs no login
    ("GET", "/invoices/{invoice_id}/pdf"): Access(MONEY_READERS, scoped=True),
    ("GET", "/invoices/{invoice_id}/efapiao.json"): Access(MONEY_READERS, scoped=True),
    ("GET", "/credit-notes/{credit_note_id}/pdf"): Access(MONEY_READERS, scoped=True),
    ("GET", "/invoices/efapiao.json"): Access(MONEY_READERS),
    ("GET", "/invoices.xlsx"): Access(MONEY_READERS),
    ("GET", "/payments.xlsx"): Access(MONEY_READERS),
    ("POST", "/invoices/verify"): Access(EVERYONE, public=True),
    ("GET", "/customers/{customer_id}/statements/{month}"): Access(MONEY_READERS, scoped=True),
    ("GET", "/customers/{customer_id}/statements/{month}/pdf"): Access(MONEY_READERS, scoped=True),
    ("GET", "/customers/{customer_id}/statements/{month}/csv"): Access(MONEY_READERS, scoped=True),
    ("GET", "/customers/{customer_id}/statements/{month}/xlsx"): Access(MONEY_READERS, scoped=True),
    # money: admin and finance; a customer reads its own
    ("GET", "/customers/{customer_id}/balance"): Access(MONEY_OR_CUSTOMER, scoped=True),
    ("GET", "/me/balance"): Access(ONLY_CUSTOMER),
    ("GET", "/customers/{customer_id}/ledger"): Access(MONEY_OR_CUSTOMER, scoped=True),
    ("PATCH", "/customers/{customer_id}/billing"): Access(MONEY),
    ("POST", "/invoice-runs"): Access(MONEY),
    ("GET", "/invoice-runs"): Access(MONEY),
    ("GET", "/invoice-runs/{run_id}"): Access(MONEY),
    ("GET", "/invoices"): Access(MONEY_OR_CUSTOMER),
    ("GET", "/invoices/{invoice_id}"): Access(MONEY_OR_CUSTOMER, scoped=True),
    ("POST", "/invoices/{invoice_id}/credit-notes"): Access(MONEY),
    ("GET", "/credit-notes/{credit_note_id}"): Access(MONEY_OR_CUSTOMER, scoped=True),
    ("POST", "/payments"): Access(MONEY),
    ("GET", "/payments"): Access(MONEY_OR_CUSTOMER),
    ("GET", "/payments/{payment_id}"): Access(MONEY_OR_CUSTOMER, scoped=True),
    ("POST", "/payments/{payment_id}/allocate"): Access(MONEY),
    ("POST", "/payments/import"): Access(MONEY),
    ("GET", "/payments/unmatched"): Access(MONEY),
    ("POST", "/payments/unmatched/{line_id}/assign"): Access(MONEY),
    ("POST", "/payments/unmatched/{line_id}/ignore"): Access(MONEY),
    # account managers (insight): admin and finance see every customer's figures; an account manager (any staff
    # role with the `manager` flag, none in the walk) sees its own (tests/integration/test_insight_*.py)
    ("PUT", "/customers/{customer_id}/manager"): Access(ONLY_ADMIN),
    ("POST", "/analytics/ladder"): Access(ONLY_ADMIN),
    ("GET", "/analytics/customers"): Access(MONEY),
    ("GET", "/analytics/managers/{manager_id}/dashboard"): Access(MONEY),
    ("GET", "/analytics/referrals"): Access(MONEY),
    ("GET", "/analytics/sales"): Access(MONEY),
    ("GET", "/analytics/sales.csv"): Access(MONEY),
    ("GET", "/analytics/sales.xlsx"): Access(MONEY),
    ("GET", "/analytics/deliveries"): Access(frozenset({ADMIN, FINANCE, DISPATCHER})),
    ("GET", "/sites/{site_id}/visit-code.svg"): Access(STAFF),
    ("GET", "/visits"): Access(MONEY),
    ("POST", "/visits"): Access(frozenset()),  # account managers only
}
# Streams answer 406 `event_stream_required` unless asked for text/event-stream: the walk never opens one.
STREAMS = {
    ("GET", "/orders/{order_id}/live"),
    ("GET", "/pickups/{booking_id}/live"),
    ("GET", "/dispatch/live"),
    ("GET", "/me/notifications/live"),
}
# A share link or a pickup pass is a capability: it shows the order's or booking's reference to whoever holds it.
SHOWS_REFERENCE_BY_DESIGN = {("GET", "/share/{token}"), ("GET", "/pass/{pass_token}")}
# Query parameters an operation needs to get past validation to its handler.
QUERIES = {  # ids in braces are the walk's (filled like a path's)
    ("GET", "/geocode"): "?q=Wuhan",
    ("GET", "/availability"): "?site_id={site_id}&product_code=diesel-0&quantity_litres=5000&date=2030-01-08",
}
# Logout ends the token that calls it: the walk calls it with a second login of the same user.
ENDS_THE_TOKEN = {("POST", "/auth/logout")}

# Routes outside /api/v1: the OpenAPI document, the browser apps' shells and their static files, nothing else.
PUBLIC_NON_API_PREFIXES = ("/schema", "/app", "/static", "/pass/", "/share/")
PUBLIC_NON_API_PATHS = {"/", "/health"}


def api_operations(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every HTTP operation the app serves under /api/v1, from its route table.

    Reads come before writes, so a caller's walk reads A's order and booking before it may cancel them; deletions
    come last, so A's webhook is still there for the writes on it.
    """
    operations = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(API + "/"):
            continue
        for method in set(route.methods) - AUTOMATIC_METHODS:
            operations.add((method, route.path_format.removeprefix(API)))
    return sorted(operations, key=lambda op: (op[0] != "GET", op[0] == "DELETE", op[1], op[0]))


# --- the data the walk runs on ------------------------------------------------------------------------------


def site_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "address": "88 Gangcheng Road, Pudong, Shanghai",
        "lat": 31.36,
        "lon": 121.60,
        "tank_capacity_litres": 20_000,
        "receiving_hours": [{"days": EVERY_DAY, "open": "06:00", "close": "22:00"}],
    }


def application_body(username: str) -> dict[str, Any]:
    return {
        "company_name": "沪通物流有限公司",
        "tax_id": "91310000MA1FL5XX",
        "contact_name": "王小明",
        "contact_phone": "13800138000",
        "username": username,
        "password": "applicant-password-1",
        "site": site_body("外高桥堆场"),
    }


def evidence_png() -> str:
    """A small photo as the driver app sends it (a data URL), valid enough to pass the body's validation."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 90, 60)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@dataclass
class Walk:
    world: Any
    a: Customer  # owns every customer-side id in the paths
    b: Customer  # another account, whose order rides on A's trip: must never see A's data
    ids: dict[str, str]
    pickup_body: dict[str, Any]
    day: SharedTrip  # the published plan: driver Y (tanker 1) carries A and B; driver X (tanker 2) owns trip_id/stop_id
    secrets: list[str] = field(default_factory=list)  # strings only A (and staff) may ever read
    x_secrets: list[str] = field(default_factory=list)  # strings of driver X's trip that driver Y may never read

    def path(self, template: str) -> str:
        try:
            return API + template.format(**self.ids)
        except KeyError as missing:
            raise AssertionError(
                f"{template}: no id for path parameter {missing}; add one to the `walk` fixture"
            ) from None

    def body(self, method: str, template: str) -> Any:
        if method not in ("POST", "PUT", "PATCH"):
            return None
        make = BODIES.get((method, template))
        return make(self) if make else {}


# Bodies that get past validation to the handler (so ownership is really checked), where `{}` would not.
BODIES: dict[tuple[str, str], Callable[[Walk], Any]] = {
    ("POST", "/auth/token"): lambda w: {"username": w.a.username, "password": PASSWORD},
    ("PUT", "/prices"): lambda w: [],
    ("PUT", "/settings/tiers"): lambda w: [],  # refused (empty): the walk never changes the shared tier table
    ("PUT", "/customers/{customer_id}/contract-prices"): lambda w: [],
    ("POST", "/sites"): lambda w: site_body(f"walk site {uuid.uuid4().hex[:6]}"),
    ("POST", "/customers/{customer_id}/payments"): lambda w: {"amount_minor": 1, "reference": "walk"},
    ("POST", "/applications/{application_id}/approve"): lambda w: {"credit_limit_minor": 1_000_000},
    ("POST", "/applications/{application_id}/reject"): lambda w: {"reason": "authorisation walk"},
    ("POST", "/quotes"): lambda w: {
        "site_id": w.ids["site_id"],
        "product_code": "diesel-0",
        "quantity_litres": 5000,
        "delivery_date": "2030-01-08",
    },
    ("POST", "/orders"): lambda w: w.a.order_body(),
    ("POST", "/orders/{order_id}/cancel"): lambda w: {"reason": "authorisation walk"},
    ("POST", "/pickups"): lambda w: w.pickup_body,
    ("POST", "/pickups/{booking_id}/cancel"): lambda w: {"reason": "authorisation walk"},
    ("POST", "/stops/{stop_id}/deliver"): lambda w: {
        "delivered_litres_observed": 1000,
        "temperature_c": 15.0,
        "no_receipt_reason": "authorisation walk",
        "evidence": evidence_png(),
    },
    ("POST", "/stops/{stop_id}/fail"): lambda w: {"reason": "authorisation walk"},
    ("POST", "/webhooks"): lambda w: {"url": "https://example.com/walk", "events": ["*"]},
    ("PUT", "/me/notification-settings"): lambda w: {"channels": {"web": True}, "events": ["*"]},
    ("POST", "/me/users"): lambda w: {"username": "x", "password": "short", "customer_role": "viewer"},  # refused
    ("PUT", "/me/users/{user_id}"): lambda w: {},  # changes nothing
    ("POST", "/standing-orders"): lambda w: {  # A's site: another customer gets 404
        "site_id": w.ids["site_id"],
        "product_code": "diesel-0",
        "quantity_litres": 5000,
        "weekdays": [5],
        "window_start": "09:00",
        "window_end": "12:00",
        "starts_on": "2030-01-07",
    },
    ("POST", "/orders/{order_id}/repeat"): lambda w: {"delivery_date": "2030-01-11"},
    ("POST", "/invoices/verify"): lambda w: {"token": "NOT-A-SEAL"},
    ("PUT", "/customers/{customer_id}/manager"): lambda w: {"user_id": None},
    ("POST", "/visits"): lambda w: {"token": "NOT-A-VISIT-CODE"},
    ("PUT", "/sites/{site_id}"): lambda w: {  # A's site as it is: the walk changes nothing of it
        key: w.a.site[key] for key in ("name", "address", "lat", "lon", "tank_capacity_litres", "receiving_hours")
    },
    ("POST", "/pickups/{booking_id}/pass"): lambda w: {"phone": "13800138000"},
    ("POST", "/pass/{pass_token}/check-in"): lambda w: {"gate_code": "NOT-A-GATE-CODE"},
}


async def notification_of(app: Any, customer: Any, order_id: str) -> tuple[str, str]:
    """An in-app notification of A's user (as the outbox stores it) and a "same as last time" link to A's order."""
    from core.models import User
    from notify.links import repeat_token
    from notify.models import Notification

    async with money_session(app) as session:
        user = await session.scalar(select(User).where(User.username == customer.username))
        assert user is not None
        notification = Notification(
            source_key=f"walk-{uuid.uuid4()}",
            user_id=user.id,
            customer_id=uuid.UUID(customer.id),
            channel="web",
            kind="order_confirmed",
            language="en",
            title="Order confirmed",
            body="walk",
            status="sent",
            created_at=T0,
        )
        session.add(notification)
        await session.flush()
        notification_id = str(notification.id)
    token = repeat_token(
        order_id=uuid.UUID(order_id),
        customer_id=uuid.UUID(customer.id),
        now=T0,
        secret_key=app.state.settings.auth.secret_key,
    )
    return notification_id, token


# The walk's own day (no other test plans it) and depot: Wuhan, far from every other test's depots and sites.
WALK_DAY = "2030-01-19"
WALK_DEPOT_AT = (30.5928, 114.3055)


@pytest.fixture(scope="module")
async def walk(world, worker, app) -> Walk:  # type: ignore[no-untyped-def]
    client = world.client
    day = await shared_trip_day(world, worker, day=WALK_DAY, where=WALK_DEPOT_AT)
    (a, order), (b, _) = day.riders
    c, c_order = day.loner
    x_trip, x_stop = day.trips[1], day.stop_of(c_order)
    from tests.billing_factories import finance_headers, pay, run_invoices

    # A's money beside its order: a payment, a finance user, an invoice run (its invoice and credit note below).
    world.tokens[FINANCE] = (await finance_headers(world, app))["Authorization"].removeprefix("Bearer ")
    # A depot of our own (far from every site, so it is nobody's serving depot): other tests cannot fill its slots.
    depot_id = (await world.new_depot(bays=10, lat=39.9, lon=116.4))["id"]
    slots = ok(await client.get(f"{API}/depots/{depot_id}/slots?date=2030-01-12", headers=a.h))
    pickup_body = {
        "depot_id": depot_id,
        "product_code": "diesel-0",
        "quantity_litres": 3000,
        "slot_start": slots[4]["start"],
        "vehicle_plate": "沪A12345",
        "driver_name": "张师傅",
        "driver_phone": "13800138000",
    }
    pickup = ok(await client.post(f"{API}/pickups", headers=a.h, json=pickup_body), 201)
    pickup_pass = ok(
        await client.post(f"{API}/pickups/{pickup['id']}/pass", headers=a.h, json={"phone": "13800138000"})
    )
    application = ok(
        await client.post(f"{API}/applications", json=application_body(f"walk-{uuid.uuid4().hex[:8]}")), 201
    )
    webhook = ok(
        await client.post(f"{API}/webhooks", headers=a.h, json={"url": "https://example.com/walk", "events": ["*"]}),
        201,
    )
    share = ok(await client.post(f"{API}/orders/{order['id']}/share", headers=a.h, json={}), (200, 201))
    standing_body = {
        "site_id": a.site["id"],
        "product_code": "diesel-0",
        "quantity_litres": 5000,
        "weekdays": [6],
        "window_start": "09:00",
        "window_end": "12:00",
        "starts_on": "2030-01-07",
    }
    standing = ok(await client.post(f"{API}/standing-orders", headers=a.h, json=standing_body), 201)
    async with money_session(app) as session:  # an invoice of A's and a credit note on it, written directly
        billed = await money_invoice(
            session, uuid.UUID(a.id), [(Delivery(net_litres=1000), T0)], issue_date=date(2030, 1, 7)
        )
        credit_note = await money_credit(session, billed, [(billed.lines[0], 100)], issue_date=date(2030, 1, 7), at=T0)
    payment = await pay(world, app, a.id, 100, reference="walk payment")
    notification_id, repeat_token = await notification_of(app, a, order["id"])
    run = await run_invoices(world, app, period_end="2029-12-31", customer_id=a.id)
    ids = {
        "customer_id": a.id,
        "site_id": a.site["id"],
        "order_id": order["id"],
        "booking_id": pickup["id"],
        "application_id": application["id"],
        "depot_id": depot_id,
        "webhook_id": webhook["id"],
        "token": share["token"],
        "pass_token": pickup_pass["token"],
        "link_id": share["id"],
        "user_id": ok(await client.get(f"{API}/me", headers=a.h))["user"]["id"],
        "plan_id": day.plan_id,
        "job_id": day.job_id,
        "tanker_id": day.tankers[1]["id"],
        "trip_id": x_trip["id"],
        "stop_id": x_stop["id"],
        "invoice_id": str(billed.invoice.id),
        "credit_note_id": str(credit_note.id),
        "month": "2030-01",
        "payment_id": payment["id"],
        "run_id": run["id"],
        "line_id": str(uuid.uuid4()),  # an unmatched bank line: staff-side, an unknown id shows the guard
        "manager_id": str(uuid.uuid4()),  # no such manager: staff-side, an unknown id shows the guard
        "notification_id": notification_id,
        "repeat_token": repeat_token,
        "standing_id": standing["id"],
    }
    secrets = [
        *(a.id, a.site["id"], a.site["name"], str(a.site["lat"]), str(a.site["lon"])),
        *(order["id"], order["reference"], pickup["id"], pickup["reference"]),
        *(billed.invoice.number, credit_note.number, payment["id"], "walk payment"),
    ]
    x_secrets = [
        *(x_trip["id"], x_stop["id"], day.tankers[1]["plate"], c_order["id"], c_order["reference"]),
        *(c.site["name"], str(c.site["lat"]), str(c.site["lon"])),
    ]
    return Walk(world=world, a=a, b=b, ids=ids, pickup_body=pickup_body, day=day, secrets=secrets, x_secrets=x_secrets)


# --- the table is complete ----------------------------------------------------------------------------------


async def test_every_api_route_is_in_the_access_table(app) -> None:
    served = set(api_operations(app))
    assert served, "no routes under /api/v1 found: has the prefix changed?"
    missing = sorted(served - ACCESS.keys())
    assert not missing, f"routes without an expected access in ACCESS (add them, with who may call them): {missing}"
    stale = sorted(ACCESS.keys() - served)
    assert not stale, f"ACCESS lists routes the app no longer serves: {stale}"


async def test_routes_outside_the_api_are_only_the_public_pages(app) -> None:
    others = sorted(
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute) and not route.path.startswith(API + "/")
        if route.path not in PUBLIC_NON_API_PATHS and not route.path.startswith(PUBLIC_NON_API_PREFIXES)
    )
    assert not others, f"new routes outside {API}: decide who may call them and cover them here: {others}"


async def test_every_path_parameter_has_a_real_id(app, walk) -> None:
    for _, template in api_operations(app):
        walk.path(template)  # raises with the missing parameter's name


# --- the walk -----------------------------------------------------------------------------------------------


def expectation(access: Access, caller: str) -> str:
    """What `caller` must get: pass (through the guard), own (pass, and see it), 401, 403 or 404."""
    if caller == "anonymous":
        return "pass" if access.public else "401"
    if caller in (DRIVER, OTHER_DRIVER):
        if not access.public and DRIVER not in access.roles:
            return "403"
        if access.driver_scoped:
            return "own" if caller == DRIVER else "404"
        return "pass"
    if caller in STAFF_ROLES:
        if caller == RACK and access.depot_scoped:
            return "not_your_depot"
        return "pass" if access.public or caller in access.roles else "403"
    if caller == "customer":
        return "own" if access.public or CUSTOMER in access.roles else "403"
    assert caller == "other_customer"
    if access.public:
        return "pass"
    if CUSTOMER not in access.roles:
        return "403"
    return "404" if access.scoped else "pass"


def check(response: Any, expected: str, *, method: str) -> str | None:
    """None when the answer is right, else a one-line explanation."""
    status = response.status_code
    problem = response.headers.get("content-type", "").startswith("application/problem+json")
    code = response.json().get("code") if problem else None
    if status >= 500:
        return f"{status} {response.text[:200]}"
    if expected == "401":
        return None if (status, code) == (401, "unauthorized") else f"expected 401 unauthorized, got {status} {code}"
    if expected == "403":
        return None if (status, code) == (403, "forbidden") else f"expected 403 forbidden, got {status} {code}"
    if expected == "not_your_depot":
        ok_ = (status, code) == (403, "not_your_depot")
        return None if ok_ else f"expected 403 not_your_depot, got {status} {code}"
    if expected == "404":
        if status == 404 and problem and str(code).endswith("not_found"):
            return None
        return f"expected 404 (not yours), got {status} {response.text[:200]}"
    if status in (401, 403):
        return f"expected to pass the guard, got {status} {code}"
    if expected == "own":
        if status == 404:
            return f"the owner got 404: {response.text[:200]}"
        # A read answers 200, or 409 when the resource's state has nothing to show (a receipt code before the
        # tanker left), never another refusal.
        if method == "GET" and status not in (200, 409):
            return f"the owner could not read it: {status} {response.text[:200]}"
    if status >= 400 and not (problem and code):
        return f"a {status} that is not problem+json with a code: {response.text[:200]}"
    return None


# Callers in the order the walk runs: the other customer first, while A's order and booking are untouched; the
# other driver before the owner of the trip, while X's stop is still to be done.
CALLERS = ["anonymous", "other_customer", "customer", OTHER_DRIVER, DRIVER, RACK, DISPATCHER, FINANCE, ADMIN]


def caller_headers(walk: Walk, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "customer":
        return walk.a.h
    if caller == "other_customer":
        return walk.b.h
    if caller == DRIVER:
        return walk.day.driver(1)  # X, whose trip and stop are in the paths
    if caller == OTHER_DRIVER:
        return walk.day.driver(0)  # Y, driving A and B in the same plan
    return walk.world.h(caller)


async def second_login(walk: Walk, caller: str) -> dict[str, str]:
    """Another token of the caller's user, for an operation that ends the token it is called with."""
    if caller == "anonymous":
        return {}
    usernames = {
        "customer": walk.a.username,
        "other_customer": walk.b.username,
        **walk.world.usernames,
        DRIVER: walk.day.tankers[1]["driver_username"],
        OTHER_DRIVER: walk.day.tankers[0]["driver_username"],
    }
    return bearer(await walk.world.login(usernames[caller]))


@pytest.mark.parametrize("caller", CALLERS)
async def test_walk_every_route_as(app, walk, caller: str) -> None:
    client = walk.world.client
    headers = caller_headers(walk, caller)
    wrong = []
    for method, template in api_operations(app):
        if (method, template) not in ACCESS:
            wrong.append(f"{method} {template}: not in ACCESS, so nobody has said who may call it")
            continue
        expected = expectation(ACCESS[(method, template)], caller)
        url = walk.path(template + QUERIES.get((method, template), ""))
        body = walk.body(method, template)
        call_headers = await second_login(walk, caller) if (method, template) in ENDS_THE_TOKEN else headers
        if caller == "other_customer":
            # Customer B also tries to reach A's account through the staff-only `customer_id` filter.
            url += ("&" if "?" in url else "?") + f"customer_id={walk.a.id}"
            if (method, template) in (("POST", "/orders"), ("POST", "/quotes")):
                body = {**body, "site_id": walk.a.site["id"]}  # B orders to A's site
        response = await client.request(method, url, headers=call_headers, json=body)
        if (method, template) in STREAMS and expected == "own" and response.status_code == 406:
            problem = None  # the owner passed the guard; only the stream itself needs `Accept: text/event-stream`
        else:
            problem = check(response, expected, method=method)
        if problem:
            wrong.append(f"{method} {template}: {problem}")
        if caller == "other_customer" and (method, template) not in SHOWS_REFERENCE_BY_DESIGN:
            leaked = [s for s in walk.secrets if s in response.text]
            if leaked:
                wrong.append(f"{method} {template}: B's answer contains A's data {leaked}: {response.text[:200]}")
        if caller == OTHER_DRIVER:
            leaked = [s for s in walk.x_secrets if s in response.text]
            if leaked:
                wrong.append(f"{method} {template}: Y's answer contains X's data {leaked}: {response.text[:200]}")
    assert not wrong, f"{caller}:\n" + "\n".join(wrong)


async def test_a_customer_reads_its_own_resources_through_the_walked_paths(walk) -> None:
    client = walk.world.client
    assert ok(await client.get(walk.path("/orders/{order_id}"), headers=walk.a.h))["id"] == walk.ids["order_id"]
    assert ok(await client.get(walk.path("/pickups/{booking_id}"), headers=walk.a.h))["id"] == walk.ids["booking_id"]
    assert ok(await client.get(walk.path("/sites/{site_id}"), headers=walk.a.h))["id"] == walk.ids["site_id"]
    assert ok(await client.get(walk.path("/customers/{customer_id}"), headers=walk.a.h))["id"] == walk.a.id


async def test_another_customer_sees_none_of_a_s_data_in_lists(walk) -> None:
    client = walk.world.client
    for path in ("/orders", "/pickups", "/sites"):
        for query in ("", f"?customer_id={walk.a.id}"):
            response = await client.get(f"{API}{path}{query}", headers=walk.b.h)
            assert response.status_code == 200, response.text
            assert not [s for s in walk.secrets if s in response.text], (path, query, response.text[:300])
    # A site B adds while naming A's account is B's site.
    site = ok(
        await client.post(f"{API}/sites?customer_id={walk.a.id}", headers=walk.b.h, json=site_body("B's yard")), 201
    )
    assert site["customer_id"] == walk.b.id


async def test_automatic_options_answers_carry_no_data(app, walk) -> None:
    client = walk.world.client
    wrong = []
    for template in sorted({template for _, template in api_operations(app)}):
        response = await client.options(walk.path(template))
        if response.status_code >= 400:
            wrong.append(f"OPTIONS {template}: {response.status_code} {response.text[:160]}")
        if [s for s in walk.secrets if s in response.text]:
            wrong.append(f"OPTIONS {template}: the answer contains data")
    assert not wrong, "\n".join(wrong)


# --- what a customer sees of its order's trip, and a driver of the day's plan -----------------------------------


def features(tracking: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """(kind, geometry type, coordinates) of each feature of a tracking answer's route."""
    return [
        (f["properties"]["kind"], f["geometry"]["type"], f["geometry"]["coordinates"])
        for f in (tracking["route"] or {"features": []})["features"]
    ]


async def test_tracking_shows_a_customer_its_own_stop_and_nothing_of_the_others_on_its_trip(walk) -> None:
    """B's order rides on A's trip. B's tracking: the depot and B's own stop; not A's site (coordinates, name), not
    A's order, not a line through the trip (it would pass A's site). Staff still see the whole trip."""
    client = walk.world.client
    b, b_order = walk.day.riders[1]
    depot = walk.day.depot
    response = await client.get(f"{API}/orders/{b_order['id']}/tracking", headers=b.h)
    mine = ok(response)
    leaked = [s for s in walk.secrets if s in response.text]
    assert not leaked, f"B's tracking shows A's data {leaked}: {response.text}"
    assert features(mine) == [
        ("depot", "Point", [depot["lon"], depot["lat"]]),
        ("stop", "Point", [b.site["lon"], b.site["lat"]]),
    ]
    assert mine["tanker"] == {"plate": walk.day.tankers[0]["plate"], "position": None}  # scheduled: not on its way
    staff = ok(await client.get(f"{API}/orders/{b_order['id']}/tracking", headers=walk.world.h(DISPATCHER)))
    kinds = [kind for kind, _, _ in features(staff)]
    assert kinds.count("stop") == len(walk.day.trips[0]["stops"]) and "trip" in kinds
    assert [walk.a.site["lon"], walk.a.site["lat"]] in [coordinates for _, _, coordinates in features(staff)]


async def test_a_driver_s_route_carries_only_its_own_trips(walk) -> None:
    """Driver Y's route: its own trip and stops only; none of X's trip, stops, orders or tanker, no whole-plan
    totals, and none of the plan's notes (which name the tanker left out because its driver's licence expired)."""
    client = walk.world.client
    day = walk.day
    response = await client.get(f"{API}/driver/route?date={day.day}", headers=day.driver(0))
    route = ok(response)
    assert set(route) == {"date", "routes"}, sorted(route)
    assert [r["plate"] for r in route["routes"]] == [day.tankers[0]["plate"]]
    assert [t["id"] for r in route["routes"] for t in r["trips"]] == [day.trips[0]["id"]]
    stops = {s["id"] for r in route["routes"] for t in r["trips"] for s in t["stops"]}
    assert stops == {s["id"] for s in day.trips[0]["stops"]}
    leaked = [s for s in [*walk.x_secrets, day.tankers[2]["plate"]] if s in response.text]
    assert not leaked, f"Y's route shows {leaked}"
    theirs = ok(await client.get(f"{API}/driver/route?date={day.day}", headers=day.driver(1)))
    assert [t["id"] for r in theirs["routes"] for t in r["trips"]] == [day.trips[1]["id"]]
    assert walk.a.site["name"] not in str(theirs) and walk.b.site["name"] not in str(theirs)


# --- forged, expired and tampered tokens ---------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_payload(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def claims(walk: Walk, *, role: str = CUSTOMER, **overrides: Any) -> dict[str, Any]:
    """The claim layout `api.auth.issue_token` produces (litestar's Token: sub, exp, iat, extras), naming the
    login session of A's real token."""
    now = datetime.now(UTC)
    sid = token_payload(walk.a.token)["extras"]["sid"]
    body: dict[str, Any] = {
        "sub": walk.ids["a_user_id"] if "a_user_id" in walk.ids else str(uuid.uuid4()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "iat": int((now - timedelta(minutes=1)).timestamp()),
        "extras": {"username": walk.a.username, "role": role, "customer_id": walk.a.id, "sid": sid},
    }
    body.update(overrides)
    return body


def forged_tokens(walk: Walk, secret: str, secret_key: str) -> dict[str, str]:
    """`secret`: the tokens' signing key; `secret_key`: the SECRET_KEY it is derived from."""
    now = datetime.now(UTC)
    real = walk.a.token
    header, payload, signature = real.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["extras"]["role"] = ADMIN
    decoded["extras"]["customer_id"] = None
    as_admin = _b64(json.dumps(decoded).encode())
    return {
        "garbage": "Bearer not.a.token",
        "empty bearer": "Bearer ",
        "no scheme": real,
        "basic scheme": f"Basic {real}",
        "another scheme": f"Token {real}",
        "alg none": "Bearer " + jwt.encode(claims(walk, role=ADMIN), key=None, algorithm="none"),
        "alg none, no signature part": "Bearer " + ".".join(jwt.encode(claims(walk), None, "none").split(".")[:2]),
        "another secret": "Bearer " + jwt.encode(claims(walk, role=ADMIN), "another-secret-" + "y" * 40, "HS256"),
        "right secret, HS512": "Bearer " + jwt.encode(claims(walk), secret, "HS512"),
        "signed with SECRET_KEY itself": "Bearer " + jwt.encode(claims(walk), secret_key, "HS256"),
        "expired": "Bearer "
        + jwt.encode(
            claims(
                walk,
                exp=int((now - timedelta(minutes=1)).timestamp()),
                iat=int((now - timedelta(hours=13)).timestamp()),
            ),
            secret,
            "HS256",
        ),
        "issued in the future": "Bearer "
        + jwt.encode(claims(walk, iat=int((now + timedelta(hours=1)).timestamp())), secret, "HS256"),
        "no exp": "Bearer " + jwt.encode({k: v for k, v in claims(walk).items() if k != "exp"}, secret, "HS256"),
        "unknown role": "Bearer " + jwt.encode(claims(walk, role="superuser"), secret, "HS256"),
        "sub not a uuid": "Bearer " + jwt.encode(claims(walk, sub="admin"), secret, "HS256"),
        "payload swapped to admin": f"Bearer {header}.{as_admin}.{signature}",
        "signature of another token": f"Bearer {header}.{payload}.{walk.b.token.split('.')[2]}",
    }


@pytest.fixture(scope="module")
async def a_user_id(walk) -> str:  # type: ignore[no-untyped-def]
    me = ok(await walk.world.client.get(f"{API}/me", headers=walk.a.h))
    walk.ids["a_user_id"] = me["user"]["id"]
    return str(me["user"]["id"])


async def test_a_token_crafted_with_the_right_secret_and_layout_is_accepted(app, walk, a_user_id) -> None:
    """The control for the forgeries below: the harness builds tokens the app accepts, so their 401s mean something."""
    token = jwt.encode(claims(walk), app.state.jwt_auth.token_secret, "HS256")
    me = ok(await walk.world.client.get(f"{API}/me", headers=bearer(token)))
    assert me["user"]["id"] == a_user_id and me["customer"]["id"] == walk.a.id
    lower = ok(await walk.world.client.get(f"{API}/me", headers={"Authorization": f"bearer {token}"}))
    assert lower["user"]["id"] == a_user_id  # the scheme is case-insensitive (RFC 7235)


async def test_a_token_accepted_before_is_refused_once_it_expires(app, walk, a_user_id) -> None:
    """Verified tokens are remembered for speed, never past their expiry."""
    now = datetime.now(UTC)
    token = jwt.encode(claims(walk, exp=int(now.timestamp()) + 2), app.state.jwt_auth.token_secret, "HS256")
    ok(await walk.world.client.get(f"{API}/me", headers=bearer(token)))
    ok(await walk.world.client.get(f"{API}/me", headers=bearer(token)))  # the remembered answer
    await asyncio.sleep(max(0.0, int(now.timestamp()) + 2.2 - datetime.now(UTC).timestamp()))
    late = await walk.world.client.get(f"{API}/me", headers=bearer(token))
    assert late.status_code == 401


FORGERIES = [
    "garbage",
    "empty bearer",
    "no scheme",
    "basic scheme",
    "another scheme",
    "alg none",
    "alg none, no signature part",
    "another secret",
    "right secret, HS512",
    "signed with SECRET_KEY itself",
    "expired",
    "issued in the future",
    "no exp",
    "unknown role",
    "sub not a uuid",
    "payload swapped to admin",
    "signature of another token",
]


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_bad_token_is_refused_on_every_protected_route(app, walk, a_user_id, forgery: str) -> None:
    tokens = forged_tokens(walk, app.state.jwt_auth.token_secret, app.state.settings.auth.secret_key)
    assert set(tokens) == set(FORGERIES)
    headers = {"Authorization": tokens[forgery]}
    wrong = []
    for method, template in api_operations(app):
        if (method, template) not in ACCESS:
            wrong.append(f"{method} {template}: not in ACCESS")
            continue
        access = ACCESS[(method, template)]
        response = await walk.world.client.request(
            method, walk.path(template), headers=headers, json=walk.body(method, template)
        )
        if access.public:
            # Public routes ignore the Authorization header altogether.
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong.append(f"{method} {template}: public, but got {response.status_code} {response.text[:160]}")
            continue
        if problem := check(response, "401", method=method):
            wrong.append(f"{method} {template}: {problem}")
        elif response.json()["detail"] != "log in first: a valid, unexpired bearer token is needed":
            wrong.append(f"{method} {template}: unexpected detail {response.json()['detail']!r}")
        if [s for s in walk.secrets if s in response.text]:
            wrong.append(f"{method} {template}: the refusal contains data")
    assert not wrong, f"{forgery}:\n" + "\n".join(wrong)


# --- login: rate limiting, no user enumeration, hashed passwords --------------------------------------------


class NamespacedStore:
    """The app's own counter store (memory or Redis) with keys of its own, so a test neither sees nor leaves
    counts in a Redis shared with other tests (the client address of every test client is the same)."""

    def __init__(self, inner: Any, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix

    async def incr(self, key: str, ttl_s: float, *, refresh: bool = False) -> int:
        return int(await self.inner.incr(f"{self.prefix}:{key}", ttl_s, refresh=refresh))

    async def decr(self, key: str) -> None:
        await self.inner.decr(f"{self.prefix}:{key}")

    async def acquire(self, key: str, ttl_s: float) -> bool:
        return bool(await self.inner.acquire(f"{self.prefix}:{key}", ttl_s))

    async def ttl(self, key: str) -> float:
        return float(await self.inner.ttl(f"{self.prefix}:{key}"))

    async def delete(self, *keys: str) -> None:
        await self.inner.delete(*(f"{self.prefix}:{k}" for k in keys))


async def test_login_attempts_are_rate_limited_until_the_window_passes(settings, clock, world) -> None:
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    customer = await world.new_customer()
    window_s = 3
    limited = create_app(
        settings=replace(settings, auth=replace(settings.auth, login_attempts_per_window=3, login_window_s=window_s)),
        clock=clock,
    )
    throttle = limited.state.login_throttle
    throttle.store = NamespacedStore(throttle.store, f"test-{uuid.uuid4().hex}")
    url = f"{API}/auth/token"
    wrong = {"username": customer.username, "password": "not-the-password"}
    right = {"username": customer.username, "password": PASSWORD}
    async with AsyncTestClient(app=limited, base_url="http://testserver.local") as client:
        started = time.monotonic()
        first_answered = None
        for _ in range(3):
            response = await client.post(url, json=wrong)
            assert response.status_code == 401 and response.json()["code"] == "invalid_credentials", response.text
            first_answered = first_answered or time.monotonic()
        fourth = await client.post(url, json=wrong)
        assert fourth.status_code == 429, fourth.text
        assert fourth.headers["content-type"].startswith("application/problem+json")
        assert fourth.json()["code"] == "too_many_login_attempts"
        # Even the right password is refused while the window lasts (and a different spelling of the name too).
        for body in (right, {**right, "username": customer.username.upper()}):
            response = await client.post(url, json=body)
            assert response.status_code == 429 and response.json()["code"] == "too_many_login_attempts"
        # The window opens at the first attempt: after `started`, before its answer came back.
        elapsed = time.monotonic() - started
        assert elapsed < window_s, f"the attempts took {elapsed:.1f}s, longer than the {window_s}s window"
        assert first_answered is not None
        await asyncio.sleep(max(0.0, first_answered + window_s + 0.3 - time.monotonic()))
        token = ok(await client.post(url, json=right))
        assert token["token_type"] == "bearer" and token["role"] == "customer"


async def test_unknown_user_and_wrong_password_get_the_same_answer(world) -> None:
    customer = await world.new_customer()
    url = f"{API}/auth/token"
    unknown = await world.client.post(url, json={"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": "x"})
    wrong = await world.client.post(url, json={"username": customer.username, "password": "x"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert wrong.json()["code"] == "invalid_credentials"


async def _password_hashes(app: Any, username: str) -> tuple[str, str]:
    import sqlalchemy as sa

    from core.db import create_engine

    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with engine.connect() as conn:
            user_hash = (
                await conn.execute(sa.text("SELECT password_hash FROM users WHERE username = :u"), {"u": username})
            ).scalar_one()
            application_hash = (
                await conn.execute(sa.text("SELECT password_hash FROM applications ORDER BY created_at LIMIT 1"))
            ).scalar_one()
    finally:
        await engine.dispose()
    return user_hash, application_hash


async def test_passwords_are_stored_as_argon2_hashes_and_never_returned(app, walk) -> None:
    from argon2 import PasswordHasher

    user_hash, application_hash = await _password_hashes(app, walk.a.username)
    for stored in (user_hash, application_hash):
        assert stored.startswith("$argon2"), stored[:12]
        assert "password" not in stored
    assert PasswordHasher().verify(user_hash, PASSWORD)
    client = walk.world.client
    for path in ("/users", "/applications", "/me"):
        response = await client.get(f"{API}{path}", headers=walk.world.h(ADMIN))
        assert response.status_code == 200, response.text
        assert "$argon2" not in response.text and PASSWORD not in response.text, path
        assert "password" not in response.text, path


# --- rack operators bound to depots ------------------------------------------------------------------------


async def test_a_rack_operator_acts_only_at_its_own_depots(walk) -> None:
    """An operator of another depot verifies and redeems the load code of driver Y's real trip at the trip's own
    depot, naming that depot: 403 `not_your_depot`, nothing loaded. (Last in this module: if the check is missing
    the redeem goes through and loads Y's trip.)"""
    client, day = walk.world.client, walk.day
    elsewhere = await walk.world.new_depot(bays=1, lat=43.82, lon=125.32)  # Changchun: no other test is near
    username = f"rack-{uuid.uuid4().hex[:8]}"
    user = {"username": username, "password": PASSWORD, "role": RACK, "depot_ids": [elsewhere["id"]]}
    ok(await client.post(f"{API}/users", headers=walk.world.h(ADMIN), json=user), 201)
    operator = bearer(await walk.world.login(username))
    trip, plate = day.trips[0], day.tankers[0]["plate"]
    code = ok(await client.get(f"{API}/driver/trips/{trip['id']}/code", headers=day.driver(0)))
    here = {"token": code["token"], "depot_id": day.depot["id"], "vehicle_plate": plate}
    litres = sum(load["litres"] for load in trip["loads"])
    for path, body in [
        ("/rack/verify", here),
        ("/rack/redeem", {**here, "loaded_litres_observed": litres, "temperature_c": 15.0}),
    ]:
        response = await client.post(f"{API}{path}", headers=operator, json=body)
        assert (response.status_code, response.json().get("code")) == (403, "not_your_depot"), response.text
