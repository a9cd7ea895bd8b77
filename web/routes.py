"""The browser apps: HTML shells under /app, static assets (ES modules, CSS, dictionaries) under /static.

Each app is one server-rendered shell; its ES module draws the screens and talks to the JSON API under /api/v1.
No template engine is needed for shells this small: `string.Template` from the standard library fills them.
"""

from __future__ import annotations

import hashlib
import html
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from litestar import MediaType, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
STATIC_PATH = "/static"


def content_security_policy(tile_url: str = "") -> str:
    """Pages run only our own scripts; WebAssembly (the QR decoder) needs 'wasm-unsafe-eval', camera frames are
    blobs. Map tiles (MAP_TILE_URL, e.g. an OpenStreetMap tile server) are the one thing loaded from elsewhere."""
    img = "img-src 'self' data: blob:"
    origin = tile_origin(tile_url)
    if origin:
        img += f" {origin}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "style-src 'self'",
            img,
            "media-src 'self' blob: mediastream:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def tile_url() -> str:
    """The map tile URL template (`{z}/{x}/{y}`) from MAP_TILE_URL; empty: maps draw on a plain background."""
    value = os.environ.get("MAP_TILE_URL", "").strip()
    return value if tile_origin(value) else ""


def tile_origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in parts.netloc for c in " ;'\\\""):
        return ""
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = content_security_policy()
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}


@dataclass(frozen=True)
class App:
    name: str
    title: str  # English; the page's script replaces it with the chosen language's
    body_class: str = ""


APPS = {
    app.name: app
    for app in (
        App("login", "Log in"),
        App("customer", "Customer"),
        App("rack", "Loading rack", body_class="wide"),
        App("dispatcher", "Dispatcher", body_class="wide"),
        App("driver", "Driver"),
        App("office", "Back office", body_class="wide"),
        App("apply", "Open an account"),  # the sign-up form a referral QR code leads to (no login)
    )
}
# Pages of a link handed to someone without a login; the composition root serves them at /pass/… and /share/…
# once it has checked the link (api/pages.py).
LINK_PAGES = {app.name: app for app in (App("pass", "Pickup pass"), App("share", "Delivery tracking"))}
LOADING = '<p class="loading" data-i18n="common.loading">Loading…</p>'


@dataclass(frozen=True)
class Notice:
    """A message a link page shows instead of loading (the link no longer works), in both languages: the page's
    script shows the chosen one, and without a script both are there."""

    code: str
    zh: str
    en: str

    def html(self) -> str:
        return (
            f'<div class="notice link-ended" role="alert" data-code="{html.escape(self.code, quote=True)}">'
            f'<h1 lang="zh-CN">{html.escape(self.zh)}</h1><h1 lang="en">{html.escape(self.en)}</h1></div>'
        )


@cache
def _shell() -> Template:
    return Template((WEB_DIR / "templates" / "page.html").read_text(encoding="utf-8"))


@cache
def asset_version() -> str:
    """A short hash of every static file: changes whenever a deployment changes any asset."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def render_page(app: App, *, notice: Notice | None = None) -> str:
    return _shell().substitute(
        app=app.name,
        title=app.title,
        body_class=app.body_class,
        static=STATIC_PATH,
        v=asset_version(),
        tile_url=html.escape(tile_url(), quote=True),
        main=notice.html() if notice else LOADING,
        # A link page has no app home to go back to: its brand stays on the page.
        home="#main" if app.name in LINK_PAGES else f"/app/{app.name}",
    )


def _page(app: App, *, status_code: int = 200, notice: Notice | None = None, private: bool = False) -> Response[str]:
    headers = {**PAGE_HEADERS, "Content-Security-Policy": content_security_policy(tile_url())}
    if private:  # a link that is a capability: kept out of caches and search engines
        headers |= {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    return Response(
        render_page(app, notice=notice), media_type=MediaType.HTML, headers=headers, status_code=status_code
    )


def link_page(name: str, *, status_code: int = 200, notice: Notice | None = None) -> Response[str]:
    """The page of a pass or share link (`LINK_PAGES`): the app, or `notice` with the link's error status."""
    return _page(LINK_PAGES[name], status_code=status_code, notice=notice, private=True)


def _app_handler(app: App) -> HTTPRouteHandler:
    """`/app/NAME` and everything below it: the app's own router reads the rest of the path."""

    @get(
        [f"/app/{app.name}", f"/app/{app.name}/{{rest:path}}"],
        name=f"web-{app.name}",
        exclude_from_auth=True,
        include_in_schema=False,
        media_type=MediaType.HTML,
    )
    async def page() -> Response[str]:  # the rest of the path is the app's own business (history routing)
        return _page(app)

    return page


@get(["/", "/app"], name="web-home", exclude_from_auth=True, include_in_schema=False)
async def home() -> Redirect:
    return Redirect(path="/app/login")


@get("/app/{unknown:str}", name="web-unknown", exclude_from_auth=True, include_in_schema=False)
async def unknown_app(unknown: FromPath[str]) -> Response[str]:
    raise NotFoundException(f"no app called {unknown!r}")


web_router = Router(
    path="/",
    route_handlers=[
        home,
        unknown_app,
        *(_app_handler(app) for app in APPS.values()),
        create_static_files_router(
            path=STATIC_PATH,
            directories=[STATIC_DIR],
            name="web-static",
            # Revalidate each time (a cheap 304 with the ETag): ES modules import each other without version tags.
            cache_control=CacheControlHeader(no_cache=True),
        ),
    ],
)

__all__ = [
    "APPS",
    "LINK_PAGES",
    "STATIC_DIR",
    "Notice",
    "asset_version",
    "content_security_policy",
    "link_page",
    "render_page",
    "tile_url",
    "web_router",
]
