"""Who money deals with: the buyer's name and tax id (read from the customer accounts table by name, so money
never imports the orders domain that owns it) and the payment code a customer puts in a bank transfer."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import String, Uuid, cast, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from money.models import CreditAccount

# The columns of customer_accounts money reads: a buyer's identity at the time of invoicing, a payer's tax id.
customer_accounts = table(
    "customer_accounts", column("id", Uuid()), column("name", String()), column("tax_id", String())
)

# Crockford-style base 32 (no I, L, O, U): read aloud or typed from a phone without mix-ups.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_BITS = 40  # the random tail of the account's id (uuid7: the head is a timestamp shared by bulk sign-ups)
PAYMENT_CODE = re.compile(r"(?<![0-9A-Z])DD([0-9A-HJKMNP-TV-Z]{8})(?![0-9A-Z])")


async def customers_with_tax_id(session: AsyncSession, tax_id: str) -> list[uuid.UUID]:
    wanted = tax_id.strip().upper()
    accounts = customer_accounts.c
    rows = await session.scalars(select(accounts.id).where(func.upper(accounts.tax_id) == wanted).limit(2))
    return list(rows)


def payment_code(customer_id: uuid.UUID) -> str:
    """`DD` and 8 characters naming the account, e.g. DD7KX3M9QZ."""
    tail = customer_id.int & ((1 << _CODE_BITS) - 1)
    return "DD" + "".join(_ALPHABET[(tail >> shift) & 31] for shift in range(_CODE_BITS - 5, -1, -5))


def id_suffix(code: str) -> str:
    """The last 10 hex digits of the id a payment code names."""
    tail = 0
    for char in code.upper().removeprefix("DD"):
        tail = tail * 32 + _ALPHABET.index(char)
    return f"{tail:010x}"


def payment_codes_in(text: str) -> list[str]:
    return [f"DD{m}" for m in PAYMENT_CODE.findall(text.upper())]


async def customers_with_payment_code(session: AsyncSession, code: str) -> list[uuid.UUID]:
    """The accounts whose id ends with the code's 40 bits (at most two are returned: more than one is ambiguous)."""
    suffix = id_suffix(code)
    # The id as text: dashed on PostgreSQL, 32 hex digits on SQLite; the last 10 digits sit in its last group on both.
    stmt = select(CreditAccount.customer_id).where(cast(CreditAccount.customer_id, String).like(f"%{suffix}")).limit(2)
    return [c for c in await session.scalars(stmt) if payment_code(c) == code.upper()]
