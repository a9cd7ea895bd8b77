"""Visits made the way a manager makes them: the site's signed code (as printed) posted at a chosen moment."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from insight import visit_codes
from tests.factories import ok
from tracking.keystore import keyring_for


def site_code(app: Any, site_id: str) -> str:
    return visit_codes.issue(keyring_for(app.state.settings.codes), site_id=uuid.UUID(site_id), issued=0)


async def visit_at(world: Any, app: Any, manager: Any, history: Any, at: datetime, note: str | None = None) -> Any:
    clock = app.state.clock
    before = clock.now()
    clock.set(at)
    try:
        body = {"token": site_code(app, str(history.site_id)), "note": note}
        return ok(await world.client.post("/api/v1/visits", headers=manager.h, json=body), (200, 201))
    finally:
        clock.set(before)
