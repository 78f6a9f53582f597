"""The file an import's errors are sent back in: the rows of the original file, in its own form
(.xlsx, or CSV in its encoding and delimiter), with one more column that says what is wrong with
each row - so the user fixes the cells beside their messages and imports the file again.

After an import that kept its good rows (`skip_errors`), the file holds only the rows that were not
written: importing it again does not write the others twice. Otherwise every row is there."""
from __future__ import annotations

import csv
import datetime as dt
import io

from engine.core.errors import Msg
from engine.core.i18n import localize
from engine.imports.sheets import Sheet
from engine.records.export import XLSX_TYPE


def errors_file(sheet: Sheet, errors: list[dict], lang: str, only_failed: bool = False, record_rows: list[list[int]] | None = None) -> tuple[bytes, str]:
    """(the file's bytes, its media type). `record_rows` groups the row numbers that make one record
    (an order's lines): with `only_failed`, every row of a record that failed is kept."""
    said: dict[int, list[str]] = {}
    for e in errors:
        said.setdefault(e["row"], []).append(f"{e['field']}: {e['message']}" if e.get("field") else e["message"])
    kept = {r for r, _ in sheet.rows}
    if only_failed:
        failed = set(said)
        kept = {r for group in (record_rows or [[r] for r, _ in sheet.rows]) if failed.intersection(group) for r in group}
    title = localize(Msg("Errors"), lang)
    header = list(sheet.header) + [title + (" · " + "; ".join(said[1]) if 1 in said else "")]
    rows = [(cells, "; ".join(said.get(r, []))) for r, cells in sheet.rows if r in kept]
    if sheet.kind == "csv":
        return _csv(sheet, header, rows), f"text/csv; charset={sheet.encoding}"
    return _xlsx(header, rows), XLSX_TYPE


def _csv(sheet: Sheet, header: list[str], rows: list) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=sheet.delimiter)
    w.writerow(header)
    width = len(sheet.header)
    for cells, message in rows:
        w.writerow([("" if c is None else c) for c in (list(cells) + [None] * width)[:width]] + [message])
    return out.getvalue().encode(sheet.encoding, errors="replace")


def _xlsx(header: list[str], rows: list) -> bytes:
    import xlsxwriter
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    bold = book.add_format({"bold": True, "bg_color": "#F1F3F6", "bottom": 1})
    wrong = book.add_format({"font_color": "#B42318", "bg_color": "#FEF3F2", "text_wrap": True})
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    width = len(header) - 1
    sheet.write_row(0, 0, header, bold)
    sheet.freeze_panes(1, 0)
    for n, (cells, message) in enumerate(rows, start=1):
        for c, v in enumerate(list(cells)[:width]):
            if v is None or v == "":
                continue
            if isinstance(v, bool):
                sheet.write_boolean(n, c, v)
            elif isinstance(v, (int, float)):
                sheet.write_number(n, c, v)
            elif isinstance(v, dt.datetime):
                sheet.write_datetime(n, c, v.replace(tzinfo=None), when)
            elif isinstance(v, dt.date):
                sheet.write_datetime(n, c, dt.datetime.combine(v, dt.time()), day)
            else:
                sheet.write_string(n, c, str(v))
        if message:
            sheet.write_string(n, width, message, wrong)
    sheet.set_column(0, width - 1, 14)
    sheet.set_column(width, width, 60)
    book.close()
    return buf.getvalue()
