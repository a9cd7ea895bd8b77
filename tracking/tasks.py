"""Periodic work of tracking."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.celery_app import celery_app
from core.clock import SystemClock
from core.settings import get_settings
from core.worker_db import run_in_unit_of_work
from tracking.models import Position


async def purge_positions_before(session: AsyncSession, *, cutoff: datetime) -> int:
    result = await session.execute(delete(Position).where(Position.recorded_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


@celery_app.task(name="tracking.purge_positions", ignore_result=True)
def purge_positions() -> int:
    """Position history older than the retention setting is deleted (the latest position stays in the store)."""
    cutoff = SystemClock().now() - timedelta(days=get_settings().codes.position_retention_days)

    async def work(session: AsyncSession) -> int:
        return await purge_positions_before(session, cutoff=cutoff)

    return run_in_unit_of_work(work)
