"""The signing key ring, re-exported: it lives in `core.signing` because money seals invoices with the same keys
(and money may not import tracking)."""

from __future__ import annotations

from core.signing import (
    KID_LENGTH,
    KeyRing,
    SigningKey,
    dump_keyring,
    generate_key,
    key_id,
    load_keyring,
    parse_public_keys,
    public_keys_json,
    remove_key,
    rotate,
    save_keyring,
)

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
