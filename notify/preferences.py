"""Each user's notification settings: channels (with their addresses), kinds, quiet hours, language; and the rules
that read them (which channels a kind goes to, when a quiet channel may speak again)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import InvalidInput
from core.hours import zone
from notify import schemas as s
from notify.models import NotificationPreference
from notify.templates import ALWAYS, DEFAULT_LANGUAGE, KINDS, LANGUAGES

CHANNELS = ("email", "sms", "wechat", "web")
QUIET_CHANNELS = frozenset({"sms", "wechat"})  # a phone that buzzes; email and the inbox wait for the reader
_EMAIL = re.compile(r"^[^@\s<>\",;]+@[^@\s<>\",;]+\.[^@\s<>\",;]+$")
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")  # E.164
_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


@dataclass(frozen=True, slots=True)
class Preference:
    """A user's settings as the outbox reads them (the stored row, or the defaults)."""

    email: str | None = None
    sms: str | None = None
    wechat: str | None = None
    web: bool = True
    events: frozenset[str] = frozenset(KINDS)
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "Asia/Shanghai"
    language: str = DEFAULT_LANGUAGE

    def addresses(self, kind: str, *, available: frozenset[str]) -> list[tuple[str, str | None]]:
        """(channel, address) for every channel this kind goes to: chosen by the user and sendable here."""
        if kind not in self.events and kind not in ALWAYS:
            return []
        wanted: list[tuple[str, str | None]] = [("web", None)] if self.web else []
        wanted += [(c, a) for c, a in (("email", self.email), ("sms", self.sms), ("wechat", self.wechat)) if a]
        return [(channel, address) for channel, address in wanted if channel in available]

    def quiet_until(self, channel: str, now: datetime) -> datetime:
        """When a message on `channel` may go: now, or the end of the quiet hours it falls in."""
        if channel not in QUIET_CHANNELS or self.quiet_start is None or self.quiet_end is None:
            return now
        return quiet_end_after(now, start=self.quiet_start, end=self.quiet_end, tz=ZoneInfo(self.timezone))


def quiet_end_after(now: datetime, *, start: time, end: time, tz: ZoneInfo) -> datetime:
    """`now` when it is outside [start, end) local time (a window may span midnight), else the end of the window."""
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    spans_midnight = start > end
    quiet = (start <= clock or clock < end) if spans_midnight else (start <= clock < end)
    if not quiet:
        return now
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tz)


def preference_of(row: NotificationPreference | None, *, default_timezone: str) -> Preference:
    if row is None:
        return Preference(timezone=default_timezone)
    return Preference(
        email=row.email,
        sms=row.sms,
        wechat=row.wechat,
        web=row.web,
        events=frozenset(row.events),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        timezone=row.timezone,
        language=row.language,
    )


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _check_channels(channels: s.ChannelsIn) -> None:
    checks = (
        ("email", channels.email, _EMAIL, "an email address such as ops@acme.cn"),
        ("sms", channels.sms, _PHONE, "a phone number in international form such as +8613800138000"),
        ("wechat", channels.wechat, _OPENID, "the openid WeChat gave for our Official Account"),
    )
    for name, value, pattern, wanted in checks:
        if value is not None and not pattern.fullmatch(value):
            raise InvalidInput(f"channels.{name} must be {wanted}", code="invalid_address", field=f"channels.{name}")


def _check_events(events: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(e.strip() for e in events))
    if "*" in wanted:
        return list(KINDS)
    unknown = [e for e in wanted if e not in KINDS]
    if unknown:
        raise InvalidInput(
            f"unknown event(s) {', '.join(unknown)}; use '*' or some of: {', '.join(KINDS)}",
            code="unknown_event_type",
            field="events",
        )
    return wanted


async def get_settings(session: AsyncSession, *, user: Principal, default_timezone: str) -> Preference:
    return preference_of(await session.get(NotificationPreference, user.id), default_timezone=default_timezone)


async def put_settings(
    session: AsyncSession, *, user: Principal, data: s.SettingsIn, default_timezone: str, now: datetime
) -> Preference:
    """Replace the user's settings (all of them: what is left out goes back to its default)."""
    _check_channels(data.channels)
    events = _check_events(data.events)
    quiet = data.quiet_hours
    if quiet is not None and quiet.start == quiet.end:
        raise InvalidInput("quiet hours must start and end at different times", code="invalid_quiet_hours")
    timezone = (quiet.timezone if quiet is not None else None) or default_timezone
    zone(timezone, field="quiet_hours.timezone")
    language = data.language or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}", code="invalid_language", field="language")
    row = await session.get(NotificationPreference, user.id, with_for_update=True)
    if row is None:
        row = NotificationPreference(user_id=user.id)
        session.add(row)
    row.email, row.sms, row.wechat, row.web = (
        data.channels.email,
        data.channels.sms,
        data.channels.wechat,
        data.channels.web,
    )
    row.events = events
    row.quiet_start = _clock(quiet.start) if quiet is not None else None
    row.quiet_end = _clock(quiet.end) if quiet is not None else None
    row.timezone, row.language, row.updated_at = timezone, language, now
    await session.flush()
    return preference_of(row, default_timezone=default_timezone)


def settings_out(pref: Preference, *, available: frozenset[str]) -> s.SettingsOut:
    quiet = None
    if pref.quiet_start is not None and pref.quiet_end is not None:
        quiet = s.QuietHoursOut(
            start=pref.quiet_start.strftime("%H:%M"), end=pref.quiet_end.strftime("%H:%M"), timezone=pref.timezone
        )
    return s.SettingsOut(
        channels=s.ChannelsOut(web=pref.web, email=pref.email, sms=pref.sms, wechat=pref.wechat),
        events=[k for k in KINDS if k in pref.events],
        quiet_hours=quiet,
        language=pref.language,
        available_events=list(KINDS),
        available_channels=[c for c in CHANNELS if c in available],
    )
