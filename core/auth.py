"""Roles, the authenticated principal, password hashing and route guards."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    DRIVER = "driver"
    RACK_OPERATOR = "rack_operator"
    CUSTOMER = "customer"
    FINANCE = "finance"  # staff who see money (ledgers, invoices, payments) and nothing of dispatch


STAFF = frozenset({Role.ADMIN, Role.DISPATCHER})


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: taken from the verified bearer token, no database read per request."""

    id: uuid.UUID
    username: str
    role: Role
    customer_id: uuid.UUID | None = None

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden("your role may not do this", code="forbidden")

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


# argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# A fixed hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


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
