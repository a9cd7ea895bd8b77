"""HTTP handlers of share links: create, list and revoke an order's links, and read one without logging in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.schemas import Page
from core.settings import Settings
from orders.controllers import Limit, Offset
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
        description="Anyone with the link sees the order's status, delivery window and ETA, nothing else. The "
        "link starts with `PUBLIC_BASE_URL` (a relative `/api/v1/share/…` when it is not configured), never with "
        "the request's host. At most 20 working links per order (409 `share_link_limit`).",
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
        return await share.create_link(
            db_session,
            order=order,
            ttl_hours=(data or share.ShareIn()).ttl_hours,
            actor=request.user,
            public_base_url=settings.public_base_url,
            secret_key=settings.auth.secret_key,
            now=now,
        )

    @get(
        "/orders/{order_id:uuid}/share",
        guards=[CUSTOMER_OR_STAFF],
        summary="The order's share links (newest first), active, expired or revoked",
    )
    async def list_links(
        self,
        order_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        now: Now,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[share.ShareLinkInfo]:
        await get_order(db_session, order_id, viewer=request.user)
        rows, total = await share.list_links(db_session, order_id=order_id, limit=limit, offset=offset)
        items = [share.link_info(link, now=now) for link in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @delete(
        "/orders/{order_id:uuid}/share/{link_id:uuid}",
        guards=[CUSTOMER_OR_STAFF],
        summary="Revoke a share link",
        description="From now on the link answers 410 `share_link_revoked`. Revoking it again changes nothing.",
    )
    async def revoke(
        self, order_id: FromPath[uuid.UUID], link_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now
    ) -> None:
        await get_order(db_session, order_id, viewer=request.user)
        await share.revoke_link(db_session, order_id=order_id, link_id=link_id, actor=request.user, now=now)

    @get(
        "/share/{token:str}",
        exclude_from_auth=True,
        security=[],
        summary="What a share link shows (no login)",
        description="Status, reference, delivery date, window and ETA, and the tanker's position while it is on "
        "its way to the order's stop (as the customer's own tracking shows it). An unknown or altered link is 404 "
        "`share_link_invalid`, an expired one 410 `share_link_expired`, a revoked one 410 `share_link_revoked`. "
        "A browser (asking for `text/html` first) is sent to the link's page, `/share/{token}`.",
    )
    async def read(
        self, token: Token, request: Req, db_session: Db, settings: Conf, now: Now
    ) -> Response[share.SharedOrderOut] | Redirect:
        if request.accept.best_match([MediaType.JSON, MediaType.HTML]) == MediaType.HTML:
            # A person opened the link in a browser: the page shows it (and says why when it no longer works).
            return Redirect(path=f"{share.PAGE_PATH}{token}", status_code=HTTP_303_SEE_OTHER, headers=_PRIVATE_HEADERS)
        shared = await share.shared_order(
            db_session,
            token,
            secret_key=settings.auth.secret_key,
            now=now,
            positions=request.app.state.position_store,
        )
        return Response(shared, headers=_PRIVATE_HEADERS)
