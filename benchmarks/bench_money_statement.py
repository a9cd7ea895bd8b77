"""A month's statement of a customer with 5,000 movements, on PostgreSQL: target <= 200 ms per answer.

    python -m benchmarks.bench_money_statement                      # recreates `diesel_bench_money` on 127.0.0.1
    python -m benchmarks.bench_money_statement --database-url URL   # a throwaway database: its schema is reset
    python -m benchmarks.bench_money_statement --movements 500 --months 2 --repeat 5   # a quick look

The world: one customer, `months` months of history before the measured month and the month itself, each month
with `movements` ledger movements (deliveries charged through the month, 1 payment in 50 paying last month's
invoice in part, 1 credit note on it), a monthly invoice of the month's deliveries. So the opening balance sums
`months x movements` earlier entries and the ageing sees every invoice. Rows are written with bulk inserts.

Measured: `build_statement` alone (the queries and the arithmetic), then `GET /customers/{id}/statements/{month}`
through the app in process (auth, queries, JSON), then each file form once. `measure_statement(url, ...)` returns
the figures for `make bench-money`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text, update

from core.db import create_engine, session_factory, unit_of_work
from core.ids import new_id
from core.settings import Settings, async_database_url, load_settings
from money.ledger import split_vat
from money.models import (
    Charge,
    CreditAccount,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Payment,
    PaymentAllocation,
)

ZONE = ZoneInfo("Asia/Shanghai")
TARGET_MS = 200
BATCH = 5_000
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "diesel_bench_money"


@dataclass
class Rows:
    """Everything one world inserts, table by table."""

    ledger: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    note_lines: list[dict[str, Any]] = field(default_factory=list)


def _months(last: date, before: int) -> list[tuple[date, datetime, datetime]]:
    """(first day, UTC start, UTC end) of `before` months and then the month starting on `last`."""
    firsts = [last]
    for _ in range(before):
        firsts.insert(0, (firsts[0] - timedelta(days=1)).replace(day=1))
    spans = []
    for first in firsts:
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        start = datetime.combine(first, datetime.min.time(), ZONE).astimezone(UTC)
        end = datetime.combine(following, datetime.min.time(), ZONE).astimezone(UTC)
        spans.append((first, start, end))
    return spans


class WorldBuilder:
    """The rows of one customer's months, in time order, with the ledger's running balance."""

    def __init__(self, customer_id: uuid.UUID, movements: int) -> None:
        self.customer_id = customer_id
        self.payments_a_month = max(1, movements // 50)
        self.charges_a_month = movements - self.payments_a_month - 1
        self.movements = movements
        self.rows = Rows()
        self.balance = 0
        self.last_invoice: dict[str, Any] | None = None
        self.last_lines: list[dict[str, Any]] = []

    def entry(self, at: datetime, kind: str, amount: int, **refs: Any) -> uuid.UUID:
        self.balance += amount
        entry_id = new_id()
        self.rows.ledger.append(
            {
                "id": entry_id,
                "customer_id": self.customer_id,
                "at": at,
                "kind": kind,
                "amount_minor": amount,
                "balance_minor": self.balance,
                "currency": "CNY",
                "order_id": None,
                "pickup_id": None,
                "invoice_id": None,
                "payment_id": None,
                "credit_note_id": None,
                "actor_id": None,
                "note": None,
                "created_at": at,
                **refs,
            }
        )
        return entry_id

    def charge(self, at: datetime, k: int) -> dict[str, Any]:
        amount = 5_000 * 800 - 5_000
        order_id = uuid.uuid4()
        entry_id = self.entry(at, "charge", amount, order_id=order_id, note=f"R-{k}")
        charge = {
            "id": new_id(),
            "customer_id": self.customer_id,
            "ledger_entry_id": entry_id,
            "at": at,
            "order_id": order_id,
            "pickup_id": None,
            "reference": f"DO-{at:%y%m%d}-{k:06d}",
            "document_number": f"R-{k}",
            "depot_id": None,
            "product_code": "diesel-0",
            "product_name": "0号柴油",
            "observed_litres": 5_040,
            "temperature_c": 24.0,
            "net_litres": 5_000,
            "net_kg": 4_175,
            "unit_price_minor": 800,
            "gross_minor": 4_000_000,
            "discount_minor": 5_000,
            "amount_minor": amount,
            "tax_rate_bps": 1300,
            "currency": "CNY",
        }
        self.rows.charges.append(charge)
        return charge

    def payment(self, at: datetime, k: int, invoice: dict[str, Any]) -> None:
        amount = invoice["total_minor"] // (2 * self.payments_a_month)  # half of last month's invoice gets paid
        payment_id = new_id()
        self.entry(at, "payment", -amount, payment_id=payment_id)
        self.rows.payments.append(
            {
                "id": payment_id,
                "customer_id": self.customer_id,
                "amount_minor": amount,
                "allocated_minor": amount,
                "currency": "CNY",
                "received_on": at.astimezone(ZONE).date(),
                "method": "bank_transfer",
                "reference": f"WIRE {k}",
                "bank_line_id": None,
                "recorded_by": None,
                "recorded_at": at,
            }
        )
        self.rows.allocations.append(
            {
                "id": new_id(),
                "payment_id": payment_id,
                "invoice_id": invoice["id"],
                "amount_minor": amount,
                "allocated_by": None,
                "allocated_at": at,
            }
        )
        invoice["paid_minor"] += amount
        invoice["status"] = "part_paid"

    def credit_note(self, at: datetime, invoice: dict[str, Any], line: dict[str, Any]) -> None:
        note_id = new_id()
        self.entry(at, "credit_note", -1_000, credit_note_id=note_id, invoice_id=invoice["id"])
        net, tax = split_vat(1_000)
        self.rows.notes.append(
            {
                "id": note_id,
                "number": f"CN-B-{at:%Y%m}",
                "series": "CN-B",
                "invoice_id": invoice["id"],
                "customer_id": self.customer_id,
                "reason": "bench",
                "issue_date": at.astimezone(ZONE).date(),
                "net_minor": net,
                "tax_minor": tax,
                "total_minor": 1_000,
                "currency": "CNY",
                "issued_by": None,
                "issued_at": at,
            }
        )
        self.rows.note_lines.append(
            {
                "id": new_id(),
                "credit_note_id": note_id,
                "invoice_line_id": line["id"],
                "net_minor": net,
                "tax_minor": tax,
                "amount_minor": 1_000,
            }
        )
        invoice["credited_minor"] += 1_000
        invoice["status"] = "part_paid"

    def invoice(self, first: date, end: datetime, charges: list[dict[str, Any]]) -> None:
        last_day = (end.astimezone(ZONE) - timedelta(days=1)).date()
        invoice_id = new_id()
        lines = []
        for position, charge in enumerate(charges, start=1):
            net, tax = split_vat(charge["amount_minor"])
            lines.append(
                {
                    "id": new_id(),
                    "invoice_id": invoice_id,
                    "charge_id": charge["id"],
                    "position": position,
                    "net_minor": net,
                    "tax_minor": tax,
                    "amount_minor": charge["amount_minor"],
                }
            )
        self.last_invoice = {
            "id": invoice_id,
            "number": f"INV-B-{first:%Y%m}",
            "series": "INV-B",
            "customer_id": self.customer_id,
            "run_id": None,
            "period_start": first,
            "period_end": last_day,
            "issue_date": last_day,
            "due_date": last_day + timedelta(days=30),
            "status": "issued",
            "buyer_name": "压测物流 Bench Logistics",
            "buyer_tax_id": "91310000BENCH0001X",
            "net_minor": sum(line["net_minor"] for line in lines),
            "tax_minor": sum(line["tax_minor"] for line in lines),
            "total_minor": sum(line["amount_minor"] for line in lines),
            "paid_minor": 0,
            "credited_minor": 0,
            "currency": "CNY",
            "issued_at": end,
        }
        self.last_lines = lines
        self.rows.invoices.append(self.last_invoice)
        self.rows.lines += lines

    def month(self, first: date, start: datetime, end: datetime) -> None:
        step = (end - start) / (self.movements + 1)
        invoice, lines = self.last_invoice, self.last_lines
        events: list[tuple[datetime, str, int]] = [
            (start + step * (k + 1), "charge", k) for k in range(self.charges_a_month)
        ]
        if invoice is not None:
            events += [(start + step * (50 * k + 25), "payment", k) for k in range(self.payments_a_month)]
            events.append((start + step * 10, "credit_note", 0))
        charges = []
        for at, kind, k in sorted(events):
            if kind == "charge":
                charges.append(self.charge(at, k))
            elif invoice is not None and kind == "payment":
                self.payment(at, k, invoice)
            elif invoice is not None:
                self.credit_note(at, invoice, lines[0])
        self.invoice(first, end, charges)


def build_rows(customer_id: uuid.UUID, *, month: date, months: int, movements: int) -> Rows:
    builder = WorldBuilder(customer_id, movements)
    for first, start, end in _months(month, months):
        builder.month(first, start, end)
    return builder.rows


async def seed(url: str, settings: Settings, *, month: date, months: int, movements: int) -> tuple[uuid.UUID, str]:
    """Migrate, one customer account and an admin user, then the money rows. (customer id, admin token)."""
    from api.auth import issue_token, make_jwt_auth
    from api.migrate import upgrade
    from core.auth import Principal, Role
    from orders import accounts
    from orders import schemas as s

    upgrade(url)
    now = datetime.now(UTC)
    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            admin = await accounts.create_user(
                session, username=f"bench-{uuid.uuid4().hex[:6]}", password=uuid.uuid4().hex, role=Role.ADMIN, now=now
            )
            staff = Principal(id=admin.id, username=admin.username, role=Role.ADMIN)
            account = await accounts.create_customer(
                session,
                data=s.CustomerIn(name="压测物流 Bench Logistics", credit_limit_minor=10**12),
                currency="CNY",
                now=now,
                actor=staff,
            )
            customer_id = account.id
        rows = build_rows(customer_id, month=month, months=months, movements=movements)
        async with unit_of_work(session_factory(engine)) as session:
            for model, values in (
                (LedgerEntry, rows.ledger),
                (Charge, rows.charges),
                (Invoice, rows.invoices),
                (InvoiceLine, rows.lines),
                (Payment, rows.payments),
                (PaymentAllocation, rows.allocations),
                (CreditNote, rows.notes),
                (CreditNoteLine, rows.note_lines),
            ):
                for first in range(0, len(values), BATCH):
                    await session.execute(insert(model), values[first : first + BATCH])
            await session.execute(
                update(CreditAccount)
                .where(CreditAccount.customer_id == customer_id)
                .values(balance_minor=rows.ledger[-1]["balance_minor"])
            )
        async with unit_of_work(session_factory(engine)) as session:
            await session.execute(text("ANALYZE"))  # what autovacuum does after a bulk load: plans on real counts
        async with unit_of_work(session_factory(engine)) as session:
            token = await issue_token(session, make_jwt_auth(settings), admin, timedelta(hours=1))
    finally:
        await engine.dispose()
    return customer_id, token


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


async def measure(settings: Settings, customer_id: uuid.UUID, token: str, *, month: str, repeat: int) -> dict[str, Any]:
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from money.documents.records import Customer
    from money.documents.statements import build_statement

    engine = create_engine(settings.db.url, null_pool=False)
    service: list[float] = []
    try:
        for _ in range(repeat + 1):
            async with session_factory(engine)() as session:
                started = time.perf_counter()
                statement = await build_statement(
                    session, customer=Customer(customer_id, "bench", ""), month=month, timezone="Asia/Shanghai"
                )
                service.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    service = service[1:]  # the first one warms the pool and the statement cache

    http: list[float] = []
    cpu: list[
        float
    ] = []  # this process's CPU per request (app and test client): the part a busy machine cannot inflate
    files: dict[str, float] = {}
    path = f"/api/v1/customers/{customer_id}/statements/{month}"
    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncTestClient(app=create_app(settings=settings), base_url="http://bench.local") as client:
        for index in range(repeat + 1):
            started, cpu_started = time.perf_counter(), time.process_time()
            answer = await client.get(path, headers=headers)
            elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu_started
            assert answer.status_code == 200, answer.text[:300]
            if index:
                http.append(elapsed)
                cpu.append(cpu_used)
        body = answer.json()
        for suffix in (".csv", ".xlsx", ".pdf"):
            started = time.perf_counter()
            answer = await client.get(path + suffix, headers=headers)
            files[suffix] = time.perf_counter() - started
            assert answer.status_code == 200, answer.text[:300]
    assert (
        body["opening_balance_minor"] + sum(m["amount_minor"] for m in body["movements"])
        == body["closing_balance_minor"]
    )
    assert sum(body["ageing"].values()) == body["unpaid_invoices_minor"]
    return {
        "movements": len(statement.movements),
        "unpaid_invoices": len(statement.unpaid_invoices),
        "service": _summary(service),
        "http": _summary(http),
        "http_cpu": _summary(cpu),
        "files_ms": {k: v * 1000 for k, v in files.items()},
    }


def _settings(url: str) -> Settings:
    os.environ.setdefault("DIESEL_DATA_DIR", tempfile.mkdtemp(prefix="bench-money-"))
    base = load_settings()
    return replace(base, db=replace(base.db, url=async_database_url(url)))


def measure_statement(url: str, *, movements: int = 5_000, months: int = 12, repeat: int = 20) -> dict[str, Any]:
    """Seed a fresh, migrated database at `url` and measure. For `make bench-money`."""
    settings = _settings(url)
    month = date(2030, 1, 1)

    async def run() -> dict[str, Any]:
        customer_id, token = await seed(url, settings, month=month, months=months, movements=movements)
        return await measure(settings, customer_id, token, month=f"{month:%Y-%m}", repeat=repeat)

    return asyncio.run(run())


def _reset(url: str | None) -> str:
    import psycopg

    if url is None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DEFAULT_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DEFAULT_DB}"')
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + DEFAULT_DB
    from core.settings import sync_database_url

    with psycopg.connect(
        sync_database_url(url).replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as c:
        c.execute("DROP SCHEMA public CASCADE")
        c.execute("CREATE SCHEMA public")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a throwaway PostgreSQL database (its schema is reset)")
    parser.add_argument("--movements", type=int, default=5_000, help="ledger movements a month")
    parser.add_argument("--months", type=int, default=12, help="months of history before the measured month")
    parser.add_argument("--repeat", type=int, default=20, help="measured requests")
    args = parser.parse_args()
    url = _reset(args.database_url)
    started = time.perf_counter()
    result = measure_statement(url, movements=args.movements, months=args.months, repeat=args.repeat)
    http, service = result["http"], result["service"]
    verdict = "met" if http["p95_ms"] <= TARGET_MS else "MISSED"
    print(
        f"statement of {result['movements']:,} movements after {args.months} months of history, "
        f"{result['unpaid_invoices']} unpaid invoices; {args.repeat} requests ({time.perf_counter() - started:.0f} s)"
    )
    rows = (
        ("build_statement", service),
        ("GET .../statements/{month}", http),
        ("  its CPU in this process", result["http_cpu"]),
    )
    for name, figures in rows:
        print(
            f"  {name:28} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms  "
            f"max {figures['max_ms']:7.1f} ms"
        )
    print(f"  target: p95 of the GET <= {TARGET_MS} ms: {verdict} (load average {os.getloadavg()[0]:.1f})")
    print("  files, once each: " + ", ".join(f"{k} {v:.0f} ms" for k, v in result["files_ms"].items()))


if __name__ == "__main__":
    main()
