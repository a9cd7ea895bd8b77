"""Helpers of the end-to-end tests: launching Debian's Chromium, watching a page, logging in, screenshots,
and a small client of the running server's API."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "demo"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install playwright)"
    return None


def launch(playwright: Any, *extra_args: str) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])


class Server:
    """The running app: its URL and a client of its API (as the demo users)."""

    def __init__(self, url: str, log: Path | None = None) -> None:
        self.url, self.log = url, log
        self.http = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
        self.all_day_depot: dict[str, Any] = {}
        self._tokens: dict[str, str] = {}
        self.passwords: dict[str, str] = {}  # users a test made (the demo users' password is PASSWORD)

    def password(self, username: str) -> str:
        return self.passwords.get(username, PASSWORD)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            answer = self.http.post("/auth/token", json={"username": username, "password": self.password(username)})
            answer.raise_for_status()
            self._tokens[username] = str(answer.json()["access_token"])
        return self._tokens[username]

    def get(self, path: str, username: str) -> Any:
        answer = self.http.get(path, headers={"Authorization": f"Bearer {self.token(username)}"})
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def all(self, path: str, username: str) -> list[Any]:
        """Every item of a paged list (`{items, total, limit, offset}`), read page after page."""
        items: list[Any] = []
        glue = "&" if "?" in path else "?"
        while True:
            page = self.get(f"{path}{glue}limit=500&offset={len(items)}", username)
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                return items

    def send(self, method: str, path: str, username: str, body: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token(username)}"}
        answer = self.http.request(method, path, headers=headers, json=body)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def plan(self, body: dict[str, Any], *, within_s: float = 90) -> dict[str, Any]:
        """Plan a day as the dispatcher and wait for the job to succeed; its final state (with `plan_id`)."""
        job = self.send("POST", "/plans", "dispatcher", body)
        deadline = time.monotonic() + within_s
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.get(f"/plan-jobs/{job['job_id']}", "dispatcher")
            if state["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.5)
        assert state["status"] == "succeeded", f"{state}\n{self.log_tail()}"
        return state

    def log_tail(self, lines: int = 60) -> str:
        """The server's and worker's last words (without the periodic outbox chatter), for a failure message."""
        if self.log is None or not self.log.exists():
            return ""
        kept = [line for line in self.log.read_text(errors="replace").splitlines() if "webhooks_outbox" not in line]
        return "server log:\n" + "\n".join(kept[-lines:])


class PageWatch:
    """Console errors, page errors and every request's host, to assert on at the end of a test."""

    def __init__(self, page: Any, allowed_statuses: tuple[int, ...] = ()) -> None:
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        self.allowed = [f"status of {s}" for s in allowed_statuses]
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("request", lambda request: self.hosts.add(httpx.URL(request.url).host))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        # A refusal the test provokes on purpose shows as "Failed to load resource: ... status of 422".
        if text.startswith("Failed to load resource") and any(a in text for a in self.allowed):
            return
        self.errors.append(text)

    def assert_clean(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert self.hosts <= {"127.0.0.1"}, f"requests left the machine: {self.hosts}"


def new_page(browser: Any, *, allowed_statuses: tuple[int, ...] = (), **context_args: Any) -> tuple[Any, PageWatch]:
    context = browser.new_context(viewport=PHONE, locale="en-US", **context_args)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page, PageWatch(page, allowed_statuses)


def login(page: Any, server: Server, username: str, *, lang: str = "en") -> None:
    page.goto(f"{server.url}/app/login")
    page.wait_for_selector("input[name=username]")  # the app is ready: its language switch listens
    page.select_option("#lang", lang)
    page.wait_for_selector(f"html[lang='{lang}']")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", server.password(username))
    page.click("form button[type=submit]")
    try:
        page.wait_for_url(lambda url: "/app/login" not in url)
    except Exception as error:  # say what the page showed: a CI run once timed out here with nothing to go on
        shown = " ".join(page.evaluate("document.body.innerText").split())[:400]
        raise AssertionError(f"login as {username} stayed on {page.url}; the page shows: {shown!r}") from error


def shoot(page: Any, name: str) -> None:
    """Screenshots at phone (390x844) and desktop (1440x900) sizes, after checking that nothing overflows
    sideways on screens from 360 px to 1920 px wide."""
    SCREENSHOTS.mkdir(exist_ok=True)
    original = page.viewport_size
    for width in (360, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name}: the page is {overflow} px wider than a {width} px screen"
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)


def next_slot_start(now: datetime | None = None) -> datetime:
    """The start of the next half-hour slot in Shanghai at least 2 minutes from now."""
    soon = (now or datetime.now(UTC)).astimezone(SHANGHAI) + timedelta(minutes=2)
    return soon.replace(minute=0 if soon.minute < 30 else 30, second=0, microsecond=0) + timedelta(minutes=30)
