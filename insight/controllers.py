"""HTTP handlers of insight: account managers, the analytics, visits and the reports."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from core.auth import Principal, Role, roles_guard
from core.errors import InvalidInput
from core.schemas import Page
from core.settings import Settings
from core.signing import KeyRing
from insight import dashboard, ladder, reports, rules, sheets, visits
from insight import schemas as s
from insight.access import manager_scope, viewer_of
from insight.radar import Windows, customer_insights
from money.documents.work import off_the_loop
from orders import accounts
from orders.controllers import Conf, Db, Limit, Now, Offset
from tracking import qr

ADMIN = roles_guard(Role.ADMIN)
# Staff who may print a site's visit code: not the managers themselves (a code printed at one's desk proves nothing).
PRINTERS = roles_guard(Role.ADMIN, Role.DISPATCHER)
# Account managers may have any staff role: the handlers check the user's `manager` flag (insight.access).
ANY_STAFF = roles_guard(*(role for role in Role if role != Role.CUSTOMER))
Req = Request[Principal, Any, Any]
DateFrom = Annotated[date | None, QueryParameter(name="from", description="first local day (YYYY-MM-DD), included")]
DateTo = Annotated[date | None, QueryParameter(name="to", description="last local day (YYYY-MM-DD), included")]
ManagerFilter = Annotated[uuid.UUID | None, QueryParameter(description="one manager's customers (admin, finance)")]
GroupBy = Annotated[Literal["customer", "depot", "product", "manager"], QueryParameter(description="what a row is")]
Period = Annotated[
    Literal["day", "week", "month"], QueryParameter(description="local day, week (from Monday) or month")
]
CSV = "text/csv; charset=utf-8"
Keys = NamedDependency[KeyRing]


def _tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.default_timezone)


def _floor(settings: Settings) -> timedelta:
    return timedelta(days=settings.insight.dormant_floor_days)


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def _day(value: date | None, field: str) -> date | None:
    """Days the business can have: anything else is a mistake (and year 1 or 9999 cannot be shifted a year)."""
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise InvalidInput(
            f"{field} must lie between {FIRST_DAY} and {LAST_DAY}", code="date_out_of_range", field=field
        )
    return value


def _days(date_from: date | None, date_to: date | None, *, today: date, default_days: int) -> tuple[date, date]:
    last = _day(date_to, "to") or today
    return _day(date_from, "from") or last - timedelta(days=default_days - 1), last


def _file(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "private, no-store"},
    )


class ManagersController(Controller):
    tags = ["account managers"]

    @put(
        "/customers/{customer_id:uuid}/manager",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        summary="Give a customer another account manager (admin)",
        description="`user_id` must be an active account manager (422 `not_a_manager`), or null for nobody. "
        "Audited; both managers are told through a `customer_reassigned` event.",
    )
    async def set_manager(
        self, customer_id: FromPath[uuid.UUID], data: JSONBody[s.ManagerIn], request: Req, db_session: Db, now: Now
    ) -> s.CustomerManagerOut:
        account = await accounts.get_customer(db_session, customer_id, lock=True)
        await accounts.assign_manager(
            db_session, account=account, manager_id=data.user_id, now=now, actor=request.user, reason="manual"
        )
        return s.CustomerManagerOut(customer_id=account.id, manager_id=account.manager_id)

    @post(
        "/analytics/ladder",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        summary="Run the responsibility ladder now (admin; it also runs every night)",
    )
    async def run_ladder(self, db_session: Db, now: Now) -> s.LadderOut:
        result = await ladder.run_ladder(db_session, now=now)
        return s.LadderOut(checked=result.checked, crossed=result.crossed, reassigned=result.reassigned)


class AnalyticsController(Controller):
    tags = ["analytics"]

    @get(
        "/analytics/customers",
        guards=[ANY_STAFF],
        summary="Customers with band, yearly net tonnes, trend, rhythm and the dormant radar",
        description="An account manager sees its own customers; admin and finance every customer, or one manager's "
        "(`manager_id`). Filter by band (`tier`, e.g. `20-50t`) and by `dormant`. Largest yearly volume first.",
    )
    async def customers(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        manager_id: ManagerFilter = None,
        tier: Annotated[str | None, QueryParameter(description="<20t | 20-50t | 50-100t | 100-500t | >500t")] = None,
        dormant: FromQuery[bool | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.CustomerInsightOut]:
        if tier is not None and tier not in rules.BAND_LABELS:
            raise InvalidInput(f"tier is one of {', '.join(rules.BAND_LABELS)}", code="unknown_tier", field="tier")
        viewer = await viewer_of(db_session, request.user)
        scope = manager_scope(viewer, manager_id)
        found = await customer_insights(db_session, manager_id=scope, now=now, tz=_tz(settings), floor=_floor(settings))
        if tier is not None:
            found = [i for i in found if i.band.label == tier]
        if dormant is not None:
            found = [i for i in found if (i.dormant_since is not None) == dormant]
        windows = Windows.at(now, _tz(settings))
        items = [dashboard.insight_out(i, windows) for i in found[offset : offset + limit]]
        return Page(items=items, total=len(found), limit=limit, offset=offset)

    @get(
        "/analytics/managers/{manager_id:uuid}/dashboard",
        guards=[ANY_STAFF],
        summary="An account manager's dashboard",
        description="Its customers by band with volume and trend, the 10 largest with their last visit, the top 10 "
        "of each band not yet visited this quarter, the dormant count and the reactivation rate of its visits. "
        "A manager sees its own; admin and finance anyone's.",
    )
    async def manager_dashboard(
        self, manager_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.DashboardOut:
        viewer = await viewer_of(db_session, request.user)
        manager_scope(viewer, manager_id)
        manager = await dashboard.get_manager(db_session, manager_id)
        return await dashboard.dashboard(db_session, manager=manager, now=now, tz=_tz(settings), floor=_floor(settings))

    @get(
        "/analytics/referrals",
        guards=[ANY_STAFF],
        summary="The referral scoreboard: sign-ups and app adoption per account manager",
    )
    async def referrals(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> s.ReferralsOut:
        await viewer_of(db_session, request.user)
        tz = _tz(settings)
        first, last = _days(date_from, date_to, today=now.astimezone(tz).date(), default_days=365)
        reports.check_range(first, last)
        start, end = rules.local_range(first, last, tz)
        rows = await dashboard.referrals(db_session, start=start, end=end)
        return s.ReferralsOut(date_from=first, date_to=last, managers=rows)

    async def _sales(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        group_by: GroupBy,
        period: Period,
        date_from: date | None,
        date_to: date | None,
        manager_id: uuid.UUID | None,
    ) -> s.SalesOut:
        viewer = await viewer_of(db_session, request.user)
        tz = _tz(settings)
        first, last = _days(date_from, date_to, today=now.astimezone(tz).date(), default_days=30)
        return await reports.sales(
            db_session,
            group_by=group_by,
            period=period,
            first=first,
            last=last,
            tz=tz,
            manager_id=manager_scope(viewer, manager_id),
        )

    @get(
        "/analytics/sales",
        guards=[ANY_STAFF],
        summary="Sales (net litres, net tonnes, amount) by customer, depot, product or manager per day/week/month",
        description="From the charges of deliveries and loadings, in local days (the deployment's time zone); "
        "weeks start on Monday. Also as `/analytics/sales.csv` and `/analytics/sales.xlsx`. A manager sees its own "
        "customers; grouping by manager uses today's assignment. At most 732 days at once.",
    )
    async def sales(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        group_by: GroupBy = "customer",
        period: Period = "day",
        date_from: DateFrom = None,
        date_to: DateTo = None,
        manager_id: ManagerFilter = None,
    ) -> s.SalesOut:
        return await self._sales(request, db_session, now, settings, group_by, period, date_from, date_to, manager_id)

    @get("/analytics/sales.csv", guards=[ANY_STAFF], media_type=CSV, summary="The sales report as CSV")
    async def sales_csv(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        group_by: GroupBy = "customer",
        period: Period = "day",
        date_from: DateFrom = None,
        date_to: DateTo = None,
        manager_id: ManagerFilter = None,
    ) -> Response[bytes]:
        report = await self._sales(request, db_session, now, settings, group_by, period, date_from, date_to, manager_id)
        name = f"sales-{group_by}-{period}-{report.date_from}-{report.date_to}.csv"
        return _file(await off_the_loop(sheets.sales_csv, report), CSV, name)

    @get(
        "/analytics/sales.xlsx",
        guards=[ANY_STAFF],
        media_type=sheets.XLSX_MEDIA_TYPE,
        summary="The sales report as a spreadsheet",
    )
    async def sales_xlsx(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        group_by: GroupBy = "customer",
        period: Period = "day",
        date_from: DateFrom = None,
        date_to: DateTo = None,
        manager_id: ManagerFilter = None,
    ) -> Response[bytes]:
        report = await self._sales(request, db_session, now, settings, group_by, period, date_from, date_to, manager_id)
        name = f"sales-{group_by}-{period}-{report.date_from}-{report.date_to}.xlsx"
        return _file(await off_the_loop(sheets.sales_xlsx, report), sheets.XLSX_MEDIA_TYPE, name)

    @get(
        "/analytics/deliveries",
        guards=[ANY_STAFF],
        summary="Deliveries promised against actual: on-time share and lateness per day, depot and customer",
        description="Orders due on the days asked for (their delivery dates) that were delivered: on time when the "
        "tanker arrived by the end of the promised window. Admin, finance and dispatchers see every customer; a "
        "manager its own.",
    )
    async def deliveries(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        manager_id: ManagerFilter = None,
    ) -> s.DeliveriesOut:
        viewer = await viewer_of(
            db_session, request.user, also_all=frozenset({Role.ADMIN, Role.FINANCE, Role.DISPATCHER})
        )
        first, last = _days(date_from, date_to, today=now.astimezone(_tz(settings)).date(), default_days=30)
        return await reports.deliveries(
            db_session, first=first, last=last, manager_id=manager_scope(viewer, manager_id)
        )


class VisitsController(Controller):
    tags = ["visits"]

    @get(
        "/sites/{site_id:uuid}/visit-code.svg",
        guards=[PRINTERS],
        media_type="image/svg+xml",
        summary="The site's visit code as a QR code to print (admin, dispatcher)",
        description="Signed with the code-signing keys; it does not expire (removing its key revokes it).",
    )
    async def visit_code_svg(
        self, site_id: FromPath[uuid.UUID], db_session: Db, now: Now, signing_keys: Keys
    ) -> Response[bytes]:
        token = await visits.visit_code(db_session, site_id=site_id, keyring=signing_keys, now=now)
        return Response(qr.render_svg(token), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    @post(
        "/visits",
        guards=[ANY_STAFF],
        summary="Record a visit by scanning the site's code (account managers)",
        description="201 for a new visit; 200 with the same visit when the manager scans the same site again that "
        "day. A code we did not sign, or changed, is refused (422 `visit_code_refused` with `reasons`).",
        responses={200: ResponseSpec(data_container=s.VisitOut, description="scanned again that day: the first visit")},
    )
    async def record_visit(
        self, data: JSONBody[s.VisitIn], request: Req, db_session: Db, now: Now, settings: Conf, signing_keys: Keys
    ) -> Response[s.VisitOut]:
        viewer = await viewer_of(db_session, request.user, also_all=frozenset())
        visit, created = await visits.record_visit(
            db_session,
            viewer=viewer,
            token=data.token,
            note=data.note,
            site_id=data.site_id,
            keyring=signing_keys,
            now=now,
            tz=_tz(settings),
            floor=_floor(settings),
        )
        row = await visits.visit_with_names(db_session, visit)
        outcome = (await dashboard.visit_outcomes(db_session, [visit], now=now))[visit.id]
        return Response(_visit_out(*row, outcome), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/visits",
        guards=[ANY_STAFF],
        summary="Visits, newest first (a manager sees its own)",
        description="A visit to a customer that was quiet then has an `outcome`: `won_back` when the customer "
        "ordered within 60 days after it, `pending` until then, else `not_won_back`.",
    )
    async def list_visits(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        manager_id: ManagerFilter = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.VisitOut]:
        viewer = await viewer_of(db_session, request.user)
        tz = _tz(settings)
        date_from, date_to = _day(date_from, "from"), _day(date_to, "to")
        start = rules.local_range(date_from, date_from, tz)[0] if date_from else None
        end = rules.local_range(date_to, date_to, tz)[1] if date_to else None
        rows, total = await visits.list_visits(
            db_session,
            manager_id=manager_scope(viewer, manager_id),
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )
        outcomes = await dashboard.visit_outcomes(db_session, [row[0] for row in rows], now=now)
        items = [_visit_out(*r, outcomes[r[0].id]) for r in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)


def _visit_out(visit: Any, site_name: str, customer_name: str, manager_name: str, outcome: str | None) -> s.VisitOut:
    return s.VisitOut(
        id=visit.id,
        manager_id=visit.manager_id,
        manager_name=manager_name,
        site_id=visit.site_id,
        site_name=site_name,
        customer_id=visit.customer_id,
        customer_name=customer_name,
        day=visit.day,
        at=visit.at,
        note=visit.note,
        dormant_since=visit.dormant_since,
        last_order_at=visit.last_order_at,
        outcome=outcome,
    )
