"""Spreadsheets (XLSX, openpyxl) and CSV of money: invoice and payment lists, statements.

Every sheet has a bilingual header row (Chinese, then English) that stays frozen while scrolling, amounts in
yuan written as exact decimals (from fen) with two decimals shown, and dates as real dates. Workbooks are
written in openpyxl's write-only mode, row by row, so a large export does not hold a cell object per value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from money.documents import figures
from money.documents.records import Customer
from money.documents.statements import Statement
from money.models import Invoice, Payment

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YUAN_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="EEEEEE")


@dataclass(frozen=True, slots=True)
class Column:
    title: str  # "中文 English"
    kind: str = "text"  # text | yuan | date | time | int
    width: int = 14


def _sheet(book: Workbook, title: str, columns: Sequence[Column]) -> WriteOnlyWorksheet:
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"  # the header row stays in view
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        header.append(cell)
    sheet.append(header)
    return sheet


def _cell(sheet: WriteOnlyWorksheet, column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        # openpyxl stores text starting with "=" as a formula: a customer named "=WEBSERVICE(...)" would run in
        # finance's spreadsheet. Text stays text.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    if column.kind == "yuan":
        cell = WriteOnlyCell(sheet, value=figures.yuan_decimal(value))
        cell.number_format = YUAN_FORMAT
        return cell
    if column.kind == "date":
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    if column.kind == "time":
        # Excel has no time zones: the local time of the account, without offset.
        cell = WriteOnlyCell(sheet, value=value.replace(tzinfo=None))
        cell.number_format = TIME_FORMAT
        return cell
    return value


def _rows(sheet: WriteOnlyWorksheet, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> None:
    for row in rows:
        sheet.append([_cell(sheet, column, value) for column, value in zip(columns, row, strict=True)])


def _saved(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


INVOICE_COLUMNS = (
    Column("发票号 Number", width=18),
    Column("开票日期 Issue date", "date", 12),
    Column("到期日 Due date", "date", 12),
    Column("客户 Customer", width=32),
    Column("纳税人识别号 Tax ID", width=22),
    Column("状态 Status", width=10),
    Column("金额(不含税) Net", "yuan"),
    Column("税额 Tax", "yuan"),
    Column("价税合计 Total", "yuan"),
    Column("已付 Paid", "yuan"),
    Column("已冲销 Credited", "yuan"),
    Column("未付 Unpaid", "yuan"),
    Column("币种 Currency", width=8),
)


def invoices_xlsx(invoices: Iterable[Invoice]) -> bytes:
    book = Workbook(write_only=True)
    sheet = _sheet(book, "发票 Invoices", INVOICE_COLUMNS)
    _rows(
        sheet,
        INVOICE_COLUMNS,
        (
            (
                i.number,
                i.issue_date,
                i.due_date,
                i.buyer_name,
                i.buyer_tax_id,
                i.status,
                i.net_minor,
                i.tax_minor,
                i.total_minor,
                i.paid_minor,
                i.credited_minor,
                max(i.total_minor - i.paid_minor - i.credited_minor, 0),
                i.currency,
            )
            for i in invoices
        ),
    )
    return _saved(book)


PAYMENT_COLUMNS = (
    Column("收款日期 Received on", "date", 12),
    Column("客户 Customer", width=32),
    Column("金额 Amount", "yuan"),
    Column("已分配 Allocated", "yuan"),
    Column("未分配 Unallocated", "yuan"),
    Column("方式 Method", width=14),
    Column("参考 Reference", width=24),
    Column("币种 Currency", width=8),
    Column("记录时间 Recorded at", "time", 17),
)


def payments_xlsx(payments: Iterable[Payment], *, customers: dict[Any, Customer], timezone: str) -> bytes:
    zone = ZoneInfo(timezone)
    book = Workbook(write_only=True)
    sheet = _sheet(book, "收款 Payments", PAYMENT_COLUMNS)
    _rows(
        sheet,
        PAYMENT_COLUMNS,
        (
            (
                p.received_on,
                customers[p.customer_id].name if p.customer_id in customers else str(p.customer_id),
                p.amount_minor,
                p.allocated_minor,
                p.amount_minor - p.allocated_minor,
                p.method,
                p.reference,
                p.currency,
                p.recorded_at.astimezone(zone),
            )
            for p in payments
        ),
    )
    return _saved(book)


MOVEMENT_COLUMNS = (
    Column("日期 Date", "date", 12),
    Column("类型 Kind", width=18),
    Column("参考 Reference", width=20),
    Column("摘要 Description", width=36),
    Column("金额 Amount", "yuan"),
    Column("余额 Balance", "yuan"),
)
AGEING_COLUMNS = (
    Column("发票号 Invoice", width=18),
    Column("开票日期 Issued", "date", 12),
    Column("到期日 Due", "date", 12),
    Column("价税合计 Total", "yuan"),
    Column("未付 Unpaid", "yuan"),
    Column("天数 Days", "int", 8),
    Column("账龄 Bucket", width=10),
)


def _kind(kind: str) -> str:
    return figures.KIND_LABELS.get(kind, kind)


def statement_rows(statement: Statement) -> list[tuple[Any, ...]]:
    """The movements table of a statement: the opening line, each movement, the closing line."""
    month = statement.month
    rows: list[tuple[Any, ...]] = [
        (month.first_day, "期初余额 Opening balance", None, None, None, statement.opening_balance_minor)
    ]
    rows += [
        (m.day, _kind(m.kind), m.reference, m.description, m.amount_minor, m.balance_minor) for m in statement.movements
    ]
    rows.append((month.last_day, "期末余额 Closing balance", None, None, None, statement.closing_balance_minor))
    return rows


def statement_xlsx(statement: Statement) -> bytes:
    book = Workbook(write_only=True)
    movements = _sheet(book, "对账单 Statement", MOVEMENT_COLUMNS)
    _rows(movements, MOVEMENT_COLUMNS, statement_rows(statement))
    ageing = _sheet(book, "账龄 Ageing", AGEING_COLUMNS)
    _rows(
        ageing,
        AGEING_COLUMNS,
        (
            (i.number, i.issue_date, i.due_date, i.total_minor, i.unpaid_minor, i.age_days, i.bucket)
            for i in statement.unpaid_invoices
        ),
    )
    for bucket, amount in statement.ageing.items():
        _rows(ageing, AGEING_COLUMNS, [(f"{bucket} 天 days", None, None, None, amount, None, bucket)])
    _rows(ageing, AGEING_COLUMNS, [("合计 Total", None, None, None, statement.unpaid_invoices_minor, None, None)])
    return _saved(book)


CSV_HEADER = ("row", "date", "kind", "reference", "description", "amount_yuan", "balance_yuan", "currency")


def statement_csv(statement: Statement) -> bytes:
    """One table: `row` says what each line is (opening, movement, closing, ageing, unpaid_invoice).
    UTF-8 with a byte order mark, so spreadsheet programs read the Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    currency = statement.currency

    def text(value: str | None) -> str:
        # A cell starting with = + - @ is a formula to spreadsheet programs: quote it (OWASP CSV injection).
        return "'" + value if value and value[0] in "=+-@\t\r" else (value or "")

    def money(minor: int | None) -> str:
        return "" if minor is None else f"{figures.yuan_decimal(minor):.2f}"

    def day(value: date | datetime) -> str:
        return value.isoformat()

    month = statement.month
    writer.writerow(("opening", day(month.first_day), "", "", "", "", money(statement.opening_balance_minor), currency))
    for m in statement.movements:
        writer.writerow(
            (
                "movement",
                day(m.day),
                m.kind,
                text(m.reference),
                text(m.description),
                money(m.amount_minor),
                money(m.balance_minor),
                currency,
            )
        )
    writer.writerow(("closing", day(month.last_day), "", "", "", "", money(statement.closing_balance_minor), currency))
    for bucket, amount in statement.ageing.items():
        writer.writerow(("ageing", day(month.last_day), bucket, "", "", money(amount), "", currency))
    for i in statement.unpaid_invoices:
        writer.writerow(
            (
                "unpaid_invoice",
                day(i.issue_date),
                i.bucket,
                text(i.number),
                f"due {i.due_date.isoformat()}, {i.age_days} days",
                money(i.unpaid_minor),
                "",
                currency,
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
