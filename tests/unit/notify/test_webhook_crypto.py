"""Webhook secrets at rest: sealed with AES-GCM under HKDF-derived keys, bound to their webhook, key ids for change."""

from __future__ import annotations

import base64
import uuid

import pytest

from core.settings import AuthSettings
from notify.webhooks.crypto import SecretCipher, SecretUnreadable, cipher_for, webhook_context
from notify.webhooks.service import sign, signature_header

SECRET = "whsec_" + "A" * 43
HOOK = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")
CONTEXT = webhook_context(HOOK)


def test_round_trip_without_the_plaintext_in_the_stored_form() -> None:
    cipher = SecretCipher(["master-one"])
    sealed = cipher.encrypt(SECRET, context=CONTEXT)
    assert cipher.decrypt(sealed, context=CONTEXT) == SECRET
    assert SECRET not in sealed and SECRET.encode() not in base64.urlsafe_b64decode(sealed.split(".")[2] + "==")
    version, kid, _ = sealed.split(".")
    assert (version, kid) == ("v1", cipher.key_id) and len(sealed) <= 255
    # A fresh nonce every time: the same secret never seals to the same text.
    assert cipher.encrypt(SECRET, context=CONTEXT) != sealed


def _flip(sealed: str, index: int) -> str:
    header, payload = sealed.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[index] ^= 0x01
    return f"{header}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


@pytest.mark.parametrize("index", [0, 12, 20, -1])  # nonce, ciphertext, tag
def test_a_tampered_ciphertext_is_refused(index: int) -> None:
    cipher = SecretCipher(["master-one"])
    sealed = cipher.encrypt(SECRET, context=CONTEXT)
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(_flip(sealed, index), context=CONTEXT)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-10],  # truncated
        lambda s: "v1." + s.split(".")[1] + ".AAAA",  # too short
        lambda s: "v2" + s[2:],  # unknown version
        lambda s: s.replace(".", ":"),  # not the format
        lambda s: s + "!",  # not base64
        lambda s: "",
    ],
)
def test_malformed_sealed_secrets_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    cipher = SecretCipher(["master-one"])
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(mangle(cipher.encrypt(SECRET, context=CONTEXT)), context=CONTEXT)


def test_a_wrong_key_is_refused() -> None:
    sealed = SecretCipher(["master-one"]).encrypt(SECRET, context=CONTEXT)
    other = SecretCipher(["master-two"])
    with pytest.raises(SecretUnreadable, match="not configured"):
        other.decrypt(sealed, context=CONTEXT)
    # Even under the other key's id (a forged key id), the tag does not verify.
    forged = sealed.replace(sealed.split(".")[1], other.key_id, 1)
    with pytest.raises(SecretUnreadable, match="altered"):
        other.decrypt(forged, context=CONTEXT)


def test_a_secret_copied_onto_another_webhook_does_not_open() -> None:
    cipher = SecretCipher(["master-one"])
    sealed = cipher.encrypt(SECRET, context=CONTEXT)
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(sealed, context=webhook_context(uuid.uuid4()))


def test_the_master_secret_can_change_with_the_old_one_kept_for_reading() -> None:
    old = SecretCipher(["master-one"])
    sealed_before = old.encrypt(SECRET, context=CONTEXT)
    both = SecretCipher(["master-two", "master-one"])
    assert both.key_id != old.key_id
    assert both.decrypt(sealed_before, context=CONTEXT) == SECRET
    sealed_after = both.encrypt(SECRET, context=CONTEXT)
    assert sealed_after.split(".")[1] == both.key_id
    with pytest.raises(SecretUnreadable):
        old.decrypt(sealed_after, context=CONTEXT)
    with pytest.raises(ValueError):
        SecretCipher(["", ""])


def test_the_key_comes_from_webhook_secret_keys_or_else_the_app_secret() -> None:
    from_app = cipher_for(AuthSettings(secret_key="app-secret"))
    assert from_app.key_id == SecretCipher(["app-secret"]).key_id
    dedicated = cipher_for(AuthSettings(secret_key="app-secret", webhook_secret_keys=("hooks-new", "app-secret")))
    assert dedicated.key_id == SecretCipher(["hooks-new"]).key_id
    assert dedicated.decrypt(from_app.encrypt(SECRET, context=CONTEXT), context=CONTEXT) == SECRET


def test_the_signature_header_carries_one_signature_per_live_secret_newest_first() -> None:
    body = b'{"delivery_id":"x"}'
    assert signature_header([SECRET], body) == sign(SECRET, body)
    assert signature_header(["new", "old"], body) == f"{sign('new', body)},{sign('old', body)}"
    assert sign("new", body).startswith("sha256=") and len(sign("new", body)) == 7 + 64
