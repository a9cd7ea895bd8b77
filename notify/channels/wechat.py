"""WeChat Official Account template messages.

* The access token: `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=` -> `{access_token, expires_in}`,
  kept (per process) until a minute before it expires, fetched again when WeChat says it is invalid or expired
  (errcode 40001, 40014, 42001) and the message is sent again once with the new one.
* The message: `POST /cgi-bin/message/template/send?access_token=` with `{touser, template_id, url, data}`; the
  data are `first` (the title), `keyword1..n` (the kind's values in order) and `remark` (the text), each
  `{"value": ...}`. An answer `{"errcode": 0, "msgid": ...}` accepts it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from notify.channels.base import Outcome, Outgoing, describe
from notify.config import WechatSettings, template_for

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired
# The user unfollowed the account (43004), an invalid openid (40003), a bad template (40037): retrying cannot help.
PERMANENT_ERRORS = frozenset({40003, 40037, 43004})
TOKEN_MARGIN_S = 60.0


@dataclass
class _Token:
    value: str
    expires_at: float  # monotonic


class TokenCache:
    """One access token per (base URL, app id) in this process, shared by the send tasks' threads."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], now: float) -> str | None:
        with self._lock:
            token = self._tokens.get(key)
            return token.value if token is not None and token.expires_at > now else None

    def put(self, key: tuple[str, str], value: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[key] = _Token(value, expires_at)

    def drop(self, key: tuple[str, str], value: str) -> None:
        """Forget a token WeChat refused (unless another thread already replaced it)."""
        with self._lock:
            token = self._tokens.get(key)
            if token is not None and token.value == value:
                del self._tokens[key]


TOKENS = TokenCache()


class TokenUnavailable(Exception):
    pass


def message_body(outgoing: Outgoing, *, settings: WechatSettings) -> dict[str, object]:
    data: dict[str, dict[str, str]] = {"first": {"value": outgoing.title}}
    for index, value in enumerate(outgoing.ordered_values(), start=1):
        data[f"keyword{index}"] = {"value": value}
    data["remark"] = {"value": outgoing.body}
    body: dict[str, object] = {
        "touser": outgoing.address,
        "template_id": template_for(settings.templates, outgoing.kind, outgoing.language) or "",
        "data": data,
    }
    if outgoing.link:
        body["url"] = outgoing.link
    return body


class WechatChannel:
    def __init__(
        self,
        settings: WechatSettings,
        *,
        concurrency: int = 16,
        tokens: TokenCache = TOKENS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.concurrency, self.tokens, self.monotonic = settings, concurrency, tokens, monotonic
        self._key = (settings.base_url, settings.app_id)
        self._fetching = asyncio.Lock()

    async def send_many(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        self._fetching = asyncio.Lock()  # of this event loop
        async with httpx.AsyncClient(timeout=self.settings.timeout_s, trust_env=False) as client:
            gate = asyncio.Semaphore(self.concurrency)

            async def one(message: Outgoing) -> Outcome:
                async with gate:
                    return await self.send(client, message)

            return list(await asyncio.gather(*(one(m) for m in messages)))

    async def token(self, client: httpx.AsyncClient) -> str:
        cached = self.tokens.get(self._key, self.monotonic())
        if cached is not None:
            return cached
        async with self._fetching:  # one fetch for the batch, not one per message
            cached = self.tokens.get(self._key, self.monotonic())
            if cached is not None:
                return cached
            response = await client.get(
                f"{self.settings.base_url}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.settings.app_id,
                    "secret": self.settings.app_secret,
                },
            )
            payload = _json(response)
            token = payload.get("access_token")
            if response.status_code != 200 or not isinstance(token, str):
                raise TokenUnavailable(f"no access token: HTTP {response.status_code} {payload}"[:300])
            expires_in = float(str(payload.get("expires_in", 7200)))
            self.tokens.put(self._key, token, self.monotonic() + max(0.0, expires_in - TOKEN_MARGIN_S))
            return token

    async def send(self, client: httpx.AsyncClient, outgoing: Outgoing) -> Outcome:
        body = message_body(outgoing, settings=self.settings)
        for _ in range(2):  # once more with a new token when WeChat says the token is stale
            try:
                token = await self.token(client)
                response = await client.post(
                    f"{self.settings.base_url}/cgi-bin/message/template/send",
                    params={"access_token": token},
                    json=body,
                )
            except (httpx.HTTPError, TokenUnavailable) as error:
                return Outcome(ok=False, error=describe(error))
            if response.status_code != 200:
                return Outcome(ok=False, error=f"HTTP {response.status_code}")
            payload = _json(response)
            errcode = payload.get("errcode", -1)
            if errcode == 0:
                return Outcome(ok=True, provider_message_id=str(payload.get("msgid", "")))
            if errcode not in TOKEN_ERRORS:
                return Outcome(
                    ok=False,
                    error=f"errcode {errcode}: {payload.get('errmsg', '')}"[:300],
                    permanent=errcode in PERMANENT_ERRORS,
                )
            self.tokens.drop(self._key, token)
        return Outcome(ok=False, error=f"errcode {errcode}: the access token was refused twice")


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
