"""`make bench-money`: an invoice run for a month of deliveries on PostgreSQL.

1. (re)creates the database `diesel_bench_money` on 127.0.0.1:5432 (user postgres; `--database` to choose
   another), migrates it and seeds, with COPY, `--customers` accounts (monthly billing) and `--charges` charges
   (ledger entries and charges, as deliveries and rack loadings write them) spread over last month;
2. records an invoice run for last month's end and runs it exactly as the worker does (`money.tasks.run_invoices`)
   in a child process, measuring its wall time and peak memory (max RSS);
3. checks the result: every charge on exactly one invoice, one invoice per account, invoice totals equal to their
   lines, numbers without gaps; prints the table and writes benchmarks/results/money.md and money.csv.

Targets (issue 24): 100,000 charges over 2,000 customers in <= 60 s with <= 1 GB.
Run with `make bench-money` or `.venv/bin/python -m benchmarks.bench_money --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from benchmarks.api.world import postgres_facts, recreate_database

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TZ = ZoneInfo("Asia/Shanghai")
TARGET_SECONDS, TARGET_RSS_MB = 60.0, 1024.0


@dataclass
class Row:
    part: str
    size: str
    seconds: float
    peak_rss_mb: float
    issued: int
    target: str
    met: bool

    def cells(self) -> dict[str, str]:
        return {
            "part": self.part,
            "size": self.size,
            "seconds": f"{self.seconds:.1f}",
            "peak RSS MB": f"{self.peak_rss_mb:.0f}",
            "invoices": f"{self.issued:,}",
            "target": self.target,
            "verdict": "met" if self.met else "MISSED",
        }


def last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def seed(url: str, *, customers: int, charges: int, month: tuple[date, date], seed_: int) -> None:
    """Accounts, their credit accounts and charges with their ledger entries, written with COPY."""
    rng = random.Random(seed_)
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(customers)]
    start = datetime.combine(month[0], datetime.min.time(), tzinfo=TZ)
    seconds = int(
        (datetime.combine(month[1] + timedelta(days=1), datetime.min.time(), tzinfo=TZ) - start).total_seconds()
    )
    balances = dict.fromkeys(ids, 0)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY customer_accounts (id, name, tax_id, currency, is_active, created_at, tier) FROM STDIN"
        ) as copy:
            for n, customer in enumerate(ids):
                copy.write_row((customer, f"基准物流 Bench Logistics {n:05d}", f"9131{n:014d}", "CNY", True, now, 0))
        entries, charge_rows = [], []
        for n in range(charges):
            customer = ids[n % customers]
            at = start + timedelta(seconds=rng.randrange(seconds))
            litres = rng.randrange(2_000, 20_000)
            price = rng.randrange(780, 880)
            gross = litres * price
            discount = gross * rng.choice((0, 0, 100, 200)) // 10_000
            balances[customer] += gross - discount
            entry = uuid.uuid4()
            order = uuid.uuid4()
            entries.append((entry, customer, at, "charge", gross - discount, balances[customer], "CNY", order, now))
            charge_rows.append(
                (
                    uuid.uuid4(),
                    customer,
                    entry,
                    at,
                    order,
                    f"DO-{n:09d}",
                    f"R-{n:010d}",
                    "diesel-0",
                    "Diesel 0#",
                    litres + 20,
                    18.5,
                    litres,
                    litres * 835 // 1000,
                    price,
                    gross,
                    discount,
                    gross - discount,
                    1300,
                    "CNY",
                )
            )
        with cur.copy(
            "COPY credit_accounts (customer_id, currency, kind, credit_limit_minor, billing_period, "
            "payment_terms_days, open_orders_minor, balance_minor, updated_at) FROM STDIN"
        ) as copy:
            for customer in ids:
                copy.write_row((customer, "CNY", "credit", 10**11, "monthly", 30, 0, balances[customer], now))
        with cur.copy(
            "COPY ledger_entries (id, customer_id, at, kind, amount_minor, balance_minor, currency, order_id, "
            "created_at) FROM STDIN"
        ) as copy:
            for row in entries:
                copy.write_row(row)
        with cur.copy(
            "COPY charges (id, customer_id, ledger_entry_id, at, order_id, reference, document_number, product_code, "
            "product_name, observed_litres, temperature_c, net_litres, net_kg, unit_price_minor, gross_minor, "
            "discount_minor, amount_minor, tax_rate_bps, currency) FROM STDIN"
        ) as copy:
            for row in charge_rows:
                copy.write_row(row)
        cur.execute("ANALYZE")
        conn.commit()


def record_run(url: str, period_end: date) -> str:
    run_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO invoice_runs (id, period_end, status, customers_total, customers_done, invoices_issued, "
            "created_at) VALUES (%s, %s, 'queued', 0, 0, 0, %s)",
            (run_id, period_end, datetime.now(UTC)),
        )
    return run_id


def run_in_child(url: str, run_id: str) -> dict[str, float | str]:
    """The worker's code path (`money.tasks.run_invoices`) in a fresh process: its own time and peak memory."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DIESEL_DATA_DIR": tempfile.mkdtemp(prefix="bench-money-"),
        "SECRET_KEY": "bench-" + "x" * 40,
    }
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_money", "--child", run_id],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def child(run_id: str) -> None:
    from money.tasks import run_invoices

    started = time.perf_counter()
    outcome = asyncio.run(run_invoices(uuid.UUID(run_id)))
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"outcome": outcome, "seconds": seconds, "rss_mb": rss_mb}))


def check(url: str, *, charges: int, customers: int) -> tuple[int, list[str]]:
    """Invoices issued and what is wrong with them (nothing, one hopes)."""
    problems = []
    with psycopg.connect(url) as conn:
        one = conn.execute
        issued = one("SELECT count(*) FROM invoices").fetchone()[0]  # type: ignore[index]
        lines, distinct = one("SELECT count(*), count(DISTINCT charge_id) FROM invoice_lines").fetchone()  # type: ignore[misc]
        if lines != charges or distinct != charges:
            problems.append(f"{lines} lines for {distinct} charges of {charges}")
        if issued != customers:
            problems.append(f"{issued} invoices for {customers} accounts")
        wrong = one(
            "SELECT count(*) FROM invoices i JOIN (SELECT invoice_id, sum(amount_minor) a, sum(net_minor) n, "
            "sum(tax_minor) t FROM invoice_lines GROUP BY invoice_id) l ON l.invoice_id = i.id "
            "WHERE (i.total_minor, i.net_minor, i.tax_minor) <> (l.a, l.n, l.t)"
        ).fetchone()[0]  # type: ignore[index]
        if wrong:
            problems.append(f"{wrong} invoices whose totals differ from their lines")
        numbers = sorted(int(n.rsplit("-", 1)[1]) for (n,) in one("SELECT number FROM invoices"))
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append("invoice numbers have gaps or duplicates")
    return issued, problems


def report(rows: list[Row], *, facts: str, save: bool) -> None:
    cells = [r.cells() for r in rows]
    header = list(cells[0])
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(c[h] for h in header) + " |" for c in cells]
    print("\n".join(table))
    if not save:
        return
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (RESULTS / "money.md").write_text(f"# bench-money ({stamp})\n\nPostgreSQL {facts}\n\n" + "\n".join(table) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(cells)
    (RESULTS / "money.csv").write_text(buffer.getvalue())


def measure_statement_in(url: str, database: str, *, movements: int) -> str:
    """The statement benchmark on the same database, emptied and migrated again: its lines for money.md."""
    from api.migrate import upgrade
    from benchmarks.bench_money_statement import TARGET_MS, measure_statement

    recreate_database(ADMIN_URL, database)
    upgrade(url)
    result = measure_statement(url, movements=movements)
    http, service = result["http"], result["service"]
    verdict = "met" if http["p95_ms"] <= TARGET_MS else "MISSED"
    return (
        f"A month's statement of {result['movements']:,} movements after 12 months of history "
        f"({result['unpaid_invoices']} unpaid invoices), 20 requests in process: `build_statement` p50 "
        f"{service['p50_ms']:.0f} ms, p95 {service['p95_ms']:.0f} ms; `GET /customers/{{id}}/statements/{{month}}` "
        f"p50 {http['p50_ms']:.0f} ms, p95 {http['p95_ms']:.0f} ms (target p95 <= {TARGET_MS} ms: {verdict}); "
        "files once each: " + ", ".join(f"{k} {v:.0f} ms" for k, v in result["files_ms"].items()) + "."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument(
        "--database", default="diesel_bench_money", help="dropped and created again (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--statement-movements",
        type=int,
        default=5_000,
        help="then a month's statement of this many movements (benchmarks/bench_money_statement.py; 0: skip)",
    )
    parser.add_argument("--no-save", action="store_true", help="print only; write nothing under benchmarks/results")
    parser.add_argument("--child", metavar="RUN_ID", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from api.migrate import upgrade

    url = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    print(
        f"database {args.database}: recreating, migrating, seeding "
        f"{args.customers:,} accounts and {args.charges:,} charges"
    )
    recreate_database(ADMIN_URL, args.database)
    upgrade(url)
    month = last_month(datetime.now(TZ).date())
    started = time.perf_counter()
    seed(url, customers=args.customers, charges=args.charges, month=month, seed_=args.seed)
    print(f"seeded in {time.perf_counter() - started:.1f} s; invoicing {month[0]} .. {month[1]}")
    run_id = record_run(url, month[1])
    measured = run_in_child(url, run_id)
    issued, problems = check(url, charges=args.charges, customers=args.customers)
    if measured["outcome"] != "succeeded":
        problems.append(f"the run ended {measured['outcome']}")
    seconds, rss = float(measured["seconds"]), float(measured["rss_mb"])
    row = Row(
        part="invoice run",
        size=f"{args.charges:,} charges / {args.customers:,} accounts",
        seconds=seconds,
        peak_rss_mb=rss,
        issued=issued,
        target=f"<= {TARGET_SECONDS:.0f} s, <= {TARGET_RSS_MB:.0f} MB (at 100,000 / 2,000)",
        met=seconds <= TARGET_SECONDS and rss <= TARGET_RSS_MB and not problems,
    )
    report([row], facts=postgres_facts(url), save=not args.no_save)
    if args.statement_movements:
        statement = measure_statement_in(url, args.database, movements=args.statement_movements)
        print(statement)
        if not args.no_save:
            with (RESULTS / "money.md").open("a") as out:
                out.write("\n" + statement + "\n")
    if problems:
        print("CHECK FAILED: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
