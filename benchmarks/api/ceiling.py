"""The raw insert ceiling of the same PostgreSQL: single-row INSERTs, each its own (autocommit) transaction.

Into `raw_orders`, a copy of the `orders` table with the same columns and indexes (without the foreign keys), with
pgbench when it is installed, otherwise an asyncpg loop.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time

import asyncpg
import psycopg

INSERT = """INSERT INTO raw_orders (id, reference, customer_id, site_id, depot_id, product_code, quantity_litres,
  delivery_date, timezone, window_start, window_end, price_per_litre_minor, gross_minor, tier, discount_bps,
  discount_minor, amount_minor, currency, status, created_at, updated_at, version)
VALUES (gen_random_uuid(), 'DO-' || substr(md5(random()::text), 1, 20), gen_random_uuid(), gen_random_uuid(),
  gen_random_uuid(), 'diesel-0', 5000, current_date + 1, 'Asia/Shanghai', now() + interval '1 day',
  now() + interval '27 hours', 780, 3900000, 0, 0, 0, 3900000, 'CNY', 'confirmed', now(), now(), 1)"""


def insert_ceiling(url: str, *, clients: int, seconds: float) -> tuple[float, str]:
    """(inserts per second, how it was measured)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_orders")
        conn.execute("CREATE TABLE raw_orders (LIKE orders INCLUDING DEFAULTS INCLUDING INDEXES)")
    try:
        if shutil.which("pgbench"):
            return _pgbench(url, clients=clients, seconds=seconds), f"pgbench -M prepared, {clients} clients"
        return asyncio.run(_asyncpg(url, clients=clients, seconds=seconds)), f"asyncpg loop, {clients} connections"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE raw_orders")


def _pgbench(url: str, *, clients: int, seconds: float) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(INSERT.replace("\n", " ") + ";\n")
        script.flush()
        args = ["pgbench", "-n", "-M", "prepared", "-f", script.name, "-c", str(clients), "-j", "2"]
        out = subprocess.run([*args, "-T", str(round(seconds)), url], capture_output=True, text=True, check=True)
    match = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding connections)", out.stdout)
    if match is None:
        raise RuntimeError(f"unexpected pgbench output:\n{out.stdout}\n{out.stderr}")
    return float(match.group(1))


async def _asyncpg(url: str, *, clients: int, seconds: float) -> float:
    conns = [await asyncpg.connect(url) for _ in range(clients)]
    end = time.monotonic() + seconds
    counts = [0] * clients

    async def loop(i: int) -> None:
        statement = await conns[i].prepare(INSERT)
        while time.monotonic() < end:
            await statement.fetch()
            counts[i] += 1

    start = time.monotonic()
    try:
        await asyncio.gather(*(loop(i) for i in range(clients)))
    finally:
        for conn in conns:
            await conn.close()
    return sum(counts) / (time.monotonic() - start)
