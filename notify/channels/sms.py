"""SMS through Tencent Cloud SMS: the `SendSms` action of API version 2021-01-11, one request per message, signed
with TC3-HMAC-SHA256 (Tencent Cloud API signature v3) as documented:

    CanonicalRequest = POST \\n / \\n (empty query) \\n content-type:<ct>\\nhost:<host>\\n \\n content-type;host \\n
                       hex(SHA256(body))
    StringToSign     = TC3-HMAC-SHA256 \\n <timestamp> \\n <date>/sms/tc3_request \\n hex(SHA256(CanonicalRequest))
    SigningKey       = HMAC(HMAC(HMAC("TC3" + SecretKey, <date>), "sms"), "tc3_request")
    Authorization    = TC3-HMAC-SHA256 Credential=<SecretId>/<date>/sms/tc3_request, SignedHeaders=content-type;host,
                       Signature=hex(HMAC(SigningKey, StringToSign))

with <date> the UTC date of <timestamp>. The message is an approved template (SMS_TEMPLATE_IDS per kind) with the
kind's values in order; `SessionContext` carries the notification's id, returned as is by the provider.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from notify.channels.base import Outcome, Outgoing, describe
from notify.config import SmsSettings, template_for

SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
# Errors that a retry cannot fix: the request itself is wrong (template, number, signature name, credentials).
_PERMANENT_PREFIXES = ("InvalidParameter", "FailedOperation.TemplateIncorrectOrUnapproved", "UnauthorizedOperation")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *, secret_id: str, secret_key: str, host: str, body: bytes, timestamp: int, service: str = SERVICE
) -> str:
    """The `Authorization` header of a POST of `body` (JSON) to `host` at `timestamp`."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join([ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), day), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


def request_body(outgoing: Outgoing, *, settings: SmsSettings) -> bytes:
    template = template_for(settings.templates, outgoing.kind, outgoing.language) or ""
    body = {
        "PhoneNumberSet": [outgoing.address],
        "SmsSdkAppId": settings.sdk_app_id,
        "SignName": settings.sign_name,
        "TemplateId": template,
        "TemplateParamSet": outgoing.ordered_values(),
        "SessionContext": str(outgoing.id),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signed_request(outgoing: Outgoing, *, settings: SmsSettings, timestamp: int) -> tuple[bytes, dict[str, str]]:
    body = request_body(outgoing, settings=settings)
    host = urlsplit(settings.base_url).netloc
    headers = {
        "Authorization": tc3_authorization(
            secret_id=settings.secret_id, secret_key=settings.secret_key, host=host, body=body, timestamp=timestamp
        ),
        "Content-Type": CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": ACTION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": VERSION,
        "X-TC-Region": settings.region,
    }
    return body, headers


def outcome_of(status_code: int, payload: object) -> Outcome:
    """Read Tencent's answer: `Response.Error` for a refused request, else `SendStatusSet[0].Code` ("Ok")."""
    response = payload.get("Response") if isinstance(payload, dict) else None
    if not isinstance(response, dict):
        return Outcome(ok=False, error=f"HTTP {status_code}: not a Tencent Cloud answer")
    error = response.get("Error")
    if isinstance(error, dict):
        code = str(error.get("Code", ""))
        return Outcome(
            ok=False,
            error=f"{code}: {error.get('Message', '')}"[:300],
            permanent=code.startswith(_PERMANENT_PREFIXES) or code.startswith("AuthFailure.SecretIdNotFound"),
        )
    statuses = response.get("SendStatusSet") or [{}]
    first = statuses[0] if isinstance(statuses[0], dict) else {}
    if first.get("Code") == "Ok":
        return Outcome(ok=True, provider_message_id=str(first.get("SerialNo") or response.get("RequestId") or ""))
    code = str(first.get("Code", "unknown"))
    return Outcome(
        ok=False, error=f"{code}: {first.get('Message', '')}"[:300], permanent=code.startswith(_PERMANENT_PREFIXES)
    )


class TencentSmsChannel:
    def __init__(
        self, settings: SmsSettings, *, concurrency: int = 16, wall_clock: Callable[[], float] = time.time
    ) -> None:
        # The provider checks the request's timestamp against its own clock: real time, whatever the app's clock.
        self.settings, self.concurrency, self.wall_clock = settings, concurrency, wall_clock

    async def send_many(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=self.settings.timeout_s, limits=limits, trust_env=False) as client:
            gate = asyncio.Semaphore(self.concurrency)

            async def one(message: Outgoing) -> Outcome:
                async with gate:
                    return await self.send(client, message)

            return list(await asyncio.gather(*(one(m) for m in messages)))

    async def send(self, client: httpx.AsyncClient, outgoing: Outgoing) -> Outcome:
        body, headers = signed_request(outgoing, settings=self.settings, timestamp=int(self.wall_clock()))
        try:
            response = await client.post(f"{self.settings.base_url}/", content=body, headers=headers)
        except httpx.HTTPError as error:
            return Outcome(ok=False, error=describe(error))
        if response.status_code >= 500:
            return Outcome(ok=False, error=f"HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            return Outcome(ok=False, error=f"HTTP {response.status_code}: not JSON")
        return outcome_of(response.status_code, payload)
