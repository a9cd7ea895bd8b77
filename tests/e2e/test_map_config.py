"""The map tile setting (MAP_TILE_URL) reaches the page shell, and the page's policy allows exactly that origin."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from web.routes import content_security_policy, tile_url, web_router


def test_no_tile_url_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAP_TILE_URL", raising=False)
    assert tile_url() == ""
    with TestClient(Litestar(route_handlers=[web_router])) as client:
        page = client.get("/app/dispatcher")
    assert '<meta name="dd-tile-url" content="">' in page.text
    assert "img-src 'self' data: blob:;" in page.headers["content-security-policy"]


def test_a_tile_url_is_exposed_and_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    with TestClient(Litestar(route_handlers=[web_router])) as client:
        page = client.get("/app/customer/orders/x")
    assert 'content="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page.text
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    "bad", ["javascript:alert(1)", "tiles/{z}/{x}/{y}.png", "https://a b/{z}", "https://x;script-src *"]
)
def test_a_bad_tile_url_is_ignored(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("MAP_TILE_URL", bad)
    assert tile_url() == ""
    assert content_security_policy(bad) == content_security_policy("")


def test_the_shell_escapes_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAP_TILE_URL", 'https://t.example/{z}/{x}/{y}.png?a="><script>')
    with TestClient(Litestar(route_handlers=[web_router])) as client:
        page = client.get("/app/driver")
    assert "<script>" not in page.text.split("<title>")[0]
