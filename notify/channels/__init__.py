"""The channels a notification goes out on, behind one interface (`Channel.send_many`): email over SMTP, SMS through
Tencent Cloud, WeChat Official Account template messages. In-app notifications need no channel: they are stored."""

from __future__ import annotations

from notify.channels.base import Channel, Outcome, Outgoing
from notify.channels.email import SmtpChannel
from notify.channels.sms import TencentSmsChannel
from notify.channels.wechat import WechatChannel
from notify.config import NotifySettings

__all__ = ["Channel", "Outcome", "Outgoing", "available_channels", "channel_for"]


def available_channels(settings: NotifySettings) -> frozenset[str]:
    """The channels this service can send on: in-app always, the others when their provider is configured."""
    configured = {"email": settings.smtp.enabled, "sms": settings.sms.enabled, "wechat": settings.wechat.enabled}
    return frozenset({"web"} | {name for name, on in configured.items() if on})


def channel_for(name: str, settings: NotifySettings) -> Channel:
    if name == "email":
        return SmtpChannel(settings.smtp)
    if name == "sms":
        return TencentSmsChannel(settings.sms, concurrency=settings.concurrency)
    if name == "wechat":
        return WechatChannel(settings.wechat, concurrency=settings.concurrency)
    raise ValueError(f"no channel {name!r} sends messages")
