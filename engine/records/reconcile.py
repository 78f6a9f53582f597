"""Reconcile the data with its audit trail: is every record what its audit entries say it is?

The hash chain proves the audit trail was not rewritten; it says nothing about the records
themselves. Someone with database access can change an order's total and never touch the
audit. Every write path of the engine records the values it writes (create: every value and
line; update and workflow steps: old and new values, lines added, removed and changed;
escalations: the new owner; delete), so folding a record's entries in order gives what the
record must be now. A record whose row or lines differ - or that exists without a trail, or
was deleted without one - was written behind the engine's back. So was a value that an
entry found different from what the entries before it had left (it was changed in between).

Only the metadata's fields and the owner are compared; version, timestamps, the search text
and the SLA columns are the engine's bookkeeping. Records are read in batches ordered by id,
with their lines and audit entries, so memory stays bounded at any size.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Iterator

from sqlalchemy import select

from engine.core.values import to_json
from engine.metadata.model import App, Entity
from engine.storage.schema import Schema

BATCH = 5000
_ABSENT = object()  # a line the trail does not have
_AS_TEXT = {"decimal": str, "date": dt.date.isoformat}  # how the trail writes these types (engine.core.values.to_json)


@dataclass
class Difference:
    """One record that does not match its audit trail."""

    entity: str
    record_id: int
    fields: list[str]  # what differs: field names, `owner`, `lines[ID]` or `lines[ID].field`
    details: list[str]  # the same, each with what the trail says and what the database holds

    def format(self) -> str:
        return f"{self.entity} {self.record_id}: " + "; ".join(self.details)


@dataclass
class Stats:
    records: int = 0
    lines: int = 0
    entries: int = 0
    entities: list[str] = field(default_factory=list)


def reconcile(conn, app: App, schema: Schema, entities: list[str] | None = None, since: dt.datetime | None = None,
              stats: Stats | None = None, batch: int = BATCH) -> Iterator[Difference]:
    """Each record (of `entities`, default all; changed since `since`, default any time) that differs
    from what its audit entries say, in id order per entity. Run it in one snapshot (Database.snapshot)."""
    stats = stats if stats is not None else Stats()
    for name in entities or [e.name for e in app.top_entities()]:
        ent = app.entity(name)
        stats.entities.append(name)
        yield from _entity(conn, app, schema, ent, since, stats, batch)


# ---------------------------------------------------------------------------- reading in batches

def _entity(conn, app: App, schema: Schema, ent: Entity, since, stats: Stats, batch: int) -> Iterator[Difference]:
    t, a = schema.tables[ent.name], schema.audit
    fields = [(f.name, f.value_type) for f in ent.stored_fields() if f.name in t.c]
    tables = [(tf.name, app.entity(tf.entity), schema.tables[tf.entity]) for tf in ent.table_fields()]
    line_fields = {name: [(f.name, f.value_type) for f in child.stored_fields() if f.name in ct.c] for name, child, ct in tables}
    types = {n: ty for n, ty in fields}
    line_types = {name: dict(fs) for name, fs in line_fields.items()}
    row_cols = [t.c.id, t.c.owner, *[t.c[n] for n, _ in fields]]
    cursor = 0
    while True:
        ids_q = select(t.c.id).where(t.c.id > cursor).order_by(t.c.id).limit(batch)
        trail_q = select(a.c.record_id).where(a.c.entity == ent.name, a.c.record_id > cursor).order_by(a.c.record_id).limit(batch)
        if since is not None:  # records whose row or trail says they changed since then
            ids_q = ids_q.where(t.c.updated_at >= since)
            trail_q = trail_q.where(a.c.at >= since)
        ids = conn.execute(ids_q).scalars().all()
        trail = conn.execute(trail_q).scalars().all()
        if not ids and not trail:
            return
        # the batch ends where the first full list ends, so neither list is cut short
        bounds = [lst[-1] for lst in (ids, trail) if len(lst) == batch]
        hi = min(bounds) if bounds else max(lst[-1] for lst in (ids, trail) if lst)
        if since is None:
            rows = conn.execute(select(*row_cols).where(t.c.id > cursor, t.c.id <= hi)).all()
            entries = conn.execute(select(a.c.id, a.c.record_id, a.c.action, a.c.actor_id, a.c.changes)
                                   .where(a.c.entity == ent.name, a.c.record_id > cursor, a.c.record_id <= hi)
                                   .order_by(a.c.record_id, a.c.id)).all()
            lines = {name: conn.execute(select(ct.c.id, ct.c.parent_id, *[ct.c[n] for n, _ in line_fields[name]])
                                        .where(ct.c.parent_id > cursor, ct.c.parent_id <= hi)).all()
                     for name, _, ct in tables}
        else:
            wanted = sorted({i for i in ids if i <= hi} | {i for i in trail if i <= hi})
            rows = conn.execute(select(*row_cols).where(t.c.id.in_(wanted))).all()
            entries = conn.execute(select(a.c.id, a.c.record_id, a.c.action, a.c.actor_id, a.c.changes)
                                   .where(a.c.entity == ent.name, a.c.record_id.in_(wanted)).order_by(a.c.record_id, a.c.id)).all()
            lines = {name: conn.execute(select(ct.c.id, ct.c.parent_id, *[ct.c[n] for n, _ in line_fields[name]])
                                        .where(ct.c.parent_id.in_(wanted))).all()
                     for name, _, ct in tables}
        cursor = hi
        by_record: dict[int, list] = {}
        for e in entries:
            by_record.setdefault(e[1], []).append(e)
        lines_of: dict[int, dict] = {}
        for name, _, _ in tables:
            names = [n for n, _ in line_fields[name]]
            for r in lines[name]:
                lines_of.setdefault(r[1], {}).setdefault(name, {})[r[0]] = dict(zip(names, r[2:]))
            stats.lines += len(lines[name])
        present = {}
        for r in rows:
            present[r[0]] = r
        stats.entries += len(entries)
        for rid in sorted(set(present) | set(by_record)):
            stats.records += 1
            diff = _compare(ent.name, rid, _fold(by_record.get(rid, []), types, line_types), present.get(rid),
                            fields, lines_of.get(rid, {}), line_fields, tables)
            if diff is not None:
                yield diff


# ---------------------------------------------------------------------------- folding the trail

@dataclass
class _State:
    created: int | None = None  # the create entry's id
    exists: bool = False
    deleted: int | None = None  # the delete entry's id, while deleted
    owner: object = None
    fields: dict = field(default_factory=dict)  # name -> value as the trail records it (JSON form)
    lines: dict = field(default_factory=dict)  # table -> {line id: {field: value}}
    gaps: list = field(default_factory=list)  # (path, entry id, value the trail had left, value the entry found, type)


def _pair(v) -> tuple:
    """(old, new) from an entry's change: [old, new], or {"from": old, "to": new} (escalations)."""
    if isinstance(v, dict):
        return v.get("from"), v.get("to")
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return v[0], v[1]
    return None, v


def _fold(entries: list, types: dict, line_types: dict) -> _State | None:
    """What the record must be after its entries, in order; None without any entry."""
    if not entries:
        return None
    st = _State()
    for eid, _, action, actor_id, text in entries:
        try:
            ch = json.loads(text)
        except ValueError:
            ch = {}
        if not isinstance(ch, dict):
            ch = {}
        if action == "create":
            st = _State(created=eid, exists=True, owner=actor_id)  # the record service makes its creator the owner
            for name, pair in (ch.get("fields") or {}).items():
                st.fields[name] = pair[1] if type(pair) is list and len(pair) == 2 else _pair(pair)[1]
            for table, diff in (ch.get("lines") or {}).items():
                rows = st.lines.setdefault(table, {})
                for row in diff.get("added", []):
                    rows[row.get("id")] = {k: v for k, v in row.items() if k != "id"}
            continue
        if action == "delete":
            st.exists, st.deleted = False, eid
            continue
        for name, pair in (ch.get("fields") or {}).items():
            old, new = _pair(pair)
            if name == "owner" and name not in types:
                if old != st.owner:
                    st.gaps.append(("owner", eid, st.owner, old, None))
                st.owner = new
                continue
            ty = types.get(name)
            if ty is not None and not _same(ty, st.fields.get(name), old):
                st.gaps.append((name, eid, st.fields.get(name), old, ty))
            st.fields[name] = new
        for table, diff in (ch.get("lines") or {}).items():
            rows = st.lines.setdefault(table, {})
            lt = line_types.get(table, {})
            for row in diff.get("removed", []):
                if rows.pop(row.get("id"), None) is None:
                    st.gaps.append((f"{table}[{row.get('id')}]", eid, _ABSENT, "removed", None))
            for row in diff.get("added", []):
                rows[row.get("id")] = {k: v for k, v in row.items() if k != "id"}
            for row in diff.get("changed", []):
                line = rows.get(row.get("id"))
                if line is None:
                    st.gaps.append((f"{table}[{row.get('id')}]", eid, _ABSENT, "changed", None))
                    line = rows[row.get("id")] = {}
                for name, pair in (row.get("fields") or {}).items():
                    old, new = _pair(pair)
                    ty = lt.get(name)
                    if ty is not None and not _same(ty, line.get(name), old):
                        st.gaps.append((f"{table}[{row.get('id')}].{name}", eid, line.get(name), old, ty))
                    line[name] = new
    return st


# ---------------------------------------------------------------------------- comparing

def _compare(entity: str, rid: int, st: _State | None, row, fields: list, lines: dict, line_fields: dict,
             tables: list) -> Difference | None:
    names: list[str] = []
    details: list[str] = []
    if st is None:
        return Difference(entity, rid, ["(record)"], ["exists, but the audit trail has no entry for it: it was inserted behind the engine's back"])
    if st.created is None:
        names.append("(record)")
        details.append("the audit trail has no create entry for it" + ("" if row is not None else " (and it does not exist)"))
        return Difference(entity, rid, names, details)
    if not st.exists:
        if row is None:
            return None
        return Difference(entity, rid, ["(record)"], [f"exists, but the audit trail deleted it (entry {st.deleted}): it was put back behind the engine's back"])
    if row is None:
        return Difference(entity, rid, ["(record)"], ["is gone, but the audit trail has no delete entry: it was deleted behind the engine's back"])
    if row[1] != st.owner:
        names.append("owner")
        details.append(f"owner: audit trail {_show(st.owner)}, database {_show(row[1])}")
    for (name, ty), value in zip(fields, row[2:]):
        want = st.fields.get(name)
        if want == value or (want is not None and value is not None and ty in _AS_TEXT and want == _AS_TEXT[ty](value)):
            continue  # the common cases (text, numbers, nothing; decimals and dates as the trail writes them) without conversions
        if not _same(ty, want, value, stored=True):
            names.append(name)
            details.append(f"{name}: audit trail {_show(want, ty)}, database {_show(to_json(ty, value), ty)}")
    for table, _, _ in tables:
        want_rows = st.lines.get(table, {})
        have_rows = lines.get(table, {})
        for lid in sorted(set(want_rows) | set(have_rows), key=lambda x: (x is None, x if isinstance(x, int) else 0)):
            want, have = want_rows.get(lid), have_rows.get(lid)
            if have is None:
                names.append(f"{table}[{lid}]")
                details.append(f"{table}[{lid}]: in the audit trail, missing from the database")
                continue
            if want is None:
                names.append(f"{table}[{lid}]")
                details.append(f"{table}[{lid}]: in the database, not in the audit trail")
                continue
            for name, ty in line_fields[table]:
                w, v = want.get(name), have.get(name)
                if w == v or (w is not None and v is not None and ty in _AS_TEXT and w == _AS_TEXT[ty](v)):
                    continue
                if not _same(ty, w, have.get(name), stored=True):
                    names.append(f"{table}[{lid}].{name}")
                    details.append(f"{table}[{lid}].{name}: audit trail {_show(want.get(name), ty)}, "
                                   f"database {_show(to_json(ty, have.get(name)), ty)}")
    for path, eid, had, found, ty in st.gaps:
        names.append(path)
        if had is _ABSENT:  # a line the trail does not have
            details.append(f"{path}: entry {eid} {found} a line the trail never had: it was added behind the engine's back")
        else:
            details.append(f"{path}: changed behind the engine's back before entry {eid} (the trail left {_show(had, ty)}, "
                           f"entry {eid} found {_show(found, ty)})")
    if not names:
        return None
    return Difference(entity, rid, list(dict.fromkeys(names)), details)


def _same(ty: str, trail, value, stored: bool = False) -> bool:
    """Is the trail's value (JSON form) the same as `value` (a stored value when `stored`, else JSON form)?"""
    if trail is None or value is None:
        return trail is None and value is None
    if ty == "decimal":
        try:
            return Decimal(str(trail)) == (value if isinstance(value, Decimal) else Decimal(str(value)))
        except (InvalidOperation, ValueError):
            return False
    if ty == "datetime":
        try:
            a = dt.datetime.fromisoformat(str(trail).replace("Z", "+00:00"))
            b = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            a = a if a.tzinfo else a.replace(tzinfo=dt.timezone.utc)
            b = b if b.tzinfo else b.replace(tzinfo=dt.timezone.utc)
            return a == b
        except ValueError:
            return False
    if stored:
        value = to_json(ty, value)
    return trail == value


def _show(v, ty: str | None = None) -> str:
    if v is None:
        return "empty"
    if isinstance(v, str) and ty not in ("decimal", "date", "datetime"):
        return repr(v[:60] + ("..." if len(v) > 60 else ""))
    return str(v)
