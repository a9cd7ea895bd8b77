"""HTTP handlers of notifications: the user's settings, the in-app inbox (and its live stream), the "same as last
time" link, and the outbox for admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.schemas import Page
from core.settings import Settings
from notify import inbox, preferences
from notify import schemas as s
from notify.channels import available_channels
from notify.config import notify_settings
from notify.facts import hhmm
from notify.links import open_repeat_token
from notify.live import LivePlugin, user_channel
from notify.live_controllers import NOT_A_STREAM, TOO_MANY_STREAMS, require_event_stream, stream_viewer
from orders.controllers import Limit, Offset
from orders.delivery import get_order

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Live = NamedDependency[LivePlugin]
Req = Request[Principal, Any, Any]
CUSTOMER = roles_guard(Role.CUSTOMER)
ADMIN = roles_guard(Role.ADMIN)
Unread = Annotated[bool, QueryParameter(description="only the notifications not read yet")]


class NotificationsController(Controller):
    tags = ["notifications"]

    @get(
        "/me/notification-settings",
        guards=[CUSTOMER],
        summary="My notification settings",
        description="Without settings of its own a user gets in-app notifications of every kind, in Chinese.",
    )
    async def get_settings(self, request: Req, db_session: Db, settings: Conf) -> s.SettingsOut:
        pref = await preferences.get_settings(db_session, user=request.user, default_timezone=settings.default_timezone)
        return preferences.settings_out(pref, available=available_channels(notify_settings()))

    @put(
        "/me/notification-settings",
        guards=[CUSTOMER],
        status_code=HTTP_200_OK,
        summary="Replace my notification settings",
        description="`channels`: `web` (the in-app inbox, on or off) and an address per other channel, which turns it "
        "on (`email`, `sms` as +<country><number>, `wechat` the openid under our Official Account); `events`: the "
        "kinds wanted (`available_events` of GET, or `['*']`); `quiet_hours` `{start, end, timezone?}` (HH:MM, may "
        "span midnight): SMS and WeChat wait until they end, email and in-app do not; `language` `zh-CN` or `en`. "
        "422 `invalid_address`, `unknown_event_type`, `invalid_quiet_hours`, `invalid_timezone`, `invalid_language`.",
    )
    async def put_settings(
        self, data: JSONBody[s.SettingsIn], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.SettingsOut:
        pref = await preferences.put_settings(
            db_session, user=request.user, data=data, default_timezone=settings.default_timezone, now=now
        )
        return preferences.settings_out(pref, available=available_channels(notify_settings()))

    @get("/me/notifications", guards=[CUSTOMER], summary="My in-app notifications, newest first, with the unread count")
    async def list_notifications(
        self, request: Req, db_session: Db, unread: Unread = False, limit: Limit = 20, offset: Offset = 0
    ) -> s.InboxOut:
        return await inbox.inbox(db_session, user=request.user, unread_only=unread, limit=limit, offset=offset)

    @post(
        "/me/notifications/{notification_id:uuid}/read",
        guards=[CUSTOMER],
        status_code=HTTP_200_OK,
        summary="Mark one of my notifications read",
    )
    async def read(
        self, notification_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now
    ) -> s.NotificationOut:
        notification = await inbox.mark_read(db_session, notification_id, user=request.user, now=now)
        return inbox.notification_out(notification)

    @post("/me/notifications/read-all", guards=[CUSTOMER], status_code=HTTP_200_OK, summary="Mark all mine read")
    async def read_all(self, request: Req, db_session: Db, now: Now) -> dict[str, int]:
        return {"marked": await inbox.mark_all_read(db_session, user=request.user, now=now)}

    @get(
        "/me/notifications/live",
        guards=[CUSTOMER],
        media_type="text/event-stream",
        summary="My in-app notifications as they arrive (Server-Sent Events)",
        description="As the other live streams: `ready`, then one message `event: notification` per new in-app "
        "notification (`data`: the event, whose `data` holds `notification_id`, `kind`, `title`, `body`, `link`).",
        responses={406: NOT_A_STREAM, 429: TOO_MANY_STREAMS},
    )
    async def live(self, request: Req, live: Live) -> ServerSentEvent:
        require_event_stream(request)
        return live.stream(user_channel(request.user.id), stream_viewer(request))

    @get(
        "/me/repeat-order/{repeat_token:str}",
        guards=[CUSTOMER],
        summary="The order form as my last order (from a day's-price message's link)",
        description="`repeat_token`: the `repeat` parameter of the link. 404 `repeat_link_not_found` when it was "
        "altered, has expired or belongs to another account.",
    )
    async def repeat_order(
        self,
        repeat_token: Annotated[str, PathParameter(max_length=600)],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
    ) -> s.RepeatOrderOut:
        order_id = open_repeat_token(
            repeat_token, customer_id=request.user.customer_id, now=now, secret_key=settings.auth.secret_key
        )
        order = await get_order(db_session, order_id, viewer=request.user)
        return s.RepeatOrderOut(
            order_id=order.id,
            site_id=order.site_id,
            product_code=order.product_code,
            quantity_litres=order.quantity_litres,
            window_start=hhmm(order.window_start, order.timezone),
            window_end=hhmm(order.window_end, order.timezone),
            note=order.note,
        )

    @get(
        "/notifications",
        guards=[ADMIN],
        summary="The notification outbox (admin): e.g. `status=failed` to follow up what never reached its customer",
    )
    async def outbox(
        self,
        db_session: Db,
        status: Annotated[str | None, QueryParameter(description="pending | sent | failed")] = None,
        channel: Annotated[str | None, QueryParameter(description="email | sms | wechat")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.OutboxEntryOut]:
        rows, total = await inbox.outbox_entries(db_session, status=status, channel=channel, limit=limit, offset=offset)
        return Page(items=[inbox.outbox_entry_out(n) for n in rows], total=total, limit=limit, offset=offset)
