"""Database access for Celery tasks: a short-lived engine per task run, on the task's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import create_engine, session_factory, unit_of_work
from core.settings import get_settings

T = TypeVar("T")


def run_in_unit_of_work[T](work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction and return its result (the engine is disposed afterwards)."""

    async def main() -> T:
        settings = get_settings()
        engine = create_engine(settings.db.url, null_pool=True)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())
