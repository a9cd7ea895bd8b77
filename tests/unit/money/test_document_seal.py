"""The signed seal (QR) of invoices and credit notes: round trip, tampering, foreign keys, other code kinds."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import base45
import cbor2
import pytest

from core.signing import KeyRing, generate_key, public_keys_json
from money.documents.records import Document, DocumentKind, Line, Party
from money.documents.seal import (
    SEAL_CONTEXT,
    SEAL_TYPE,
    decode_seal,
    lines_hash,
    seal_document,
    seal_of,
    verify_seal,
    verify_seal_offline,
)
from tracking import codes


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing((generate_key(created_at=1),))


def _line(position: int, litres: int) -> Line:
    amount = litres * 800
    return Line(
        position=position,
        reference=f"DO-300107-{position:06d}",
        document_number=f"R-{position}",
        product_code="diesel-0",
        product_name="0号柴油",
        delivered_at=datetime(2030, 1, 7, 3, tzinfo=UTC),
        observed_litres=litres + 40,
        temperature_c=24.5,
        net_litres=litres,
        net_kg=round(litres * 0.835),
        unit_price_minor=800,
        discount_minor=0,
        tax_rate_bps=1300,
        net_minor=amount - round(amount * 13 / 113),
        tax_minor=round(amount * 13 / 113),
        amount_minor=amount,
    )


def invoice(**overrides: object) -> Document:
    lines = (_line(1, 4950), _line(2, 3000))
    doc = Document(
        kind=DocumentKind.INVOICE,
        id=uuid.uuid4(),
        number="INV-2030-000042",
        customer_id=uuid.uuid4(),
        issue_date=date(2030, 1, 31),
        seller=Party(name="Diesel Direct", tax_id="91310000SELLER0001"),
        buyer=Party(name="测试物流", tax_id="91310000BUYER00001"),
        currency="CNY",
        lines=lines,
        net_minor=sum(line.net_minor for line in lines),
        tax_minor=sum(line.tax_minor for line in lines),
        total_minor=sum(line.amount_minor for line in lines),
        status="issued",
    )
    return replace(doc, **overrides)  # type: ignore[arg-type]


def test_a_seal_round_trips_and_certifies_the_document(ring: KeyRing) -> None:
    doc = invoice()
    token = seal_document(doc, ring)
    check = verify_seal(token, public_keys=ring)
    assert check.genuine and check.reasons == [] and check.kid == ring.signing_key.kid.hex()
    assert check.seal == seal_of(doc)
    assert check.seal.total_minor == 63_600_00 and check.seal.buyer_tax_id == "91310000BUYER00001"
    # Offline, with only the public keys as GET /rack/keys serves them.
    offline = verify_seal_offline(token, json.dumps(public_keys_json(ring)))
    assert offline.genuine and offline.seal == check.seal
    assert len(token) < 400  # fits a QR code of modest size


def test_the_lines_hash_binds_every_line() -> None:
    doc = invoice()
    edited = replace(doc.lines[1], net_litres=3001)
    assert lines_hash(doc.lines) != lines_hash((doc.lines[0], edited))
    assert lines_hash(doc.lines) != lines_hash(doc.lines[::-1])


def _resign(token: str, ring: KeyRing, change: object) -> str:
    """The token with its payload changed but the original signature kept (a forger without the key)."""
    raw = base45.b45decode(token)
    header, payload, signature = raw[:5], raw[5:-64], raw[-64:]
    fields = cbor2.loads(payload)
    change(fields)  # type: ignore[operator]
    return base45.b45encode(header + cbor2.dumps(fields, canonical=True) + signature).decode()


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.__setitem__(5, f[5] * 10),  # total
        lambda f: f.__setitem__(6, 0),  # tax
        lambda f: f.__setitem__(1, "INV-2030-000043"),  # number
        lambda f: f.__setitem__(4, "91310000OTHER00001"),  # buyer
        lambda f: f.__setitem__(8, bytes(16)),  # lines hash
    ],
)
def test_a_tampered_payload_is_refused(ring: KeyRing, change: object) -> None:
    token = seal_document(invoice(), ring)
    forged = _resign(token, ring, change)
    check = verify_seal(forged, public_keys=ring)
    assert not check.genuine and check.reasons == ["bad_signature"] and check.seal is None


def test_every_single_character_change_is_refused(ring: KeyRing) -> None:
    token = seal_document(invoice(), ring)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    for index in range(len(token)):
        other = alphabet[(alphabet.index(token[index]) + 1) % len(alphabet)]
        changed = token[:index] + other + token[index + 1 :]
        assert not verify_seal(changed, public_keys=ring).genuine, index


def test_a_seal_from_another_key_is_unknown(ring: KeyRing) -> None:
    stranger = KeyRing((generate_key(created_at=1),))
    check = verify_seal(seal_document(invoice(), stranger), public_keys=ring)
    assert check.reasons == ["unknown_key"] and not check.genuine


def test_a_forged_signature_under_a_known_key_id_is_refused(ring: KeyRing) -> None:
    stranger = generate_key(created_at=1)
    body = base45.b45decode(seal_document(invoice(), ring))[:-64]
    forged = base45.b45encode(body + stranger.private_key.sign(SEAL_CONTEXT + body)).decode()
    assert verify_seal(forged, public_keys=ring).reasons == ["bad_signature"]


def test_pickup_codes_and_seals_never_pass_as_each_other(ring: KeyRing) -> None:
    depot = uuid.uuid4()
    pickup = codes.issue(
        ring,
        kind="pickup",
        subject_id=uuid.uuid4(),
        depot_id=depot,
        plate=None,
        products=["diesel-0"],
        max_litres=5000,
        not_before=0,
        expires=2**31,
    )
    assert verify_seal(pickup, public_keys=ring).reasons == ["malformed"]
    seal = seal_document(invoice(), ring)
    assert codes.verify(seal, public_keys=ring, now=1.0, depot_id=depot).reasons == ["malformed"]
    # Even the seal's bytes under the pickup codes' version byte are refused: the signing contexts differ.
    raw = base45.b45decode(seal)
    assert raw[0] == SEAL_TYPE
    relabelled = base45.b45encode(bytes([1]) + raw[1:]).decode()
    assert not codes.verify(relabelled, public_keys=ring, now=1.0, depot_id=depot).ok


@pytest.mark.parametrize("token", [None, 42, "", "x" * 1001, "not base45!", "AB", b"bytes"])
def test_garbage_is_malformed_and_never_raises(ring: KeyRing, token: object) -> None:
    assert verify_seal(token, public_keys=ring).reasons == ["malformed"]


def test_non_canonical_payload_is_malformed_even_when_signed(ring: KeyRing) -> None:
    token = seal_document(invoice(), ring)
    raw = base45.b45decode(token)
    header, payload = raw[:5], raw[5:-64]
    padded = payload + b"\x00"  # trailing byte
    body = header + padded
    resigned = base45.b45encode(body + ring.signing_key.private_key.sign(SEAL_CONTEXT + body)).decode()
    with pytest.raises(ValueError, match="canonical"):
        decode_seal(resigned)
    assert verify_seal(resigned, public_keys=ring).reasons == ["malformed"]


def test_a_credit_note_seal_names_the_invoice_it_credits(ring: KeyRing) -> None:
    note = invoice(
        kind=DocumentKind.CREDIT_NOTE,
        number="CN-2030-000001",
        credits_number="INV-2030-000042",
        total_minor=-90_000,
        tax_minor=-10_354,
    )
    check = verify_seal(seal_document(note, ring), public_keys=ring)
    assert check.genuine and check.seal is not None
    assert (check.seal.kind, check.seal.credits_number, check.seal.total_minor) == (
        DocumentKind.CREDIT_NOTE,
        "INV-2030-000042",
        -90_000,
    )
    with pytest.raises(ValueError):  # an invoice that claims to credit something cannot be sealed
        seal_document(invoice(credits_number="INV-1"), ring)
