"""The pages of links handed to people without a login: a truck driver's pickup pass (`/pass/{token}`) and an
order's share link (`/share/{token}`).

Here in the composition root because a page needs both the web app (web/) and the link's check (tracking/), and
web/ imports no domain. A link that works gets its app, whose script reads the API (`/api/v1/pass/…`,
`/api/v1/share/…`); one that no longer works gets its status (404, 410) and a page that says why in both languages.
"""

from __future__ import annotations

from datetime import datetime

from litestar import MediaType, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError
from core.settings import Settings
from tracking import passes, share
from web.routes import Notice, link_page

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]


def _notice(code: str, zh: str, en: str) -> tuple[str, Notice]:
    return code, Notice(code, zh, en)


PASS_NOTICES = dict(
    [
        _notice(
            "pass_invalid",
            "此提货通行证无效。请向客户索取新的链接。",
            "This pickup pass is not valid. Ask the customer for a new link.",
        ),
        _notice("pass_used", "已装车完成：此提货通行证已失效。", "The pickup is loaded: this pass has done its job."),
        _notice(
            "pass_cancelled",
            "此提货预约已取消。请联系客户。",
            "This pickup was cancelled. Please contact the customer.",
        ),
        _notice("pass_expired", "提货时段已过，此通行证已过期。", "The pickup slot is over: this pass has expired."),
        _notice(
            "pass_replaced",
            "客户已发送新的通行证，请打开最新的链接。",
            "A newer pass was sent for this pickup: open the latest link.",
        ),
    ]
)
SHARE_NOTICES = dict(
    [
        _notice("share_link_invalid", "此跟踪链接无效。", "This tracking link is not valid."),
        _notice(
            "share_link_expired",
            "此跟踪链接已过期，请索取新的链接。",
            "This tracking link has expired: ask for a new one.",
        ),
        _notice(
            "share_link_revoked",
            "此跟踪链接已被撤回，请索取新的链接。",
            "This tracking link was withdrawn: ask for a new one.",
        ),
    ]
)


def _refused(name: str, error: DomainError, notices: dict[str, Notice], fallback: str) -> Response[str]:
    return link_page(name, status_code=error.status_code, notice=notices.get(error.code, notices[fallback]))


@get("/pass/{token:str}", name="page-pass", exclude_from_auth=True, include_in_schema=False, media_type=MediaType.HTML)
async def pass_page(token: FromPath[str], db_session: Db, settings: Conf, now: Now) -> Response[str]:
    """The truck driver's pass: the pass app, or why it no longer works (404 / 410)."""
    try:
        await passes.open_pass(db_session, token, secret_key=settings.auth.secret_key, now=now)
    except DomainError as error:
        return _refused("pass", error, PASS_NOTICES, "pass_invalid")
    return link_page("pass")


@get(
    "/share/{token:str}", name="page-share", exclude_from_auth=True, include_in_schema=False, media_type=MediaType.HTML
)
async def share_page(token: FromPath[str], db_session: Db, settings: Conf, now: Now) -> Response[str]:
    """An order's share link as a page: status, ETA and the tanker on a map while it is on its way."""
    try:
        await share.shared_order(db_session, token, secret_key=settings.auth.secret_key, now=now)
    except DomainError as error:
        return _refused("share", error, SHARE_NOTICES, "share_link_invalid")
    return link_page("share")


LINK_PAGE_HANDLERS = [pass_page, share_page]
