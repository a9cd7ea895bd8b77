"""The signed seal on an invoice or credit note: a QR code the customer's finance verifies offline.

Wire format, version 1 (same building blocks as pickup codes, tracking/codes.py):

    token  = Base45( TYPE(1) || KID(4) || CBOR(payload array) || Ed25519 signature(64) )
    signed = SEAL_CONTEXT || TYPE || KID || CBOR

payload = [kind (1 invoice, 2 credit note), number, issue date (YYYYMMDD), seller tax id, buyer tax id,
           total (fen, signed), tax (fen, signed), currency, lines hash (16 bytes), credited invoice number or null]

- TYPE 0x10 is not a pickup code's version byte and SEAL_CONTEXT differs from theirs, so neither kind of token can
  ever pass as the other.
- The lines hash binds every line's figures (`lines_hash`), so a seal copied onto an invoice with edited lines is
  caught when the lines are compared (POST /invoices/verify does; docs/EFAPIAO.md says how to recompute it).
- Keys are the ring that signs pickup codes (core.signing); verifiers take the public keys of GET /rack/keys.

`verify_seal` never raises: every hostile input ends as a SealCheck with stable reasons.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from enum import IntEnum, StrEnum
from typing import Any

import base45
import cbor2
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.signing import KID_LENGTH, KeyRing, parse_public_keys
from money.documents.records import Document, DocumentKind, Line

SEAL_TYPE = 0x10
SEAL_CONTEXT = b"diesel-direct/document-seal/v1\x00"
SIGNATURE_LENGTH = 64
HEADER_LENGTH = 1 + KID_LENGTH
LINES_HASH_LENGTH = 16
MAX_SEAL_CHARS = 1000  # checked before decoding: a long string costs a comparison, nothing more
MAX_NUMBER_CHARS = 32
MAX_TAX_ID_CHARS = 40
MAX_AMOUNT = 10**15
_CURRENCY = re.compile(r"[A-Z]{3}")


class _KindCode(IntEnum):
    INVOICE = 1
    CREDIT_NOTE = 2


class SealReason(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"


REASON_TEXTS = {
    SealReason.MALFORMED: "not a document seal (damaged, cut short, or something else)",
    SealReason.UNKNOWN_KEY: "signed with a key that is not in the public keys given",
    SealReason.BAD_SIGNATURE: "the signature does not match: the seal was altered or forged",
}


class Seal(msgspec.Struct, frozen=True, kw_only=True):
    """What a seal certifies."""

    kind: DocumentKind
    number: str
    issue_date: date
    seller_tax_id: str
    buyer_tax_id: str
    total_minor: int
    tax_minor: int
    currency: str
    lines_hash: bytes
    credits_number: str | None = None


class SealCheck(msgspec.Struct, frozen=True, kw_only=True):
    genuine: bool
    reasons: list[str]
    seal: Seal | None = None  # only when the signature is valid
    kid: str | None = None


class MalformedSeal(ValueError):
    pass


def lines_hash(lines: Sequence[Line]) -> bytes:
    """SHA-256 (first 16 bytes) of the canonical CBOR array of the lines, each
    [position, document number, product code, net litres, unit price, discount, net, tax, amount]."""
    rows = [
        [
            line.position,
            line.document_number,
            line.product_code,
            line.net_litres,
            line.unit_price_minor,
            line.discount_minor,
            line.net_minor,
            line.tax_minor,
            line.amount_minor,
        ]
        for line in lines
    ]
    return hashlib.sha256(cbor2.dumps(rows, canonical=True)).digest()[:LINES_HASH_LENGTH]


def seal_of(document: Document) -> Seal:
    return Seal(
        kind=document.kind,
        number=document.number,
        issue_date=document.issue_date,
        seller_tax_id=document.seller.tax_id,
        buyer_tax_id=document.buyer.tax_id,
        total_minor=document.total_minor,
        tax_minor=document.tax_minor,
        currency=document.currency,
        lines_hash=lines_hash(document.lines),
        credits_number=document.credits_number,
    )


def _encode(seal: Seal) -> bytes:
    return cbor2.dumps(
        [
            int(_KindCode[seal.kind.name]),
            seal.number,
            seal.issue_date.year * 10_000 + seal.issue_date.month * 100 + seal.issue_date.day,
            seal.seller_tax_id,
            seal.buyer_tax_id,
            seal.total_minor,
            seal.tax_minor,
            seal.currency,
            seal.lines_hash,
            seal.credits_number,
        ],
        canonical=True,
    )


def _check(seal: Seal) -> None:
    """The schema rules, shared by signing (ValueError) and decoding (malformed)."""
    if not 0 < len(seal.number) <= MAX_NUMBER_CHARS:
        raise ValueError("number must be 1-32 characters")
    if len(seal.seller_tax_id) > MAX_TAX_ID_CHARS or len(seal.buyer_tax_id) > MAX_TAX_ID_CHARS:
        raise ValueError("tax ids are at most 40 characters")
    if not (abs(seal.total_minor) < MAX_AMOUNT and abs(seal.tax_minor) < MAX_AMOUNT):
        raise ValueError("amount out of range")
    if not _CURRENCY.fullmatch(seal.currency):
        raise ValueError("currency must be three capital letters")
    if len(seal.lines_hash) != LINES_HASH_LENGTH:
        raise ValueError("bad lines hash length")
    if (seal.kind == DocumentKind.CREDIT_NOTE) != (seal.credits_number is not None):
        raise ValueError("a credit note names the invoice it credits, an invoice names none")
    if seal.credits_number is not None and not 0 < len(seal.credits_number) <= MAX_NUMBER_CHARS:
        raise ValueError("credited number must be 1-32 characters")


def sign_seal(seal: Seal, keyring: KeyRing) -> str:
    """The seal as QR text (Base45), signed with the ring's newest key."""
    _check(seal)
    key = keyring.signing_key
    body = bytes([SEAL_TYPE]) + key.kid + _encode(seal)
    signature = key.private_key.sign(SEAL_CONTEXT + body)
    encoded: bytes = base45.b45encode(body + signature)
    return encoded.decode("ascii")


def seal_document(document: Document, keyring: KeyRing) -> str:
    return sign_seal(seal_of(document), keyring)


# ---------------------------------------------------------------- decode and verify


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(cbor: bytes) -> Seal:
    try:
        fields = cbor2.loads(cbor, max_depth=2, allow_indefinite=False)
    except Exception:  # cbor2 raises assorted errors (CBORDecodeError, ValueError, OverflowError, ...)
        raise MalformedSeal("not CBOR") from None
    if not isinstance(fields, list) or len(fields) != 10:
        raise MalformedSeal("payload is not a 10-field array")
    kind, number, day, seller, buyer, total, tax, currency, digest, credits = fields
    if not (
        _is_int(kind)
        and kind in {code.value for code in _KindCode}
        and isinstance(number, str)
        and _is_int(day)
        and isinstance(seller, str)
        and isinstance(buyer, str)
        and _is_int(total)
        and _is_int(tax)
        and isinstance(currency, str)
        and isinstance(digest, bytes)
        and (credits is None or isinstance(credits, str))
    ):
        raise MalformedSeal("payload field types")
    try:
        issued = date(day // 10_000, day // 100 % 100, day % 100)
        seal = Seal(
            kind=DocumentKind[_KindCode(kind).name],
            number=number,
            issue_date=issued,
            seller_tax_id=seller,
            buyer_tax_id=buyer,
            total_minor=total,
            tax_minor=tax,
            currency=currency,
            lines_hash=digest,
            credits_number=credits,
        )
        _check(seal)
    except ValueError as error:
        raise MalformedSeal(str(error)) from None
    if _encode(seal) != cbor:  # one seal, one encoding: no trailing bytes, tags or padded integers
        raise MalformedSeal("payload is not canonical CBOR")
    return seal


def decode_seal(token: object) -> tuple[Seal, bytes, bytes, bytes]:
    """(seal, kid, signed body, signature) WITHOUT checking the signature. Raises MalformedSeal."""
    if not isinstance(token, str):
        raise MalformedSeal("a seal is a string")
    token = token.strip("\r\n\t")  # scanners add line ends; neither is a Base45 character
    if not token or len(token) > MAX_SEAL_CHARS:
        raise MalformedSeal("empty or too long")
    try:
        raw: bytes = base45.b45decode(token)
    except (ValueError, TypeError):
        raise MalformedSeal("not Base45") from None
    if len(raw) < HEADER_LENGTH + 1 + SIGNATURE_LENGTH or raw[0] != SEAL_TYPE:
        raise MalformedSeal("not a document seal")
    body, signature = raw[:-SIGNATURE_LENGTH], raw[-SIGNATURE_LENGTH:]
    return _parse(body[HEADER_LENGTH:]), raw[1:HEADER_LENGTH], body, signature


def verify_seal(token: object, *, public_keys: KeyRing | Mapping[bytes, Ed25519PublicKey]) -> SealCheck:
    """Is this seal signed by one of these keys, and what does it certify? Never raises."""
    try:
        seal, kid, body, signature = decode_seal(token)
    except Exception:  # fail closed: a bug here must refuse, not crash the endpoint
        return SealCheck(genuine=False, reasons=[SealReason.MALFORMED])
    keys = public_keys.public_keys() if isinstance(public_keys, KeyRing) else public_keys
    public = keys.get(kid)
    if public is None:
        return SealCheck(genuine=False, reasons=[SealReason.UNKNOWN_KEY], kid=kid.hex())
    try:
        public.verify(signature, SEAL_CONTEXT + body)
    except InvalidSignature:
        return SealCheck(genuine=False, reasons=[SealReason.BAD_SIGNATURE], kid=kid.hex())
    return SealCheck(genuine=True, reasons=[], seal=seal, kid=kid.hex())


def verify_seal_offline(
    token: object, public_keys_json: str | Sequence[Mapping[str, Any]] | Mapping[str, Any]
) -> SealCheck:
    """Verify with public keys saved from GET /rack/keys (no network, no database). Raises ValueError only when
    the key list itself is broken."""
    return verify_seal(token, public_keys=parse_public_keys(public_keys_json))
