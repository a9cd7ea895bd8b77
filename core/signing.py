"""Ed25519 key ring: signs pickup/load/receipt codes (tracking) and the seals on invoices (money).

Several keys are live at once so keys can rotate without invalidating codes already on customers' phones: the
newest key signs, every key in the ring verifies. A key id (kid) is the first 4 bytes of SHA-256 of the raw
public key, so it is derived, never chosen, and a rack can match a token to a cached public key offline.

Private keys come from configuration text or a key file that is never committed:
- the JSON key file written by `dump_keyring` ({"format": "diesel-direct-keyring", "keys": [...]});
- one or more PEM "PRIVATE KEY" blocks (PKCS#8, as `openssl genpkey -algorithm ed25519` writes);
- one or more base64/base64url raw 32-byte seeds separated by whitespace or commas.
In the last two forms there is no creation time, so the order given is the age order (the last one signs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KID_LENGTH",
    "KeyRing",
    "SigningKey",
    "dump_keyring",
    "generate_key",
    "key_id",
    "load_keyring",
    "parse_public_keys",
    "public_keys_json",
    "remove_key",
    "rotate",
    "save_keyring",
]

KID_LENGTH = 4
KEYRING_FORMAT = "diesel-direct-keyring"
ALG = "Ed25519"

PublicKeys = Mapping[bytes, Ed25519PublicKey]


def key_id(public_key: Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:KID_LENGTH]


@dataclass(frozen=True, slots=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    created_at: int  # unix seconds; 0 when unknown (PEM/base64 configuration)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def kid(self) -> bytes:
        return key_id(self.public_key)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Keys oldest first; `signing_key` is the newest. Immutable: rotate/remove return a new ring."""

    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a key ring needs at least one key")
        kids = [k.kid for k in self.keys]
        if len(set(kids)) != len(kids):
            raise ValueError("duplicate key in key ring")

    @property
    def signing_key(self) -> SigningKey:
        # Newest by creation time; among equal times (e.g. PEM config) the later one in the ring.
        return max(enumerate(self.keys), key=lambda pair: (pair[1].created_at, pair[0]))[1]

    def public_keys(self) -> dict[bytes, Ed25519PublicKey]:
        return {k.kid: k.public_key for k in self.keys}


def generate_key(*, created_at: int | None = None) -> SigningKey:
    # Making a key is an operator action (`diesel keys rotate`), not business logic: a default clock is ok.
    return SigningKey(Ed25519PrivateKey.generate(), int(time.time()) if created_at is None else created_at)


def rotate(keyring: KeyRing, *, created_at: int | None = None) -> KeyRing:
    """A new ring whose new key signs from now on; the old keys keep verifying until removed."""
    stamp = int(time.time()) if created_at is None else created_at
    # Never let a clock that stepped back make the old key the newest again.
    stamp = max(stamp, keyring.signing_key.created_at)
    existing = {k.kid for k in keyring.keys}
    while True:  # a 32-bit kid collision is ~1 in 4 billion; just draw again
        new = generate_key(created_at=stamp)
        if new.kid not in existing:
            return KeyRing((*keyring.keys, new))


def remove_key(keyring: KeyRing, kid: bytes | str) -> KeyRing:
    """Drop a key: codes signed with it then verify as `unknown_key`."""
    wanted = _kid_bytes(kid)
    kept = tuple(k for k in keyring.keys if k.kid != wanted)
    if len(kept) == len(keyring.keys):
        raise KeyError(f"no key {wanted.hex()} in the key ring")
    return KeyRing(kept)


# ---------------------------------------------------------------- serialisation


def dump_keyring(keyring: KeyRing) -> str:
    """The JSON key file (contains private keys: store with mode 0600, never commit)."""
    keys = [
        {
            "kid": k.kid.hex(),
            "alg": ALG,
            "private_key": _b64url(
                k.private_key.private_bytes(
                    serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
                )
            ),
            "created_at": k.created_at,
        }
        for k in keyring.keys
    ]
    return json.dumps({"format": KEYRING_FORMAT, "version": 1, "keys": keys}, indent=2) + "\n"


def save_keyring(keyring: KeyRing, path: str | os.PathLike[str]) -> None:
    """Write the key file atomically, readable by the owner only."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a stale temp file would keep its old (maybe wider) permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(dump_keyring(keyring))
    os.replace(tmp, target)


def load_keyring(source: str | os.PathLike[str]) -> KeyRing:
    """A key ring from configuration text (JSON, PEM or base64 seeds) or from a key file path."""
    if isinstance(source, os.PathLike):
        return _parse_keyring_text(Path(source).read_text(encoding="utf-8"))
    text = source.strip()
    if text.startswith("{") or "-----BEGIN" in text:
        return _parse_keyring_text(text)
    looks_like_path = text.endswith((".json", ".pem", ".key")) and not re.search(r"[\s,]", text)
    if looks_like_path or (text and "\n" not in text and Path(text).is_file()):
        return _parse_keyring_text(Path(text).read_text(encoding="utf-8"))  # a missing file raises OSError
    return _parse_keyring_text(text)


def _parse_keyring_text(text: str) -> KeyRing:
    text = text.strip()
    if not text:
        raise ValueError("no keys in the key ring configuration")
    if text.startswith("{"):
        return _parse_json_keyring(text)
    if "-----BEGIN" in text:
        blocks = re.findall(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", text, flags=re.DOTALL)
        return KeyRing(tuple(SigningKey(_load_pem(block), 0) for block in blocks))
    seeds = [part for part in re.split(r"[\s,]+", text) if part]
    return KeyRing(tuple(SigningKey(_private_from_seed(_b64decode(seed)), 0) for seed in seeds))


def _parse_json_keyring(text: str) -> KeyRing:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"key file is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != KEYRING_FORMAT or not isinstance(doc.get("keys"), list):
        raise ValueError(f"key file must be a {KEYRING_FORMAT!r} document with a 'keys' list")
    keys: list[SigningKey] = []
    for entry in doc["keys"]:
        if not isinstance(entry, dict) or entry.get("alg", ALG) != ALG:
            raise ValueError("each key must be an object with alg 'Ed25519'")
        created_at = entry.get("created_at", 0)
        if not isinstance(created_at, int) or isinstance(created_at, bool):
            raise ValueError("created_at must be an integer (unix seconds)")
        key = SigningKey(_private_from_seed(_b64decode(str(entry.get("private_key", "")))), created_at)
        if "kid" in entry and entry["kid"] != key.kid.hex():
            raise ValueError(f"kid {entry['kid']!r} does not match its private key")
        keys.append(key)
    return KeyRing(tuple(keys))


def _load_pem(block: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(block.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"cannot read PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("PEM key is not an Ed25519 private key")
    return key


def _private_from_seed(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise ValueError(f"an Ed25519 private key is 32 bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


# ---------------------------------------------------------------- public keys (GET /rack/keys: racks, invoice checks)


def public_keys_json(keyring: KeyRing) -> list[dict[str, Any]]:
    """The public part of the ring, oldest first.

    [{kid (hex), alg: "Ed25519", public_key (base64url of the raw 32 bytes), created_at (unix seconds)}]
    """
    return [
        {
            "kid": k.kid.hex(),
            "alg": ALG,
            "public_key": _b64url(
                k.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            ),
            "created_at": k.created_at,
        }
        for k in keyring.keys
    ]


def parse_public_keys(
    doc: str | Sequence[Mapping[str, Any]] | Mapping[str, Any],
) -> dict[bytes, Ed25519PublicKey]:
    """Public keys from `public_keys_json` output (a list, its JSON text, or {"keys": [...]}).

    Raises ValueError for a broken key list: that is a rack configuration problem, not a hostile token.
    """
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise ValueError(f"public keys are not valid JSON: {exc}") from None
    if isinstance(doc, Mapping):
        doc = doc.get("keys", [])
    if not isinstance(doc, Iterable):
        raise ValueError("public keys must be a list")
    keys: dict[bytes, Ed25519PublicKey] = {}
    for entry in doc:
        if not isinstance(entry, Mapping) or entry.get("alg") != ALG:
            raise ValueError("each public key must be an object with alg 'Ed25519'")
        raw = _b64decode(str(entry.get("public_key", "")))
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        public = Ed25519PublicKey.from_public_bytes(raw)
        kid = key_id(public)
        if "kid" in entry and entry["kid"] != kid.hex():
            raise ValueError(f"kid {entry['kid']!r} does not match its public key")
        keys[kid] = public
    return keys


# ---------------------------------------------------------------- helpers


def _kid_bytes(kid: bytes | str) -> bytes:
    return bytes.fromhex(kid) if isinstance(kid, str) else kid


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("invalid base64 key material") from None
