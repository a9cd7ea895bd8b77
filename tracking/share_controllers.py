"""HTTP handlers of share links: create one for an order, and read it without logging in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.settings import Settings
from orders.delivery import get_order
from tracking import share

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Req = Request[Principal, Any, Any]
CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)
Token = Annotated[str, PathParameter(min_length=1, max_length=share.MAX_TOKEN_CHARS)]
_PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class ShareController(Controller):
    tags = ["share"]

    @post(
        "/orders/{order_id:uuid}/share",
        guards=[CUSTOMER_OR_STAFF],
        summary="A read-only tracking link for an order that expires",
        description="Anyone with the link sees the order's status, delivery window and ETA, nothing else.",
    )
    async def create(
        self,
        order_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        settings: Conf,
        now: Now,
        data: JSONBody[share.ShareIn | None] = None,
    ) -> share.ShareLinkOut:
        order = await get_order(db_session, order_id, viewer=request.user)
        return share.create_link(
            order,
            ttl_hours=(data or share.ShareIn()).ttl_hours,
            base_url=str(request.base_url),
            secret_key=settings.auth.secret_key,
            now=now,
        )

    @get(
        "/share/{token:str}",
        exclude_from_auth=True,
        security=[],
        summary="What a share link shows (no login)",
        description="Status, reference, delivery date, window and ETA. An unknown or altered link is 404 "
        "`share_link_invalid`, an expired one 410 `share_link_expired`.",
    )
    async def read(self, token: Token, db_session: Db, settings: Conf, now: Now) -> Response[share.SharedOrderOut]:
        shared = await share.shared_order(db_session, token, secret_key=settings.auth.secret_key, now=now)
        return Response(shared, headers=_PRIVATE_HEADERS)
