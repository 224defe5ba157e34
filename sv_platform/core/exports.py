"""Spreadsheet downloads as Chilean offices open them: CSV (UTF-8 with BOM, `;`, decimal
comma) and XLSX."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook

from sv_platform.core.timeutil import CHILE, as_utc


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Sí" if value else "No"
    if isinstance(value, float | Decimal):
        return f"{value}".replace(".", ",")
    if isinstance(value, datetime):
        return as_utc(value).astimezone(CHILE).strftime("%d-%m-%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d-%m-%Y")
    text = str(value)
    if text[:1] in ("=", "+", "-", "@") and not text[1:2].isdigit():
        text = "'" + text  # never a formula when a spreadsheet opens the file
    return text


def csv_es_cl(header: list[str], rows) -> bytes:
    """UTF-8 with BOM (Excel reads the accents), `;` between fields, decimal comma."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def _xlsx_cell(value):
    if isinstance(value, datetime):
        return as_utc(value).astimezone(CHILE).replace(tzinfo=None)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def xlsx(header: list[str], rows, *, sheet: str = "Datos") -> bytes:
    """One sheet, a header row, then the rows; dates as real dates in Chilean time."""
    book = Workbook(write_only=True)
    page = book.create_sheet(sheet[:31])
    page.append(header)
    for row in rows:
        page.append([_xlsx_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
