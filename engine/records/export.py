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
from dataclasses import dataclass

from engine.core.actor import Actor
from engine.core.errors import FieldError, Msg, ValidationFailed
from engine.core.values import query_flag, to_json
from engine.records.conditions import form_for
from engine.records.listing import ListQuery
from engine.records.service import Records
from engine.storage import audit

MAX_ROWS = 100_000
PAGE = 500


def export_csv(records: Records, actor: Actor, entity: str, query: ListQuery, lang: str = "en", query_text: str = "",
               columns: list[str] | None = None, per_line: bool = False) -> tuple[str, int]:
    """(CSV text with a header row, number of rows). Raises Forbidden without an export grant."""
    out = io.StringIO()
    writer = csv.writer(out)
    header, cols, rows = _rows(records, actor, entity, query, lang, columns, per_line)
    writer.writerow(header)
    n = 0
    for values in rows:
        writer.writerow([_cell(c.field, v, t, lang) for c, (v, t) in zip(cols, values)])
        n += 1
    _audit(records, actor, entity, "csv", n, query_text)
    return "\ufeff" + out.getvalue(), n  # the BOM makes Excel read UTF-8 (Chinese, Russian) correctly


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_xlsx(records: Records, actor: Actor, entity: str, query: ListQuery, lang: str = "en", query_text: str = "",
                columns: list[str] | None = None, per_line: bool = False) -> tuple[str, int]:
    """(the path of a temporary .xlsx file, number of rows): the same rows as export_csv, written in
    constant memory (xlsxwriter writes each row out as it goes) - numbers as numbers, dates and times
    as Excel dates, yes/no as booleans, links as titles, choices as labels, a frozen header row and
    sized columns. The caller streams the file and removes it; on an error it is removed here."""
    header, cols, rows = _rows(records, actor, entity, query, lang, columns, per_line)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        n = _write_xlsx(path, entity, header, cols, rows, lang)
    except BaseException:
        os.unlink(path)
        raise
    _audit(records, actor, entity, "xlsx", n, query_text)
    return path, n


def _write_xlsx(path: str, entity: str, header: list, cols: list, rows, lang: str) -> int:
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
    kinds = [("id" if c.field is None else "title" if c.titled else c.field.value_type) for c in cols]
    n = 0
    for values in rows:
        n += 1
        for c, (value, titles) in enumerate(values):
            if value is None:
                continue
            kind = kinds[c]
            if kind == "id":
                sheet.write_number(n, c, value)
                text = str(value)
            elif kind == "title" or kind == "select":
                text = _cell(cols[c].field, value, titles, lang)
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
            if len(text) > widths[c]:
                widths[c] = min(60, len(text))
    for c, w in enumerate(widths):
        sheet.set_column(c, c, w + 2)
    book.close()
    return n


OPTIONS = ("columns", "per_line")


def options(pairs) -> tuple[list, list[str] | None, bool]:
    """(the list's own query pairs, the chosen columns, one row per line?) from a query string's pairs:
    `columns=a,b` (or repeated), `per_line=true`."""
    rest, columns, per_line = [], [], False
    for k, v in pairs:
        if k == "columns":
            columns += [c.strip() for c in v.split(",") if c.strip()]
        elif k == "per_line":
            per_line = query_flag(v)
            if per_line is None:
                raise ValidationFailed([FieldError("per_line", Msg("true or false"))])
        else:
            rest.append((k, v))
    return rest, columns or None, per_line


@dataclass(frozen=True)
class Col:
    """A column of an export: a field of the record, or of its line (`line`); None for the id."""
    name: str
    field: object | None
    line: bool = False
    titled: bool = False  # a link or user: shown as the title of what it points to


def columns_of(records: Records, actor: Actor, entity: str, lang: str = "en") -> list[tuple[str, str]]:
    """(name, label) of every column the actor may export: the record's fields, then `<table>.<field>` for its lines."""
    ent = records.entity(entity)
    grants = records.permissions.grants(actor)
    hidden = grants.hidden(ent.name)
    labels = form_labels(records.app, ent)
    out = [(f.name, labels.get(f.name, f.label).get(lang)) for f in ent.stored_fields() if f.name not in hidden and f.type not in ("json", "file")]
    for tf in ent.table_fields():
        if tf.name in hidden:
            continue
        child = records.app.entity(tf.entity)
        line_hidden = grants.hidden(child.name)
        out += [(f"{tf.name}.{f.name}", f"{labels.get(tf.name, tf.label).get(lang)}.{f.label.get(lang)}") for f in child.stored_fields()
                if f.name not in line_hidden and f.type not in ("json", "file")]
    return out


def _rows(records: Records, actor: Actor, entity: str, query: ListQuery, lang: str, columns: list[str] | None = None,
          per_line: bool = False):
    """(header, columns, rows): the columns the actor may see (those chosen, in their order, else all
    of the record's), and the rows they may export, a page at a time - with `per_line`, a row per line
    of the record's first table (or of the table whose columns are chosen), the record's values on
    each. Each row is a list of (value, titles of its column's links). Raises Forbidden without an
    export grant, ValidationFailed for a column that is not one the actor may export."""
    ent = records.entity(entity)
    records.permissions.require(actor, ent.name, "export")
    allowed = dict(columns_of(records, actor, ent.name, lang))
    if columns:
        unknown = [c for c in columns if c not in allowed and c != "id"]
        if unknown:
            raise ValidationFailed([FieldError("columns", Msg("%(names)s: not a column of %(entity)s you may export; columns: %(allowed)s",
                                                              names=", ".join(unknown), entity=ent.name, allowed=", ".join(allowed)))])
        chosen = list(dict.fromkeys(columns))
    else:
        chosen = ["id"] + [n for n in allowed if "." not in n]
    tables = {n.split(".")[0] for n in chosen if "." in n}
    table = None
    if per_line or tables:
        table = next(iter(tables), None) or next((tf.name for tf in ent.table_fields() if tf.name in {n.split(".")[0] for n in allowed}), None)
        if table is not None and not tables:
            chosen += [n for n in allowed if n.startswith(table + ".")]
        if len(tables) > 1:
            raise ValidationFailed([FieldError("columns", Msg("columns of one table at a time: %(tables)s", tables=", ".join(sorted(tables))))])
    child = records.app.entity(ent.fields[table].entity) if table else None
    cols = []
    for n in chosen:
        if n == "id":
            cols.append(Col("id", None))
        elif "." in n:
            f = child.fields[n.split(".", 1)[1]]
            cols.append(Col(n, f, True, f.type in ("link", "user")))
        else:
            f = ent.fields[n]
            cols.append(Col(n, f, False, f.type in ("link", "user")))
    header = [neutralise(allowed.get(c.name, c.name)) for c in cols]
    query.limit, query.cursor, query.exact_count = PAGE, None, False
    query.fields = tuple(sorted({c.name for c in cols if not c.line and c.field is not None}))

    def titles_of(items: list[dict], line: bool) -> dict:
        out = {}
        for c in cols:
            if c.titled and c.line == line:
                out[c.name] = records.titles(actor, c.field.entity if c.field.type == "link" else "@user",
                                             {r.get(c.field.name) for r in items} - {None})
        return out

    def rows():
        n = 0
        while n < MAX_ROWS:
            page = records.list(actor, ent.name, query, action="export")
            titles = titles_of(page["items"], False)
            lines = records.lines_of(actor, ent.name, table, [r["id"] for r in page["items"]], "export") if table else {}
            line_titles = titles_of([ln for group in lines.values() for ln in group], True) if table else {}
            for r in page["items"]:
                for line in (lines.get(r["id"]) or [{}]) if table else [None]:
                    if n >= MAX_ROWS:
                        return
                    yield [((line if c.line else r).get(c.field.name if c.field is not None else "id"),
                            (line_titles if c.line else titles).get(c.name)) for c in cols]
                    n += 1
            if not page["next_cursor"]:
                break
            query.cursor = page["next_cursor"]
    return header, cols, rows()


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


def form_labels(app, ent) -> dict:
    """Field name -> the label the entity's form gives it (an admin's relabel included), where it gives one."""
    form = form_for(app, ent)
    if form is None:
        return {}
    return {ff.name: ff.label for sec in form.sections for ff in sec.fields if ff.label is not None}


def _cell(f, value, titles: dict | None, lang: str) -> str:
    if value is None:
        return ""
    if f is None:  # the id
        return str(value)
    if titles is not None:
        return neutralise(titles.get(value, f"#{value}"))
    if f.value_type == "select":
        return neutralise(next((o.label.get(lang) for o in f.options if o.value == value), str(value)))
    text = to_json(f.value_type, value)
    text = "" if text is None else str(text)
    return text if f.value_type in ("decimal", "integer") else neutralise(text)  # numbers stay numbers; no formulas in text
