"""Pure rules of notifications: quiet hours, the texts in both languages, template ids, backoff, the repeat link."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.errors import NotFound
from notify.config import NotifySettings, template_for
from notify.links import open_repeat_token, repeat_token
from notify.preferences import Preference, quiet_end_after
from notify.templates import KINDS, TEXTS, render

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(21, 59), at(21, 59)),  # before the window: now
        (at(22, 0), at(7, 0, day=8)),  # it starts: the next morning
        (at(23, 30), at(7, 0, day=8)),
        (at(3, 0), at(7, 0)),  # after midnight: this morning
        (at(7, 0), at(7, 0)),  # it has ended
    ],
)
def test_quiet_hours_over_midnight_end_the_next_morning(now: datetime, expected: datetime) -> None:
    assert quiet_end_after(now, start=time(22), end=time(7), tz=SHANGHAI) == expected


def test_quiet_hours_hold_only_sms_and_wechat() -> None:
    quiet = Preference(quiet_start=time(12), quiet_end=time(14), timezone="Asia/Shanghai")
    noon = at(12, 30).astimezone(UTC)
    assert quiet.quiet_until("sms", noon) == quiet.quiet_until("wechat", noon) == at(14)
    assert quiet.quiet_until("email", noon) == quiet.quiet_until("web", noon) == noon


def test_a_channel_without_an_address_or_a_provider_is_not_used() -> None:
    pref = Preference(email="a@b.cn", sms="+8613800138000", web=False, events=frozenset({"order_delivered"}))
    assert pref.addresses("order_delivered", available=frozenset({"web", "sms"})) == [("sms", "+8613800138000")]
    assert pref.addresses("order_confirmed", available=frozenset({"web", "sms", "email"})) == []


def test_every_kind_reads_in_both_languages_and_chinese_names_stand_in() -> None:
    values = {"reference": "DO-1", "product": "Diesel 0#", "product_zh": "0号柴油", "reason": "credit_limit: x"}
    for kind in KINDS:
        zh, en = render(kind, "zh-CN", values), render(kind, "en", values)
        assert zh.title and en.title and zh.body != en.body
        assert "Diesel 0#" not in zh.body + zh.title  # the Chinese name in Chinese texts
        assert list(zh.params["values"]) == list(TEXTS[kind].fields)
    assert "超出可用信用额度" in render("order_on_hold", "zh-CN", values).body
    assert render("order_on_hold", "en", {}).body == "Your order - is on hold: -."  # missing values: dashes


def test_template_ids_by_kind_and_language() -> None:
    templates = (("order_confirmed", "1"), ("order_confirmed:en", "2"), ("*", "9"))
    assert template_for(templates, "order_confirmed", "en") == "2"
    assert template_for(templates, "order_confirmed", "zh-CN") == "1"
    assert template_for(templates, "daily_price", "en") == "9"
    assert template_for((), "daily_price", "en") is None


def test_backoff_doubles_up_to_its_cap() -> None:
    settings = NotifySettings(backoff_s=5, backoff_max_s=30)
    assert [settings.backoff(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]


def test_the_repeat_link_opens_only_for_its_account_unaltered_and_in_time() -> None:
    order, customer, now = uuid.uuid4(), uuid.uuid4(), datetime(2030, 1, 7, tzinfo=UTC)
    token = repeat_token(order_id=order, customer_id=customer, now=now, secret_key="k" * 40)
    assert open_repeat_token(token, customer_id=customer, now=now, secret_key="k" * 40) == order
    refused = [
        (token, uuid.uuid4(), now, "k" * 40),  # another account
        (token, customer, now + timedelta(days=8), "k" * 40),  # expired
        (token, customer, now, "j" * 40),  # another key
        (token[:-3] + "abc", customer, now, "k" * 40),  # altered
        ("garbage", customer, now, "k" * 40),
    ]
    for candidate, account, when, key in refused:
        with pytest.raises(NotFound):
            open_repeat_token(candidate, customer_id=account, now=when, secret_key=key)
