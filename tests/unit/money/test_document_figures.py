"""Amounts as documents write them: yuan from fen, rates, and the total in Chinese capitals (大写)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from money.documents.figures import amount_in_words, rate, yuan, yuan_decimal


@pytest.mark.parametrize(
    ("minor", "text"),
    [(0, "0.00"), (5, "0.05"), (123_456_78, "123,456.78"), (-90_000, "-900.00"), (100, "1.00")],
)
def test_yuan(minor: int, text: str) -> None:
    assert yuan(minor) == text


def test_yuan_decimal_is_exact() -> None:
    assert yuan_decimal(10) + yuan_decimal(20) == Decimal("0.30")


def test_rate() -> None:
    assert (rate(1300), rate(950), rate(0)) == ("13%", "9.5%", "0%")


@pytest.mark.parametrize(
    ("minor", "words"),
    [
        (0, "零元整"),
        (100_00, "壹佰元整"),
        (100_05, "壹佰元零伍分"),
        (50, "伍角"),
        (5, "伍分"),
        (1234_50, "壹仟贰佰叁拾肆元伍角"),
        (1005_00, "壹仟零伍元整"),
        (10_00, "壹拾元整"),
        (10_000_00, "壹万元整"),
        (100_010_00, "壹拾万零壹拾元整"),
        (1_0000_0001_00, "壹亿零壹元整"),
        (1_0001_0000_00, "壹亿零壹万元整"),
        (39_550_50, "叁万玖仟伍佰伍拾元伍角"),
        (1_234_567_89, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
        (-900_00, "负玖佰元整"),
    ],
)
def test_amount_in_words(minor: int, words: str) -> None:
    assert amount_in_words(minor) == words
