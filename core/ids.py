"""Identifiers: time-ordered UUIDv7 keys and short human references."""

from __future__ import annotations

import secrets
import uuid
from datetime import date

from uuid_utils.compat import uuid7

# Crockford-style alphabet: no I, L, O, U, so references read well over the phone.
_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> uuid.UUID:
    return uuid7()


def new_reference(prefix: str, day: date) -> str:
    """E.g. `DO-261122-7KX3M9`: kind, date, six random characters (about 10^9 per day and kind)."""
    suffix = "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))
    return f"{prefix}-{day:%y%m%d}-{suffix}"
