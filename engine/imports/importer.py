"""Running an import: each record of the file created or updated through the record service as the
user (`via import`: their permissions, row scopes, conditions, computed fields, audit and events,
as a form save), all in one transaction.

- Columns map to fields by name or by label in any of the app's languages (`mapping` overrides);
  `lines.<field>` columns fill the table field `lines` (one row per line). Rows that share the value
  of the key field, or of a `ref` column (any header ending in `ref` that names no field), form one
  record. A column that maps to nothing is an error, never dropped silently.
- A link is matched by the linked entity's title field or any unique field, among the records the
  user may read; a user field by username; a choice by its value or its label in any language. An unknown or ambiguous value is an error naming it.
- With `key` (a unique field), a record whose key exists is updated - unchanged ones are counted
  and write nothing; others are created.
- Values are read the way the user's locale writes them: Excel dates and serial numbers, dates such
  as 31.03.2026 (ru) or 2026/3/31 (zh), decimals with a comma (1 234,50).
- A `transition` column (also "переход", "流转") names a transition of the entity's workflow, by
  name or label, to fire on the record once it is written - if the user may, as on the record page.
- A dry run does everything, then rolls the transaction back. By default one error writes nothing;
  with `skip_errors` each record is its own savepoint and only the good ones are kept.
- An import that writes emits one `import_finished` event (an audit entry too) beside the records' own.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from engine.core.actor import Actor
from engine.core.errors import Conflict, FieldError, Forbidden, Msg, NotFound, ValidationFailed
from engine.core.i18n import localize
from engine.core.values import to_json
from engine.events.model import IMPORT_FINISHED
from engine.imports.sheets import Sheet
from engine.metadata.model import Entity
from engine.records.service import Records
from engine.storage import memo
from engine.workflow import transitions

EXCEL_EPOCH = dt.date(1899, 12, 30)
_LINE = re.compile(r"^([^.]+)\.([^.]+)$")
TRANSITION_HEADERS = ("transition", "переход", "流转")  # the column naming a transition to fire, in the app's languages


class _Rehearsal(Exception):
    """Raised at the end of a dry run so that its transaction is rolled back."""


@dataclass
class Columns:
    fields: dict[int, str] = field(default_factory=dict)  # column -> field
    lines: dict[int, tuple[str, str]] = field(default_factory=dict)  # column -> (table field, line field)
    ref: int | None = None  # the column whose equal values make one record
    transition: int | None = None  # the column naming a transition to fire on the record
    unknown: list[str] = field(default_factory=list)


def map_columns(records: Records, ent: Entity, header: list[str], mapping: dict[str, str] | None = None) -> Columns:
    """Which column fills which field: `mapping` first ({header: field, or "" to leave a column out}),
    then names, then labels in any language, case and spaces aside."""
    names: dict[str, str] = {}
    for f in ent.fields.values():
        names[_norm(f.name)] = f.name
        for text in f.label.texts.values():
            names.setdefault(_norm(text), f.name)
    out = Columns()
    for i, title in enumerate(header):
        wanted = (mapping or {}).get(title)
        if wanted == "":
            continue
        target = wanted or title
        m = _LINE.match(target.strip())
        table = _table(ent, m.group(1).strip()) if m else None
        if table is not None:  # lines.quantity, or the labels as an export writes them: Lines.Quantity, 明细.数量
            child = records.app.entity(ent.fields[table].entity)
            part = m.group(2).strip()
            line_field = part if part in child.fields else _by_label(child, part)
            if line_field:
                out.lines[i] = (table, line_field)
                continue
        name = target if target in ent.fields else names.get(_norm(target))
        if name is not None and ent.fields[name].type != "table":
            out.fields[i] = name
        elif _norm(target) in TRANSITION_HEADERS and records.workflow_of(ent.name) is not None and out.transition is None:
            out.transition = i
        elif _norm(target).endswith("ref") and out.ref is None:
            out.ref = i
        elif title:
            out.unknown.append(title)
    return out


def _norm(text: str) -> str:
    return " ".join(str(text).lower().replace("_", " ").split())


def _table(ent: Entity, text: str) -> str | None:
    """The table field named, or labelled in any language, `text`."""
    tables = [f for f in ent.fields.values() if f.type == "table"]
    return next((f.name for f in tables if text == f.name or _norm(text) in {_norm(t) for t in f.label.texts.values()}), None)


def _by_label(ent: Entity, text: str) -> str | None:
    return next((f.name for f in ent.fields.values() if _norm(text) in {_norm(t) for t in f.label.texts.values()}), None)


def run_import(records: Records, actor: Actor, entity: str, sheet: Sheet, key: str | None = None, dry_run: bool = False,
               skip_errors: bool = False, mapping: dict[str, str] | None = None, lang: str = "en", progress=None, seal=None,
               file_name: str = "", job: int | None = None) -> dict:
    """Import `sheet` into `entity` as `actor` (who should come `via import`); the result: counts,
    errors [{row, field, message}] in `lang`, and the field-by-field changes of the updates.
    `progress(done, total)` hears of each record; `seal(result)` runs in the import's transaction
    just before it commits (a job's result is written with the records it describes)."""
    ent = records.entity(entity)
    actor = actor if actor.via == "import" else actor.through("import")
    records.permissions.require(actor, ent.name, "import")  # then each record needs create, or update, like any write
    if key is not None and (key not in ent.fields or not ent.fields[key].unique):
        raise ValidationFailed([FieldError("key", Msg("'%(key)s' is not a unique field of %(entity)s; the key finds the record to update", key=key,
                                                         entity=ent.name))])
    cols = map_columns(records, ent, sheet.header, mapping)
    result = {"dry_run": dry_run, "created": 0, "updated": 0, "unchanged": 0, "transitioned": 0, "errors": [], "changes": []}
    if cols.unknown:
        result["errors"] = [{"row": 1, "field": t, "message": localize(Msg("this column is not a field of %(entity)s; rename it, or leave it out",
                                                                         entity=ent.name), lang)} for t in cols.unknown]
        return result
    groups = _group(sheet, cols, ent, key)
    result["records"] = len(groups)  # how many records the file holds (an order's lines are one)
    links = _Links(records, actor)
    moves = _Transitions(records, ent, sheet.header, cols.transition)
    try:
        # one unit: the records' writes join the file's transaction without a savepoint each (two statements
        # a record), except with skip_errors, where each record is a savepoint that can fail alone
        with records.db.write() as conn, records.db.one_unit(), memo.remembering() as remembered:  # a customer or product is read once per file
            for done, rows in enumerate(groups):
                if progress is not None:
                    progress(done, len(groups))
                data, errors = _record(records, ent, cols, rows, links, lang, sheet.header)
                move = moves.wanted(rows, lang, errors)
                if errors:
                    result["errors"] += errors
                    continue
                try:
                    if skip_errors:
                        with records.db.savepoint():  # a record that fails takes only itself back
                            _write(records, actor, ent, key, data, rows, result, moves, move, lang)
                    else:
                        _write(records, actor, ent, key, data, rows, result, moves, move, lang)
                except (ValidationFailed, Conflict, Forbidden, NotFound) as exc:
                    remembered.clear()  # what was read while writing this record may have been rolled back with it
                    result["errors"] += _errors_of(exc, ent, cols, sheet.header, rows, lang)
                except DBAPIError as exc:  # the database refused a statement (a unique value taken a moment ago...)
                    remembered.clear()
                    result["errors"].append({"row": rows[0][0], "field": "", "message": localize(Msg(
                        "the database refused this row: %(why)s", why=str(getattr(exc, "orig", exc)).split("\n")[0][:200]), lang)})
                if not records.db.usable(conn):  # PostgreSQL after a refused statement: nothing more can be checked
                    result["errors"].append({"row": rows[-1][0], "field": "", "message": localize(Msg(
                        "the rows after this one were not checked: fix this row and import the file again"), lang)})
                    break
            if progress is not None:
                progress(len(groups), len(groups))
            if dry_run or (result["errors"] and not skip_errors):
                raise _Rehearsal()
            if result["created"] or result["updated"] or result["transitioned"]:
                records.announce(actor, ent.name, IMPORT_FINISHED, {
                    "file": file_name[:200], "job": job, **{k: result[k] for k in ("created", "updated", "unchanged", "transitioned")},
                    "errors": len(result["errors"])}, "import")
            if seal is not None:
                seal(result)
    except _Rehearsal:
        if not dry_run:  # nothing was written: say so in the counts
            result.update(created=0, updated=0, unchanged=0, transitioned=0, changes=[])
    return result


def record_rows(records: Records, entity: str, sheet: Sheet, key: str | None = None, mapping: dict[str, str] | None = None) -> list[list[int]]:
    """The row numbers of each record of the file (an order's lines are one record)."""
    ent = records.entity(entity)
    return [[r for r, _ in rows] for rows in _group(sheet, map_columns(records, ent, sheet.header, mapping), ent, key)]


def _group(sheet: Sheet, cols: Columns, ent: Entity, key: str | None) -> list[list[tuple[int, list]]]:
    """The rows of each record, in file order: rows sharing the ref column's (else the key field's) value are one record."""
    by = cols.ref
    if by is None and cols.lines and key is not None:
        by = next((i for i, f in cols.fields.items() if f == key), None)
    if by is None or not cols.lines:
        return [[r] for r in sheet.rows]
    out: dict = {}
    for r in sheet.rows:
        value = r[1][by] if by < len(r[1]) else None
        out.setdefault(value if value not in (None, "") else ("row", r[0]), []).append(r)
    return list(out.values())


class _Links:
    """A link's text matched once per file: the title field, then each unique field, within the user's
    read scope; a user field's ("@user") by username."""

    def __init__(self, records: Records, actor: Actor):
        self.records, self.actor, self.seen = records, actor, {}

    def find(self, entity: str, text: str) -> tuple[int | None, Msg | None]:
        if (entity, text) not in self.seen:
            self.seen[entity, text] = self._find(entity, text)
        return self.seen[entity, text]

    def _find(self, entity: str, text: str):
        if entity == "@user":  # a user field: the username
            u = self.records.schema.user
            with self.records.db.read() as conn:
                uid = conn.execute(select(u.c.id).where(u.c.username == text.strip().lower())).scalar()
            return uid, None if uid is not None else Msg("no user '%(value)s'", value=text)
        target = self.records.app.entity(entity)
        keys = [target.title_field] + [f.name for f in target.fields.values() if f.unique and f.name != target.title_field]
        for k in (k for k in keys if k and k in target.fields):
            try:
                found = self.records.find(self.actor, entity, k, text)
            except (ValidationFailed, Forbidden):
                continue
            if len(found) == 1:
                return found[0][0], None
            if len(found) > 1:
                return None, Msg("more than one %(entity)s is '%(value)s'; use its %(keys)s", entity=Msg.label(target.label, lower=True),
                                 value=text, keys=", ".join(keys[1:]) or "id")
        return None, Msg("no %(entity)s '%(value)s' that you may see", entity=Msg.label(target.label, lower=True), value=text)


def _record(records: Records, ent: Entity, cols: Columns, rows: list, links: _Links, lang: str, header: list[str]) -> tuple[dict, list[dict]]:
    """The record's data as text values (links as ids) from its rows, and the errors of values that cannot be read."""
    data: dict = {}
    errors: list[dict] = []

    def value(f, raw, row, title):
        text = cell_text(raw, f.type, lang)
        if text is not None and f.type == "select":
            return _option(f, text)
        if text is None or f.type not in ("link", "user"):
            return text
        rid, problem = links.find(f.entity if f.type == "link" else "@user", text)
        if problem is not None:
            errors.append({"row": row, "field": title, "message": localize(problem, lang)})
        return rid

    first_row, first = rows[0]
    header_of = dict(enumerate(header))
    for i, name in cols.fields.items():
        data[name] = value(ent.fields[name], first[i] if i < len(first) else None, first_row, header_of.get(i, name))
    for row_no, cells in rows:
        line: dict[str, dict] = {}
        for i, (table, name) in cols.lines.items():
            child = records.app.entity(ent.fields[table].entity)
            v = value(child.fields[name], cells[i] if i < len(cells) else None, row_no, header_of.get(i, f"{table}.{name}"))
            if v is not None:
                line.setdefault(table, {})[name] = v
        for table, values in line.items():
            data.setdefault(table, []).append(values)
    return {k: v for k, v in data.items() if v is not None}, errors


def _option(f, text: str) -> str:
    """A select's value from its value or its label in any language (华东, Восток, East: east); else the text as it is."""
    wanted = _norm(text)
    for o in f.options:
        if wanted == _norm(o.value) or wanted in {_norm(t) for t in o.label.texts.values()}:
            return o.value
    return text


class _Transitions:
    """The transition a record's row names (by name, or label in any language), fired once the record is written."""

    def __init__(self, records: Records, ent: Entity, header: list[str], column: int | None):
        self.records, self.ent, self.column = records, ent, column
        self.title = header[column] if column is not None else ""
        wf = records.workflow_of(ent.name)
        self.names: dict[str, str] = {}
        for t in (wf.transitions.values() if wf is not None and column is not None else ()):
            self.names[_norm(t.name)] = t.name
            for text in t.label.texts.values():
                self.names.setdefault(_norm(text), t.name)

    def wanted(self, rows: list, lang: str, errors: list) -> str | None:
        if self.column is None:
            return None
        row, cells = rows[0]
        text = cells[self.column] if self.column < len(cells) else None
        if text is None or not str(text).strip():
            return None
        name = self.names.get(_norm(str(text)))
        if name is None:
            errors.append({"row": row, "field": self.title, "message": localize(Msg(
                "the workflow of %(entity)s has no transition '%(value)s'; transitions: %(names)s", entity=self.ent.name, value=str(text),
                names=", ".join(sorted(set(self.names.values())))), lang)})
        return name

    def fire(self, actor: Actor, record_id: int, name: str, lang: str) -> None:
        try:
            transitions.fire(self.records, actor, self.ent.name, record_id, name, lang=lang)
        except ValidationFailed as exc:  # the transition's inputs or the record's rules: said on the transition's column
            raise ValidationFailed([FieldError(self.title, e.message) for e in exc.errors]) from None
        except (Conflict, Forbidden, NotFound) as exc:  # not allowed to this user, or not from the record's state
            raise ValidationFailed([FieldError(self.title, exc.reason)]) from None


def _write(records: Records, actor: Actor, ent: Entity, key: str | None, data: dict, rows: list, result: dict,
           moves: _Transitions, move: str | None, lang: str) -> None:
    existing = records.find(actor, ent.name, key, str(data[key])) if key is not None and data.get(key) not in (None, "") else []
    if not existing:
        created = records.create(actor, ent.name, data)
        result["created"] += 1
        if move is not None:
            moves.fire(actor, created["id"], move, lang)
            result["transitioned"] += 1
        return
    (rid, version), = existing[:1]
    before = records.get(actor, ent.name, rid)
    for table in [t for t in data if ent.fields.get(t) is not None and ent.fields[t].type == "table"]:
        kept = before.get(table, [])
        data[table] = [{**({"id": kept[i]["id"]} if i < len(kept) else {}), **line} for i, line in enumerate(data[table])]
    after = records.update(actor, ent.name, rid, data, version=version)
    if move is not None:
        moves.fire(actor, rid, move, lang)
        result["transitioned"] += 1
    if after["version"] == before["version"]:
        result["unchanged"] += 1
        return
    result["updated"] += 1
    changed = {n: [to_json(ent.fields[n].type, before.get(n)), to_json(ent.fields[n].type, after.get(n))]
               for n in data if n in ent.fields and ent.fields[n].type != "table" and before.get(n) != after.get(n)}
    result["changes"].append({"row": rows[0][0], "id": rid, "fields": changed})


def _errors_of(exc, ent: Entity, cols: Columns, header: list[str], rows: list, lang: str) -> list[dict]:
    """A refusal of the record service as {row, field (the column's title), message} errors; a line's error is on that line's row."""
    by_field = {f: header[i] for i, f in cols.fields.items()}
    by_line = {f"{t}.{f}": header[i] for i, (t, f) in cols.lines.items()}
    if not isinstance(exc, ValidationFailed):
        return [{"row": rows[0][0], "field": "", "message": localize(exc.reason, lang)}]
    out = []
    for e in exc.errors:
        row, name = rows[0][0], e.field
        m = re.match(r"^(\w+)\[(\d+)\]\.(\w+)$", e.field)
        if m and int(m.group(2)) < len(rows):
            row, name = rows[int(m.group(2))][0], by_line.get(f"{m.group(1)}.{m.group(3)}", e.field)
        else:
            name = by_field.get(e.field, e.field)
        out.append({"row": row, "field": name, "message": localize(e.message, lang)})
    return out


def cell_text(raw, kind: str, lang: str = "en") -> str | None:
    """A cell as the text the record service reads for a field of type `kind`, from the way a
    spreadsheet or a person in `lang` wrote it."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, dt.datetime):
        return (raw.date().isoformat() if kind == "date" else (raw if raw.tzinfo else raw.replace(tzinfo=dt.timezone.utc)).isoformat())
    if isinstance(raw, dt.date):
        return raw.isoformat() if kind != "datetime" else dt.datetime.combine(raw, dt.time(), dt.timezone.utc).isoformat()
    if isinstance(raw, (int, float)):
        if kind == "date" and 1 <= raw < 2958466:  # an Excel serial day
            return (EXCEL_EPOCH + dt.timedelta(days=int(raw))).isoformat()
        return str(int(raw)) if float(raw).is_integer() and kind != "decimal" else format(raw, ".15g")
    text = str(raw).strip()
    if kind in ("decimal", "integer"):
        return _number_text(text, lang)
    if kind == "date":
        return _date_text(text, lang)
    return text


def _number_text(text: str, lang: str) -> str:
    """1 234,50 and 1.234,50 (ru), 1,234.50 and 1,200,000 (en, zh) as 1234.50 and 1200000: the last of
    two kinds of marks is the decimal one; a lone comma is decimal in Russian, and elsewhere unless
    three digits follow it."""
    c = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    if "," in c and "." in c:
        return c.replace(".", "").replace(",", ".") if c.rfind(",") > c.rfind(".") else c.replace(",", "")
    if c.count(",") > 1:
        return c.replace(",", "")
    if "," in c:
        return c.replace(",", "") if lang != "ru" and len(c.split(",")[1]) == 3 else c.replace(",", ".")
    return c


def _date_text(text: str, lang: str) -> str:
    """31.03.2026 (ru), 2026/3/31 or 2026年3月31日 (zh), 3/31/2026 (en): as 2026-03-31; anything else as it is (the service says what is wrong)."""
    for pattern, order in ((r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", "dmy"), (r"^(\d{4})[/.年](\d{1,2})[/.月](\d{1,2})日?$", "ymd"),
                           (r"^(\d{1,2})/(\d{1,2})/(\d{4})$", "dmy" if lang == "ru" else "mdy")):
        m = re.match(pattern, text)
        if m:
            parts = dict(zip(order, (int(g) for g in m.groups())))
            try:
                return dt.date(parts["y"], parts["m"], parts["d"]).isoformat()
            except ValueError:
                return text
    return text
