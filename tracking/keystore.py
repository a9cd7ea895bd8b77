"""Where the signing keys live: SIGNING_KEYS text, or a key file (created with one key on first use)."""

from __future__ import annotations

import threading
from functools import cache

from core.settings import CodeSettings, private_dir
from tracking.keys import KeyRing, generate_key, load_keyring, save_keyring

_lock = threading.Lock()


def load_or_create(settings: CodeSettings) -> KeyRing:
    if settings.signing_keys_text:
        return load_keyring(settings.signing_keys_text)
    path = settings.signing_keys_file
    with _lock:
        if not path.exists():
            private_dir(path.parent)
            save_keyring(KeyRing(keys=(generate_key(),)), path)
    return load_keyring(path)


@cache
def keyring_for(settings: CodeSettings) -> KeyRing:
    """Read once per process (a rotation takes effect when the service restarts)."""
    return load_or_create(settings)
