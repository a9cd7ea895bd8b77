"""The "same as last time" link of the day's price: the customer app's order form, filled in as the account's last
order. Signed (HMAC-SHA256 with a key derived from SECRET_KEY), bound to the account and the order, and expiring:
an altered or foreign link opens nothing. It fills in a form; the customer still logs in and confirms the order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta

import msgspec

from core.errors import NotFound

REPEAT_PATH = "/app/customer/order"
LINK_TTL = timedelta(days=7)


class _Claims(msgspec.Struct, frozen=True):
    o: uuid.UUID  # the order to repeat
    c: uuid.UUID  # its customer account
    e: int  # expires, unix seconds


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"diesel-direct repeat-order link v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def repeat_token(*, order_id: uuid.UUID, customer_id: uuid.UUID, now: datetime, secret_key: str) -> str:
    payload = msgspec.json.encode(_Claims(o=order_id, c=customer_id, e=int((now + LINK_TTL).timestamp())))
    signature = hmac.new(_key(secret_key), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def repeat_link(token: str, *, base_url: str | None) -> str:
    return f"{base_url or ''}{REPEAT_PATH}?repeat={token}"


def open_repeat_token(token: str, *, customer_id: uuid.UUID | None, now: datetime, secret_key: str) -> uuid.UUID:
    """The order a link names, when the link is intact, unexpired and the caller's account's; else 404."""
    gone = NotFound("this link is not valid (altered, expired or not yours)", code="repeat_link_not_found")
    try:
        payload_part, signature_part = token.split(".")
        payload, signature = _unb64(payload_part), _unb64(signature_part)
    except ValueError:
        raise gone from None
    expected = hmac.new(_key(secret_key), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise gone
    try:
        claims = msgspec.json.decode(payload, type=_Claims)
    except msgspec.DecodeError:
        raise gone from None
    if claims.c != customer_id or claims.e < now.timestamp():
        raise gone
    return claims.o
