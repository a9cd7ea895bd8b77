"""A pickup pass goes to a phone number as the customer typed it: the SMS provider takes E.164, and a number without
a country code is Chinese."""

from __future__ import annotations

import pytest

from notify.templates import render
from orders.rules import sms_number


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("13911112222", "+8613911112222"),
        ("+8613911112222", "+8613911112222"),
        ("008613911112222", "+8613911112222"),
        ("8613911112222", "+8613911112222"),
        ("+4915112345678", "+4915112345678"),
        ("02161234567", "+862161234567"),  # a Shanghai landline: its trunk 0 goes
        ("139 1111-2222", "+8613911112222"),  # as check_phone takes it
    ],
)
def test_a_typed_number_becomes_e164(typed: str, sent: str) -> None:
    assert sms_number(typed) == sent


@pytest.mark.parametrize(
    "typed",
    ["", "+0123456789", "12345", "+86 139", "call me", "0012345", "123456789012345"],  # the last: 17 digits
)
def test_what_cannot_be_a_number_is_none(typed: str) -> None:
    assert sms_number(typed) is None


def test_the_pass_sms_carries_the_link_in_both_languages() -> None:
    values = {
        "reference": "PU-1",
        "plate": "沪A12345",
        "depot": "Pudong",
        "slot": "2030-01-07 10:00-10:30",
        "link": "https://d/pass/x",
    }
    zh, en = render("pickup_pass", "zh-CN", values), render("pickup_pass", "en", values)
    assert zh.body.endswith("https://d/pass/x") and en.body.endswith("show the pickup code: https://d/pass/x")
    assert "沪A12345" in zh.body and "沪A12345" in en.body
    assert (
        zh.params
        == en.params
        == {
            "fields": ["reference", "plate", "slot", "link"],
            "values": {
                "reference": "PU-1",
                "plate": "沪A12345",
                "slot": "2030-01-07 10:00-10:30",
                "link": "https://d/pass/x",
            },
        }
    )
