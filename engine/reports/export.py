"""A report's result as an .xlsx workbook: its columns with their labels, the rows, the totals; numbers
stay numbers (decimals with two places, percentages as such), texts cannot run as formulas."""
from __future__ import annotations

import io
from decimal import Decimal

import xlsxwriter

from engine.records.export import neutralise


def report_xlsx(result: dict, total_label: str) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(result["report"][:31])
    bold = book.add_format({"bold": True})
    formats = {"decimal": book.add_format({"num_format": "#,##0.00"}), "integer": book.add_format({"num_format": "#,##0"}),
               "percent": book.add_format({"num_format": "0.0"})}
    columns = result["columns"]
    for c, col in enumerate(columns):
        sheet.write_string(0, c, neutralise(col["label"]), bold)
        sheet.set_column(c, c, max(12, min(40, len(col["label"]) + 4)))

    def cell(r: int, c: int, col: dict, value) -> None:
        if value is None:
            return
        if col["type"] in ("decimal", "integer"):
            fmt = formats["percent"] if col.get("percent") else formats[col["type"]]
            sheet.write_number(r, c, float(Decimal(str(value))), fmt)
        else:
            sheet.write_string(r, c, neutralise(str(value)))
    for r, row in enumerate(result["rows"], start=1):
        for c, col in enumerate(columns):
            cell(r, c, col, row.get(col["name"]))
    last = len(result["rows"]) + 1
    groups = [c for c in columns if c["type"] not in ("decimal", "integer")]
    sheet.write_string(last, 0, neutralise(total_label), bold)
    for c, col in enumerate(columns):
        if col not in groups:
            cell(last, c, col, result["totals"].get(col["name"]))
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
