"""The composition root: `create_app()` wires settings, database, auth, errors and every domain's handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import msgspec
from litestar import Litestar, Request, Router, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import AuditController
from api.auth import AuthController, make_jwt_auth
from api.errors import ERROR_RESPONSES, EXCEPTION_HANDLERS, RATE_LIMITED
from api.middleware import ClientAddressMiddleware, HeadAsGetMiddleware, SecurityHeadersMiddleware, trusted_networks
from api.operators import OperatorDepotsController
from api.pages import LINK_PAGE_HANDLERS
from api.paths import DocumentPaths
from api.people import ApprovalsController, PeopleController, customer_role_guard
from api.ratelimit import CounterStore, LoginThrottle, MemoryStore, RedisStore, WindowLimit
from api.sessions import SessionGuard
from api.wiring import wire_domains
from core.clock import Clock, SystemClock
from core.db import close_raw_pool, create_engine, session_factory, unit_of_work
from core.errors import DomainError, InvalidInput
from core.settings import Settings, get_settings
from core.signing import KeyRing
from dispatch.controllers import BaysController, FleetController, PlanningController
from insight.controllers import AnalyticsController, ManagersController, VisitsController
from money.controllers import BalancesController, InvoicesController, PaymentsController
from money.document_controllers import DocumentsController, StatementsController
from notify.controllers import NotificationsController
from notify.live import live_plugin
from notify.live_controllers import LiveController
from notify.webhooks.config import webhook_settings
from notify.webhooks.controllers import WebhooksController
from orders.controllers import (
    AccountsController,
    CatalogueController,
    OrdersController,
    PickupsController,
    PricingController,
)
from orders.selfservice_controllers import SelfServiceController
from orders.standing_controllers import StandingOrdersController
from promise.controllers import PromiseController
from tracking.controllers import CodesController, RackController
from tracking.driver_controllers import DriverController, OrderTrackingController
from tracking.keystore import keyring_for
from tracking.pass_controllers import GateController, PassController
from tracking.positions import MemoryPositionStore, PositionStore, RedisPositionStore
from tracking.share_controllers import ShareController
from web.routes import web_router

API_PREFIX = "/api/v1"
log = logging.getLogger("diesel.api")


async def provide_session(state: State) -> AsyncGenerator[AsyncSession]:
    """One unit of work per request: commit when the handler succeeded, roll back on any error.

    Litestar runs this cleanup after the handler returned and before the response is sent, so a failed commit
    becomes an error response, never a success the database did not keep.
    """
    async with unit_of_work(state.session_factory) as session:
        yield session


async def reject_nul_characters(request: Request[Any, Any, Any]) -> None:
    """PostgreSQL text cannot hold NUL, and no real name or note needs it: refuse it up front (400, not 500)."""
    if b"%00" in request.scope.get("query_string", b""):
        raise InvalidInput("the query may not contain NUL characters", code="nul_character")
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()
        if b"\x00" in body:  # raw NUL bytes: not UTF-8 JSON text (e.g. a UTF-16 body)
            raise DomainError("the request body is not valid JSON (encoding)", code="malformed_body")
        if b"\\u0000" in body.lower():
            raise InvalidInput("text may not contain NUL characters (\\u0000)", code="nul_character")


def provide_now(state: State) -> datetime:
    clock: Clock = state.clock
    return clock.now()


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_signing_keys(state: State) -> KeyRing:
    """The Ed25519 key ring that signs codes and invoice seals (read once per process)."""
    settings: Settings = state.settings
    return keyring_for(settings.codes)


@get("/health", exclude_from_auth=True, tags=["health"], summary="Liveness and database readiness")
async def health(state: State) -> dict[str, Any]:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}


def serving_app() -> Litestar:
    """The app as `diesel serve` runs it: `create_app` whose heap is frozen once the process has started.

    A full garbage collection walks every object of the process (about 150,000 after start-up) and stops the
    event loop for some 90 ms; under load those pauses were the slowest 1 % of orders (`make bench-api`).
    Objects alive at start-up live as long as the process, so the collector may skip them (`gc.freeze`). Not in
    `create_app`: tests build many apps in one process, and frozen garbage is never collected.
    """
    app = create_app()
    app.on_startup.append(_freeze_heap)
    return app


def _freeze_heap() -> None:
    gc.collect()
    gc.freeze()


def create_app(*, settings: Settings | None = None, clock: Clock | None = None) -> Litestar:
    settings = settings or get_settings()
    webhook_settings()  # read now: a mistyped WEBHOOK_ALLOWED_NETWORKS stops the start, not the first webhook
    clock = clock or SystemClock()
    engine = create_engine(settings.db.url, pool_size=settings.db.pool_size, echo=settings.db.echo)
    jwt_auth = make_jwt_auth(settings)
    store: CounterStore
    positions: PositionStore
    redis_client = None
    if settings.broker.redis_url:
        from redis.asyncio import Redis

        redis_client = Redis.from_url(settings.broker.redis_url, socket_connect_timeout=1, socket_timeout=2)
        store = RedisStore(redis_client)
        positions = RedisPositionStore(redis_client)
    else:
        store = MemoryStore()
        positions = MemoryPositionStore()
    auth = settings.auth
    login_throttle = LoginThrottle(
        store,
        per_address=auth.login_attempts_per_window,
        window_s=auth.login_window_s,
        free_failures=auth.login_free_failures,
        max_delay_s=auth.login_delay_max_s,
    )
    application_limit = WindowLimit(
        store,
        name="applications",
        limit=auth.applications_per_window,
        window_s=auth.applications_window_s,
        code="too_many_applications",
    )
    session_guard = SessionGuard(engine)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None]:
        await session_guard.start()
        try:
            yield
        finally:
            await session_guard.stop()
            await close_raw_pool(engine)
            await engine.dispose()
            if redis_client is not None:
                await redis_client.aclose()

    wire_domains(settings)  # ports and listeners between the layers (the worker wires the same)

    api = Router(
        path=API_PREFIX,
        guards=[customer_role_guard],  # a customer account's people: each role calls only what it may
        route_handlers=[
            AuthController,
            AuditController,
            OperatorDepotsController,
            CatalogueController,
            PricingController,
            AccountsController,
            SelfServiceController,
            OrdersController,
            PickupsController,
            CodesController,
            RackController,
            FleetController,
            PromiseController,
            PlanningController,
            BaysController,
            DriverController,
            OrderTrackingController,
            WebhooksController,
            ShareController,
            PassController,
            GateController,
            LiveController,
            NotificationsController,
            DocumentsController,
            StatementsController,
            BalancesController,
            InvoicesController,
            PaymentsController,
            ManagersController,
            AnalyticsController,
            VisitsController,
            PeopleController,
            ApprovalsController,
            StandingOrdersController,
        ],
    )
    app = Litestar(
        route_handlers=[api, health, web_router, *LINK_PAGE_HANDLERS],
        dependencies={
            "db_session": Provide(provide_session),
            "now": Provide(provide_now, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "signing_keys": Provide(provide_signing_keys, sync_to_thread=False),
        },
        state=State(
            {
                "settings": settings,
                "clock": clock,
                "engine": engine,
                "session_factory": session_factory(engine),
                "jwt_auth": jwt_auth,
                "session_guard": session_guard,
                "login_throttle": login_throttle,
                "application_limit": application_limit,
                "position_store": positions,
            }
        ),
        on_app_init=[jwt_auth.on_app_init],
        plugins=[live_plugin(settings)],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=reject_nul_characters,
        middleware=[SecurityHeadersMiddleware()],
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins)) if settings.cors_origins else None,
        request_max_body_size=settings.max_body_bytes,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Diesel Direct API",
            version="1.0.0",
            description="Bulk diesel ordering, pickup bookings, dispatch and tracking. "
            "Log in at `POST /api/v1/auth/token`, then send `Authorization: Bearer <token>`.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
        ),
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            log_exceptions="debug",
        ),
        type_encoders={msgspec.Struct: msgspec.to_builtins},
        debug=False,
    )
    _document_errors(app)
    assert app.openapi_config is not None
    app.openapi_config.security = None  # JWTAuth declares the token for all; _document_errors did it per operation
    # Around Litestar's own handler, so routing already sees GET for HEAD and the real client's address.
    app.asgi_handler = ClientAddressMiddleware(
        HeadAsGetMiddleware(app.asgi_handler), trusted_networks(settings.trusted_proxies)
    )
    # Before routing, so `/invoices/{id}.pdf` reaches its handler (api.paths says why).
    app.asgi_handler = DocumentPaths(app.asgi_handler)
    return app


def _document_errors(app: Litestar) -> None:
    """Every API operation documents the problem-details answers it may give (429 where `rate_limited=True`), and
    whether it needs the bearer token: the operations open to anyone declare no security requirement."""
    for route in app.routes:
        if not route.path.startswith(API_PREFIX):
            continue
        for handler in getattr(route, "route_handlers", []):
            limited = RATE_LIMITED if handler.opt.get("rate_limited") else {}
            handler.responses = {**ERROR_RESPONSES, **limited, **(handler.responses or {})}
            if not handler.opt.get("exclude_from_auth"):
                handler.security = [{"BearerToken": []}]
