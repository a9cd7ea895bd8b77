"""Local stand-ins for the notification providers, which cannot be reached from here (tests and `make bench-notify`):

* `SmtpSink`: a real SMTP server (aiosmtpd) that keeps every message it receives;
* `ProviderServer`: one HTTP server (uvicorn, in a thread) that plays Tencent Cloud SMS (`POST /`) and the WeChat
  Official Account API (`GET /cgi-bin/token`, `POST /cgi-bin/message/template/send`). It checks each request the way
  the provider does: the SMS request's TC3-HMAC-SHA256 signature is recomputed here from the documented algorithm
  (written out again below, not taken from the product code), the timestamp must be recent, the body must carry the
  documented fields; a WeChat message needs the access token the server issued. Requests it refuses get the
  provider's error answer and are counted, never kept as delivered.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

SMS_SECRET_ID = "AKIDtestsecretid0001"
SMS_SECRET_KEY = "test-sms-secret-key-0001"
SMS_APP_ID = "1400000001"
SMS_SIGN_NAME = "柴油直达"
WECHAT_APP_ID = "wx0123456789abcdef"
WECHAT_SECRET = "wechat-test-app-secret"


# --------------------------------------------------------------------------------------------------------- SMTP


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    subject: str
    text: str
    message_id: str


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self.sink.lock:
            self.sink.messages.append(
                ReceivedMail(
                    sender=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                    subject=str(message["Subject"]),
                    text=text,
                    message_id=str(message["Message-ID"]),
                )
            )
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 (its own thread and event loop)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()
        self.port = _free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [m for m in self.messages if address in m.recipients]


# ------------------------------------------------------------------------------- Tencent Cloud SMS + WeChat API


def tc3_signature(*, secret_key: str, host: str, content_type: str, body: bytes, timestamp: int) -> str:
    """Tencent Cloud API signature v3 (TC3-HMAC-SHA256) of a POST to `/` with no query, as its documentation lays
    it out: canonical request, string to sign, derived key (date, service, "tc3_request"), hex HMAC."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical_request = (
        "POST\n/\n\n" + f"content-type:{content_type}\nhost:{host}\n\n" + "content-type;host\n"
    ) + hashlib.sha256(body).hexdigest()
    string_to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n"
        + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    )
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, "sms", "tc3_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class Sms:
    phone: str
    template_id: str
    params: list[str]
    session_context: str  # our notification's id


@dataclass
class WechatMessage:
    touser: str
    template_id: str
    data: dict[str, Any]
    url: str | None


@dataclass
class ProviderState:
    sms: list[Sms] = field(default_factory=list)
    wechat: list[WechatMessage] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # why requests were refused
    unavailable_for: int = 0  # answer this many SMS requests with 503 first (the provider is down)
    tokens_issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)  # tokens WeChat no longer takes (errcode 40001)
    first_sms_at: float | None = None  # time.perf_counter() of the first and the last SMS accepted
    last_sms_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ProviderServer:
    """Tencent Cloud SMS and the WeChat API on 127.0.0.1, over real HTTP."""

    def __init__(self) -> None:
        self.state = ProviderState()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProviderServer:
        import uvicorn

        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake provider did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        assert self._thread is not None
        self._thread.join(timeout=10)

    # ----------------------------------------------------------------------------------------------- ASGI

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode())
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/":
            status, answer = self._sms(headers, body)
        elif method == "GET" and path == "/cgi-bin/token":
            status, answer = self._token(query)
        elif method == "POST" and path == "/cgi-bin/message/template/send":
            status, answer = self._template(query, body)
        else:
            status, answer = 404, {"error": "no such endpoint"}
        payload = json.dumps(answer, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _refuse(self, why: str) -> None:
        with self.state.lock:
            self.state.refused[why] += 1

    # -------------------------------------------------------------------------------------------- SMS

    def _sms(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            if self.state.unavailable_for > 0:
                self.state.unavailable_for -= 1
                return 503, {"message": "service unavailable"}
        error = self._sms_error(headers, body)
        if error is not None:
            self._refuse(error[0])
            return 200, {"Response": {"Error": {"Code": error[0], "Message": error[1]}, "RequestId": "refused"}}
        request = json.loads(body)
        sms = Sms(
            phone=request["PhoneNumberSet"][0],
            template_id=request["TemplateId"],
            params=request["TemplateParamSet"],
            session_context=request.get("SessionContext", ""),
        )
        with self.state.lock:
            self.state.sms.append(sms)
            self.state.last_sms_at = time.perf_counter()
            self.state.first_sms_at = self.state.first_sms_at or self.state.last_sms_at
            serial = f"2433:{len(self.state.sms)}"
        return 200, {
            "Response": {
                "SendStatusSet": [
                    {
                        "SerialNo": serial,
                        "PhoneNumber": sms.phone,
                        "Fee": 1,
                        "SessionContext": sms.session_context,
                        "Code": "Ok",
                        "Message": "send success",
                        "IsoCode": "CN",
                    }
                ],
                "RequestId": f"req-{serial}",
            }
        }

    def _sms_error(self, headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            return "InvalidAction", "unknown action or version"
        try:
            timestamp = int(headers["x-tc-timestamp"])
        except (KeyError, ValueError):
            return "MissingParameter", "X-TC-Timestamp"
        if abs(time.time() - timestamp) > 300:
            return "AuthFailure.SignatureExpire", "the request is more than 5 minutes old"
        authorization = headers.get("authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        parts = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
        credential = parts.get("Credential", "").split("/")
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        if algorithm != "TC3-HMAC-SHA256" or credential != [SMS_SECRET_ID, date, "sms", "tc3_request"]:
            return "AuthFailure.SecretIdNotFound", "bad credential scope"
        if parts.get("SignedHeaders") != "content-type;host":
            return "AuthFailure.SignatureFailure", "signed headers"
        expected = tc3_signature(
            secret_key=SMS_SECRET_KEY,
            host=headers.get("host", ""),
            content_type=headers.get("content-type", ""),
            body=body,
            timestamp=timestamp,
        )
        if not hmac.compare_digest(parts.get("Signature", ""), expected):
            return "AuthFailure.SignatureFailure", "the signature does not match"
        try:
            request = json.loads(body)
        except ValueError:
            return "InvalidParameter", "the body is not JSON"
        phones = request.get("PhoneNumberSet")
        if not (isinstance(phones, list) and len(phones) == 1 and str(phones[0]).startswith("+")):
            return "InvalidParameterValue.IncorrectPhoneNumber", "PhoneNumberSet"
        if request.get("SmsSdkAppId") != SMS_APP_ID or request.get("SignName") != SMS_SIGN_NAME:
            return "InvalidParameterValue.SdkAppIdNotExist", "SmsSdkAppId or SignName"
        params = request.get("TemplateParamSet")
        if not request.get("TemplateId") or not (isinstance(params, list) and all(isinstance(p, str) for p in params)):
            return "InvalidParameterValue.TemplateParameterFormatError", "TemplateId or TemplateParamSet"
        return None

    # ----------------------------------------------------------------------------------------- WeChat

    def _token(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if query.get("grant_type") != ["client_credential"] or query.get("appid") != [WECHAT_APP_ID]:
            self._refuse("wechat_appid")
            return 200, {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != [WECHAT_SECRET]:
            self._refuse("wechat_secret")
            return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
        with self.state.lock:
            token = f"ACCESS_TOKEN_{len(self.state.tokens_issued) + 1}"
            self.state.tokens_issued.append(token)
        return 200, {"access_token": token, "expires_in": 7200}

    def _template(self, query: dict[str, list[str]], body: bytes) -> tuple[int, dict[str, Any]]:
        token = (query.get("access_token") or [""])[0]
        with self.state.lock:
            valid = token in self.state.tokens_issued and token not in self.state.revoked
        if not valid:
            self._refuse("wechat_token")
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        try:
            request = json.loads(body)
        except ValueError:
            self._refuse("wechat_body")
            return 200, {"errcode": 47001, "errmsg": "data format error"}
        data = request.get("data")
        wellformed = (
            isinstance(request.get("touser"), str)
            and request.get("template_id")
            and isinstance(data, dict)
            and all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values())
            and "first" in data
        )
        if not wellformed:
            self._refuse("wechat_body")
            return 200, {"errcode": 47001, "errmsg": "data format error"}
        with self.state.lock:
            self.state.wechat.append(
                WechatMessage(
                    touser=request["touser"], template_id=request["template_id"], data=data, url=request.get("url")
                )
            )
            msgid = 200228332 + len(self.state.wechat)
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    # ---------------------------------------------------------------------------------------- queries

    def sms_to(self, phone: str) -> list[Sms]:
        with self.state.lock:
            return [m for m in self.state.sms if m.phone == phone]

    def wechat_to(self, openid: str) -> list[WechatMessage]:
        with self.state.lock:
            return [m for m in self.state.wechat if m.touser == openid]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def provider_env(smtp: SmtpSink | None, providers: ProviderServer) -> dict[str, str]:
    """The environment of a worker that sends through the fakes."""
    env = {
        "SMS_SECRET_ID": SMS_SECRET_ID,
        "SMS_SECRET_KEY": SMS_SECRET_KEY,
        "SMS_BASE_URL": providers.url,
        "SMS_SDK_APP_ID": SMS_APP_ID,
        "SMS_SIGN_NAME": SMS_SIGN_NAME,
        "SMS_TEMPLATE_IDS": "*=1000001",
        "WECHAT_APP_ID": WECHAT_APP_ID,
        "WECHAT_APP_SECRET": WECHAT_SECRET,
        "WECHAT_BASE_URL": providers.url,
        "WECHAT_TEMPLATE_IDS": "*=TEMPLATE_ALL",
    }
    if smtp is not None:
        env.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_STARTTLS": "false"})
    return env
