"""The audit trail: what is recorded is listed with its actor, before and after, filtered and paged."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.audit import record_audit
from core.auth import Principal, Role
from core.db import create_engine, session_factory, unit_of_work
from tests.conftest import T0

pytestmark = pytest.mark.integration


async def test_recorded_changes_are_listed_newest_first_and_filtered(client, app, world) -> None:
    subject = uuid.uuid4()
    admin = Principal(id=uuid.uuid4(), username="auditor", role=Role.ADMIN)
    engine = create_engine(app.state.settings.db.url, null_pool=True)  # on this test's event loop
    async with unit_of_work(session_factory(engine)) as session:
        record_audit(
            session,
            actor=admin,
            subject_type="probe",
            subject_id=subject,
            action="limit_changed",
            at=T0,
            before={"limit": 1},
            after={"limit": 2},
        )
        record_audit(
            session,
            actor=None,
            subject_type="probe",
            subject_id=subject,
            action="limit_changed",
            at=T0 + timedelta(minutes=1),
            before={"limit": 2},
            after={"limit": 3},
        )
    answer = await client.get(
        "/api/v1/audit", params={"subject_type": "probe", "subject_id": str(subject)}, headers=world.h("admin")
    )
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["total"] == 2
    assert [e["after"] for e in page["items"]] == [{"limit": 3}, {"limit": 2}]
    assert page["items"][1]["actor_id"] == str(admin.id) and page["items"][0]["actor_role"] == "system"
    since = (T0 + timedelta(seconds=30)).isoformat()
    later = await client.get(
        "/api/v1/audit", params={"subject_id": str(subject), "from": since}, headers=world.h("admin")
    )
    assert [e["before"] for e in later.json()["items"]] == [{"limit": 2}]
    backwards = await client.get(
        "/api/v1/audit", params={"from": since, "to": T0.isoformat()}, headers=world.h("admin")
    )
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_range"
