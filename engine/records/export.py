"""Export a list as CSV or Excel (.xlsx): the rows the user may export (their `export` scope), with the same
filters, sort and search as the list, without hidden fields, links as titles and options as
labels in the user's language. Column headers are the labels in force - the form's, with an
administrator's relabel from the form designer - so the file says what the screen says.

A spreadsheet runs a cell that starts like a formula, so every text cell (header, value, link
title, option label) that starts with `=`, `+`, `-`, `@`, a tab or a carriage return - also
after leading spaces or line breaks - gets a `'` in front (OWASP's advice on CSV injection);
numbers stay numbers. Every export is an audit entry (who, what, how many rows)."""
from __future__ import annotations

import csv
import io
import os
import tempfile

from engine.core.actor import Actor
from engine.core.values import to_json
from engine.records.conditions import form_for
from engine.records.listing import ListQuery
from engine.records.service import Records
from engine.storage import audit

MAX_ROWS = 100_000
PAGE = 500


def export_csv(records: Records, actor: Actor, entity: str, query: ListQuery, lang: str = "en", query_text: str = "") -> tuple[str, int]:
    """(CSV text with a header row, number of rows). Raises Forbidden without an export grant."""
    out = io.StringIO()
    writer = csv.writer(out)
    header, fields, rows = _rows(records, actor, entity, query, lang)
    writer.writerow(header)
    n = 0
    for r, titles in rows:
        writer.writerow([r["id"]] + [_cell(f, r.get(f.name), titles.get(f.name), lang) for f in fields])
        n += 1
    _audit(records, actor, entity, "csv", n, query_text)
    return "\ufeff" + out.getvalue(), n  # the BOM makes Excel read UTF-8 (Chinese, Russian) correctly


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_xlsx(records: Records, actor: Actor, entity: str, query: ListQuery, lang: str = "en", query_text: str = "") -> tuple[str, int]:
    """(the path of a temporary .xlsx file, number of rows): the same rows as export_csv, written in
    constant memory (xlsxwriter writes each row out as it goes) - numbers as numbers, dates and times
    as Excel dates, yes/no as booleans, links as titles, choices as labels, a frozen header row and
    sized columns. The caller streams the file and removes it; on an error it is removed here."""
    header, fields, rows = _rows(records, actor, entity, query, lang)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        n = _write_xlsx(path, entity, header, fields, rows, lang)
    except BaseException:
        os.unlink(path)
        raise
    _audit(records, actor, entity, "xlsx", n, query_text)
    return path, n


def _write_xlsx(path: str, entity: str, header: list, fields: list, rows, lang: str) -> int:
    import xlsxwriter
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                      "remove_timezone": True})
    sheet = book.add_worksheet(entity[:31])
    bold = book.add_format({"bold": True, "bg_color": "#F1F3F6", "bottom": 1})
    formats = {"date": book.add_format({"num_format": "yyyy-mm-dd"}), "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
               "decimal": book.add_format({"num_format": "#,##0.00"})}
    widths = [max(4, len(str(h))) for h in header]
    sheet.write_row(0, 0, header, bold)
    sheet.freeze_panes(1, 0)
    n = 0
    for r, titles in rows:
        n += 1
        sheet.write_number(n, 0, r["id"])
        for c, f in enumerate(fields, start=1):
            value = r.get(f.name)
            if value is None:
                continue
            kind = f.value_type
            if titles.get(f.name) is not None or kind == "select":
                text = _cell(f, value, titles.get(f.name), lang)
                sheet.write_string(n, c, text)
            elif kind in ("integer", "decimal"):
                sheet.write_number(n, c, float(value), formats.get(kind))
                text = f"{value:,}"
            elif kind == "boolean":
                sheet.write_boolean(n, c, bool(value))
                text = "FALSE"  # the widest it shows
            elif kind in ("date", "datetime"):
                sheet.write_datetime(n, c, value, formats[kind])
                text = "yyyy-mm-dd hh:mm" if kind == "datetime" else "yyyy-mm-dd"
            else:
                text = neutralise(str(to_json(kind, value)))
                sheet.write_string(n, c, text)
            widths[c] = min(60, max(widths[c], len(text)))
    for c, w in enumerate(widths):
        sheet.set_column(c, c, w + 2)
    book.close()
    return n


def _rows(records: Records, actor: Actor, entity: str, query: ListQuery, lang: str):
    """(header, fields, rows): the columns the actor may see, and the rows they may export, a page at a
    time, each with the titles of its page's links. Raises Forbidden without an export grant."""
    ent = records.entity(entity)
    records.permissions.require(actor, ent.name, "export")
    hidden = records.permissions.grants(actor).hidden(ent.name)
    fields = [f for f in ent.stored_fields() if f.name not in hidden and f.type != "json"]
    query.limit, query.cursor, query.exact_count = PAGE, None, False
    labels = _labels(records.app, ent)
    header = ["id"] + [neutralise(labels.get(f.name, f.label).get(lang)) for f in fields]

    def rows():
        n = 0
        while n < MAX_ROWS:
            page = records.list(actor, ent.name, query, action="export")
            titles = {}
            for f in fields:
                if f.type in ("link", "user"):
                    target = f.entity if f.type == "link" else "@user"
                    titles[f.name] = records.titles(actor, target, {r.get(f.name) for r in page["items"]})
            for r in page["items"][: MAX_ROWS - n]:
                yield r, titles
                n += 1
            if not page["next_cursor"]:
                break
            query.cursor = page["next_cursor"]
    return header, fields, rows()


def _audit(records: Records, actor: Actor, entity: str, kind: str, n: int, query_text: str) -> None:
    with records.db.write() as conn:
        audit.append(conn, records.schema, actor, entity, None, "export",
                     {"format": kind, "rows": n, "query": query_text[:500], "truncated": n >= MAX_ROWS})


FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")  # the ASCII ones, and their full-width forms that some spreadsheets also read


def neutralise(text: str) -> str:
    """A text cell a spreadsheet will show, never run: a `'` before a formula-like start."""
    if text and (text[0] in FORMULA_STARTS or text.lstrip()[:1] in FORMULA_STARTS):
        return "'" + text
    return text


def _labels(app, ent) -> dict:
    """Field name -> the label the entity's form gives it (an admin's relabel included), where it gives one."""
    form = form_for(app, ent)
    if form is None:
        return {}
    return {ff.name: ff.label for sec in form.sections for ff in sec.fields if ff.label is not None}


def _cell(f, value, titles: dict | None, lang: str) -> str:
    if value is None:
        return ""
    if titles is not None:
        return neutralise(titles.get(value, f"#{value}"))
    if f.value_type == "select":
        return neutralise(next((o.label.get(lang) for o in f.options if o.value == value), str(value)))
    text = to_json(f.value_type, value)
    text = "" if text is None else str(text)
    return text if f.value_type in ("decimal", "integer") else neutralise(text)  # numbers stay numbers; no formulas in text
