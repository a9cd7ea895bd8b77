"""Account managers: the flag and level on users, assigning customers (by hand, on approval, by the ladder), and
visits proved by the signed code printed at a customer's site (signature, tampering, another site, races)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from core.signing import KeyRing, generate_key
from insight import visit_codes
from tests.conftest import T0
from tests.factories import bearer, ok
from tests.insight_factories import History, assign, new_manager
from tests.insight_visits import site_code, visit_at

pytestmark = pytest.mark.integration
API = "/api/v1"
DAY = timedelta(days=1)


async def audit_of(world: Any, customer_id: str) -> list[dict[str, Any]]:
    page = ok(await world.client.get(f"{API}/audit", headers=world.h("admin"), params={"customer_id": customer_id}))
    return page["items"]


async def events_of(app: Any, customer_id: str) -> list[Any]:
    from sqlalchemy import select

    from core.models import Event
    from tests.money_factories import money_session

    async with money_session(app) as session:
        rows = await session.scalars(
            select(Event)
            .where(Event.customer_id == uuid.UUID(customer_id), Event.type == "customer_reassigned")
            .order_by(Event.at, Event.id)
        )
        return list(rows.all())


async def test_put_users_makes_a_manager_with_a_level(world) -> None:
    manager = await new_manager(world, level="city", role="rack_operator")  # any staff role may manage
    users = ok(await world.client.get(f"{API}/users", headers=world.h("admin"), params={"limit": 500}))
    row = next(u for u in users["items"] if u["id"] == manager.id)
    assert (row["manager"], row["manager_level"]) == (True, "city")
    me = ok(await world.client.get(f"{API}/me", headers=manager.h))
    assert me["user"]["manager"] is True
    wrong = await world.client.put(f"{API}/users/{manager.id}", headers=world.h("admin"), json={"manager_level": "x"})
    assert wrong.status_code == 400 or wrong.status_code == 422
    customer = await world.new_customer()
    me_customer = ok(await world.client.get(f"{API}/me", headers=customer.h))
    refused = await world.client.put(
        f"{API}/users/{me_customer['user']['id']}", headers=world.h("admin"), json={"manager": True}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "customer_cannot_manage"
    by_manager = await world.client.put(f"{API}/users/{manager.id}", headers=manager.h, json={"manager": False})
    assert by_manager.status_code == 403
    # The office picks a new customer's manager from the managers alone.
    managers = ok(await world.client.get(f"{API}/users", headers=world.h("admin"), params={"manager": "true"}))
    assert manager.id in {u["id"] for u in managers["items"]}
    assert all(u["manager"] for u in managers["items"])
    others = ok(await world.client.get(f"{API}/users", headers=world.h("admin"), params={"manager": "false"}))
    assert manager.id not in {u["id"] for u in others["items"]} and others["total"] > 0
    assert not any(u["manager"] for u in others["items"])


async def test_assigning_a_manager_is_admin_only_audited_and_told(world, app) -> None:
    first, second = await new_manager(world), await new_manager(world)
    customer = await world.new_customer()
    refused = await world.client.put(
        f"{API}/customers/{customer.id}/manager", headers=first.h, json={"user_id": first.id}
    )
    assert refused.status_code == 403
    dispatcher_id = ok(await world.client.get(f"{API}/me", headers=world.h("dispatcher")))["user"]["id"]
    not_manager = await world.client.put(
        f"{API}/customers/{customer.id}/manager", headers=world.h("admin"), json={"user_id": dispatcher_id}
    )
    assert not_manager.status_code == 422 and not_manager.json()["code"] == "not_a_manager"
    await assign(world, customer.id, first)
    await assign(world, customer.id, second)
    await assign(world, customer.id, second)  # the same again: nothing to tell
    assert ok(await world.client.get(f"{API}/customers/{customer.id}", headers=world.h("admin")))["manager_id"] == (
        second.id
    )
    changes = [a for a in await audit_of(world, customer.id) if a["action"] == "manager_changed"]
    assert [(a["before"]["manager_id"], a["after"]["manager_id"]) for a in changes] == [
        (first.id, second.id),
        (None, first.id),
    ]
    told = await events_of(app, customer.id)
    assert [(e.data["from_manager_id"], e.data["to_manager_id"]) for e in told] == [
        (None, first.id),
        (first.id, second.id),
    ]


async def test_approving_an_application_with_a_manager(world) -> None:
    manager = await new_manager(world)
    suffix = uuid.uuid4().hex[:8]
    site = {
        "name": "Yard",
        "address": "1 Road",
        "lat": 31.3,
        "lon": 121.5,
        "tank_capacity_litres": 20000,
        "receiving_hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "open": "06:00", "close": "22:00"}],
    }

    async def apply(**extra: Any) -> dict[str, Any]:
        body = {
            "company_name": f"Applicant {uuid.uuid4().hex[:6]}",
            "tax_id": f"9131{uuid.uuid4().hex[:10]}",
            "contact_name": "Wang",
            "contact_phone": "13900000000",
            "username": f"app-{uuid.uuid4().hex[:8]}",
            "password": "a-long-password-1",
            "site": site,
            **extra,
        }
        return ok(await world.client.post(f"{API}/applications", json=body))

    plain = await apply()
    bad = await world.client.post(
        f"{API}/applications/{plain['id']}/approve",
        headers=world.h("admin"),
        json={"credit_limit_minor": 0, "manager_id": str(uuid.uuid4())},
    )
    assert bad.status_code == 404 and bad.json()["field"] == "manager_id"
    approved = ok(
        await world.client.post(
            f"{API}/applications/{plain['id']}/approve",
            headers=world.h("admin"),
            json={"credit_limit_minor": 0, "manager_id": manager.id},
        )
    )
    assert approved["manager_id"] == manager.id
    # Referred by a staff user who is not a manager: nobody by default.
    code = (await world.client.get(f"{API}/me/referral.svg", headers=world.h("dispatcher"))).headers["X-Referral-Code"]
    referred = await apply(referral_code=code)
    decided = ok(
        await world.client.post(
            f"{API}/applications/{referred['id']}/approve", headers=world.h("admin"), json={"credit_limit_minor": 0}
        )
    )
    assert decided["manager_id"] is None, suffix


async def test_ladder_moves_a_customer_that_crosses_a_band_and_only_then(world, app, clock) -> None:
    from sqlalchemy import func, select

    from orders.models import CustomerAccount
    from tests.money_factories import money_session

    employee = await new_manager(world, level="station_employee")
    stations = [await new_manager(world, level="station"), await new_manager(world, level="station")]
    growing = History(app, await world.new_customer(), world.depots["main"])
    await assign(world, growing.customer.id, employee)
    kept = History(app, await world.new_customer(), world.depots["main"])
    await assign(world, kept.customer.id, stations[0])  # already at the level it will need
    chosen_by_admin = History(app, await world.new_customer(), world.depots["main"])
    await assign(world, chosen_by_admin.customer.id, stations[1])  # below 20 t, but an admin's choice stands

    first = ok(await world.client.post(f"{API}/analytics/ladder", headers=world.h("admin")))
    assert first["checked"] >= 3
    again = ok(await world.client.post(f"{API}/analytics/ladder", headers=world.h("admin")))
    assert (again["crossed"], again["reassigned"]) == (0, 0)  # idempotent
    assert await world_manager(world, chosen_by_admin) == stations[1].id

    await growing.charges((T0 - 5 * DAY, 25_000))
    await kept.charges((T0 - 5 * DAY, 21_000))
    async with money_session(app) as session:
        counts = dict(
            (
                await session.execute(
                    select(CustomerAccount.manager_id, func.count())
                    .where(CustomerAccount.manager_id.in_([uuid.UUID(s.id) for s in stations]))
                    .group_by(CustomerAccount.manager_id)
                )
            ).all()
        )
    fewest = min(stations, key=lambda s: (counts.get(uuid.UUID(s.id), 0), s.username))
    moved = ok(await world.client.post(f"{API}/analytics/ladder", headers=world.h("admin")))
    assert moved["crossed"] == 2 and moved["reassigned"] == 1
    assert await world_manager(world, growing) == fewest.id
    assert await world_manager(world, kept) == stations[0].id
    told = await events_of(app, growing.customer.id)
    assert told[-1].data["from_manager_id"] == employee.id and told[-1].data["to_manager_id"] == fewest.id
    assert (told[-1].data["from_band"], told[-1].data["to_band"], told[-1].reason) == ("<20t", "20-50t", "ladder")
    last = ok(await world.client.post(f"{API}/analytics/ladder", headers=world.h("admin")))
    assert (last["crossed"], last["reassigned"]) == (0, 0)


async def world_manager(world: Any, history: History) -> str | None:
    account = ok(await world.client.get(f"{API}/customers/{history.customer.id}", headers=world.h("admin")))
    return account["manager_id"]


# --- visits ---------------------------------------------------------------------------------------------------


async def test_visit_code_is_printed_by_staff_and_scans_to_a_visit(world, app) -> None:
    import zxingcpp

    manager = await new_manager(world, role="finance")  # a manager may not print codes for itself
    customer = await world.new_customer()
    site_id = customer.site["id"]
    assert (await world.client.get(f"{API}/sites/{site_id}/visit-code.svg", headers=manager.h)).status_code == 403
    assert (await world.client.get(f"{API}/sites/{site_id}/visit-code.svg", headers=customer.h)).status_code == 403
    unknown = await world.client.get(f"{API}/sites/{uuid.uuid4()}/visit-code.svg", headers=world.h("admin"))
    assert unknown.status_code == 404
    svg = await world.client.get(f"{API}/sites/{site_id}/visit-code.svg", headers=world.h("dispatcher"))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    token = zxingcpp.read_barcodes(rasterise(svg.content))[0].text
    visit = await world.client.post(f"{API}/visits", headers=manager.h, json={"token": token, "note": "tea"})
    assert visit.status_code == 201
    body = visit.json()
    assert (body["site_id"], body["customer_id"], body["manager_id"]) == (site_id, customer.id, manager.id)
    assert body["manager_name"] == manager.username  # no display name given
    listed = (await world.client.get(f"{API}/visits?manager_id={manager.id}", headers=world.h("admin"))).json()["items"]
    assert [(v["id"], v["manager_name"]) for v in listed] == [(body["id"], manager.username)]
    assert body["note"] == "tea" and body["day"] == "2030-01-07" and body["dormant_since"] is None


def rasterise(svg: bytes) -> Any:
    """The SVG as a printer would put it on paper: WeasyPrint (money's PDFs) lays it out, pdfium renders it."""
    import base64

    import pypdfium2
    import weasyprint

    html = f'<img style="width:8cm" src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}">'
    pdf = pypdfium2.PdfDocument(weasyprint.HTML(string=html).write_pdf())
    return pdf[0].render(scale=3).to_pil()


async def test_visits_refuse_codes_we_did_not_sign_or_that_were_changed(world, app) -> None:
    from tracking import codes as pickup_codes
    from tracking.keystore import keyring_for

    manager = await new_manager(world)
    customer = await world.new_customer()
    site_id = customer.site["id"]
    good = site_code(app, site_id)

    async def refused(token: str, **extra: Any) -> list[str]:
        response = await world.client.post(f"{API}/visits", headers=manager.h, json={"token": token, **extra})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "visit_code_refused"
        return list(response.json()["reasons"])

    # Another site's id in the signed part (the attacker re-encodes the payload): the signature no longer fits.
    import base45

    raw = bytearray(base45.b45decode(good))
    other = uuid.UUID((await world.new_customer()).site["id"]).bytes
    start = raw.index(uuid.UUID(site_id).bytes)
    raw[start : start + 16] = other
    assert await refused(base45.b45encode(bytes(raw)).decode()) == ["bad_signature"]
    # One character changed anywhere.
    flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    assert (await refused(flipped))[0] in ("bad_signature", "malformed")
    # Signed with a key that is not ours.
    foreign = visit_codes.issue(KeyRing((generate_key(),)), site_id=uuid.UUID(site_id), issued=0)
    assert await refused(foreign) == ["unknown_key"]
    # Another kind of code signed with our keys (a receipt code of the site) is not a visit code.
    receipt = pickup_codes.issue(
        keyring_for(app.state.settings.codes),
        kind="receipt",
        subject_id=uuid.uuid4(),
        depot_id=site_id,
        plate=None,
        products=["diesel-0"],
        max_litres=1000,
        not_before=0,
        expires=2**33,
    )
    assert await refused(receipt) == ["malformed"]
    # A genuine code of another site than the one the app meant.
    assert await refused(good, site_id=str(uuid.uuid4())) == ["wrong_site"]
    # A code of a site that no longer exists.
    gone = visit_codes.issue(keyring_for(app.state.settings.codes), site_id=uuid.uuid4(), issued=0)
    response = await world.client.post(f"{API}/visits", headers=manager.h, json={"token": gone})
    assert response.status_code == 404 and response.json()["code"] == "site_not_found"
    # Only managers record visits.
    plain = await world.client.post(f"{API}/visits", headers=world.h("dispatcher"), json={"token": good})
    assert plain.status_code == 403
    by_customer = await world.client.post(f"{API}/visits", headers=customer.h, json={"token": good})
    assert by_customer.status_code == 403


async def test_a_visit_is_once_per_manager_site_and_day(world, app, clock) -> None:
    manager, colleague = await new_manager(world), await new_manager(world)
    history = History(app, await world.new_customer(), world.depots["main"])
    first = await visit_at(world, app, manager, history, T0)
    again = await visit_at(world, app, manager, history, T0 + timedelta(hours=5), note="later")
    assert again["id"] == first["id"] and again["note"] is None
    next_day = await visit_at(world, app, manager, history, T0 + DAY)
    other = await visit_at(world, app, colleague, history, T0)
    assert len({first["id"], next_day["id"], other["id"]}) == 3
    mine = ok(await world.client.get(f"{API}/visits", headers=manager.h))
    assert [v["id"] for v in mine["items"]] == [next_day["id"], first["id"]]
    ranged = ok(
        await world.client.get(
            f"{API}/visits", headers=world.h("admin"), params={"manager_id": manager.id, "from": "2030-01-08"}
        )
    )
    assert [v["id"] for v in ranged["items"]] == [next_day["id"]]
    foreign = await world.client.get(f"{API}/visits", headers=colleague.h, params={"manager_id": manager.id})
    assert foreign.status_code == 403


async def test_two_scans_at_once_make_one_visit(world, app, racer) -> None:
    manager = await new_manager(world)
    customer = await world.new_customer()
    body = {"token": site_code(app, customer.site["id"])}
    responses = await asyncio.gather(
        *(racer.post(f"{API}/visits", headers=bearer(manager.token), json=body) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
