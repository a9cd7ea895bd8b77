"""Signed codes: round trip, size, the attack corpus, key rotation, key files, offline verification."""

import json
import os
import random
import stat
import uuid
from pathlib import Path

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import serialization

from tracking import codes, keys, qr
from tracking.codes import SIGNING_CONTEXT, Kind, Reason, issue, token_hash, verify, verify_offline

NOW = 1_760_000_000
DEPOT = uuid.UUID("0190f3a4-1b2c-7d3e-8f40-123456789abc")
OTHER_DEPOT = uuid.UUID("0190f3a4-1b2c-7d3e-8f40-cba987654321")
BOOKING = uuid.UUID("0190f3a5-0000-7000-8000-00000000beef")
ALL_REASONS = {r.value for r in Reason}


@pytest.fixture(scope="module")
def ring() -> keys.KeyRing:
    return keys.KeyRing((keys.generate_key(created_at=NOW - 86400),))


def pickup(ring: keys.KeyRing, **overrides: object) -> str:
    fields: dict[str, object] = {
        "kind": "pickup",
        "subject_id": BOOKING,
        "depot_id": DEPOT,
        "plate": "沪A·12345",
        "products": ["diesel-m10"],
        "max_litres": 30000,
        "not_before": NOW - 600,
        "expires": NOW + 3 * 3600,
    }
    fields.update(overrides)
    return issue(ring, **fields)  # type: ignore[arg-type]


def check(token: object, ring: keys.KeyRing, **kwargs: object) -> codes.Verification:
    args: dict[str, object] = {"public_keys": ring, "now": NOW, "depot_id": DEPOT, "plate": "沪A12345"}
    args.update(kwargs)
    result = verify(token, **args)  # type: ignore[arg-type]
    assert set(result.reasons) <= ALL_REASONS
    assert result.ok == (not result.reasons)
    return result


def raw(token: str) -> bytearray:
    return bytearray(base45.b45decode(token))


def enc(data: bytes | bytearray) -> str:
    encoded: bytes = base45.b45encode(bytes(data))
    return encoded.decode()


# ---------------------------------------------------------------- round trip and size


def test_round_trip(ring: keys.KeyRing) -> None:
    token = pickup(ring)
    result = check(token, ring)
    assert result.ok and result.reasons == []
    p = result.payload
    assert p is not None
    assert p.kind is Kind.PICKUP
    assert p.subject_id == BOOKING
    assert p.depot_tag == codes.depot_tag(DEPOT) == codes.depot_tag(str(DEPOT))
    assert p.plate == "沪A12345"
    assert p.products == ("diesel-m10",)
    assert p.max_litres == 30000
    assert (p.not_before, p.expires) == (NOW - 600, NOW + 3 * 3600)
    assert len(p.nonce) == 12
    assert p.kid == ring.signing_key.kid and result.kid == p.kid.hex()
    assert result.token_hash == token_hash(token)


def test_trip_and_receipt_kinds(ring: keys.KeyRing) -> None:
    trip = pickup(ring, kind=Kind.TRIP, products=["diesel-0", "diesel-m10", "diesel-m20"], plate="沪B-98765")
    result = check(trip, ring, plate="沪B98765")
    assert result.ok and result.payload is not None and result.payload.kind is Kind.TRIP
    site = uuid.uuid4()
    receipt = pickup(ring, kind="receipt", depot_id=site, plate=None)
    assert check(receipt, ring, depot_id=site, plate="anything").ok  # not bound to a plate
    assert check(receipt, ring).reasons == [Reason.WRONG_DEPOT]  # a receipt code is not a rack code


def test_pickup_fits_qr_version_10_at_q(ring: keys.KeyRing) -> None:
    # Worst realistic pickup: new-energy plate (8 characters, CJK province), longest product code, 44 m³.
    token = pickup(ring, plate="粤B·D12345", products=["diesel-m35"], max_litres=44000)
    assert len(token) <= 221
    assert qr.qr_version(token) <= 10
    typical = pickup(ring)
    assert len(typical) == 218 and qr.qr_version(typical) == 10


def test_nonce_makes_every_issue_unique(ring: keys.KeyRing) -> None:
    assert pickup(ring) != pickup(ring)
    fixed = pickup(ring, nonce=bytes(12))
    assert fixed == pickup(ring, nonce=bytes(12))  # Ed25519 is deterministic: same content, same token


def test_issue_rejects_values_a_code_cannot_carry(ring: keys.KeyRing) -> None:
    cases: list[dict[str, object]] = [
        {"expires": NOW - 600},  # not after not_before
        {"products": []},
        {"max_litres": 0},
        {"plate": "X" * 17},
        {"plate": " - "},
        {"kind": "delivery"},
        {"subject_id": "not-a-uuid"},
        {"nonce": b"short"},
    ]
    for overrides in cases:
        with pytest.raises(ValueError):
            pickup(ring, **overrides)


def test_plate_normalisation() -> None:
    assert codes.normalise_plate("沪a 123-45") == "沪A12345"
    assert codes.normalise_plate("沪Ａ·１２３４５") == "沪A12345"  # full-width input method
    assert codes.normalise_plate("ab-12 cd") == "AB12CD"


# ---------------------------------------------------------------- time, depot, plate rules


def test_time_depot_plate_rules(ring: keys.KeyRing) -> None:
    token = pickup(ring)
    assert check(token, ring, now=NOW + 3 * 3600).reasons == [Reason.EXPIRED]  # expires is exclusive
    assert check(token, ring, now=NOW + 3 * 3600 - 1).ok
    assert check(token, ring, now=NOW - 601).reasons == [Reason.NOT_YET_VALID]
    assert check(token, ring, now=NOW - 600).ok
    assert check(token, ring, now=NOW - 660, leeway=60).ok
    assert check(token, ring, depot_id=OTHER_DEPOT).reasons == [Reason.WRONG_DEPOT]
    assert check(token, ring, depot_id="not a uuid").reasons == [Reason.WRONG_DEPOT]
    assert check(token, ring, plate="沪A12346").reasons == [Reason.PLATE_MISMATCH]
    assert check(token, ring, plate=None).ok
    several = check(token, ring, now=NOW + 10**6, depot_id=OTHER_DEPOT, plate="京A00000")
    assert several.reasons == [Reason.EXPIRED, Reason.WRONG_DEPOT, Reason.PLATE_MISMATCH]
    assert several.payload is not None  # the signature was fine: the rack can still show what it is
    assert check(token, ring, now=float("nan")).reasons == [Reason.EXPIRED]


def test_replay_is_visible_to_the_caller_by_hash(ring: keys.KeyRing) -> None:
    token = pickup(ring)
    first, second = check(token, ring), check(token + "\r\n", ring)
    assert first.ok and second.ok  # already_used is the database's call...
    assert first.token_hash == second.token_hash == token_hash(token)  # ...keyed by a stable hash


# ---------------------------------------------------------------- attack corpus


def test_every_single_bit_flip_is_refused(ring: keys.KeyRing) -> None:
    token = pickup(ring)
    data = raw(token)
    sig_start = len(data) - 64
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        result = check(enc(flipped), ring)
        assert not result.ok
        byte = i // 8
        if byte == 0:
            assert result.reasons == [Reason.MALFORMED]  # version
        elif byte < 5:
            assert result.reasons == [Reason.UNKNOWN_KEY]  # kid
        elif byte < sig_start:
            assert result.reasons in ([Reason.MALFORMED], [Reason.BAD_SIGNATURE])  # payload
        else:
            assert result.reasons == [Reason.BAD_SIGNATURE]


def test_bit_flip_in_payload_value_is_bad_signature(ring: keys.KeyRing) -> None:
    token = pickup(ring, nonce=bytes(12))
    data = raw(token)
    nonce_at = data.index(bytes([0x4C]) + bytes(12))  # CBOR byte string header of length 12, then the nonce
    data[nonce_at + 5] ^= 0x10
    assert check(enc(data), ring).reasons == [Reason.BAD_SIGNATURE]
    data = raw(token)
    data[-10] ^= 0x01  # in the signature
    assert check(enc(data), ring).reasons == [Reason.BAD_SIGNATURE]


def test_max_litres_raised_by_editing_is_refused(ring: keys.KeyRing) -> None:
    token = pickup(ring, max_litres=30000)
    data = raw(token)
    at = data.index(bytes([0x19]) + (30000).to_bytes(2, "big"))
    data[at + 1 : at + 3] = (60000).to_bytes(2, "big")
    assert check(enc(data), ring).reasons == [Reason.BAD_SIGNATURE]


def test_truncated_and_padded(ring: keys.KeyRing) -> None:
    token = pickup(ring)
    data = raw(token)
    for cut in (1, 2, 3, 4, 5, len(token) // 2, len(token) - 1):
        assert check(token[:-cut], ring).reasons == [Reason.MALFORMED], cut
    for n in (1, 2, 10, 64):
        assert check(enc(data[:-n]), ring).reasons == [Reason.MALFORMED], n
        assert check(enc(data + bytes(n)), ring).reasons == [Reason.MALFORMED], n
    for pad in ("0", "00", "000", "   ", " ", "\x00", token):
        assert check(token + pad, ring).reasons == [Reason.MALFORMED], pad
    assert check(token[3:], ring).reasons == [Reason.MALFORMED]


def test_resigned_with_an_unknown_key(ring: keys.KeyRing) -> None:
    stranger = keys.KeyRing((keys.generate_key(created_at=NOW),))
    forged = pickup(stranger, max_litres=44000)
    result = check(forged, ring)
    assert result.reasons == [Reason.UNKNOWN_KEY] and result.payload is None


def test_kid_swapped_to_another_known_key(ring: keys.KeyRing) -> None:
    rotated = keys.rotate(ring, created_at=NOW)
    token = pickup(rotated)  # signed by the new key
    data = raw(token)
    data[1:5] = ring.keys[0].kid  # claims the old key, which is also in the ring
    assert check(enc(data), rotated).reasons == [Reason.BAD_SIGNATURE]


def test_forged_with_known_kid_but_wrong_key_is_bad_signature(ring: keys.KeyRing) -> None:
    stranger = keys.generate_key(created_at=NOW)
    data = raw(pickup(ring))
    body = bytes(data[:-64])
    data[-64:] = stranger.private_key.sign(SIGNING_CONTEXT + body)
    assert check(enc(data), ring).reasons == [Reason.BAD_SIGNATURE]
    data[-64:] = ring.signing_key.private_key.sign(body)  # right key, but without the context string
    assert check(enc(data), ring).reasons == [Reason.BAD_SIGNATURE]


@pytest.mark.parametrize(
    "token",
    [
        "",
        " ",
        "A",
        "garbage",
        "HELLO WORLD",
        "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA",
        "\x00" * 30,
        "沪A12345",
        "é" * 200,
        "🚚" * 50,
        "A" * 1001,
        "A" * 999,
        "Z" * 300,
        ":" * 300,
        "X" * 1_000_000,
        None,
        b"bytes",
        12345,
        ["list"],
    ],
)
def test_garbage_is_malformed(ring: keys.KeyRing, token: object) -> None:
    assert check(token, ring).reasons == [Reason.MALFORMED]


def test_lowercase_is_malformed(ring: keys.KeyRing) -> None:
    token = pickup(ring)
    assert token != token.lower()
    assert check(token.lower(), ring).reasons == [Reason.MALFORMED]


def test_huge_token_is_refused_before_decoding(ring: keys.KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_: object) -> bytes:
        raise AssertionError("decoded a huge token")

    import base45 as base45_module

    monkeypatch.setattr(base45_module, "b45decode", boom)
    assert check("0" * (1024 * 1024), ring).reasons == [Reason.MALFORMED]


def _with_payload(ring: keys.KeyRing, cbor: bytes, *, version: int = 1) -> str:
    """A correctly signed token around arbitrary CBOR: the schema check must still say malformed."""
    key = ring.signing_key
    body = bytes([version]) + key.kid + cbor
    return enc(body + key.private_key.sign(SIGNING_CONTEXT + body))


GOOD_FIELDS: list[object] = [
    1,
    BOOKING.bytes,
    codes.depot_tag(DEPOT),
    "沪A12345",
    ["diesel-0"],
    30000,
    NOW - 600,
    NOW + 3600,
    bytes(12),
]


def _fields(index: int, value: object) -> list[object]:
    fields = list(GOOD_FIELDS)
    fields[index] = value
    return fields


BAD_PAYLOADS: list[bytes] = [
    b"",
    b"\xff",
    b"not cbor at all",
    cbor2.dumps("a string"),
    cbor2.dumps(dict(enumerate(GOOD_FIELDS))),  # a map, not the array
    cbor2.dumps(GOOD_FIELDS[:8]),  # a field missing
    cbor2.dumps([*GOOD_FIELDS, 0]),  # a field too many
    cbor2.dumps(_fields(0, 9)),  # unknown kind
    cbor2.dumps(_fields(0, True)),  # bool is not an int
    cbor2.dumps(_fields(0, "pickup")),
    cbor2.dumps(_fields(1, bytes(15))),
    cbor2.dumps(_fields(1, str(BOOKING))),
    cbor2.dumps(_fields(2, bytes(16))),
    cbor2.dumps(_fields(3, 12345)),
    cbor2.dumps(_fields(3, "沪a 12345")),  # not normalised
    cbor2.dumps(_fields(3, "")),
    cbor2.dumps(_fields(4, "diesel-0")),
    cbor2.dumps(_fields(4, [])),
    cbor2.dumps(_fields(4, [1])),
    cbor2.dumps(_fields(4, ["x"] * 9)),
    cbor2.dumps(_fields(5, -1)),
    cbor2.dumps(_fields(5, 0)),
    cbor2.dumps(_fields(5, 30000.0)),
    cbor2.dumps(_fields(5, 2**70)),  # bignum tag
    cbor2.dumps(_fields(6, NOW + 7200)),  # not_before after expires
    cbor2.dumps(_fields(7, -5)),
    cbor2.dumps(_fields(7, None)),
    cbor2.dumps(_fields(8, bytes(11))),
    cbor2.dumps(_fields(8, [bytes(12)])),
    cbor2.dumps(GOOD_FIELDS) + b"\x00",  # trailing byte
    b"\x9f" + b"".join(cbor2.dumps(f) for f in GOOD_FIELDS) + b"\xff",  # indefinite-length array
    cbor2.dumps(_fields(5, cbor2.CBORTag(1, 30000))),  # a tag around a number
    bytes([0x89, 0x18, 0x01]) + cbor2.dumps(GOOD_FIELDS)[2:],  # non-minimal integer for the kind
    b"\x81" * 500,  # deep nesting
]


@pytest.mark.parametrize("cbor", BAD_PAYLOADS)
def test_wrong_cbor_is_malformed_even_when_signed(ring: keys.KeyRing, cbor: bytes) -> None:
    assert check(_with_payload(ring, cbor), ring).reasons == [Reason.MALFORMED]


def test_the_good_fields_do_verify(ring: keys.KeyRing) -> None:
    # Guards the corpus above: it only differs from a valid token in the one field each case breaks.
    assert check(_with_payload(ring, cbor2.dumps(GOOD_FIELDS, canonical=True)), ring).ok


@pytest.mark.parametrize("version", [0, 2, 0x31, 0xFF])
def test_wrong_version_byte_is_malformed(ring: keys.KeyRing, version: int) -> None:
    token = _with_payload(ring, cbor2.dumps(GOOD_FIELDS, canonical=True), version=version)
    assert check(token, ring).reasons == [Reason.MALFORMED]


def test_random_inputs_never_raise(ring: keys.KeyRing) -> None:
    rng = random.Random(20240601)
    good = raw(pickup(ring))
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    for _ in range(1500):
        choice = rng.random()
        if choice < 0.3:
            candidate = enc(rng.randbytes(rng.randrange(0, 400)))
        elif choice < 0.5:
            candidate = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))
        elif choice < 0.8:  # a real token with a few random bytes overwritten
            mutated = bytearray(good)
            for _ in range(rng.randrange(1, 6)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            candidate = enc(mutated)
        else:  # a valid header and signature length around random CBOR-ish bytes
            candidate = enc(bytes([1]) + ring.signing_key.kid + rng.randbytes(rng.randrange(1, 120)) + bytes(64))
        result = check(candidate, ring)
        assert not result.ok or candidate == enc(good)


def test_token_hash_of_garbage_raises_malformed_token() -> None:
    with pytest.raises(codes.MalformedToken):
        token_hash("not a token")
    with pytest.raises(ValueError):  # MalformedToken is a ValueError
        token_hash("")


# ---------------------------------------------------------------- rotation


def test_rotation_keeps_old_codes_until_the_old_key_is_removed(ring: keys.KeyRing) -> None:
    old_token = pickup(ring)
    rotated = keys.rotate(ring, created_at=NOW)
    assert len(rotated.keys) == 2 and rotated.signing_key.kid != ring.signing_key.kid
    new_token = pickup(rotated)
    assert codes.decode(new_token)[0].kid == rotated.signing_key.kid
    assert check(old_token, rotated).ok
    assert check(new_token, rotated).ok
    assert check(new_token, ring).reasons == [Reason.UNKNOWN_KEY]  # a rack with a stale key list
    pruned = keys.remove_key(rotated, ring.signing_key.kid.hex())
    assert check(old_token, pruned).reasons == [Reason.UNKNOWN_KEY]
    assert check(new_token, pruned).ok
    with pytest.raises(KeyError):
        keys.remove_key(pruned, ring.signing_key.kid)
    with pytest.raises(ValueError):
        keys.remove_key(pruned, pruned.signing_key.kid)  # a ring is never empty


def test_rotation_with_a_clock_that_stepped_back(ring: keys.KeyRing) -> None:
    rotated = keys.rotate(ring, created_at=0)
    assert rotated.signing_key is rotated.keys[-1]


def test_key_id_is_derived_from_the_public_key(ring: keys.KeyRing) -> None:
    key = ring.signing_key
    raw_public = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    import hashlib

    assert key.kid == hashlib.sha256(raw_public).digest()[:4]


# ---------------------------------------------------------------- key files and configuration


def test_key_file_round_trip(ring: keys.KeyRing, tmp_path: Path) -> None:
    rotated = keys.rotate(ring, created_at=NOW)
    path = tmp_path / "codes-keys.json"
    keys.save_keyring(rotated, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for source in (path, str(path), path.read_text()):
        loaded = keys.load_keyring(source)
        assert [k.kid for k in loaded.keys] == [k.kid for k in rotated.keys]
        assert loaded.signing_key.kid == rotated.signing_key.kid
        assert [k.created_at for k in loaded.keys] == [NOW - 86400, NOW]
    token = pickup(keys.load_keyring(path))
    assert check(token, rotated).ok


def test_load_pem_and_base64_configuration(ring: keys.KeyRing) -> None:
    second = keys.generate_key(created_at=NOW)
    pems = "\n".join(
        k.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        for k in (ring.signing_key, second)
    )
    from_pem = keys.load_keyring(pems)
    assert [k.kid for k in from_pem.keys] == [ring.signing_key.kid, second.kid]
    assert from_pem.signing_key.kid == second.kid  # no timestamps: the last one signs
    seeds = [
        k.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        for k in (ring.signing_key, second)
    ]
    import base64

    text = f"{base64.b64encode(seeds[0]).decode()}, {base64.urlsafe_b64encode(seeds[1]).decode().rstrip('=')}"
    from_b64 = keys.load_keyring(text)
    assert [k.kid for k in from_b64.keys] == [ring.signing_key.kid, second.kid]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        json.dumps({"format": "other", "keys": []}),
        json.dumps({"format": "diesel-direct-keyring", "keys": []}),
        json.dumps({"format": "diesel-direct-keyring", "keys": [{"private_key": "AAAA"}]}),
        json.dumps({"format": "diesel-direct-keyring", "keys": [{"alg": "RS256", "private_key": "AA"}]}),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        "!!!not base64!!!",
    ],
)
def test_bad_key_configuration_raises(text: str) -> None:
    with pytest.raises(ValueError):
        keys.load_keyring(text)


def test_missing_key_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        keys.load_keyring(str(tmp_path / "missing.json"))


def test_key_file_with_a_wrong_kid_is_refused(ring: keys.KeyRing) -> None:
    doc = json.loads(keys.dump_keyring(ring))
    doc["keys"][0]["kid"] = "00000000"
    with pytest.raises(ValueError, match="does not match"):
        keys.load_keyring(json.dumps(doc))


def test_duplicate_keys_are_refused(ring: keys.KeyRing) -> None:
    with pytest.raises(ValueError):
        keys.KeyRing((ring.signing_key, ring.signing_key))


# ---------------------------------------------------------------- public keys and offline racks


def test_public_keys_json_and_offline_verification(ring: keys.KeyRing) -> None:
    rotated = keys.rotate(ring, created_at=NOW)
    published = keys.public_keys_json(rotated)
    assert [set(entry) for entry in published] == [{"kid", "alg", "public_key", "created_at"}] * 2
    assert all(entry["alg"] == "Ed25519" and len(entry["public_key"]) == 43 for entry in published)
    assert "private" not in json.dumps(published)
    cached = json.dumps(published)  # what the rack stored
    old_token, new_token = pickup(ring), pickup(rotated)
    for key_list in (cached, published, {"keys": published}):
        assert verify_offline(new_token, key_list, NOW, DEPOT, "沪A12345").ok
        assert verify_offline(old_token, key_list, NOW, DEPOT).ok
    assert verify_offline(new_token, cached, NOW, OTHER_DEPOT).reasons == [Reason.WRONG_DEPOT]
    assert verify_offline("garbage", cached, NOW, DEPOT).reasons == [Reason.MALFORMED]
    stale = json.dumps(keys.public_keys_json(ring))
    assert verify_offline(new_token, stale, NOW, DEPOT).reasons == [Reason.UNKNOWN_KEY]


def test_broken_public_key_list_raises(ring: keys.KeyRing) -> None:
    good = keys.public_keys_json(ring)
    for broken in (
        "nope",
        "[1]",
        json.dumps([{**good[0], "alg": "none"}]),
        json.dumps([{**good[0], "kid": "ff"}]),
    ):
        with pytest.raises(ValueError):
            verify_offline(pickup(ring), broken, NOW, DEPOT)
