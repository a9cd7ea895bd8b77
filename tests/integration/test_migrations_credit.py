"""Migration 0014 on rows that exist: the old credit columns of customer_accounts go (credit lives on the credit
accounts since 0011), and come back on the way down with what the credit account holds: the limit, and open orders
plus the balance as the open amount."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import core.db
from tests.integration.test_migrations_webhooks import customers, private_database

pytestmark = pytest.mark.integration
__all__ = ["private_database"]  # the fixture, from the webhooks migration test

credit_accounts = sa.table(
    "credit_accounts",
    sa.column("customer_id", sa.Uuid()),
    sa.column("currency", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("credit_limit_minor", sa.BigInteger()),
    sa.column("billing_period", sa.String()),
    sa.column("payment_terms_days", sa.BigInteger()),
    sa.column("open_orders_minor", sa.BigInteger()),
    sa.column("balance_minor", sa.BigInteger()),
    sa.column("updated_at", core.db.UTCDateTime()),
)


def test_0014_drops_the_old_credit_columns_and_0013_gets_them_back_from_the_credit_account(
    private_database: str,
) -> None:
    from api.migrate import downgrade, upgrade

    upgrade(private_database, "0013")
    customer_id, now = uuid.uuid4(), datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
    engine = sa.create_engine(private_database)
    try:
        with engine.begin() as conn:
            conn.execute(
                customers.insert().values(
                    id=customer_id,
                    name="before 0014",
                    credit_limit_minor=0,  # stale: the credit account is what counts since 0011
                    open_amount_minor=0,
                    currency="CNY",
                    is_active=True,
                    created_at=now,
                )
            )
            conn.execute(
                credit_accounts.insert().values(
                    customer_id=customer_id,
                    currency="CNY",
                    kind="credit",
                    credit_limit_minor=9_000_000,
                    billing_period="monthly",
                    payment_terms_days=30,
                    open_orders_minor=1_200_000,
                    balance_minor=300_000,
                    updated_at=now,
                )
            )

        upgrade(private_database, "head")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("customer_accounts")}
        assert not {"credit_limit_minor", "open_amount_minor"} & columns

        downgrade(private_database, "0013")
        with engine.connect() as conn:
            restored = conn.execute(
                sa.select(customers.c.credit_limit_minor, customers.c.open_amount_minor).where(
                    customers.c.id == customer_id
                )
            ).one()
        assert tuple(restored) == (9_000_000, 1_500_000)
    finally:
        engine.dispose()
