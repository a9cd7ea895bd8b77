"""Notification settings, read once from the environment (only entry points and handlers call `notify_settings()`).

Channels without their settings are off: no SMTP_HOST, no email; no SMS_SECRET_ID, no SMS; no WECHAT_APP_ID, no
WeChat. Provider base URLs are settings so that tests (and a proxy) can point them elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache


def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _templates(name: str) -> tuple[tuple[str, str], ...]:
    """`order_confirmed=1001,order_confirmed:en=2001,*=1000` as pairs; a typo stops the start."""
    pairs = []
    for item in _text(name).split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{name} must look like `order_confirmed=1001,*=1000`, not {item!r}")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def template_for(templates: tuple[tuple[str, str], ...], kind: str, language: str) -> str | None:
    """The provider's template id for a kind in a language: `kind:lang`, then `kind`, then `*`."""
    found = dict(templates)
    short = language.split("-")[0]
    return found.get(f"{kind}:{language}") or found.get(f"{kind}:{short}") or found.get(kind) or found.get("*")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = ""  # SMTP_HOST: no email without it
    port: int = 587  # SMTP_PORT
    user: str = ""  # SMTP_USER (no login when empty)
    password: str = field(default="", repr=False)  # SMTP_PASSWORD
    sender: str = "Diesel Direct <noreply@localhost>"  # SMTP_FROM
    starttls: bool = True  # SMTP_STARTTLS
    timeout_s: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """Tencent Cloud SMS (SendSms, API version 2021-01-11, signed with TC3-HMAC-SHA256)."""

    secret_id: str = ""  # SMS_SECRET_ID: no SMS without it
    secret_key: str = field(default="", repr=False)  # SMS_SECRET_KEY
    base_url: str = "https://sms.tencentcloudapi.com"  # SMS_BASE_URL
    region: str = "ap-guangzhou"  # SMS_REGION
    sdk_app_id: str = ""  # SMS_SDK_APP_ID
    sign_name: str = ""  # SMS_SIGN_NAME: the approved signature (签名)
    templates: tuple[tuple[str, str], ...] = ()  # SMS_TEMPLATE_IDS: approved template ids per kind
    timeout_s: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.secret_id and self.secret_key)


@dataclass(frozen=True, slots=True)
class WechatSettings:
    """A WeChat Official Account's template messages."""

    app_id: str = ""  # WECHAT_APP_ID: no WeChat without it
    app_secret: str = field(default="", repr=False)  # WECHAT_APP_SECRET
    base_url: str = "https://api.weixin.qq.com"  # WECHAT_BASE_URL
    templates: tuple[tuple[str, str], ...] = ()  # WECHAT_TEMPLATE_IDS
    timeout_s: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.app_secret)


@dataclass(frozen=True, slots=True)
class NotifySettings:
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    wechat: WechatSettings = field(default_factory=WechatSettings)
    backoff_s: float = 5.0  # NOTIFY_BACKOFF_S: first retry delay, doubled per attempt ...
    backoff_max_s: float = 3600.0  # NOTIFY_BACKOFF_MAX_S: ... up to this
    max_attempts: int = 10  # NOTIFY_MAX_ATTEMPTS: then the notification is `failed` (GET /notifications?status=failed)
    outbox_overlap_s: int = 60  # re-scan window of the event log for transactions that committed late
    outbox_batch: int = 500  # events read per pass
    queue_batch: int = 100  # notifications per send task
    due_per_pass: int = 20_000  # due notifications queued per pass
    stale_after_s: int = 120  # a queued notification not sent this long lost its message: queued again
    # NOTIFY_CONCURRENCY: requests in flight per send task. httpx's pool looks at every open connection for each
    # request (a system call each), so 50 connections cost more CPU than they save against a provider 100 ms
    # away; 16 per task, times the worker's threads, still fills a provider's rate limit.
    concurrency: int = 16
    credit_alert_bps: int = 1000  # NOTIFY_CREDIT_ALERT_PCT (10 %): available credit below this share of the limit

    def backoff(self, attempts: int) -> float:
        """The delay after the `attempts`-th failed attempt: backoff_s, 2x, 4x, ... capped."""
        return float(min(self.backoff_s * 2 ** max(0, attempts - 1), self.backoff_max_s))

    @property
    def lease_s(self) -> float:
        """How long a claimed notification is reserved for the worker sending it."""
        return max(self.smtp.timeout_s, self.sms.timeout_s, self.wechat.timeout_s) * 3 + 30.0


def load_notify_settings() -> NotifySettings:
    return NotifySettings(
        smtp=SmtpSettings(
            host=_text("SMTP_HOST"),
            port=int(_number("SMTP_PORT", 587)),
            user=_text("SMTP_USER"),
            password=os.environ.get("SMTP_PASSWORD", ""),
            sender=_text("SMTP_FROM", "Diesel Direct <noreply@localhost>"),
            starttls=_flag("SMTP_STARTTLS", True),
        ),
        sms=SmsSettings(
            secret_id=_text("SMS_SECRET_ID"),
            secret_key=os.environ.get("SMS_SECRET_KEY", ""),
            base_url=_text("SMS_BASE_URL", "https://sms.tencentcloudapi.com").rstrip("/"),
            region=_text("SMS_REGION", "ap-guangzhou"),
            sdk_app_id=_text("SMS_SDK_APP_ID"),
            sign_name=_text("SMS_SIGN_NAME"),
            templates=_templates("SMS_TEMPLATE_IDS"),
        ),
        wechat=WechatSettings(
            app_id=_text("WECHAT_APP_ID"),
            app_secret=os.environ.get("WECHAT_APP_SECRET", ""),
            base_url=_text("WECHAT_BASE_URL", "https://api.weixin.qq.com").rstrip("/"),
            templates=_templates("WECHAT_TEMPLATE_IDS"),
        ),
        backoff_s=_number("NOTIFY_BACKOFF_S", 5.0),
        backoff_max_s=_number("NOTIFY_BACKOFF_MAX_S", 3600.0),
        max_attempts=int(_number("NOTIFY_MAX_ATTEMPTS", 10)),
        concurrency=max(1, int(_number("NOTIFY_CONCURRENCY", 16))),
        credit_alert_bps=int(_number("NOTIFY_CREDIT_ALERT_PCT", 10) * 100),
    )


@cache
def notify_settings() -> NotifySettings:
    return load_notify_settings()
