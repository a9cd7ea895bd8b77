"""Signed pickup, load (trip) and receipt codes: token format, issue, verify.

Wire format, version 1 (all of it fits a QR code of version <= 10 at error correction Q for a pickup code):

    token  = Base45( VERSION(1) || KID(4) || CBOR(payload array) || Ed25519 signature(64) )
    signed = SIGNING_CONTEXT || VERSION || KID || CBOR

- Base45 (RFC 9285, as in the EU Digital COVID Certificate) uses only the QR alphanumeric alphabet, so the QR
  code stores 5.5 bits per character instead of 8.
- The payload is a CBOR array in canonical encoding; the position is the key. Integer-keyed maps cost a
  byte per field, and with a 64-byte signature, a 96-bit nonce and two UUIDs that pushed a pickup code from
  QR version 10 to 11. For the same reason the depot is carried as an 8-byte tag (truncated SHA-256 of the
  depot UUID): a rack only needs to know "is this my depot", and the server has the booking row.
- The kid sits in the clear header (covered by the signature) so a verifier finds the key before parsing.
- The signature covers a context string too, so a signature made for anything else can never pass as a code.

`verify` never raises: every hostile input ends as a Verification with stable reason codes. already_used and
cancelled are decided against the database by the caller; this module is pure.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum, StrEnum
from typing import Any

import base45
import cbor2
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tracking.keys import KID_LENGTH, KeyRing, SigningKey, parse_public_keys

__all__ = [
    "MAX_TOKEN_CHARS",
    "Kind",
    "MalformedToken",
    "Payload",
    "Reason",
    "Verification",
    "decode",
    "depot_tag",
    "issue",
    "normalise_plate",
    "sign",
    "token_hash",
    "verify",
    "verify_offline",
]

VERSION = 1
SIGNING_CONTEXT = b"diesel-direct/code/v1\x00"
SIGNATURE_LENGTH = 64
NONCE_LENGTH = 12  # 96 bits: unique per issued code even when a booking's code is re-issued
DEPOT_TAG_LENGTH = 8
HEADER_LENGTH = 1 + KID_LENGTH
# Checked before any decoding so a 1 MB string costs a length comparison, not a Base45 pass.
MAX_TOKEN_CHARS = 1000
# Schema bounds: generous for real data, small enough that nothing hostile gets expensive.
MAX_PLATE_CHARS = 16
MAX_PRODUCTS = 8
MAX_PRODUCT_CHARS = 32
MAX_LITRES = 1_000_000
MAX_TIME = 2**40  # unix seconds; rules out bignums and overflowing datetimes


class Kind(StrEnum):
    PICKUP = "pickup"
    TRIP = "trip"
    RECEIPT = "receipt"


class _KindCode(IntEnum):  # the wire value of Kind
    PICKUP = 1
    TRIP = 2
    RECEIPT = 3


class Reason(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_DEPOT = "wrong_depot"
    PLATE_MISMATCH = "plate_mismatch"


class MalformedToken(ValueError):
    """The text is not a well-formed code (raised by `decode`/`token_hash`, never by `verify`)."""


class Payload(msgspec.Struct, frozen=True, kw_only=True):
    kind: Kind
    subject_id: uuid.UUID  # booking id (pickup), trip id (trip) or order id (receipt)
    depot_tag: bytes  # depot_tag(depot id); for a receipt, depot_tag(site id)
    plate: str | None  # normalised; None when the code is not bound to a vehicle
    products: tuple[str, ...]
    max_litres: int
    not_before: int  # unix seconds, inclusive
    expires: int  # unix seconds, exclusive
    nonce: bytes
    kid: bytes


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    reasons: list[str]
    payload: Payload | None = None  # set only when the signature is valid
    kid: str | None = None  # hex, when the header could be read
    token_hash: str | None = None  # when the token decoded; what the database stores and looks up


# ---------------------------------------------------------------- helpers shared by issue and verify


def normalise_plate(plate: str) -> str:
    """'沪a 123-45' and '沪A12345' are one truck: NFKC (full-width -> ASCII), upper case, no separators."""
    folded = unicodedata.normalize("NFKC", plate).upper()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-·•.")


def depot_tag(depot_id: uuid.UUID | str) -> bytes:
    """8-byte tag of a depot (or site) id. A string that is not a UUID gets a tag no issued code carries."""
    try:
        raw = (depot_id if isinstance(depot_id, uuid.UUID) else uuid.UUID(str(depot_id))).bytes
    except ValueError:
        raw = b"not-a-uuid:" + str(depot_id).encode("utf-8", "replace")
    return hashlib.sha256(b"depot:" + raw).digest()[:DEPOT_TAG_LENGTH]


def _encode_payload(p: Payload) -> bytes:
    return cbor2.dumps(
        [
            int(_KindCode[p.kind.name]),
            p.subject_id.bytes,
            p.depot_tag,
            p.plate,
            list(p.products),
            p.max_litres,
            p.not_before,
            p.expires,
            p.nonce,
        ],
        canonical=True,
    )


def _check_payload(p: Payload) -> None:
    """The schema rules, shared by issue (ValueError) and decode (malformed)."""
    if len(p.depot_tag) != DEPOT_TAG_LENGTH or len(p.nonce) != NONCE_LENGTH or len(p.kid) != KID_LENGTH:
        raise ValueError("bad tag, nonce or kid length")
    if p.plate is not None and not (0 < len(p.plate) <= MAX_PLATE_CHARS and p.plate == normalise_plate(p.plate)):
        raise ValueError("plate must be 1-16 characters, normalised")
    if not (0 < len(p.products) <= MAX_PRODUCTS) or not all(0 < len(c) <= MAX_PRODUCT_CHARS for c in p.products):
        raise ValueError("products must be 1-8 product codes")
    if not (0 < p.max_litres <= MAX_LITRES):
        raise ValueError("max_litres out of range")
    if not (0 <= p.not_before < p.expires < MAX_TIME):
        raise ValueError("need 0 <= not_before < expires")


# ---------------------------------------------------------------- issue


def sign(payload: Payload, key: SigningKey) -> str:
    if payload.kid != key.kid:
        raise ValueError("payload kid does not match the signing key")
    _check_payload(payload)
    body = bytes([VERSION]) + payload.kid + _encode_payload(payload)
    signature = key.private_key.sign(SIGNING_CONTEXT + body)
    encoded: bytes = base45.b45encode(body + signature)
    return encoded.decode("ascii")


def issue(
    keyring: KeyRing,
    *,
    kind: Kind | str,
    subject_id: uuid.UUID | str,
    depot_id: uuid.UUID | str,
    plate: str | None,
    products: Sequence[str],
    max_litres: int,
    not_before: int,
    expires: int,
    nonce: bytes | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> str:
    """Sign a new code with the ring's newest key. Raises ValueError for values a code cannot carry."""
    key = keyring.signing_key
    payload = Payload(
        kind=Kind(kind),
        subject_id=subject_id if isinstance(subject_id, uuid.UUID) else uuid.UUID(subject_id),
        depot_tag=depot_tag(depot_id),
        plate=None if plate is None else normalise_plate(plate),
        products=tuple(products),
        max_litres=int(max_litres),
        not_before=int(not_before),
        expires=int(expires),
        nonce=random_bytes(NONCE_LENGTH) if nonce is None else nonce,
        kid=key.kid,
    )
    return sign(payload, key)


# ---------------------------------------------------------------- decode


def _token_bytes(token: object) -> bytes:
    if not isinstance(token, str):
        raise MalformedToken("a token is a string")
    # Keyboard-wedge scanners append CR/LF; neither is in the Base45 alphabet, so stripping them is lossless.
    # Spaces ARE Base45 characters and are kept.
    token = token.strip("\r\n\t")
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise MalformedToken("empty or too long")
    try:
        raw: bytes = base45.b45decode(token)
    except (ValueError, TypeError):
        raise MalformedToken("not Base45") from None
    if len(raw) < HEADER_LENGTH + 1 + SIGNATURE_LENGTH:
        raise MalformedToken("too short")
    if raw[0] != VERSION:
        raise MalformedToken("unknown version")
    return raw


def _parse_payload(kid: bytes, cbor: bytes) -> Payload:
    try:
        fields = cbor2.loads(cbor, max_depth=3, allow_indefinite=False)
    except Exception:  # cbor2 raises assorted errors (CBORDecodeError, ValueError, OverflowError, ...)
        raise MalformedToken("not CBOR") from None
    if not isinstance(fields, list) or len(fields) != 9:
        raise MalformedToken("payload is not a 9-field array")
    kind, subject, tag, plate, products, max_litres, not_before, expires, nonce = fields
    if not (
        _is_int(kind)
        and kind in {c.value for c in _KindCode}
        and isinstance(subject, bytes)
        and len(subject) == 16
        and isinstance(tag, bytes)
        and (plate is None or isinstance(plate, str))
        and isinstance(products, list)
        and all(isinstance(c, str) for c in products)
        and _is_int(max_litres)
        and _is_int(not_before)
        and _is_int(expires)
        and isinstance(nonce, bytes)
    ):
        raise MalformedToken("payload field types")
    payload = Payload(
        kind=Kind[_KindCode(kind).name],
        subject_id=uuid.UUID(bytes=subject),
        depot_tag=tag,
        plate=plate,
        products=tuple(products),
        max_litres=max_litres,
        not_before=not_before,
        expires=expires,
        nonce=nonce,
        kid=kid,
    )
    try:
        _check_payload(payload)
    except ValueError as exc:
        raise MalformedToken(str(exc)) from None
    # One payload, one encoding: rejects trailing bytes, tags, non-minimal integers, so a token's hash is
    # a function of its content (cbor2.loads ignores trailing data, hence the round trip).
    if _encode_payload(payload) != cbor:
        raise MalformedToken("payload is not canonical CBOR")
    return payload


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode(token: object) -> tuple[Payload, bytes, bytes]:
    """(payload, signed bytes, signature) WITHOUT checking the signature. Raises MalformedToken, also for a non-str."""
    raw = _token_bytes(token)
    kid = raw[1:HEADER_LENGTH]
    body, signature = raw[:-SIGNATURE_LENGTH], raw[-SIGNATURE_LENGTH:]
    payload = _parse_payload(kid, body[HEADER_LENGTH:])
    return payload, body, signature


def token_hash(token: str) -> str:
    """SHA-256 hex of the decoded token bytes: the only form of an issued code the database keeps.

    Hashing the bytes, not the text, makes a token and the same token with a scanner's trailing newline equal.
    Raises MalformedToken for text that is not a token.
    """
    return hashlib.sha256(_token_bytes(token)).hexdigest()


# ---------------------------------------------------------------- verify


def verify(
    token: object,
    *,
    public_keys: KeyRing | Mapping[bytes, Ed25519PublicKey],
    now: float,
    depot_id: uuid.UUID | str,
    plate: str | None = None,
    leeway: int = 0,
) -> Verification:
    """Check a code presented at `depot_id` (for a receipt: the site id) at time `now` (unix seconds).

    Order: malformed -> unknown_key -> bad_signature -> then all that apply of (expired | not_yet_valid),
    wrong_depot, plate_mismatch. `plate=None` skips the plate rule (the operator has not typed one yet).
    `leeway` widens the validity window for racks whose clock may drift. Never raises.
    """
    try:
        return _verify(token, public_keys, now, depot_id, plate, leeway)
    except Exception:  # fail closed: a bug here must refuse the load, not crash the rack (500)
        return Verification(ok=False, reasons=[Reason.MALFORMED])


def _verify(
    token: object,
    public_keys: KeyRing | Mapping[bytes, Ed25519PublicKey],
    now: float,
    depot_id: uuid.UUID | str,
    plate: str | None,
    leeway: int,
) -> Verification:
    try:
        payload, body, signature = decode(token)
    except MalformedToken:
        return Verification(ok=False, reasons=[Reason.MALFORMED])
    digest = hashlib.sha256(body + signature).hexdigest()
    keys = public_keys.public_keys() if isinstance(public_keys, KeyRing) else public_keys
    public = keys.get(payload.kid)
    if public is None:
        return Verification(ok=False, reasons=[Reason.UNKNOWN_KEY], kid=payload.kid.hex(), token_hash=digest)
    try:
        public.verify(signature, SIGNING_CONTEXT + body)
    except InvalidSignature:
        return Verification(ok=False, reasons=[Reason.BAD_SIGNATURE], kid=payload.kid.hex(), token_hash=digest)

    reasons: list[str] = []
    if not math.isfinite(now) or now >= payload.expires + leeway:
        reasons.append(Reason.EXPIRED)
    elif now < payload.not_before - leeway:
        reasons.append(Reason.NOT_YET_VALID)
    if payload.depot_tag != depot_tag(depot_id):
        reasons.append(Reason.WRONG_DEPOT)
    if plate is not None and payload.plate is not None and normalise_plate(plate) != payload.plate:
        reasons.append(Reason.PLATE_MISMATCH)
    return Verification(ok=not reasons, reasons=reasons, payload=payload, kid=payload.kid.hex(), token_hash=digest)


def verify_offline(
    token: object,
    public_keys_json: str | Sequence[Mapping[str, Any]] | Mapping[str, Any],
    now: float,
    depot_id: uuid.UUID | str,
    plate: str | None = None,
) -> Verification:
    """Verify with the key list a rack cached from GET /rack/keys (no private key, no network, no database).

    Raises ValueError only when the cached key list itself is broken (configuration, not the token).
    """
    return verify(token, public_keys=parse_public_keys(public_keys_json), now=now, depot_id=depot_id, plate=plate)
