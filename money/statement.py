"""Bank statement CSV files (pure): the columns, the common Chinese bank export headers, and one line per receipt.

Columns: a header row is required (rows above it are skipped); the order is free and unknown columns are ignored.
Each field is recognised by its English or its common Chinese bank export header:
- date (required): date, booked_on, booking_date, value_date; 交易日期, 记账日期, 入账日期, 日期, 交易时间
- amount or credit (one required): amount; 金额, 交易金额, 发生额 | credit, credit_amount; 贷方金额, 贷方发生额,
  收入金额, 收入, 来账金额 (and debit, debit_amount; 借方金额, 借方发生额, 支出金额, 支出: outgoing, skipped)
- currency: currency; 币种, 货币 (the account's currency when absent)
- reference (remittance text, several columns are joined): reference, remittance, description, memo; 摘要, 附言,
  用途, 备注, 交易附言
- payer_name: payer_name, payer, counterparty; 对方户名, 付款人名称, 付款人, 对方名称, 对方单位
- payer_account: payer_account, counterparty_account, iban; 对方账号, 付款人账号, 对方账户
- payer_tax_id: payer_tax_id, tax_id; 纳税人识别号, 统一社会信用代码
- transaction_id (the bank's serial number; tells apart two identical receipts): transaction_id; 交易流水号, 流水号
Dates: 2030-01-05, 2030/1/5, 20300105, 2030.01.05 or 2030年1月5日 (a time after it is ignored). Amounts: 1234.56,
1,234.56, ¥1,234.56 (at most two decimals). Text: UTF-8 (with or without BOM) or GB18030/GBK; commas, tabs or
semicolons. Only receipts become lines: outgoing amounts (negative, or a debit without a credit) and total rows
(合计/总计/Total) are skipped and reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

MAX_LINES = 10_000
MAX_AMOUNT_MINOR = 10**13
HEADER_SEARCH_ROWS = 20

_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "booked_on", "booking_date", "value_date", "交易日期", "记账日期", "入账日期", "日期", "交易时间"),
    "amount": ("amount", "金额", "交易金额", "发生额"),
    "credit": ("credit", "credit_amount", "贷方金额", "贷方发生额", "收入金额", "收入", "来账金额"),
    "debit": ("debit", "debit_amount", "借方金额", "借方发生额", "支出金额", "支出"),
    "currency": ("currency", "币种", "货币"),
    "reference": (
        "reference",
        "remittance",
        "remittance_info",
        "description",
        "memo",
        "摘要",
        "附言",
        "用途",
        "备注",
        "交易附言",
    ),
    "payer_name": ("payer_name", "payer", "counterparty", "对方户名", "付款人名称", "付款人", "对方名称", "对方单位"),
    "payer_account": ("payer_account", "counterparty_account", "iban", "对方账号", "付款人账号", "对方账户"),
    "payer_tax_id": ("payer_tax_id", "tax_id", "纳税人识别号", "统一社会信用代码"),
    "transaction_id": ("transaction_id", "交易流水号", "流水号"),
}
_CURRENCIES = {"人民币": "CNY", "RMB": "CNY", "元": "CNY", "美元": "USD", "港币": "HKD", "欧元": "EUR"}
_SUMMARY = ("合计", "总计", "本页合计", "小计", "total", "subtotal")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _key(header: str) -> str:
    """A header as compared: no BOM, case, spaces, separators or units in brackets (贷方金额(元) = 贷方金额)."""
    text = re.sub(r"[（(\[【].*?[)）\]】]", "", header.replace("\ufeff", ""))
    return re.sub(r"[\s_\-:：]", "", text).lower()


_FIELD_OF = {_key(alias): field for field, aliases in _ALIASES.items() for alias in aliases}


class StatementError(Exception):
    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


@dataclass(frozen=True, slots=True)
class StatementLine:
    line_number: int
    booked_on: date
    amount_minor: int
    currency: str
    reference: str | None
    payer_name: str | None
    payer_account: str | None
    payer_tax_id: str | None
    transaction_id: str | None
    line_hash: str


@dataclass(frozen=True, slots=True)
class SkippedLine:
    line_number: int
    reason: str  # not_a_receipt | summary_row


@dataclass(frozen=True, slots=True)
class Statement:
    lines: list[StatementLine]
    skipped: list[SkippedLine]


def decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StatementError(1, "the file is neither UTF-8 nor GB18030 (GBK) text")


def parse_statement(raw: bytes, *, currency: str) -> Statement:
    text = decode(raw)
    if "\x00" in text:
        raise StatementError(1, "the file contains NUL characters (not a CSV text file)")
    for delimiter in (",", "\t", ";"):
        rows = _rows(text, delimiter)
        header = _find_header(rows)
        if header is not None:
            return _parse_rows(rows, header, default_currency=currency)
    raise StatementError(
        1, "no header row found: a row naming at least a date column and an amount (or credit) column is needed"
    )


def _rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
            if len(rows) > MAX_LINES + HEADER_SEARCH_ROWS:
                raise StatementError(reader.line_num, f"more than {MAX_LINES} lines: split the statement")
    except csv.Error as error:
        raise StatementError(reader.line_num, f"not valid CSV ({error})") from None
    return rows


def _find_header(rows: list[tuple[int, list[str]]]) -> int | None:
    for index, (_, row) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields = {_FIELD_OF.get(_key(cell)) for cell in row}
        if "date" in fields and ({"amount", "credit"} & fields):
            return index
    return None


def _parse_rows(rows: list[tuple[int, list[str]]], header: int, *, default_currency: str) -> Statement:
    columns: dict[str, list[int]] = {}
    for position, cell in enumerate(rows[header][1]):
        if (field := _FIELD_OF.get(_key(cell))) is not None:
            columns.setdefault(field, []).append(position)
    lines: list[StatementLine] = []
    skipped: list[SkippedLine] = []
    seen: Counter[str] = Counter()
    for line_number, row in rows[header + 1 :]:
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        first = next(c for c in cells if c)
        if first.lower().startswith(_SUMMARY):
            skipped.append(SkippedLine(line_number, "summary_row"))
            continue

        found = _Row(cells=cells, columns=columns)
        amount = _receipt_amount(found, line_number)
        if amount is None:
            skipped.append(SkippedLine(line_number, "not_a_receipt"))
            continue
        lines.append(_line(found, line_number, amount, default_currency=default_currency, seen=seen))
    return Statement(lines=lines, skipped=skipped)


@dataclass(frozen=True, slots=True)
class _Row:
    cells: list[str]
    columns: dict[str, list[int]]

    def get(self, field: str) -> str:
        """The field's text (the cells of all its columns, joined: 摘要 and 附言 both hold remittance text)."""
        return " ".join(self.cells[i] for i in self.columns.get(field, []) if i < len(self.cells) and self.cells[i])


def _receipt_amount(row: _Row, line_number: int) -> int | None:
    """The money received on the line, or None when the line is not a receipt."""
    if row.get("credit") or not row.get("amount"):
        credit = parse_amount(row.get("credit"), line_number) if row.get("credit") else 0
        return credit if credit > 0 else None
    amount = parse_amount(row.get("amount"), line_number)
    return amount if amount > 0 else None


def _line(row: _Row, line_number: int, amount: int, *, default_currency: str, seen: Counter[str]) -> StatementLine:
    get = row.get
    booked_on = parse_date(get("date"), line_number)
    currency = parse_currency(get("currency"), line_number) if get("currency") else default_currency
    reference = get("reference")[:200] or None
    payer_name = get("payer_name")[:200] or None
    payer_account = re.sub(r"\s", "", get("payer_account"))[:64] or None
    payer_tax_id = get("payer_tax_id")[:40] or None
    transaction_id = get("transaction_id")[:64] or None
    fingerprint = "|".join(
        [
            booked_on.isoformat(),
            str(amount),
            currency,
            reference or "",
            payer_name or "",
            payer_account or "",
            transaction_id or "",
        ]
    )
    # Two identical lines in one file are two receipts: the second is told apart by its place among its twins.
    seen[fingerprint] += 1
    digest = hashlib.sha256(f"{fingerprint}|{seen[fingerprint]}".encode()).hexdigest()
    return StatementLine(
        line_number=line_number,
        booked_on=booked_on,
        amount_minor=amount,
        currency=currency,
        reference=reference,
        payer_name=payer_name,
        payer_account=payer_account,
        payer_tax_id=payer_tax_id,
        transaction_id=transaction_id,
        line_hash=digest,
    )


def parse_amount(text: str, line_number: int) -> int:
    cleaned = re.sub(r"[\s,，¥￥$]|CNY|RMB", "", text, flags=re.IGNORECASE)
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise StatementError(line_number, f"amount '{text}' is not a number") from None
    minor = value * 100
    if not value.is_finite() or minor != minor.to_integral_value():
        raise StatementError(line_number, f"amount '{text}' has more than two decimals")
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise StatementError(line_number, f"amount '{text}' is too large")
    return -int(minor) if negative else int(minor)


def parse_date(text: str, line_number: int) -> date:
    value = text.strip()
    try:
        if re.fullmatch(r"\d{8}", value[:8]) and (len(value) == 8 or not value[8].isdigit()):
            return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        if (match := _DATE.match(value)) is not None:
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        pass
    raise StatementError(line_number, f"date '{text}' is not a date (e.g. 2030-01-05)")


def parse_currency(text: str, line_number: int) -> str:
    value = _CURRENCIES.get(text.strip(), _CURRENCIES.get(text.strip().upper(), text.strip().upper()))
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise StatementError(line_number, f"currency '{text}' is not a currency code (e.g. CNY)")
    return value
