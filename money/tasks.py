"""Celery tasks of money: an invoice run (id in, idempotent) and the periodic re-send of runs whose worker died
or whose message was lost (the run table is the outbox)."""

from __future__ import annotations

import asyncio
import logging
import uuid

from core.celery_app import celery_app
from core.clock import SystemClock
from core.db import create_engine, session_factory, unit_of_work
from core.hours import zone
from core.settings import get_settings
from money.runs import execute_run, fail_run, runs_to_resend

log = logging.getLogger("diesel.money")
RUN_TIME_LIMIT_S = 3600


@celery_app.task(
    name="money.invoice_run", ignore_result=True, time_limit=RUN_TIME_LIMIT_S, soft_time_limit=RUN_TIME_LIMIT_S - 60
)
def invoice_run(run_id: str) -> str:
    return asyncio.run(run_invoices(uuid.UUID(run_id)))


async def run_invoices(run_id: uuid.UUID, *, database_url: str | None = None) -> str:
    settings = get_settings()
    clock = SystemClock()
    # A small pool of its own: a run is a transaction per account, and a connection per transaction would cost
    # more than the invoicing (the engine lives as long as this event loop, i.e. this task).
    engine = create_engine(database_url or settings.db.url, pool_size=1)
    factory = session_factory(engine)
    try:
        return await execute_run(factory, run_id, tz=zone(settings.default_timezone), clock=clock)
    except Exception as error:
        log.exception("invoice run %s failed", run_id)
        await fail_run(factory, run_id, error=f"{type(error).__name__}: {error}", now=clock.now())
        return "failed"
    finally:
        await engine.dispose()


@celery_app.task(name="money.reap_invoice_runs", ignore_result=True, time_limit=120, soft_time_limit=100)
def reap_invoice_runs() -> int:
    return asyncio.run(reap())


async def reap(*, database_url: str | None = None) -> int:
    engine = create_engine(database_url or get_settings().db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            resend = await runs_to_resend(session, now=SystemClock().now())
    finally:
        await engine.dispose()
    for run_id in resend:  # after the commit: the worker must find them queued
        invoice_run.delay(str(run_id))
    return len(resend)
