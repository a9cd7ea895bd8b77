"""Celery task of the promise: the tentative plans rebuilt in the background (promise.rebuild), run by beat every
PROMISE_REBUILD_INTERVAL_S. Idempotent: a run with no order added or removed since the last one changes nothing."""

from __future__ import annotations

import asyncio
import logging

from core.celery_app import celery_app
from core.db import create_engine, session_factory
from core.settings import get_settings
from promise.rebuild import rebuild_days as rebuild

log = logging.getLogger("diesel.promise")


@celery_app.task(name="promise.rebuild_days", ignore_result=True, time_limit=1800, soft_time_limit=1740)
def rebuild_days() -> int:
    return asyncio.run(run_once())


async def run_once(*, database_url: str | None = None) -> int:
    """Returns the number of days whose stored plan changed."""
    settings = get_settings()
    engine = create_engine(database_url or settings.db.url, null_pool=True)
    try:
        outcomes = await rebuild(session_factory(engine), settings)
    finally:
        await engine.dispose()
    stored = sum(o.status == "stored" for o in outcomes)
    log.info("promise rebuild: %d days looked at, %d stored", len(outcomes), stored)
    return stored
