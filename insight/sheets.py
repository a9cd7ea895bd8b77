"""The sales report as CSV and as a spreadsheet (openpyxl, write-only): a bilingual header row kept in view, tonnes
and yuan as numbers, periods as real dates."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from insight import schemas as s

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = (
    "期间 Period",
    "键 Key",
    "名称 Name",
    "净升 Net litres",
    "净吨 Net tonnes",
    "金额 Amount (CNY)",
    "笔数 Charges",
)


def _row(row: s.SalesRow) -> tuple[Any, ...]:
    return (
        row.period_start,
        row.key or "",
        row.label or "",
        row.net_litres,
        Decimal(row.net_kg) / 1000,
        Decimal(row.amount_minor) / 100,
        row.charges,
    )


def sales_csv(report: s.SalesOut) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in report.rows:
        period, key, label, litres, tonnes, amount, charges = _row(row)
        writer.writerow([period.isoformat(), key, _text(label), litres, f"{tonnes:.3f}", f"{amount:.2f}", charges])
    # UTF-8 with a byte order mark: spreadsheet programs then read the Chinese right.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _text(value: str) -> str:
    """A name that starts like a formula stays text in a spreadsheet (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def sales_xlsx(report: s.SalesOut) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(f"{report.group_by}-{report.period}")
    sheet.freeze_panes = "A2"
    sheet.append(list(HEADER))
    formats = ("yyyy-mm-dd", None, None, "#,##0", "#,##0.000", "#,##0.00", "0")
    for row in report.rows:
        cells = []
        for value, number_format in zip(_row(row), formats, strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
            elif number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
