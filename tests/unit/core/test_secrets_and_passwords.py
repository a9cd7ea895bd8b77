"""SECRET_KEY refused when weak in production, the JWT key derived from it, files holding secrets private,
passwords hashed off the event loop (a bounded number at once) and at least 10 characters when a person picks."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.settings import InsecureSecretKey, check_secret_key, load_settings


@pytest.mark.parametrize(
    "key",
    [
        "short-but-random-Xk29",
        "test-secret-key-" + "x" * 32,  # the tests' own key
        "change-me-" + secrets.token_urlsafe(32),
        "a" * 64,
        "abababababababababababababababababab",
    ],
)
def test_a_weak_secret_key_is_refused_in_production(key: str) -> None:
    with pytest.raises(InsecureSecretKey, match="SECRET_KEY"):
        check_secret_key(key, environment="production")
    check_secret_key(key, environment="development")  # a developer's machine may use anything


def test_a_random_secret_key_is_accepted_in_production() -> None:
    check_secret_key(secrets.token_urlsafe(48), environment="production")


def test_serve_stops_with_a_clear_message_on_a_weak_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import main
    from core.settings import get_settings

    monkeypatch.setenv("DIESEL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "change-me")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["serve", "--port", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "SECRET_KEY has 9 characters, fewer than 32" in result.output


def test_the_token_key_is_derived_from_the_secret_key_not_the_secret_itself() -> None:
    from api.auth import jwt_signing_key

    secret = secrets.token_urlsafe(48)
    key = jwt_signing_key(secret)
    assert key != secret and secret not in key and len(key) == 64
    assert jwt_signing_key(secret) == key and jwt_signing_key(secret + "x") != key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_the_files_holding_secrets_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """secret.key was written world-readable and then chmod-ed; SQLite created diesel.db with the umask's mode."""
    previous_umask = os.umask(0o022)  # the usual one: files made without a mode are world-readable
    try:
        _check_private_files(tmp_path, monkeypatch)
    finally:
        os.umask(previous_umask)


def _check_private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.migrate import upgrade
    from tracking.keystore import load_or_create

    data_dir = tmp_path / "var"
    monkeypatch.setenv("DIESEL_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SIGNING_KEYS", raising=False)
    monkeypatch.delenv("SIGNING_KEYS_FILE", raising=False)
    settings = load_settings()
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "secret.key") == 0o600
    upgrade(settings.db.url)
    database = data_dir / "diesel.db"
    assert _mode(database) == 0o600
    for sidecar in (data_dir / "diesel.db-wal", data_dir / "diesel.db-shm"):
        if sidecar.exists():  # SQLite gives them the database file's mode
            assert _mode(sidecar) == 0o600, sidecar
    load_or_create(settings.codes)
    assert _mode(settings.codes.signing_keys_file) == 0o600


async def test_password_hashing_runs_in_worker_threads_a_few_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 (64 MiB, ~0.1 s) ran on the event loop: every other request waited, and nothing bounded memory."""
    import core.auth

    real = core.auth._hasher
    loop_thread = threading.get_ident()
    threads: set[int] = set()
    running = peak = 0
    lock = threading.Lock()

    class Watched:
        def hash(self, password: str) -> str:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
                threads.add(threading.get_ident())
            try:
                return real.hash(password)
            finally:
                with lock:
                    running -= 1

        def verify(self, password_hash: str, password: str) -> bool:
            threads.add(threading.get_ident())
            return bool(real.verify(password_hash, password))

    monkeypatch.setattr(core.auth, "_hasher", Watched())
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.ensure_future(tick())
    started = time.monotonic()
    hashes = await asyncio.gather(*(core.auth.hash_password_async(f"password-{n:02d}") for n in range(24)))
    elapsed = time.monotonic() - started
    ticker.cancel()
    assert await core.auth.verify_password_async(hashes[0], "password-00")
    assert loop_thread not in threads
    assert 1 <= peak <= core.auth.HASH_THREADS  # 24 at once never hold more than HASH_THREADS × 64 MiB
    assert ticks >= elapsed / 0.005 / 4, "the event loop stalled while passwords were hashed"


def test_a_person_picks_a_password_of_at_least_10_characters() -> None:
    from api.cli import main

    result = CliRunner().invoke(main, ["createuser", "someone", "--role", "driver", "--password", "nine-char"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output
