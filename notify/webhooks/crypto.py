"""Webhook secrets at rest: AES-256-GCM under keys derived (HKDF-SHA256) from configured master secrets.

They sign deliveries (HMAC), so they must be recoverable: sealed, not hashed. A sealed secret reads
`v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`; the key id names the master secret that sealed it, so the
master secret can change (list the new one first in WEBHOOK_SECRET_KEYS and keep the old ones after it). The
webhook's id is bound in as associated data: a sealed secret copied onto another row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.settings import AuthSettings

VERSION = "v1"
_SALT = b"diesel-direct/webhook-secrets"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class SecretUnreadable(Exception):
    """Not a sealed secret, altered, sealed for another row, or sealed with a key that is not configured."""


def _derive(master: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose).derive(master.encode())


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    aead: AESGCM


def webhook_context(webhook_id: uuid.UUID) -> bytes:
    """The associated data binding a sealed secret to its webhook."""
    return b"webhook:" + webhook_id.bytes


class SecretCipher:
    """Seals with the first master secret's key, opens with any configured one."""

    def __init__(self, master_secrets: Sequence[str]) -> None:
        masters = [m for m in master_secrets if m]
        if not masters:
            raise ValueError("at least one master secret is needed")
        # The key id is derived separately from the key, so it reveals nothing about it.
        keys = [_Key(_derive(m, b"key-id/v1")[:6].hex(), AESGCM(_derive(m, b"aes-256-gcm/v1"))) for m in masters]
        self._current = keys[0]
        self._keys = {key.kid: key for key in reversed(keys)}

    @property
    def key_id(self) -> str:
        return self._current.kid

    def encrypt(self, plaintext: str, *, context: bytes) -> str:
        header = f"{VERSION}.{self._current.kid}"
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, plaintext.encode(), _aad(header, context))
        return f"{header}.{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode()}"

    def decrypt(self, token: str, *, context: bytes) -> str:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise SecretUnreadable("not a sealed secret of a known version")
        version, kid, payload = parts
        key = self._keys.get(kid)
        if key is None:
            raise SecretUnreadable(f"sealed with key id {kid}, which is not configured (WEBHOOK_SECRET_KEYS)")
        try:
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError) as error:
            raise SecretUnreadable("the sealed secret is not valid base64") from error
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise SecretUnreadable("the sealed secret is truncated")
        try:
            plaintext = key.aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(f"{version}.{kid}", context))
        except InvalidTag as error:
            raise SecretUnreadable("the sealed secret was altered or belongs to another webhook") from error
        return plaintext.decode()


def _aad(header: str, context: bytes) -> bytes:
    return header.encode() + b"|" + context


def cipher_for(auth: AuthSettings) -> SecretCipher:
    """WEBHOOK_SECRET_KEYS when set, else SECRET_KEY."""
    return _cipher(auth.webhook_secret_keys or (auth.secret_key,))


@cache
def _cipher(masters: tuple[str, ...]) -> SecretCipher:
    return SecretCipher(masters)
