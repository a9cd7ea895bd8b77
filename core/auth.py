"""Roles, the authenticated principal, password hashing and route guards."""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import Forbidden, InvalidInput


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    DRIVER = "driver"
    RACK_OPERATOR = "rack_operator"
    CUSTOMER = "customer"
    FINANCE = "finance"  # staff who see money (ledgers, invoices, payments) and nothing of dispatch


STAFF = frozenset({Role.ADMIN, Role.DISPATCHER})


class CustomerRole(StrEnum):
    """A person's role inside a customer account (orders/people.py says what each may do). A customer user
    without one (made before accounts had people) is the account's admin."""

    ACCOUNT_ADMIN = "account_admin"  # everything, and the account's people
    ORDERER = "orderer"  # orders and pickups; above its approval limit an order waits for an approver
    APPROVER = "approver"  # an orderer who also approves others' orders (up to its approval limit)
    FINANCE = "finance"  # the account's money only (balance, invoices, statements, ledger)
    VIEWER = "viewer"  # reads, writes nothing


class ManagerLevel(StrEnum):
    """An account manager's level on the responsibility ladder (PRODUCT.md): who owns customers of which yearly
    volume, from a station's employee (under 20 t) to the regional company (over 500 t)."""

    STATION_EMPLOYEE = "station_employee"
    STATION = "station"
    AREA = "area"
    CITY = "city"
    REGION = "region"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: taken from the verified bearer token; its login session (`session_id`) is checked to be
    still open on every request (api/sessions.py)."""

    id: uuid.UUID
    username: str
    role: Role
    customer_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    customer_role: CustomerRole | None = None  # a customer user's role in its account (None: account admin)

    @property
    def account_role(self) -> CustomerRole | None:
        """A customer user's role in its account (a token from before roles: the account admin); None for staff."""
        if self.role != Role.CUSTOMER:
            return None
        return self.customer_role or CustomerRole.ACCOUNT_ADMIN

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden("your role may not do this", code="forbidden")

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


MIN_PASSWORD_LENGTH = 10

# argon2id with the library's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes).
_hasher = PasswordHasher()
# A fixed hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
# Hashing takes ~0.1 s of CPU and 64 MiB each: never on the event loop (every other request would wait), and at
# most this many at once, so a burst of logins or applications cannot take all memory (the rest queue here).
HASH_THREADS = min(4, os.cpu_count() or 1)
_hash_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")


def check_new_password(password: str, *, field: str = "password") -> None:
    """A password a person chooses (not the demo's well-known one) has at least MIN_PASSWORD_LENGTH characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", code="password_too_short", field=field
        )


def hash_password(password: str) -> str:
    """Blocking: for scripts and tests. The server awaits `hash_password_async`."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Blocking: for scripts and tests. The server awaits `verify_password_async`."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hash_pool, hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_hash_pool, verify_password, password_hash, password)


def roles_guard(*roles: Role) -> Any:
    """A Litestar guard allowing only `roles` (the principal is set by the auth middleware)."""
    allowed = frozenset(roles)

    # async: a plain function guard would be sent to a thread pool on every request.
    async def guard(connection: Any, _handler: Any) -> None:
        if connection.scope.get("method") == "OPTIONS":
            return  # CORS preflight and Allow discovery: no body, no data, and no token is sent with them
        principal = connection.user
        if not isinstance(principal, Principal) or principal.role not in allowed:
            raise Forbidden("your role may not do this", code="forbidden")

    return guard
