"""The import template of an entity: an .xlsx file with the columns a user may fill (their labels,
in their language), one example row, and a second sheet that says, for each column, what it takes -
required or not, the allowed choices, how a link is matched, how to write a date or a number.

The columns are the fields the user may write when creating a record (not computed, not read-only
for them, not hidden, not the workflow's state), then the table's line fields as `Lines.Product`
(with a `ref` column that groups the lines of one record), and `transition` when the entity has a
workflow. The file imports as it is: its example row is valid wherever the example links exist."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from engine.core.actor import Actor
from engine.core.errors import Msg
from engine.core.i18n import localize
from engine.metadata.model import Entity
from engine.records.export import form_labels
from engine.records.listing import ListQuery
from engine.records.service import Records

SKIPPED_TYPES = ("computed", "table", "json", "file")  # a file is attached on its record, not imported


def writable(records: Records, actor: Actor, ent: Entity) -> list:
    """The fields of `ent` the actor may set when creating one, in the entity's order."""
    grants = records.permissions.grants(actor)
    wf = records.workflow_of(ent.name) if not ent.child else None
    return [f for f in ent.fields.values() if f.type not in SKIPPED_TYPES and not f.read_only and grants.level(ent.name, f.name) == "editable"
            and (wf is None or f.name != wf.state_field)]


def template(records: Records, actor: Actor, entity: str, lang: str = "en") -> bytes:
    """The template as .xlsx bytes. Raises Forbidden without `import` on the entity."""
    import xlsxwriter
    ent = records.entity(entity)
    records.permissions.require(actor, ent.name, "import")
    labels = form_labels(records.app, ent)
    columns: list[tuple[str, object, str]] = []  # (header, field or None, what the column is)
    tables = [tf for tf in ent.table_fields() if records.permissions.grants(actor).level(ent.name, tf.name) == "editable"]
    if tables:
        columns.append(("ref", None, localize(Msg("rows with the same ref are one record: one row per line"), lang)))
    for f in writable(records, actor, ent):
        columns.append((labels.get(f.name, f.label).get(lang), f, ""))
    for tf in tables[:1]:
        child = records.app.entity(tf.entity)
        for f in writable(records, actor, child):
            columns.append((f"{labels.get(tf.name, tf.label).get(lang)}.{f.label.get(lang)}", f, ""))
    wf = records.workflow_of(ent.name)
    if wf is not None:
        names = ", ".join(t.label.get(lang) for t in wf.transitions.values())
        columns.append(("transition", None, localize(Msg("a transition to fire once the record is written, if you may (leave empty to "
                                                        "keep it in its first state): %(names)s", names=names), lang)))
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet(ent.label.get(lang)[:31].replace("/", " ") or ent.name)
    bold = book.add_format({"bold": True, "bg_color": "#F1F3F6", "bottom": 1})
    needed = book.add_format({"bold": True, "bg_color": "#FDEFD8", "bottom": 1})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for c, (header, f, _) in enumerate(columns):
        sheet.write_string(0, c, header, needed if f is not None and f.required else bold)
        sheet.set_column(c, c, max(12, min(40, len(header) + 4)))
        value = "A" if header == "ref" else _example(records, actor, f, lang) if f is not None else ""
        if isinstance(value, dt.date):
            sheet.write_datetime(1, c, dt.datetime.combine(value, dt.time()), day)
        elif isinstance(value, bool):
            sheet.write_boolean(1, c, value)
        elif isinstance(value, (int, float, Decimal)):
            sheet.write_number(1, c, float(value))
        elif value:
            sheet.write_string(1, c, str(value))
    sheet.freeze_panes(1, 0)
    about = book.add_worksheet(localize(Msg("Columns"), lang)[:31])
    heads = [localize(Msg(h), lang) for h in ("Column", "Field", "Required", "What to write")]
    about.write_row(0, 0, heads, bold)
    for r, (header, f, note) in enumerate(columns, start=1):
        about.write_string(r, 0, header)
        about.write_string(r, 1, f.name if f is not None else header)
        about.write_string(r, 2, localize(Msg("yes"), lang) if f is not None and f.required else "")
        about.write_string(r, 3, note or _what(records, f, lang))
    about.set_column(0, 1, 22)
    about.set_column(3, 3, 90)
    book.close()
    return buf.getvalue()


def _example(records: Records, actor: Actor, f, lang: str):
    if f.default is not None and not isinstance(f.default, (dict, list)):
        return f.default
    if f.type == "select":
        return f.options[0].label.get(lang) if f.options else ""
    if f.type == "link":
        target = records.app.entity(f.entity)
        if not records.permissions.grants(actor).can(target.name, "read"):
            return ""
        page = records.list(actor, target.name, ListQuery(limit=1, fields=(target.title_field,) if target.title_field else None))
        return str(page["items"][0].get(target.title_field) or "") if page["items"] and target.title_field else ""
    if f.type == "user":
        return actor.username
    if f.type == "date":
        return dt.date.today()
    if f.type == "datetime":
        return dt.datetime.now().replace(second=0, microsecond=0).isoformat(" ")
    if f.type == "boolean":
        return False
    if f.type == "integer":
        return int(f.min) if f.min is not None and f.min > 1 else 1
    if f.type == "decimal":
        return float(f.min) if f.min is not None and f.min > 100 else 100.0
    return ""


def _what(records: Records, f, lang: str) -> str:
    if f.type == "select":
        return localize(Msg("one of: %(options)s", options="; ".join(f"{o.value} ({o.label.get(lang)})" for o in f.options)), lang)
    if f.type == "link":
        target = records.app.entity(f.entity)
        keys = [target.title_field] + [x.name for x in target.fields.values() if x.unique and x.name != target.title_field]
        return localize(Msg("a %(entity)s you may see, by its %(keys)s", entity=Msg.label(target.label, lower=True),
                            keys=", ".join(k for k in keys if k)), lang)
    if f.type == "user":
        return localize(Msg("a username"), lang)
    if f.type in ("date", "datetime"):
        return localize(Msg("a date: an Excel date, 2026-03-31, 31.03.2026 or 2026/3/31"), lang)
    if f.type in ("integer", "decimal"):
        return localize(Msg("a number: 1234.50, or 1 234,50 in Russian"), lang)
    if f.type == "boolean":
        return localize(Msg("TRUE or FALSE"), lang)
    help_text = f.help.get(lang) if f.help is not None else ""
    limit = localize(Msg("at most %(n)s characters", n=f.max_length), lang) if f.max_length else ""
    return " ".join(x for x in (help_text, limit) if x)
