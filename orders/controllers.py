"""HTTP handlers of the orders domain (catalogue, accounts, sites, quotes, orders, pickups)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.db import unit_of_work
from core.hours import zone
from core.idempotency import check_key
from core.schemas import MAX_OFFSET, MAX_PAGE_SIZE, Page
from core.settings import Settings
from orders import accounts, applications, catalogue, contracts, delivery, pickups, tiers
from orders import schemas as s
from orders.models import Order, PickupBooking

STAFF = roles_guard(Role.ADMIN, Role.DISPATCHER)
ADMIN = roles_guard(Role.ADMIN)
CUSTOMER = roles_guard(Role.CUSTOMER)
CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)
# Finance handles the accounts' money, so it reads the accounts too (and nothing of dispatch).
CUSTOMER_READERS = roles_guard(Role.ADMIN, Role.DISPATCHER, Role.FINANCE)
CUSTOMER_OR_READERS = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER, Role.FINANCE)
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
Offset = Annotated[
    int, QueryParameter(ge=0, le=MAX_OFFSET, description="items to skip (narrow the filters to go deeper)")
]
Search = Annotated[
    str | None,
    QueryParameter(max_length=100, description="part of a name, tax id, contact or phone (any case)"),
]
Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=255,
        description="Client-chosen key: a retry with the same key and body returns the first answer.",
    ),
]
Req = Request[Principal, Any, Any]


class CatalogueController(Controller):
    tags = ["catalogue"]

    @get("/products", summary="Products (diesel grades) with their densities")
    async def list_products(self, db_session: Db) -> list[s.ProductOut]:
        return [catalogue.product_out(p) for p in await catalogue.list_products(db_session)]

    @post("/products", guards=[ADMIN], summary="Add a product (admin)")
    async def create_product(self, data: JSONBody[s.ProductIn], db_session: Db) -> s.ProductOut:
        return catalogue.product_out(await catalogue.create_product(db_session, data=data))

    @get("/depots", summary="Depots with location, time zone, opening hours, bays and products")
    async def list_depots(self, db_session: Db) -> list[s.DepotOut]:
        return [catalogue.depot_out(d) for d in await catalogue.list_depots(db_session)]

    @post("/depots", guards=[ADMIN], summary="Add a depot (admin)")
    async def create_depot(self, data: JSONBody[s.DepotIn], db_session: Db) -> s.DepotOut:
        return catalogue.depot_out(await catalogue.create_depot(db_session, data=data))

    @get("/depots/{depot_id:uuid}", summary="One depot")
    async def get_depot(self, depot_id: FromPath[uuid.UUID], db_session: Db) -> s.DepotOut:
        return catalogue.depot_out(await catalogue.get_depot(db_session, depot_id))

    @get(
        "/prices",
        summary="The list prices in force on a day, per depot and product",
        description="Each price holds from its `valid_from` until a later one: the answer is, per depot and "
        "product, the latest price from that day or before, per litre and per tonne.",
    )
    async def list_prices(
        self,
        db_session: Db,
        now: Now,
        settings: Conf,
        day: Annotated[
            date | None,
            QueryParameter(name="date", description="YYYY-MM-DD; today in the default time zone when omitted"),
        ] = None,
        depot_id: FromQuery[uuid.UUID | None] = None,
    ) -> list[s.PriceOut]:
        day = day or now.astimezone(zone(settings.default_timezone)).date()
        rows = await catalogue.list_prices(db_session, day=day, depot_id=depot_id)
        return [catalogue.price_out(p, density) for p, density in rows]

    @get("/prices/history", summary="Every list price published, newest first")
    async def price_history(
        self,
        db_session: Db,
        depot_id: FromQuery[uuid.UUID | None] = None,
        product_code: FromQuery[str | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.PriceOut]:
        rows, total = await catalogue.price_history(
            db_session, depot_id=depot_id, product_code=product_code, limit=limit, offset=offset
        )
        items = [catalogue.price_out(p, density) for p, density in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @put(
        "/prices",
        guards=[STAFF],
        status_code=HTTP_200_OK,
        summary="Publish prices (admin, dispatcher)",
        description="Items `{depot_id, product_code, valid_from, price_per_litre_minor}` (`date` is still accepted "
        "for `valid_from`): each holds from that day until a later one. All or nothing; each change is audited.",
    )
    async def set_prices(
        self, data: JSONBody[list[s.PriceIn]], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> list[s.PriceOut]:
        rows = await catalogue.set_prices(
            db_session, prices=data, currency=settings.rules.currency, actor=request.user, now=now
        )
        density = await catalogue.densities(db_session, (p.product_code for p in rows))
        return [catalogue.price_out(p, density[p.product_code]) for p in rows]


class PricingController(Controller):
    tags = ["pricing"]

    @get(
        "/customers/{customer_id:uuid}/contract-prices",
        guards=[CUSTOMER_OR_STAFF],
        summary="A customer's contract prices (a customer sees its own)",
    )
    async def contract_prices(
        self, customer_id: FromPath[uuid.UUID], request: Req, db_session: Db
    ) -> list[s.ContractPriceOut]:
        rows = await contracts.list_contract_prices(db_session, customer_id=customer_id, viewer=request.user)
        return [contracts.contract_out(r) for r in rows]

    @put(
        "/customers/{customer_id:uuid}/contract-prices",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        summary="Replace a customer's contract prices (admin)",
        description="Each item is a fixed `price_per_litre_minor` (replaces the list price) or a "
        "`discount_per_litre_minor` (off it, beside the volume tier's discount) for a product, at one depot or "
        "at all (no `depot_id`), from `valid_from` to `valid_to` (included; open-ended without it). Two items for "
        "the same product and depot on the same days: 422 `contract_overlap`. A depot's own item wins over an "
        "item for all depots. Audited.",
    )
    async def set_contract_prices(
        self,
        customer_id: FromPath[uuid.UUID],
        data: JSONBody[list[s.ContractPriceIn]],
        request: Req,
        db_session: Db,
        now: Now,
    ) -> list[s.ContractPriceOut]:
        rows = await contracts.set_contract_prices(
            db_session, customer_id=customer_id, items=data, actor=request.user, now=now
        )
        return [contracts.contract_out(r) for r in rows]

    @get("/settings/tiers", summary="The volume tier table: yearly net tonnes and discounts")
    async def tier_table(self, db_session: Db) -> list[s.TierBandOut]:
        return tiers.table_out(await tiers.tier_table(db_session))

    @put(
        "/settings/tiers",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        summary="Replace the volume tier table (admin)",
        description="Bands `{from_tonnes, discount_bps}`, the first from 0, ascending, discounts 0-10000 basis "
        "points. Customers' tiers are found again with the new bands from their next order on. Audited.",
    )
    async def set_tier_table(
        self, data: JSONBody[list[s.TierBandIn]], request: Req, db_session: Db, now: Now
    ) -> list[s.TierBandOut]:
        table = await tiers.set_tier_table(db_session, bands=data, actor=request.user, now=now)
        return tiers.table_out(table)


class AccountsController(Controller):
    tags = ["accounts"]

    @post("/customers", guards=[ADMIN], summary="Open a customer account (admin)")
    async def create_customer(
        self, data: JSONBody[s.CustomerIn], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.CustomerOut:
        account = await accounts.create_customer(
            db_session, data=data, currency=settings.rules.currency, now=now, actor=request.user
        )
        return await accounts.customer_out(db_session, account, now=now, rules=settings.rules)

    @get("/customers", guards=[CUSTOMER_READERS], summary="Customer accounts (staff and finance)")
    async def list_customers(
        self, db_session: Db, now: Now, settings: Conf, limit: Limit = 50, offset: Offset = 0, q: Search = None
    ) -> Page[s.CustomerOut]:
        rows, total = await accounts.list_customers(db_session, limit=limit, offset=offset, search=q)
        items = [await accounts.customer_out(db_session, a, now=now, rules=settings.rules) for a in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/customers/{customer_id:uuid}", guards=[CUSTOMER_OR_READERS], summary="A customer account with credit")
    async def get_customer(
        self, customer_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.CustomerOut:
        account = await accounts.get_customer(db_session, customer_id, viewer=request.user)
        return await accounts.customer_out(db_session, account, now=now, rules=settings.rules)

    @patch(
        "/customers/{customer_id:uuid}",
        guards=[ADMIN],
        summary="Change name, contact or credit limit (admin)",
    )
    async def update_customer(
        self,
        customer_id: FromPath[uuid.UUID],
        data: JSONBody[s.CustomerPatch],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
    ) -> s.CustomerOut:
        account = await accounts.update_customer(
            db_session, customer_id=customer_id, data=data, now=now, actor=request.user
        )
        await delivery.recheck_held_orders(db_session, customer_id=customer_id, now=now, rules=settings.rules)
        return await accounts.customer_out(db_session, account, now=now, rules=settings.rules)

    @post(
        "/customers/{customer_id:uuid}/payments",
        guards=[ADMIN],
        summary="Record a payment (admin; use POST /payments)",
        deprecated=True,
        description="Kept for older clients: records the payment as `POST /payments` does.",
    )
    async def record_payment(
        self,
        customer_id: FromPath[uuid.UUID],
        data: JSONBody[s.PaymentIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
    ) -> s.CustomerOut:
        account = await accounts.record_payment(
            db_session,
            customer_id=customer_id,
            data=data,
            now=now,
            actor=request.user,
            tz=zone(settings.default_timezone),
        )
        return await accounts.customer_out(db_session, account, now=now, rules=settings.rules)

    @post("/sites", guards=[CUSTOMER_OR_STAFF], summary="Add a delivery site")
    async def create_site(
        self,
        data: JSONBody[s.SiteIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        customer_id: Annotated[uuid.UUID | None, QueryParameter(description="staff only")] = None,
    ) -> s.SiteOut:
        site = await accounts.create_site(
            db_session,
            data=data,
            actor=request.user,
            customer_id=customer_id,
            default_tz=settings.default_timezone,
            now=now,
        )
        return accounts.site_out(site)

    @get("/sites", guards=[CUSTOMER_OR_STAFF], summary="Delivery sites (a customer sees its own)")
    async def list_sites(
        self,
        request: Req,
        db_session: Db,
        customer_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.SiteOut]:
        rows, total = await accounts.list_sites(
            db_session, actor=request.user, customer_id=customer_id, limit=limit, offset=offset
        )
        return Page(items=[accounts.site_out(x) for x in rows], total=total, limit=limit, offset=offset)

    @get("/sites/{site_id:uuid}", guards=[CUSTOMER_OR_STAFF], summary="One site")
    async def get_site(self, site_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.SiteOut:
        return accounts.site_out(await accounts.get_site(db_session, site_id, viewer=request.user))

    @post(
        "/applications",
        exclude_from_auth=True,
        summary="Apply for an account online (no login)",
        description="A company applies with its first site; an admin approves it and sets the credit limit. "
        "Limited per client address (429 with `Retry-After`). Whether the username is free is not said here: an "
        "admin sees a clash when approving.",
        rate_limited=True,  # documents 429 (api/app.py)
    )
    async def apply(
        self, data: JSONBody[s.ApplicationIn], request: Request[Any, Any, Any], db_session: Db, now: Now, settings: Conf
    ) -> s.ApplicationOut:
        # Each application hashes a password (argon2, 64 MiB): a stranger may send only a few.
        await request.app.state.application_limit.hit(request.client.host if request.client else "unknown")
        app = await applications.submit_application(
            db_session, data=data, default_tz=settings.default_timezone, now=now
        )
        return applications.application_out(app)

    @get("/applications", guards=[ADMIN], summary="Applications (admin)")
    async def list_applications(
        self, db_session: Db, limit: Limit = 50, offset: Offset = 0, status: FromQuery[str | None] = None
    ) -> Page[s.ApplicationOut]:
        rows, total = await applications.list_applications(db_session, status=status, limit=limit, offset=offset)
        return Page(items=[applications.application_out(a) for a in rows], total=total, limit=limit, offset=offset)

    @get("/applications/{application_id:uuid}", guards=[ADMIN], summary="One application (admin)")
    async def get_application(self, application_id: FromPath[uuid.UUID], db_session: Db) -> s.ApplicationOut:
        return applications.application_out(await applications.get_application(db_session, application_id))

    @post("/applications/{application_id:uuid}/approve", guards=[ADMIN], status_code=HTTP_200_OK)
    async def approve(
        self,
        application_id: FromPath[uuid.UUID],
        data: JSONBody[s.ApproveIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
    ) -> s.ApplicationOut:
        """Open the account, its first site and its first user (admin)."""
        app = await applications.approve_application(
            db_session,
            application_id=application_id,
            credit_limit_minor=data.credit_limit_minor,
            currency=settings.rules.currency,
            default_tz=settings.default_timezone,
            now=now,
            actor=request.user,
            manager_id=data.manager_id,
        )
        account = await accounts.get_customer(db_session, app.customer_id) if app.customer_id else None
        return applications.application_out(app, manager_id=account.manager_id if account else None)

    @post("/applications/{application_id:uuid}/reject", guards=[ADMIN], status_code=HTTP_200_OK)
    async def reject(
        self,
        application_id: FromPath[uuid.UUID],
        data: JSONBody[s.RejectIn],
        request: Req,
        db_session: Db,
        now: Now,
    ) -> s.ApplicationOut:
        """Reject an application with a reason (admin)."""
        app = await applications.reject_application(
            db_session, application_id=application_id, reason=data.reason, now=now, actor=request.user
        )
        return applications.application_out(app)


async def _order_out(session: AsyncSession, order: Order) -> s.OrderOut:
    product = await catalogue.product_info(session, order.product_code)
    return delivery.order_out(order, density_kg_m3=product.density_kg_m3)


async def _pickup_out(session: AsyncSession, booking: PickupBooking) -> s.PickupOut:
    product = await catalogue.product_info(session, booking.product_code)
    return pickups.pickup_out(booking, density_kg_m3=product.density_kg_m3)


def _created_or_replayed[T](body: T, created: bool) -> Response[T]:
    return Response(body, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


class OrdersController(Controller):
    tags = ["orders"]

    @post("/quotes", guards=[CUSTOMER], status_code=HTTP_200_OK, summary="Price a delivery before ordering")
    async def quote(
        self, data: JSONBody[s.QuoteIn], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.QuoteOut:
        return await delivery.quote(db_session, data=data, actor=request.user, now=now, rules=settings.rules)

    @post(
        "/orders",
        guards=[CUSTOMER],
        summary="Order a delivery",
        description="Send an `Idempotency-Key`: a retry with the same key and body returns the first order "
        "(200); the same key with another body is refused (409 `idempotency_key_reused`).",
        responses={200: ResponseSpec(data_container=s.OrderOut, description="a retry: the first order")},
    )
    async def place_order(
        self, data: JSONBody[s.OrderIn], request: Req, idempotency_key: IdempotencyKey = None
    ) -> Response[s.OrderOut]:
        # The hottest endpoint takes its session, clock and settings from the app's state itself: each injected
        # dependency costs Litestar a resolution per request (measured in `make bench-api`).
        state = request.app.state
        async with unit_of_work(state.session_factory) as session:
            order, created = await delivery.place_order(
                session,
                data=data,
                actor=request.user,
                idempotency_key=check_key(idempotency_key),
                now=state.clock.now(),
                rules=state.settings.rules,
            )
            product = await catalogue.product_info(session, order.product_code)  # cached: no round trip
        return _created_or_replayed(delivery.order_out(order, density_kg_m3=product.density_kg_m3), created)

    @get("/orders", guards=[CUSTOMER_OR_STAFF], summary="Orders (a customer sees its own)")
    async def list_orders(
        self,
        request: Req,
        db_session: Db,
        settings: Conf,
        limit: Limit = 50,
        offset: Offset = 0,
        status: FromQuery[str | None] = None,
        day: Annotated[date | None, QueryParameter(name="date")] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
    ) -> Page[s.OrderOut]:
        rows, total = await delivery.list_orders(
            db_session,
            viewer=request.user,
            status=status,
            day=day,
            customer_id=customer_id,
            limit=limit,
            offset=offset,
        )
        density = await catalogue.densities(db_session, (o.product_code for o in rows))
        items = [delivery.order_out(o, density_kg_m3=density[o.product_code]) for o in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/orders/{order_id:uuid}", guards=[CUSTOMER_OR_STAFF], summary="One order")
    async def get_order(self, order_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.OrderOut:
        order = await delivery.get_order(db_session, order_id, viewer=request.user)
        return await _order_out(db_session, order)

    @post("/orders/{order_id:uuid}/cancel", guards=[CUSTOMER_OR_STAFF], status_code=HTTP_200_OK)
    async def cancel_order(
        self,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[s.CancelIn],
        request: Req,
        db_session: Db,
        now: Now,
    ) -> s.OrderOut:
        """Cancel an order (possible until it is loaded)."""
        order = await delivery.cancel_order(
            db_session, order_id=order_id, reason=data.reason, actor=request.user, now=now
        )
        return await _order_out(db_session, order)

    @get("/orders/{order_id:uuid}/events", guards=[CUSTOMER_OR_STAFF], summary="The order's timeline")
    async def order_events(self, order_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> list[s.EventOut]:
        rows = await delivery.order_events(db_session, order_id=order_id, viewer=request.user)
        return [delivery.event_out(e) for e in rows]


class PickupsController(Controller):
    tags = ["pickups"]

    @get("/depots/{depot_id:uuid}/slots", summary="Pickup slots of a day with the places left")
    async def slots(
        self,
        depot_id: FromPath[uuid.UUID],
        db_session: Db,
        settings: Conf,
        now: Now,
        day: Annotated[date | None, QueryParameter(name="date")] = None,
        product_code: FromQuery[str | None] = None,
    ) -> list[s.SlotOut]:
        depot = await catalogue.get_depot(db_session, depot_id)
        day = day or now.astimezone(zone(depot.timezone)).date()
        return await pickups.list_slots(
            db_session, depot_id=depot_id, day=day, product_code=product_code, rules=settings.rules
        )

    @post(
        "/pickups",
        guards=[CUSTOMER],
        summary="Book a pickup slot for the customer's own truck",
        description="Honours `Idempotency-Key` like `POST /orders`. Of two requests for a slot's last place, "
        "exactly one succeeds; the other gets 409 `slot_full`.",
        responses={200: ResponseSpec(data_container=s.PickupOut, description="a retry: the first booking")},
    )
    async def book(
        self,
        data: JSONBody[s.PickupIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[s.PickupOut]:
        booking, created = await pickups.book_pickup(
            db_session,
            data=data,
            actor=request.user,
            idempotency_key=check_key(idempotency_key),
            now=now,
            rules=settings.rules,
        )
        return _created_or_replayed(await _pickup_out(db_session, booking), created)

    @get("/pickups", guards=[CUSTOMER_OR_STAFF], summary="Pickup bookings (a customer sees its own)")
    async def list_pickups(
        self,
        request: Req,
        db_session: Db,
        settings: Conf,
        limit: Limit = 50,
        offset: Offset = 0,
        status: FromQuery[str | None] = None,
        customer_id: Annotated[uuid.UUID | None, QueryParameter(description="staff: one account's bookings")] = None,
    ) -> Page[s.PickupOut]:
        rows, total = await pickups.list_pickups(
            db_session, viewer=request.user, status=status, limit=limit, offset=offset, customer_id=customer_id
        )
        density = await catalogue.densities(db_session, (b.product_code for b in rows))
        items = [pickups.pickup_out(b, density_kg_m3=density[b.product_code]) for b in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/pickups/{booking_id:uuid}", guards=[CUSTOMER_OR_STAFF], summary="One pickup booking")
    async def get_pickup(self, booking_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.PickupOut:
        booking = await pickups.get_pickup(db_session, booking_id, viewer=request.user)
        return await _pickup_out(db_session, booking)

    @get("/pickups/{booking_id:uuid}/events", guards=[CUSTOMER_OR_STAFF], summary="The booking's timeline")
    async def pickup_events(self, booking_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> list[s.EventOut]:
        await pickups.get_pickup(db_session, booking_id, viewer=request.user)
        rows = await delivery.subject_events(db_session, subject_type="pickup", subject_id=booking_id)
        return [delivery.event_out(e) for e in rows]

    @post("/pickups/{booking_id:uuid}/cancel", guards=[CUSTOMER_OR_STAFF], status_code=HTTP_200_OK)
    async def cancel_pickup(
        self,
        booking_id: FromPath[uuid.UUID],
        data: JSONBody[s.CancelIn],
        request: Req,
        db_session: Db,
        now: Now,
    ) -> s.PickupOut:
        """Cancel a booking before loading; its credit is released."""
        booking = await pickups.cancel_pickup(
            db_session, booking_id=booking_id, reason=data.reason, actor=request.user, now=now
        )
        return await _pickup_out(db_session, booking)
