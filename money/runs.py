"""Invoice runs: requested over HTTP, executed on the worker one account per transaction, with progress.

A run is idempotent: charges are invoiced at most once (each account's row is locked while it is invoiced, and
the unique charge id on invoice lines is the backstop), so a run repeated, resumed or raced by another issues
nothing twice. An account that fails is reported in the run's error and left for the next run; the others go on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import Principal
from core.clock import Clock
from core.db import unit_of_work
from core.errors import InvalidInput, NotFound
from money import ledger
from money.invoicing import customers_to_invoice, invoice_customer
from money.models import InvoiceRun
from money.states import RUN_TRANSITIONS, RunStatus, run_transition

log = logging.getLogger("diesel.money")
# A run still running this long after it started lost its worker (the task's time limit is far below it).
RUN_STALE_AFTER = timedelta(hours=2)
# A run still queued this long after it was requested lost its message (the broker was down): send it again.
RUN_RESEND_AFTER = timedelta(minutes=1)
MAX_ERRORS_SHOWN = 20


async def request_run(
    session: AsyncSession,
    *,
    period_end: date,
    customer_id: uuid.UUID | None,
    actor: Principal,
    now: datetime,
    tz: ZoneInfo,
) -> InvoiceRun:
    if period_end >= now.astimezone(tz).date():
        raise InvalidInput(
            "a run invoices periods that are over: period_end must be before today",
            code="period_not_over",
            field="period_end",
        )
    if customer_id is not None:
        await ledger.get_account(session, customer_id)
    run = InvoiceRun(
        period_end=period_end,
        customer_id=customer_id,
        status=str(RunStatus.QUEUED),
        customers_total=0,
        customers_done=0,
        invoices_issued=0,
        created_by=actor.id,
        created_at=now,
    )
    session.add(run)
    await session.flush()
    return run


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> InvoiceRun:
    run = await session.get(InvoiceRun, run_id)
    if run is None:
        raise NotFound("no such invoice run", code="invoice_run_not_found")
    return run


async def list_runs(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[InvoiceRun], int]:
    total = await session.scalar(select(func.count()).select_from(InvoiceRun)) or 0
    rows = await session.scalars(
        select(InvoiceRun).order_by(InvoiceRun.created_at.desc(), InvoiceRun.id.desc()).limit(limit).offset(offset)
    )
    return rows.all(), total


async def execute_run(
    factory: async_sessionmaker[AsyncSession], run_id: uuid.UUID, *, tz: ZoneInfo, clock: Clock
) -> str:
    """Run a queued run to its end; a run another worker took (or that is over) is left alone."""
    async with unit_of_work(factory) as session:
        run = await _start(session, run_id, now=clock.now())
        if run is None:
            return "skipped"
        period_end, only, created_at = run.period_end, run.customer_id, run.created_at
        customers = await customers_to_invoice(session, period_end=period_end, tz=tz, customer_id=only)
        run.customers_total = len(customers)
    issue_date = created_at.astimezone(tz).date()  # the day the run was asked for, wherever the worker is
    errors: list[str] = []
    for customer_id in customers:
        try:
            async with unit_of_work(factory) as session:
                issued = await invoice_customer(
                    session,
                    customer_id=customer_id,
                    period_end=period_end,
                    issue_date=issue_date,
                    run_id=run_id,
                    tz=tz,
                    now=clock.now(),
                    actor=None,
                )
                await session.execute(_progress(run_id, invoices=len(issued.numbers)))
        except Exception as error:  # one account's failure (its numbers rolled back) must not stop the others
            log.exception("invoice run %s: customer %s failed", run_id, customer_id)
            errors.append(f"customer {customer_id}: {type(error).__name__}: {error}"[:300])
            async with unit_of_work(factory) as session:
                await session.execute(_progress(run_id, invoices=0))
    async with unit_of_work(factory) as session:
        await _finish(session, run_id, errors=errors, now=clock.now())
    return "failed" if errors else "succeeded"


async def fail_run(factory: async_sessionmaker[AsyncSession], run_id: uuid.UUID, *, error: str, now: datetime) -> None:
    async with unit_of_work(factory) as session:
        run = await session.get(InvoiceRun, run_id, with_for_update=True)
        if run is not None and RunStatus.FAILED in RUN_TRANSITIONS[RunStatus(run.status)]:
            run.status, run.error, run.finished_at = str(RunStatus.FAILED), error[:2000], now


async def _start(session: AsyncSession, run_id: uuid.UUID, *, now: datetime) -> InvoiceRun | None:
    # Conditional, so that of two deliveries of one message exactly one runs it.
    started = await session.execute(
        update(InvoiceRun)
        .where(InvoiceRun.id == run_id, InvoiceRun.status == str(RunStatus.QUEUED))
        .values(status=str(RunStatus.RUNNING), started_at=now, customers_done=0, invoices_issued=0, error=None)
    )
    if started.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(InvoiceRun, run_id, populate_existing=True)


def _progress(run_id: uuid.UUID, *, invoices: int):  # type: ignore[no-untyped-def]
    return (
        update(InvoiceRun)
        .where(InvoiceRun.id == run_id)
        .values(
            customers_done=InvoiceRun.customers_done + 1,
            invoices_issued=InvoiceRun.invoices_issued + invoices,
        )
    )


async def _finish(session: AsyncSession, run_id: uuid.UUID, *, errors: list[str], now: datetime) -> None:
    run = await session.get(InvoiceRun, run_id, with_for_update=True, populate_existing=True)
    assert run is not None
    target = RunStatus.FAILED if errors else RunStatus.SUCCEEDED
    run_transition(run.status, target)
    run.status, run.finished_at = str(target), now
    if errors:
        more = f"\n… and {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
        run.error = (
            f"{len(errors)} account(s) could not be invoiced; run again to retry them:\n"
            + "\n".join(errors[:MAX_ERRORS_SHOWN])
            + more
        )


async def runs_to_resend(session: AsyncSession, *, now: datetime) -> list[uuid.UUID]:
    """Runs whose worker died (back to queued) and runs whose message was lost: to be sent again."""
    stale = (
        await session.scalars(
            select(InvoiceRun)
            .where(InvoiceRun.status == str(RunStatus.RUNNING), InvoiceRun.started_at < now - RUN_STALE_AFTER)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for run in stale:
        run_transition(run.status, RunStatus.QUEUED)
        run.status = str(RunStatus.QUEUED)
    queued = await session.scalars(
        select(InvoiceRun.id).where(
            InvoiceRun.status == str(RunStatus.QUEUED), InvoiceRun.created_at < now - RUN_RESEND_AFTER
        )
    )
    return list(dict.fromkeys([*(run.id for run in stale), *queued]))
