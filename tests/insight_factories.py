"""A customer's history written straight into the tables, for the account managers' analytics: orders placed at
chosen moments, charges of chosen net mass (through money's real writer), timeline events, deliveries with their
stops, quotes, prices and overdue invoices. Managers and customers themselves are made through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.events import record_event
from dispatch.models import Plan, PlanStop, PlanTrip, Tanker
from money import ledger
from money.models import Invoice
from orders.models import Order, Price, QuoteRecord
from tests.factories import PASSWORD, World, bearer, ok
from tests.money_factories import money_session
from tracking.models import Delivery

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time as the UTC instant the database stores."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Account:
    """A customer account as History needs it: its id and one of its sites."""

    id: str
    site: dict[str, Any]


@dataclass
class Manager:
    id: str
    username: str
    token: str

    @property
    def h(self) -> dict[str, str]:
        return bearer(self.token)


async def new_manager(world: World, *, level: str | None = None, role: str = "dispatcher") -> Manager:
    username = f"mgr-{uuid.uuid4().hex[:8]}"
    user = ok(
        await world.client.post(
            "/api/v1/users", headers=world.h("admin"), json={"username": username, "password": PASSWORD, "role": role}
        )
    )
    body: dict[str, Any] = {"manager": True}
    if level is not None:
        body["manager_level"] = level
    ok(await world.client.put(f"/api/v1/users/{user['id']}", headers=world.h("admin"), json=body))
    return Manager(id=user["id"], username=username, token=await world.login(username))


async def assign(world: World, customer_id: str, manager: Manager | None) -> None:
    ok(
        await world.client.put(
            f"/api/v1/customers/{customer_id}/manager",
            headers=world.h("admin"),
            json={"user_id": manager.id if manager else None},
        )
    )


class History:
    """Rows of one customer's past, written in one committed unit of work per call."""

    def __init__(self, app: Any, customer: Any, depot: dict[str, Any]) -> None:
        self.app, self.customer, self.depot = app, customer, depot
        self.customer_id = uuid.UUID(customer.id)
        self.site_id = uuid.UUID(customer.site["id"])

    def _order(self, at: datetime, *, status: str = "delivered", product: str = "diesel-0", **extra: Any) -> Order:
        day = extra.pop("delivery_date", at.astimezone(SHANGHAI).date() + timedelta(days=1))
        window_end = extra.pop("window_end", datetime.combine(day, time(12), SHANGHAI).astimezone(UTC))
        return Order(
            reference=f"DO-T-{uuid.uuid4().hex[:12].upper()}",
            customer_id=self.customer_id,
            site_id=self.site_id,
            depot_id=uuid.UUID(self.depot["id"]),
            product_code=product,
            quantity_litres=5000,
            delivery_date=day,
            timezone="Asia/Shanghai",
            window_start=window_end - timedelta(hours=2),
            window_end=window_end,
            price_per_litre_minor=800,
            gross_minor=4_000_000,
            discount_bps=0,
            discount_minor=0,
            amount_minor=4_000_000,
            currency="CNY",
            status=status,
            created_by=extra.pop("created_by", None),
            created_at=at,
            updated_at=at,
            **extra,
        )

    async def orders(self, *times: datetime, status: str = "delivered", created_by: str | None = None) -> list[Order]:
        made = [
            self._order(at, status=status, created_by=uuid.UUID(created_by) if created_by else None) for at in times
        ]
        async with money_session(self.app) as session:
            session.add_all(made)
        return made

    async def charges(
        self, *charges: tuple[datetime, int], litres: int | None = None, amount: int | None = None
    ) -> None:
        """Charges of (at, net kg) at this history's depot (delivered orders need not exist for a charge): at
        8.00 a litre of `litres` (by default the kilograms at 0.835 kg/L) unless `amount` says otherwise."""
        async with money_session(self.app) as session:
            for at, kg in charges:
                net_litres = litres or round(kg / 0.835)
                total = amount if amount is not None else net_litres * 800
                account = await ledger.get_account(session, self.customer_id, lock=True)
                suffix = uuid.uuid4().hex[:8].upper()
                line = ledger.ChargeLine(
                    order_id=uuid.uuid4(),
                    pickup_id=None,
                    reference=f"DO-{suffix}",
                    document_number=f"R-{suffix}",
                    depot_id=uuid.UUID(self.depot["id"]),
                    product_code="diesel-0",
                    product_name="0号柴油",
                    observed_litres=net_litres + 20,
                    temperature_c=20.0,
                    net_litres=net_litres,
                    net_kg=kg,
                    unit_price_minor=800,
                    gross_minor=total,
                    discount_minor=0,
                    amount_minor=total,
                )
                await ledger.charge(session, account, line, at=at, actor_id=None)

    async def event(self, kind: str, at: datetime) -> None:
        async with money_session(self.app) as session:
            record_event(
                session, subject_type="order", subject_id=uuid.uuid4(), customer_id=self.customer_id, type=kind, at=at
            )

    async def quote(self, at: datetime) -> None:
        async with money_session(self.app) as session:
            session.add(
                QuoteRecord(
                    customer_id=self.customer_id,
                    site_id=self.site_id,
                    depot_id=uuid.UUID(self.depot["id"]),
                    product_code="diesel-0",
                    quantity_litres=5000,
                    price_per_litre_minor=800,
                    at=at,
                )
            )

    async def price(self, day: date, price_per_litre_minor: int, product: str = "diesel-0") -> None:
        async with money_session(self.app) as session:
            session.add(
                Price(
                    depot_id=uuid.UUID(self.depot["id"]),
                    product_code=product,
                    valid_from=day,
                    price_per_litre_minor=price_per_litre_minor,
                    currency="CNY",
                )
            )

    async def overdue_invoice(self, *, due: date) -> None:
        async with money_session(self.app) as session:
            session.add(
                Invoice(
                    number=f"INV-T-{uuid.uuid4().hex[:10].upper()}",
                    series="INV-T",
                    customer_id=self.customer_id,
                    period_start=due - timedelta(days=60),
                    period_end=due - timedelta(days=31),
                    issue_date=due - timedelta(days=30),
                    due_date=due,
                    status="issued",
                    buyer_name="测试物流",
                    net_minor=100,
                    tax_minor=13,
                    total_minor=113,
                    currency="CNY",
                )
            )

    async def delivered(
        self, placed: datetime, *, window_end: datetime, arrived: datetime | None, delivered: datetime
    ) -> Order:
        """An order delivered from a (draft) plan's stop: the tanker arrived at `arrived` (None: not recorded)."""
        order = self._order(placed, window_end=window_end, delivery_date=window_end.astimezone(SHANGHAI).date())
        depot_id = uuid.UUID(self.depot["id"])
        async with money_session(self.app) as session:
            tanker = Tanker(
                plate=f"沪T{uuid.uuid4().int % 10**6:06d}",
                depot_id=depot_id,
                compartments_litres=[10000],
                vehicle_class=1,
                cost_per_km_minor=500,
                shift_start=time(6),
                shift_end=time(20),
            )
            plan = Plan(
                date=order.delivery_date,
                depot_id=depot_id,
                scope=str(uuid.uuid4()),
                status="draft",
                cost_minor=0,
                distance_m=0,
                driving_s=0,
                duration_s=0,
                problem_json="{}",
                solution_json="{}",
                order_versions={},
            )
            session.add_all([order, tanker, plan])
            await session.flush()
            trip = PlanTrip(
                plan_id=plan.id,
                date=order.delivery_date,
                tanker_id=tanker.id,
                depot_id=depot_id,
                sequence=1,
                load_start=window_end - timedelta(hours=4),
                depart=window_end - timedelta(hours=3),
                return_at=window_end + timedelta(hours=3),
                distance_m=0,
                loads=[],
                status="done",
            )
            session.add(trip)
            await session.flush()
            stop = PlanStop(
                trip_id=trip.id,
                plan_id=plan.id,
                order_id=order.id,
                sequence=1,
                litres=5000,
                compartments=[],
                arrival=window_end - timedelta(hours=1),
                service_start=window_end - timedelta(hours=1),
                departure=window_end - timedelta(minutes=30),
                status="delivered",
                arrived_at=arrived,
                finished_at=delivered,
            )
            session.add(stop)
            await session.flush()
            session.add(
                Delivery(
                    stop_id=stop.id,
                    order_id=order.id,
                    delivered_litres_observed=5000,
                    temperature_c=20.0,
                    vcf="0.99580",
                    net_litres=4979,
                    proof="reason",
                    no_receipt_reason="test",
                    delivered_at=delivered,
                )
            )
        return order
