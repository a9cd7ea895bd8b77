"""Bank statement CSV parsing: the documented columns, Chinese bank exports, receipts only, line numbers in errors."""

from __future__ import annotations

from datetime import date

import pytest

from money.statement import StatementError, parse_amount, parse_date, parse_statement

ENGLISH = """date,amount,currency,reference,payer_name,payer_account
2030-01-05,"1,234.56",CNY,INV-2030-000001,Acme Logistics,6222 0000 1111
2030/1/6,-50.00,CNY,bank fee,,
20300107,99,,DD7KX3M9QZ,,
"""

# A GBK export as Chinese banks make them: account details above the header, credit and debit columns, a total row.
CHINESE = """账号:31001234567890,户名:某某石油销售有限公司
查询日期:2030-01-01至2030-01-07
交易时间,交易流水号,借方发生额(元),贷方发生额(元),余额,对方户名,对方账号,摘要,附言
2030-01-05 10:22:01,A001,,"12,000.00",1000000.00,沪通物流有限公司,6217000011112222,货款,INV-2030-000042
2030-01-05 11:00:00,A002,500.00,,999500.00,中石化,6217000099990000,运费,
2030-01-06 09:00:00,A003,,800.5,1000300.50,散客,,转账,
合计,,500.00,"12,800.50",,,,,
"""


def test_an_english_statement_keeps_receipts_only() -> None:
    statement = parse_statement(ENGLISH.encode(), currency="CNY")
    assert [(x.line_number, x.booked_on, x.amount_minor) for x in statement.lines] == [
        (2, date(2030, 1, 5), 123_456),
        (4, date(2030, 1, 7), 9_900),
    ]
    first = statement.lines[0]
    assert (first.reference, first.payer_name, first.payer_account, first.currency) == (
        "INV-2030-000001",
        "Acme Logistics",
        "622200001111",
        "CNY",
    )
    assert [(s.line_number, s.reason) for s in statement.skipped] == [(3, "not_a_receipt")]


def test_a_chinese_gbk_export_with_a_preamble_and_totals() -> None:
    statement = parse_statement(CHINESE.encode("gb18030"), currency="CNY")
    assert [(x.line_number, x.amount_minor, x.transaction_id) for x in statement.lines] == [
        (4, 1_200_000, "A001"),
        (6, 80_050, "A003"),
    ]
    assert statement.lines[0].reference == "货款 INV-2030-000042"  # 摘要 and 附言 joined
    assert statement.lines[0].payer_name == "沪通物流有限公司"
    assert [(s.line_number, s.reason) for s in statement.skipped] == [(5, "not_a_receipt"), (7, "summary_row")]
    assert parse_statement(CHINESE.encode("utf-8-sig"), currency="CNY").lines == statement.lines


def test_tabs_and_semicolons_are_read_too() -> None:
    for delimiter in ("\t", ";"):
        text = ENGLISH.replace(",", delimiter).replace('"1' + delimiter + '234.56"', "1234.56")
        assert [x.amount_minor for x in parse_statement(text.encode(), currency="CNY").lines] == [123_456, 9_900]


def test_the_same_file_hashes_alike_and_identical_twins_apart() -> None:
    twice = ENGLISH + "20300107,99,,DD7KX3M9QZ,,\n"
    first = parse_statement(twice.encode(), currency="CNY")
    again = parse_statement(twice.encode(), currency="CNY")
    assert [x.line_hash for x in first.lines] == [x.line_hash for x in again.lines]
    assert len({x.line_hash for x in first.lines}) == 3


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("date,amount\n2030-01-05,12.345\n", 2, "two decimals"),
        ("date,amount\n2030-01-05,10\n2030-13-05,10\n", 3, "not a date"),
        ("date,amount\n2030-01-05,ten\n", 2, "not a number"),
        ("date,amount,currency\n2030-01-05,10,元宝\n", 2, "currency"),
        ("when,how much\n2030-01-05,10\n", 1, "no header row"),
        ('date,amount\n2030-01-05,"10\n', 2, "not valid CSV"),
    ],
)
def test_a_bad_file_names_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(StatementError) as refused:
        parse_statement(text.encode(), currency="CNY")
    assert refused.value.line_number == line and words in refused.value.message


def test_a_binary_file_is_refused() -> None:
    with pytest.raises(StatementError):
        parse_statement(b"\xff\xfe\x00d\x00a\x00t\x00e", currency="CNY")


@pytest.mark.parametrize(
    ("text", "minor"),
    [("1,234.56", 123_456), ("¥1234.5", 123_450), ("￥ 12", 1_200), ("(5.00)", -500), ("-0.01", -1), ("CNY 3", 300)],
)
def test_amounts(text: str, minor: int) -> None:
    assert parse_amount(text, 1) == minor


@pytest.mark.parametrize(
    "text", ["2030-01-05", "2030/1/5", "20300105", "2030.01.05", "2030年1月5日", "2030-01-05 23:59:59"]
)
def test_dates(text: str) -> None:
    assert parse_date(text, 1) == date(2030, 1, 5)
