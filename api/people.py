"""A customer account's own people over HTTP: `/me/users` (the account's admins), the approvers' decisions on orders
awaiting approval, and the guard that lets each role in an account call only what it may.

What each role may call (every request of a customer user passes `customer_role_guard`):

* account_admin: everything a customer may call, and the account's people (`/me/users`) and webhooks;
* orderer: orders, quotes, pickups, tracking, share links and passes, standing orders; reads sites, prices and the
  account's balance (it orders on credit), not its invoices, statements or ledger;
* approver: what an orderer may, and approves or rejects orders awaiting approval;
* finance: the money only (balance, ledger, invoices, credit notes, payments, statements), and the catalogue;
* viewer: reads everything but the account's people and webhooks; writes nothing.

Everyone may read the catalogue and prices and keep its own login, password and notification settings.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.auth import Password
from api.sessions import SessionGuard
from core import idempotency
from core.auth import CustomerRole, Principal, Role, roles_guard
from core.errors import Forbidden
from core.idempotency import check_key
from core.models import User
from core.schemas import Page
from orders import approvals, people
from orders import schemas as s
from orders.controllers import Conf, Db, IdempotencyKey, Limit, Now, Offset, _created_or_replayed, _order_out

API_PREFIX = "/api/v1"
CUSTOMER = roles_guard(Role.CUSTOMER)
_R = CustomerRole

# --- who may call what ---------------------------------------------------------------------------------------

# Paths are the route templates under /api/v1 without parameter types; a prefix covers the paths below it.
PERSONAL = ("/me", "/me/password", "/auth/logout")
PERSONAL_PREFIXES = ("/me/notifications", "/me/notification-settings")  # the inbox, its live stream, the settings
ADMIN_ONLY_PREFIXES = ("/me/users", "/webhooks")
APPROVALS = ("/orders/{order_id}/approve", "/orders/{order_id}/reject")
BALANCE = ("/me/balance", "/customers/{customer_id}/balance")
MONEY_PREFIXES = (
    "/invoices",
    "/credit-notes",
    "/payments",
    "/customers/{customer_id}/ledger",
    "/customers/{customer_id}/statements",
    "/customers/{customer_id}/billing",
)
CATALOGUE_PREFIXES = ("/products", "/depots", "/prices", "/settings/tiers")
ACCOUNT = ("/customers/{customer_id}", "/customers/{customer_id}/contract-prices")
ACCOUNT_SETUP_WRITES = ("/sites",)  # adding and changing sites: the account's admins
READS = frozenset({"GET", "HEAD"})


_PARAMETER_TYPE = re.compile(r"\{(\w+):[^}]*\}")  # `{order_id:uuid}` -> `{order_id}`


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") or path.startswith(p + ".") for p in prefixes)


def may_call(role: CustomerRole, method: str, path: str) -> bool:
    """Whether a customer user with `role` in its account may call `method path` (a route template without the
    API prefix). Routes a customer may not call at all are refused by their own guards before this matters."""
    if role == _R.ACCOUNT_ADMIN or method == "OPTIONS":
        return True
    read = method in READS
    if path in PERSONAL or _under(path, PERSONAL_PREFIXES):
        return True
    if _under(path, ADMIN_ONLY_PREFIXES):
        return False
    if path in APPROVALS:
        return role == _R.APPROVER
    if _under(path, CATALOGUE_PREFIXES) or path in ACCOUNT:
        return read
    if path in BALANCE:
        return read
    if _under(path, MONEY_PREFIXES):
        return read and role in (_R.FINANCE, _R.VIEWER)
    if role == _R.FINANCE:
        return False  # the money only: nothing of orders, pickups or sites
    if role == _R.VIEWER:
        return read
    # Orderers and approvers: ordering, pickups, tracking, standing orders; sites they read, not set up.
    return read or not _under(path, ACCOUNT_SETUP_WRITES)


# What the customer app offers, each named by the route it calls: the app asks `GET /me` (`may`) and hides what
# `may_call` would refuse, so the rule stays here, in one place.
CAPABILITIES = {
    "sites": ("GET", "/sites"),
    "sites_edit": ("POST", "/sites"),
    "order": ("POST", "/orders"),
    "orders": ("GET", "/orders"),
    "cancel_order": ("POST", "/orders/{order_id}/cancel"),
    "share": ("POST", "/orders/{order_id}/share"),
    "pickup": ("POST", "/pickups"),
    "pickups": ("GET", "/pickups"),
    "pickup_pass": ("POST", "/pickups/{booking_id}/pass"),
    "standing": ("GET", "/standing-orders"),
    "standing_edit": ("POST", "/standing-orders"),
    "approve": ("POST", "/orders/{order_id}/approve"),
    "people": ("GET", "/me/users"),
    "balance": ("GET", "/me/balance"),
    "money": ("GET", "/invoices"),
}


def _capabilities_of(role: CustomerRole) -> dict[str, bool]:
    return {name: may_call(role, method, path) for name, (method, path) in CAPABILITIES.items()}


# Worked out once per role: `GET /me` (every page load) only looks them up (~80 µs a call otherwise).
_CAPABILITIES_BY_ROLE = {role: _capabilities_of(role) for role in CustomerRole}


def capabilities(role: CustomerRole) -> dict[str, bool]:
    """Each of the app's capabilities for a customer user with `role` in its account (a copy: the caller's)."""
    return dict(_CAPABILITIES_BY_ROLE[role])


async def customer_role_guard(connection: Any, _handler: Any) -> None:
    """Every API route: a customer user calls only what its role in the account allows (`may_call`)."""
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal) or principal.role != Role.CUSTOMER:
        return
    role = principal.account_role
    assert role is not None  # a customer's
    if role == _R.ACCOUNT_ADMIN:
        return
    template = str(connection.scope.get("path_template") or connection.scope.get("path", ""))
    path = _PARAMETER_TYPE.sub(r"{\1}", template).removeprefix(API_PREFIX) or "/"
    if not may_call(role, connection.scope.get("method", "GET"), path):
        raise Forbidden(f"your role in the account ({role}) may not do this", code="customer_role_forbidden")


# --- the account's people ---------------------------------------------------------------------------------------

Username = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]{3,64}$")]
Limit_ = Annotated[int, msgspec.Meta(ge=0, le=10**13, description="minor units (fen)")]


class PersonIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    username: Username
    password: Password
    customer_role: CustomerRole
    approval_limit_minor: Limit_ | None = None  # orderers and approvers only
    display_name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class PersonPatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    customer_role: CustomerRole | None = None
    approval_limit_minor: Limit_ | msgspec.UnsetType | None = msgspec.UNSET  # null: no limit
    is_active: bool | None = None
    display_name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class PersonOut(msgspec.Struct):
    id: uuid.UUID
    username: str
    customer_role: str
    approval_limit_minor: int | None
    display_name: str | None
    phone: str | None
    is_active: bool
    created_at: datetime


def person_out(user: User) -> PersonOut:
    return PersonOut(
        id=user.id,
        username=user.username,
        customer_role=str(people.role_of(user)),
        approval_limit_minor=user.approval_limit_minor,
        display_name=user.display_name,
        phone=user.phone,
        is_active=user.is_active,
        created_at=user.created_at,
    )


class ApproveIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class RejectIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] = "rejected by the account's approver"


class PeopleController(Controller):
    tags = ["account people"]
    guards = [CUSTOMER]

    @post(
        "/me/users",
        status_code=HTTP_201_CREATED,
        summary="Add a user to my account (account admin)",
        description="`customer_role`: account_admin | orderer | approver | finance | viewer. An orderer's order "
        "above its `approval_limit_minor` waits in `awaiting_approval` for an approver; an approver approves up to "
        "its own limit (none: any amount). Honours `Idempotency-Key`: a retry answers the user made first (200). "
        "Without a key, the same person again (the same username, or the phone of an active user of the account) "
        "is 409 `person_exists` with the `user_id` made first; a username of another account is 409 "
        "`username_taken`.",
        responses={200: ResponseSpec(data_container=PersonOut, description="a retry: the user made first")},
    )
    async def add(
        self,
        data: JSONBody[PersonIn],
        request: Request[Principal, Any, Any],
        db_session: Db,
        now: Now,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PersonOut]:
        user, created = await people.add_person(
            db_session,
            actor=request.user,
            username=data.username,
            password=data.password,
            customer_role=data.customer_role,
            approval_limit_minor=data.approval_limit_minor,
            display_name=data.display_name,
            phone=data.phone,
            now=now,
            idempotency_key=check_key(idempotency_key),
            # The request's hash is kept with the key: never over the password (a fast hash of it would be a leak).
            digest=idempotency.request_hash(msgspec.structs.replace(data, password="")),
        )
        return _created_or_replayed(person_out(user), created)

    @get("/me/users", summary="My account's users (account admin)")
    async def list(
        self, request: Request[Principal, Any, Any], db_session: Db, limit: Limit = 50, offset: Offset = 0
    ) -> Page[PersonOut]:
        rows, total = await people.list_people(db_session, actor=request.user, limit=limit, offset=offset)
        return Page(items=[person_out(u) for u in rows], total=total, limit=limit, offset=offset)

    @get("/me/users/{user_id:uuid}", summary="One of my account's users (account admin)")
    async def get_one(
        self, user_id: FromPath[uuid.UUID], request: Request[Principal, Any, Any], db_session: Db
    ) -> PersonOut:
        return person_out(await people.get_person(db_session, actor=request.user, user_id=user_id))

    @put(
        "/me/users/{user_id:uuid}",
        status_code=HTTP_200_OK,
        summary="Change one of my account's users: role, approval limit, active, name, phone (account admin)",
        description="A new role or disabling ends the user's logins at once. The account keeps one active admin "
        "(409 `last_account_admin`).",
    )
    async def change(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[PersonPatch],
        request: Request[Principal, Any, Any],
        db_session: Db,
        now: Now,
    ) -> PersonOut:
        user, ended = await people.update_person(
            db_session,
            actor=request.user,
            user_id=user_id,
            now=now,
            customer_role=data.customer_role,
            approval_limit_minor=data.approval_limit_minor,
            is_active=data.is_active,
            display_name=data.display_name,
            phone=data.phone,
        )
        if ended:
            guard: SessionGuard = request.app.state.session_guard
            await guard.revoked(db_session, user_id=user.id)
        return person_out(user)


class ApprovalsController(Controller):
    tags = ["orders"]
    guards = [CUSTOMER]

    @post(
        "/orders/{order_id:uuid}/approve",
        status_code=HTTP_200_OK,
        summary="Approve an order awaiting approval (the account's approvers)",
        description="Priced on the day and confirmed when credit allows (held otherwise), as a new order. Of two "
        "approvers at once exactly one decides; the other gets 409 `order_not_awaiting_approval`. Above the "
        "approver's own limit: 403 `above_your_approval_limit`.",
    )
    async def approve(
        self,
        order_id: FromPath[uuid.UUID],
        request: Request[Principal, Any, Any],
        db_session: Db,
        now: Now,
        settings: Conf,
        data: JSONBody[ApproveIn | None] = None,
    ) -> s.OrderOut:
        order = await approvals.approve_order(
            db_session, order_id=order_id, actor=request.user, now=now, rules=settings.rules
        )
        return await _order_out(db_session, order)

    @post(
        "/orders/{order_id:uuid}/reject",
        status_code=HTTP_200_OK,
        summary="Reject an order awaiting approval (the account's approvers): it is cancelled with the reason",
    )
    async def reject(
        self,
        order_id: FromPath[uuid.UUID],
        request: Request[Principal, Any, Any],
        db_session: Db,
        now: Now,
        data: JSONBody[RejectIn | None] = None,
    ) -> s.OrderOut:
        reason = data.reason if data is not None else RejectIn().reason
        order = await approvals.reject_order(db_session, order_id=order_id, reason=reason, actor=request.user, now=now)
        return await _order_out(db_session, order)
