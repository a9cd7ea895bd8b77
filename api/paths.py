"""File-name addresses of documents: `/invoices/{id}.pdf` is served by `/invoices/{id}/pdf`.

Litestar's path parameters fill whole path segments and match before routing can look at a suffix, and
`/invoices/{id}` already belongs to a uuid parameter, so the API keeps the documented addresses by rewriting
them before routing (the `/pdf`-style paths answer too, and are what the OpenAPI schema lists).
"""

from __future__ import annotations

import re
from typing import cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DOCUMENT = re.compile(
    rf"^(?P<base>/api/v1/(?:invoices|credit-notes)/{_UUID}|/api/v1/customers/{_UUID}/statements/[^/.]+)"
    r"\.(?P<suffix>pdf|csv|xlsx)$"
)


def rewrite(path: str) -> str | None:
    """The routed path for a file-name address, or None when `path` is not one."""
    match = _DOCUMENT.match(path)
    return f"{match['base']}/{match['suffix']}" if match else None


class DocumentPaths:
    """ASGI wrapper applied in front of the app's router (Litestar middleware only runs after routing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and (routed := rewrite(scope["path"])) is not None:
            scope = cast("HTTPScope", {**scope, "path": routed, "raw_path": routed.encode("ascii")})
        await self.app(scope, receive, send)
