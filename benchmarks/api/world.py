"""A dedicated PostgreSQL database for the benchmark, migrated and seeded through the domain services.

Seeding goes through orders.catalogue / orders.accounts like `diesel demo` does, not through HTTP: logging in a
thousand customers would spend minutes in argon2 and trip the login rate limit. Bearer tokens are minted with the
app's own `issue_token` and the server's SECRET_KEY.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import issue_token, make_jwt_auth
from api.demo import DEPOTS, PRODUCTS
from api.migrate import upgrade
from core.auth import Principal, Role, hash_password
from core.db import create_engine, session_factory, unit_of_work
from core.hours import HoursEntry, zone
from core.settings import Settings, async_database_url
from orders import accounts, catalogue
from orders import schemas as s

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
# About 500 orders of 5,000 l each: credit never holds an order here. (Not the API's maximum of 10**13: the
# money columns are 32-bit INTEGERs on PostgreSQL, so more than 2**31 - 1 fen fails there.)
CREDIT_LIMIT = 2_000_000_000
PRICE_DAYS = 3


@dataclass(frozen=True)
class Customer:
    token: str
    body: bytes  # the JSON of a valid POST /orders for this customer's site


def recreate_database(admin_url: str, name: str) -> None:
    """DROP (forcing out stale sessions) and CREATE the benchmark database."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def create_customer(
    session: AsyncSession,
    *,
    name: str,
    username: str,
    password_hash: str,
    settings: Settings,
    staff: Principal,
    now: datetime,
) -> tuple[Any, Any]:
    """A customer account (credit for every order of a run) and its customer user: (account, user)."""
    account = await accounts.create_customer(
        session,
        data=s.CustomerIn(name=name, credit_limit_minor=CREDIT_LIMIT),
        currency=settings.rules.currency,
        now=now,
        actor=staff,
    )
    user = await accounts.create_user(
        session,
        username=username,
        password_hash=password_hash,
        role=Role.CUSTOMER,
        customer_id=account.id,
        now=now,
    )
    return account, user


async def seed(url: str, settings: Settings, *, customers: int, now: datetime) -> list[Customer]:
    """Migrate, then a catalogue, 2 depots with prices from tomorrow on, and `customers` accounts with a site."""
    upgrade(url)
    rng = random.Random(7)
    tomorrow = now.astimezone(zone("Asia/Shanghai")).date() + timedelta(days=1)
    jwt_auth = make_jwt_auth(settings)
    ttl = timedelta(hours=2)
    password_hash = hash_password(uuid.uuid4().hex)  # one hash for all: nobody logs in
    engine = create_engine(async_database_url(url), null_pool=True)
    made: list[Customer] = []
    try:
        async with unit_of_work(session_factory(engine)) as session:
            admin = await accounts.create_user(
                session, username="bench-admin", password_hash=password_hash, role=Role.ADMIN, now=now
            )
            for product in PRODUCTS:
                await catalogue.create_product(session, data=product)
            depots = [await catalogue.create_depot(session, data=d) for d in DEPOTS]
            prices = [
                s.PriceIn(
                    depot_id=depot.id,
                    product_code=product.code,
                    valid_from=tomorrow + timedelta(days=d),
                    price_per_litre_minor=780 + 25 * i,
                )
                for depot in depots
                for i, product in enumerate(depot.products)
                for d in range(PRICE_DAYS)
            ]
            await catalogue.set_prices(session, prices=prices, currency=settings.rules.currency, actor=None, now=now)
            staff = Principal(id=admin.id, username=admin.username, role=Role.ADMIN)
            for n in range(customers):
                account, user = await create_customer(
                    session,
                    name=f"压测物流 Bench Logistics {n:04d}",
                    username=f"bench-{n:04d}",
                    password_hash=password_hash,
                    settings=settings,
                    staff=staff,
                    now=now,
                )
                site = await accounts.create_site(
                    session,
                    data=s.SiteIn(
                        name=f"Yard {n:04d}",
                        address="Shanghai",
                        lat=round(31.1 + rng.random() * 0.3, 4),
                        lon=round(121.2 + rng.random() * 0.5, 4),
                        tank_capacity_litres=60_000,
                        receiving_hours=[HoursEntry(days=EVERY_DAY, open="06:00", close="22:00")],
                    ),
                    actor=staff,
                    customer_id=account.id,
                    default_tz="Asia/Shanghai",
                    now=now,
                )
                body = order_body(site.id, tomorrow.isoformat())
                made.append(Customer(token=await issue_token(session, jwt_auth, user, ttl), body=body))
    finally:
        await engine.dispose()
    return made


def order_body(site_id: uuid.UUID, day: str) -> bytes:
    body: dict[str, Any] = {
        "site_id": str(site_id),
        "product_code": "diesel-0",
        "quantity_litres": 5000,
        "delivery_date": day,
        "window_start": "09:00",
        "window_end": "12:00",
    }
    return msgspec.json.encode(body)


def count_rows(url: str) -> dict[str, int]:
    """Orders by status, idempotency records, events: checked against the 201s the load generator saw."""
    with psycopg.connect(url) as conn:
        counts = {f"orders_{status}": n for status, n in conn.execute("SELECT status, count(*) FROM orders GROUP BY 1")}
        counts["orders"] = sum(counts.values())
        for table in ("idempotency_records", "events"):
            counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        counts["duplicate_keys"] = conn.execute(
            "SELECT count(*) FROM (SELECT resource_id FROM idempotency_records GROUP BY 1 HAVING count(*) > 1) d"
        ).fetchone()[0]  # type: ignore[index]
    return counts


def postgres_facts(url: str) -> str:
    """PostgreSQL's version and commit durability, for the record."""
    with psycopg.connect(url) as conn:
        version, sync = (
            conn.execute(f"SHOW {name}").fetchone()[0] for name in ("server_version", "synchronous_commit")
        )  # type: ignore[index]
    return f"{version}, synchronous_commit={sync}"
