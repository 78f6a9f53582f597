"""Export a list as CSV: the rows the user may export (their `export` scope), with the same
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
    ent = records.entity(entity)
    records.permissions.require(actor, ent.name, "export")
    hidden = records.permissions.grants(actor).hidden(ent.name)
    fields = [f for f in ent.stored_fields() if f.name not in hidden and f.type != "json"]
    query.limit, query.cursor, query.exact_count = PAGE, None, False
    out = io.StringIO()
    writer = csv.writer(out)
    labels = _labels(records.app, ent)
    writer.writerow(["id"] + [neutralise(labels.get(f.name, f.label).get(lang)) for f in fields])
    n = 0
    while n < MAX_ROWS:
        page = records.list(actor, ent.name, query, action="export")
        titles = {}
        for f in fields:
            if f.type in ("link", "user"):
                target = f.entity if f.type == "link" else "@user"
                titles[f.name] = records.titles(actor, target, {r.get(f.name) for r in page["items"]})
        for r in page["items"][: MAX_ROWS - n]:
            writer.writerow([r["id"]] + [_cell(f, r.get(f.name), titles.get(f.name), lang) for f in fields])
            n += 1
        if not page["next_cursor"]:
            break
        query.cursor = page["next_cursor"]
    with records.db.write() as conn:
        audit.append(conn, records.schema, actor, ent.name, None, "export",
                     {"format": "csv", "rows": n, "query": query_text[:500], "truncated": n >= MAX_ROWS})
    return "\ufeff" + out.getvalue(), n  # the BOM makes Excel read UTF-8 (Chinese, Russian) correctly


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
