"""The signed code printed at a customer's site: an account manager scans it to prove a visit.

Signed with the key ring that signs pickup codes and invoice seals (core.signing), in the same style as
tracking.codes, but under a signing context of its own so that no other signature can ever pass as a visit code:

    token  = Base45( VERSION(1) || KID(4) || CBOR([site id (16 bytes), issued (unix seconds)]) || Ed25519(64) )
    signed = SIGNING_CONTEXT || VERSION || KID || CBOR

A visit code does not expire: it is printed once and stays on the wall. Removing its key from the ring revokes
it (every code signed with that key then verifies as `unknown_key` and must be printed again).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import base45
import cbor2
from cryptography.exceptions import InvalidSignature

from core.signing import KID_LENGTH, KeyRing

VERSION = 1
SIGNING_CONTEXT = b"diesel-direct/visit/v1\x00"
SIGNATURE_LENGTH = 64
HEADER_LENGTH = 1 + KID_LENGTH
MAX_TOKEN_CHARS = 300
MAX_TIME = 2**40


@dataclass(frozen=True, slots=True)
class VisitCheck:
    ok: bool
    reason: str | None  # malformed | unknown_key | bad_signature
    site_id: uuid.UUID | None = None
    token_hash: str | None = None


def issue(keyring: KeyRing, *, site_id: uuid.UUID, issued: int) -> str:
    key = keyring.signing_key
    body = bytes([VERSION]) + key.kid + cbor2.dumps([site_id.bytes, int(issued)], canonical=True)
    signature = key.private_key.sign(SIGNING_CONTEXT + body)
    encoded: bytes = base45.b45encode(body + signature)
    return encoded.decode("ascii")


def verify(token: object, *, keyring: KeyRing) -> VisitCheck:
    """Never raises: anything that is not a visit code we signed is refused with a reason."""
    try:
        return _verify(token, keyring)
    except Exception:  # fail closed
        return VisitCheck(ok=False, reason="malformed")


def _verify(token: object, keyring: KeyRing) -> VisitCheck:
    if not isinstance(token, str):
        return VisitCheck(ok=False, reason="malformed")
    text = token.strip("\r\n\t")  # keyboard-wedge scanners end with a newline
    if not text or len(text) > MAX_TOKEN_CHARS:
        return VisitCheck(ok=False, reason="malformed")
    try:
        raw: bytes = base45.b45decode(text)
    except (ValueError, TypeError):
        return VisitCheck(ok=False, reason="malformed")
    if len(raw) < HEADER_LENGTH + 1 + SIGNATURE_LENGTH or raw[0] != VERSION:
        return VisitCheck(ok=False, reason="malformed")
    body, signature = raw[:-SIGNATURE_LENGTH], raw[-SIGNATURE_LENGTH:]
    site_id = _site_of(body[HEADER_LENGTH:])
    if site_id is None:
        return VisitCheck(ok=False, reason="malformed")
    digest = hashlib.sha256(raw).hexdigest()
    public = keyring.public_keys().get(body[1:HEADER_LENGTH])
    if public is None:
        return VisitCheck(ok=False, reason="unknown_key", token_hash=digest)
    try:
        public.verify(signature, SIGNING_CONTEXT + body)
    except InvalidSignature:
        return VisitCheck(ok=False, reason="bad_signature", token_hash=digest)
    return VisitCheck(ok=True, reason=None, site_id=site_id, token_hash=digest)


def _site_of(payload: bytes) -> uuid.UUID | None:
    try:
        fields = cbor2.loads(payload, max_depth=2, allow_indefinite=False)
    except Exception:  # cbor2 raises assorted errors
        return None
    if not (isinstance(fields, list) and len(fields) == 2):
        return None
    site, issued = fields
    if not (isinstance(site, bytes) and len(site) == 16 and type(issued) is int and 0 <= issued < MAX_TIME):
        return None
    if cbor2.dumps(fields, canonical=True) != payload:  # one payload, one encoding (no trailing bytes)
        return None
    return uuid.UUID(bytes=site)
