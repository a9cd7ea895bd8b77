"""HTTP handlers of live push: Server-Sent Events for one order, and for the dispatch console."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Protocol

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter
from litestar.response import ServerSentEvent
from litestar.security.jwt import Token
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.errors import DomainError
from core.models import Event
from core.schemas import Problem
from notify.live import DISPATCH_CHANNEL, LivePlugin, StreamViewer, order_channel, pickup_channel
from notify.webhooks.schemas import EventPayload, event_payload
from orders.delivery import get_order
from orders.pickups import get_pickup

Db = NamedDependency[AsyncSession]
Live = NamedDependency[LivePlugin]
Req = Request[Principal, Any, Any]
CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)
STAFF = roles_guard(Role.ADMIN, Role.DISPATCHER)
LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        required=False,
        max_length=64,
        description="Sent by EventSource on reconnect: the order's events after this one are replayed first.",
    ),
]
_SSE_DOC = (
    "A `text/event-stream` (send `Accept: text/event-stream`, as EventSource does; anything else is 406 "
    "`event_stream_required`): first an event `ready` (the subscription is live), then one message per event, "
    "`event:` its type, `id:` its id, `data:` the event as JSON; a comment every 15 s keeps proxies from closing it. "
    'The stream ends when the bearer token expires, after an event `end` (`data: {"type": "end", "reason": '
    '"token_expired"}`): log in again before reconnecting. A user holds at most `LIVE_STREAMS_PER_USER` open '
    "streams (10 by default): one more is 429 `too_many_streams`."
)


NOT_A_STREAM = ResponseSpec(
    data_container=Problem,
    description="The request did not accept `text/event-stream` (`event_stream_required`)",
    media_type="application/problem+json",
)
TOO_MANY_STREAMS = ResponseSpec(
    data_container=Problem,
    description="The user already holds as many open live streams as allowed (`too_many_streams`)",
    media_type="application/problem+json",
)


class EventStreamRequired(DomainError):
    status_code = 406
    code = "event_stream_required"


def require_event_stream(request: Req) -> None:
    """A client that cannot read a stream that never ends gets a quick answer instead of waiting forever."""
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise EventStreamRequired("this is a Server-Sent Events stream: ask with `Accept: text/event-stream`")


class LiveController(Controller):
    tags = ["live"]

    @get(
        "/orders/{order_id:uuid}/live",
        guards=[CUSTOMER_OR_STAFF],
        media_type="text/event-stream",
        summary="Follow an order live (Server-Sent Events)",
        description=_SSE_DOC,
        responses={406: NOT_A_STREAM, 429: TOO_MANY_STREAMS},
    )
    async def order_live(
        self,
        order_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        live: Live,
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        await get_order(db_session, order_id, viewer=request.user)
        require_event_stream(request)
        viewer = stream_viewer(request)
        backlog = await _backlog(db_session, "order", order_id, _event_id(last_event_id))
        return live.stream(order_channel(order_id), viewer, backlog)

    @get(
        "/pickups/{booking_id:uuid}/live",
        guards=[CUSTOMER_OR_STAFF],
        media_type="text/event-stream",
        summary="Follow a pickup booking live (Server-Sent Events): check-in, loading, cancellation",
        description=_SSE_DOC,
        responses={406: NOT_A_STREAM, 429: TOO_MANY_STREAMS},
    )
    async def pickup_live(
        self,
        booking_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        live: Live,
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        await get_pickup(db_session, booking_id, viewer=request.user)
        require_event_stream(request)
        return live.stream(
            pickup_channel(booking_id),
            stream_viewer(request),
            await _backlog(db_session, "pickup", booking_id, _event_id(last_event_id)),
        )

    @get(
        "/dispatch/live",
        guards=[STAFF],
        media_type="text/event-stream",
        summary="The dispatch console's live feed: every order, pickup, trip and plan event (staff)",
        description=_SSE_DOC,
        responses={406: NOT_A_STREAM, 429: TOO_MANY_STREAMS},
    )
    async def dispatch_live(self, request: Req, live: Live) -> ServerSentEvent:
        require_event_stream(request)
        return live.stream(DISPATCH_CHANNEL, stream_viewer(request))


class SessionCheck(Protocol):
    """What the composition root keeps as `state.session_guard` (api/sessions.py): raises when the caller's login
    session has ended (logout, deactivation, a new role or password)."""

    async def check(self, principal: Principal) -> None: ...


def stream_viewer(request: Req) -> StreamViewer:
    """The caller, followed until its token expires or its login session ends: open streams re-check the session
    every `LIVE_RECHECK_S` and close when it has ended."""
    token: Token = request.auth
    guard: SessionCheck | None = getattr(request.app.state, "session_guard", None)
    principal = request.user

    async def still_allowed() -> bool:
        if guard is None:
            return True
        try:
            await guard.check(principal)
        except DomainError:
            return False
        return True

    return StreamViewer(user_id=principal.id, expires_at=token.exp.timestamp(), still_allowed=still_allowed)


async def _backlog(
    session: AsyncSession, subject_type: str, subject_id: uuid.UUID, since: uuid.UUID | None
) -> list[EventPayload]:
    """The subject's events after `since` (what a reconnecting stream missed); none without it."""
    if since is None:
        return []
    rows = await session.scalars(
        select(Event)
        .where(Event.subject_type == subject_type, Event.subject_id == subject_id, Event.id > since)
        .order_by(Event.id)
        .limit(200)
    )
    return [event_payload(e) for e in rows]


def _event_id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
