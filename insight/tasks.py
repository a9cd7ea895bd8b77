"""Celery tasks of insight, every night: the monthly sales rollup, then the responsibility ladder (both idempotent:
a second run changes nothing)."""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo

from core.celery_app import celery_app
from core.clock import SystemClock
from core.db import create_engine, session_factory, unit_of_work
from core.settings import get_settings
from insight import rollup
from insight.ladder import run_ladder

log = logging.getLogger("diesel.insight")


@celery_app.task(name="insight.ladder", ignore_result=True, time_limit=1800, soft_time_limit=1740)
def ladder() -> int:
    return asyncio.run(run_ladder_once())


async def run_ladder_once(*, database_url: str | None = None) -> int:
    settings = get_settings()
    engine = create_engine(database_url or settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            months = await rollup.refresh(session, now=SystemClock().now(), tz=ZoneInfo(settings.default_timezone))
        log.info("sales rollup: %d months computed", months)
        async with unit_of_work(session_factory(engine)) as session:
            result = await run_ladder(session, now=SystemClock().now())
    finally:
        await engine.dispose()
    log.info("ladder: %d customers, %d crossed a band, %d moved", result.checked, result.crossed, result.reassigned)
    return result.reassigned
