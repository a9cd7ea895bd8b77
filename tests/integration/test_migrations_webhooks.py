"""Migration 0009 on rows that exist: plain-text webhook secrets are encrypted on the way up, restored on the way
down. Runs on a private database of its own (a temporary SQLite file, or a throwaway schema on PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import core.db

pytestmark = pytest.mark.integration

PLAIN = "whsec_" + "plain-text-secret-of-before-0009-xyz"

customers = sa.table(
    "customer_accounts",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("credit_limit_minor", sa.BigInteger()),
    sa.column("open_amount_minor", sa.BigInteger()),
    sa.column("currency", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("created_at", core.db.UTCDateTime()),
)
webhooks_0008 = sa.table(
    "webhooks",
    sa.column("id", sa.Uuid()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("url", sa.String()),
    sa.column("events", sa.JSON()),
    sa.column("secret", sa.String()),
    sa.column("created_at", core.db.UTCDateTime()),
)


@pytest.fixture
def private_database(tmp_path: Path) -> Iterator[str]:
    """A sync URL of an empty database nobody else uses."""
    from core.settings import sync_database_url

    url = os.environ.get("DATABASE_URL") or ""
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    schema = f"mig_{uuid.uuid4().hex[:12]}"
    base = sync_database_url(url)
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_0009_encrypts_existing_secrets_and_0008_gets_them_back(private_database: str) -> None:
    from api.migrate import downgrade, upgrade
    from core.settings import load_settings
    from notify.webhooks.crypto import cipher_for, webhook_context

    upgrade(private_database, "0008")
    customer_id, hook_ids = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    now = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
    engine = sa.create_engine(private_database)
    try:
        with engine.begin() as conn:
            conn.execute(
                customers.insert().values(
                    id=customer_id,
                    name="before 0009",
                    credit_limit_minor=0,
                    open_amount_minor=0,
                    currency="CNY",
                    is_active=True,
                    created_at=now,
                )
            )
            for n, hook_id in enumerate(hook_ids):
                conn.execute(
                    webhooks_0008.insert().values(
                        id=hook_id,
                        customer_id=customer_id,
                        url="https://example.com/old",
                        events=["*"],
                        secret=f"{PLAIN}-{n}",
                        created_at=now,
                    )
                )

        upgrade(private_database, "head")
        cipher = cipher_for(load_settings().auth)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("webhooks")}
            assert "secret" not in columns
            rows = conn.execute(sa.text("SELECT * FROM webhooks")).all()
            assert len(rows) == 2 and all(PLAIN not in " ".join(map(str, row)) for row in rows)
            webhooks = sa.table("webhooks", sa.column("id", sa.Uuid()), sa.column("secret_encrypted"))
            sealed = dict(conn.execute(sa.select(webhooks.c.id, webhooks.c.secret_encrypted)).all())
            secret_ids = conn.execute(sa.text("SELECT count(DISTINCT secret_id) FROM webhooks")).scalar_one()
        assert secret_ids == 2
        for n, hook_id in enumerate(hook_ids):
            assert sealed[hook_id].startswith(f"v1.{cipher.key_id}.")
            assert cipher.decrypt(sealed[hook_id], context=webhook_context(hook_id)) == f"{PLAIN}-{n}"

        downgrade(private_database, "0008")
        with engine.connect() as conn:
            restored = dict(conn.execute(sa.select(webhooks_0008.c.id, webhooks_0008.c.secret)).all())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("webhooks")}
        assert restored == {hook_id: f"{PLAIN}-{n}" for n, hook_id in enumerate(hook_ids)}
        assert "secret_encrypted" not in columns and "previous_secret_encrypted" not in columns
    finally:
        engine.dispose()


def test_0009_refuses_to_invent_a_key_for_existing_secrets(
    private_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets sealed with a key the app does not have would be lost: without SECRET_KEY (or a key file) it stops."""
    from api.migrate import upgrade

    upgrade(private_database, "0008")
    engine = sa.create_engine(private_database)
    try:
        with engine.begin() as conn:
            customer_id = uuid.uuid4()
            now = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
            conn.execute(
                customers.insert().values(
                    id=customer_id,
                    name="x",
                    credit_limit_minor=0,
                    open_amount_minor=0,
                    currency="CNY",
                    is_active=True,
                    created_at=now,
                )
            )
            conn.execute(
                webhooks_0008.insert().values(
                    id=uuid.uuid4(),
                    customer_id=customer_id,
                    url="https://e.x/",
                    events=["*"],
                    secret=PLAIN,
                    created_at=now,
                )
            )
        monkeypatch.delenv("SECRET_KEY")
        monkeypatch.delenv("WEBHOOK_SECRET_KEYS", raising=False)
        monkeypatch.setenv("DIESEL_DATA_DIR", str(tmp_path / "no-key-here"))
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            upgrade(private_database, "head")
        with engine.connect() as conn:
            assert conn.execute(sa.select(webhooks_0008.c.secret)).scalar_one() == PLAIN
    finally:
        engine.dispose()
