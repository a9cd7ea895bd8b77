"""Idempotency keys: the first request with a key owns it; retries get the first answer back.

The record is written in the same transaction as the resource, so an error leaves no record and the client may
retry. Two concurrent requests with one key meet on the unique constraint: on PostgreSQL the second INSERT
waits for the first transaction and then does nothing (`ON CONFLICT DO NOTHING`), after which the committed
record is visible and replayed; if the first rolled back, the second INSERT goes through and owns the key.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import Conflict, InvalidInput
from core.ids import new_id
from core.models import IdempotencyRecord

MAX_KEY_LENGTH = 255
IdempotencyKeyHeader = Annotated[str | None, msgspec.Meta(max_length=MAX_KEY_LENGTH)]


def request_hash(body: msgspec.Struct) -> str:
    # Canonical JSON of the decoded body, so whitespace and key order do not matter.
    return hashlib.sha256(msgspec.json.encode(msgspec.to_builtins(body), order="sorted")).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            code="invalid_idempotency_key",
            field="Idempotency-Key",
        )
    return key


async def _existing(session: AsyncSession, scope: str, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


def _same_request(record: IdempotencyRecord, digest: str) -> IdempotencyRecord:
    if record.request_hash != digest:
        raise Conflict(
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
        )
    return record


async def claim(session: AsyncSession, *, scope: str, key: str, digest: str) -> IdempotencyRecord:
    """Take the key for this request; returns a record whose `resource_id` is set when it was used before."""
    if (record := await _existing(session, scope, key)) is not None:
        return _same_request(record, digest)
    record = IdempotencyRecord(scope=scope, key=key, request_hash=digest)
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:
        if (winner := await _existing(session, scope, key)) is None:
            raise
        return _same_request(winner, digest)
    return record


def _build_insert_if_new(insert: Callable[[Any], Any]) -> Insert:
    # No .values(): the parameters passed at execution fill the VALUES clause.
    statement: Insert = (
        insert(IdempotencyRecord)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyRecord.id)
    )
    return statement


# Built once per dialect, so every claim reuses the statement and its compiled form.
_INSERT_IF_NEW = {"postgresql": _build_insert_if_new(postgresql.insert), "sqlite": _build_insert_if_new(sqlite.insert)}


def record_values(
    *, scope: str, key: str, digest: str, resource_id: uuid.UUID, status_code: int = 201
) -> dict[str, Any]:
    """The row of a record naming its resource up front (see `claim_for`)."""
    return {
        "id": new_id(),
        "scope": scope,
        "key": key,
        "request_hash": digest,
        "resource_id": resource_id,
        "status_code": status_code,
        "created_at": utcnow(),
    }


async def resource_if_used(session: AsyncSession, *, scope: str, key: str, digest: str) -> uuid.UUID | None:
    """The resource the first request with this key created, or None when the key was never used (a different
    body with a used key is a Conflict, as in `first_resource`)."""
    record = await _existing(session, scope, key)
    return None if record is None else _same_request(record, digest).resource_id


async def first_resource(session: AsyncSession, *, scope: str, key: str, digest: str) -> uuid.UUID:
    """The resource created by the first request with this key (whose record exists): a retry's answer."""
    winner = await _existing(session, scope, key)
    if winner is None or winner.resource_id is None:  # not expected: records name their resource when written
        raise Conflict("a request with this Idempotency-Key is still in progress", code="idempotency_key_in_use")
    resource_id = _same_request(winner, digest).resource_id
    assert resource_id is not None
    return resource_id


async def claim_for(
    session: AsyncSession, *, scope: str, key: str, digest: str, resource_id: uuid.UUID, status_code: int = 201
) -> uuid.UUID | None:
    """Take the key for a resource whose id is chosen up front, in one statement.

    Returns None when the key is now ours (the record already names `resource_id`: create exactly that resource
    in this transaction), or the id of the resource the first request with this key created (a retry).
    """
    values = record_values(scope=scope, key=key, digest=digest, resource_id=resource_id, status_code=status_code)
    if await insert_if_new(session, values):
        return None
    return await first_resource(session, scope=scope, key=key, digest=digest)


async def insert_if_new(session: AsyncSession, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING of a record (`record_values`): True when it went in (the key is ours)."""
    statement = _INSERT_IF_NEW[session.get_bind().dialect.name]
    return (await session.execute(statement, values)).first() is not None


def complete(record: IdempotencyRecord, *, resource_id: uuid.UUID, status_code: int) -> None:
    record.resource_id = resource_id
    record.status_code = status_code
