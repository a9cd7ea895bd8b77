"""The web apps' shells and assets, without a browser: pages, headers, dictionaries, no CDN."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from web.routes import APPS, STATIC_DIR, web_router

JS_DIR = STATIC_DIR / "js"
I18N_DIR = STATIC_DIR / "i18n"
# Keys built at run time from the API's codes (statuses, event types, error and reason codes, roles, weekdays).
DYNAMIC_PREFIXES = ("status.", "events.", "errors.", "reasons.", "roles.", "weekday.")


@pytest.fixture(scope="module")
def client() -> TestClient:
    with TestClient(Litestar(route_handlers=[web_router])) as c:
        yield c


@pytest.mark.parametrize("app", sorted(APPS))
def test_each_app_has_a_shell_with_a_strict_policy(client: TestClient, app: str) -> None:
    for path in (f"/app/{app}", f"/app/{app}/some/deeper/path"):
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self' 'wasm-unsafe-eval'" in policy
        assert f'src="/static/js/{app}/main.js?v=' in page.text
        assert '<html lang="en"' in page.text and 'name="viewport"' in page.text
        assert (JS_DIR / app / "main.js").is_file()


def test_home_redirects_to_login_and_unknown_apps_are_404(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/app/login"
    assert client.get("/app/nope").status_code == 404


def test_static_assets_are_served_with_revalidation(client: TestClient) -> None:
    answer = client.get("/static/js/core/api.js")
    assert answer.status_code == 200
    assert "javascript" in answer.headers["content-type"]
    assert "no-cache" in answer.headers["cache-control"]
    assert client.get("/static/css/app.css").status_code == 200


def _dictionary(name: str) -> dict[str, str]:
    return dict(json.loads((I18N_DIR / f"{name}.json").read_text(encoding="utf-8")))


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, zh = _dictionary("en"), _dictionary("zh-CN")
    assert set(en) == set(zh), set(en) ^ set(zh)
    for key in en:
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", zh[key])), key
        assert zh[key].strip(), key


def test_every_key_the_code_uses_is_in_the_dictionaries() -> None:
    en = _dictionary("en")
    sources = [p.read_text(encoding="utf-8") for p in JS_DIR.rglob("*.js")]
    sources.append((STATIC_DIR.parent / "templates" / "page.html").read_text(encoding="utf-8"))
    used = {
        key
        for text in sources
        for key in re.findall(r"[\"'`]((?:[a-z_]+)\.[a-z_0-9]+)[\"'`]", text)
        if not key.startswith(("dd.", "zxing")) and not key.endswith((".js", ".json", ".wasm", ".css", ".svg"))
    }
    missing = sorted(k for k in used if k not in en and not k.startswith(DYNAMIC_PREFIXES))
    assert not missing, missing


def test_no_page_asset_points_outside_the_site() -> None:
    """Everything a page loads comes from this app: no CDN at run time (the vendored bundle is excluded: it names
    its upstream CDN as a default that web/vendor-src overrides)."""
    for path in [*JS_DIR.rglob("*.js"), STATIC_DIR / "css" / "app.css", STATIC_DIR.parent / "templates" / "page.html"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/)", text), path


def test_the_decoder_bundle_is_built_when_npm_ran() -> None:
    vendor = STATIC_DIR / "vendor"
    if not (Path(__file__).resolve().parents[2] / "node_modules").is_dir():
        pytest.skip("npm ci && npm run build has not run here")
    assert (vendor / "zxing-reader.js").stat().st_size < 200_000
    assert (vendor / "zxing_reader.wasm").stat().st_size < 1_500_000


def test_the_chart_bundle_is_built_small_and_runs_under_the_pages_policy() -> None:
    """uPlot is bundled from npm (never a CDN): no eval or Function (script-src has no 'unsafe-eval'), no style
    attributes or <style> elements (style-src has no 'unsafe-inline'; it styles through the CSSOM, which the policy
    allows), and its stylesheet is served from here."""
    vendor = STATIC_DIR / "vendor"
    if not (Path(__file__).resolve().parents[2] / "node_modules").is_dir():
        pytest.skip("npm ci && npm run build has not run here")
    bundle = (vendor / "uplot.js").read_text(encoding="utf-8")
    assert len(bundle) < 80_000
    for forbidden in (
        "eval(",
        "new Function",
        'setAttribute("style"',
        "innerHTML",
        'createElement("style")',
        "cssText",
    ):
        assert forbidden not in bundle, forbidden
    assert (vendor / "uplot.css").stat().st_size < 10_000
    charts = (JS_DIR / "core" / "charts.js").read_text(encoding="utf-8")
    assert 'const VENDOR = "/static/vendor"' in charts


def _exports(source: str) -> set[str]:
    names = set(re.findall(r"export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+(\w+)", source))
    for group in re.findall(r"export\s*\{([^}]*)\}", source):
        names |= {n.split(" as ")[-1].strip() for n in group.split(",") if n.strip()}
    return names


def test_every_name_a_module_imports_is_exported_by_its_module() -> None:
    """A name imported that its module does not export stops the whole app in the browser (a merge can drop one)."""
    modules = {path.resolve(): path.read_text(encoding="utf-8") for path in JS_DIR.rglob("*.js")}
    missing = []
    for path, source in modules.items():
        for names, target in re.findall(r'import\s*\{([^}]*)\}\s*from\s*"(\.[^"]+)"', source):
            module = (path.parent / target).resolve()
            if module not in modules:
                missing.append(f"{path.relative_to(JS_DIR.resolve())}: no module {target}")
                continue
            exported = _exports(modules[module])
            for name in (n.split(" as ")[0].strip() for n in names.split(",")):
                if name and name not in exported:
                    missing.append(f"{path.relative_to(JS_DIR.resolve())}: {name} is not exported by {target}")
    assert not missing, missing
