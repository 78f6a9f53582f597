"""Fill and show: values and rows looked up in other entities, as the metadata declares.

A fill source is one query: rows of its entity (joined to their parent for `parent.x` names)
whose fields equal values of the current record or line, newest by `latest` first, one row.
Values are bound parameters; names come from checked metadata.
"""
from __future__ import annotations

from sqlalchemy import select

from engine.metadata.model import App, Entity, Show, Source
from engine.storage import memo
from engine.storage.schema import Schema


def _columns(app: App, schema: Schema, entity: str, names: list[str], need_parent: bool = False):
    """A FROM clause and a column resolver for `entity`, joined to its parent if a name needs it."""
    t = schema.tables[entity]
    ent = app.entity(entity)
    if ent.child and (need_parent or any(n and n.startswith("parent.") for n in names)):
        p = schema.tables[ent.parent]
        return t.join(p, t.c.parent_id == p.c.id), (lambda n: p.c[n[7:]] if n.startswith("parent.") else t.c[n]), t
    return t, (lambda n: t.c[n]), t


def _where(source_match, col, context: dict):
    clauses = []
    for key, name in source_match:
        value = context.get(name)
        if value is None:
            return None  # a source with nothing to match on does not apply
        clauses.append(col(key) == value)
    return clauses


def _visible(app: App, entity: str, scope) -> list:
    """The reader's scope on `entity` (on its parent, for lines) as a list of 0 or 1 clauses."""
    if scope is None:
        return []
    ent = app.entity(entity)
    clause = scope(ent.parent if ent.child else entity)
    return [] if clause is None else [clause]


def find(conn, app: App, schema: Schema, source: Source, context: dict, limit: int = 1, extra: tuple = (), scope=None):
    """`scope(entity)` gives the reader's row scope on an entity: only rows they may read are used.
    Within an import the same lookup is answered once (engine.storage.memo)."""
    visible = _visible(app, source.entity, scope)
    remembered = memo.current()
    if remembered is None:
        return _find(conn, app, schema, source, context, limit, extra, visible)
    ent = app.entity(source.entity)
    owner = ent.parent if ent.child else ent.name
    key = ("find", id(source), tuple(context.get(name) for _, name in source.match), limit, extra, *map(id, visible))
    remembered.keep(visible)  # so that no other clause takes their ids while the memo lives
    try:
        rows = remembered.get(owner, key)
    except TypeError:  # a value that cannot be a key (a list): asked each time
        return _find(conn, app, schema, source, context, limit, extra, visible)
    if rows is memo.MISSING:
        rows = _find(conn, app, schema, source, context, limit, extra, visible)
        remembered.put(owner, key, rows)
    return rows


def _find(conn, app: App, schema: Schema, source: Source, context: dict, limit: int, extra: tuple, visible: list):
    names = [k for k, _ in source.match] + [source.take, source.latest or "", *extra]
    from_, col, t = _columns(app, schema, source.entity, names, need_parent=bool(visible))
    where = _where(source.match, col, context)
    if where is None:
        return []
    where += visible
    order = ([col(source.latest).desc()] if source.latest else []) + [t.c.id.desc()]
    cols = [col(source.take).label("value")] + [col(n).label(n.replace(".", "_")) for n in extra] + \
           ([col(source.latest).label("latest")] if source.latest else [])
    return conn.execute(select(*cols).select_from(from_).where(*where).order_by(*order).limit(limit)).mappings().all()


def fill_value(conn, app: App, schema: Schema, field, context: dict, scope=None):
    """The first value any of the field's sources finds, or None."""
    for source in field.fill.sources:
        rows = find(conn, app, schema, source, context, scope=scope)
        if rows and rows[0]["value"] is not None:
            return rows[0]["value"]
    return None


def apply_fills(conn, app: App, schema: Schema, ent: Entity, values: dict, lines: dict,
                force: dict | None = None, scope=None) -> list[str]:
    """Fill empty fields that declare a fill, on the record and on every line; `force` names
    (table, row index) or (None, None) -> trigger field whose dependants are refilled anyway.
    Returns the paths filled, like `lines-0-unit_price`."""
    force = force or {}
    filled = []
    for f in ent.fields.values():
        if f.fill and _wants(f, values, force.get((None, None))):
            v = fill_value(conn, app, schema, f, values, scope)
            if v is not None:
                values[f.name] = v
                filled.append(f.name)
    for tf in ent.table_fields():
        child = app.entity(tf.entity)
        fillable = [f for f in child.fields.values() if f.fill]
        for i, row in enumerate(lines.get(tf.name, [])):
            context = {**values, **{k: v for k, v in row.items() if v is not None}}
            for f in fillable:
                if _wants(f, row, force.get((tf.name, i))):
                    v = fill_value(conn, app, schema, f, context, scope)
                    if v is not None:
                        row[f.name] = v
                        filled.append(f"{tf.name}-{i}-{f.name}")
    return filled


def _wants(field, values: dict, changed: str | None) -> bool:
    if changed is not None and changed in field.fill.on:
        return True
    return values.get(field.name) is None and all(values.get(n) is not None for n in field.fill.on)


def show_rows(conn, app: App, schema: Schema, show: Show, context: dict, limit: int = 20, scope=None) -> list[dict]:
    t = schema.tables[show.entity]
    where = _where(show.match, lambda n: t.c[n], context)
    if where is None:
        return []
    visible = _visible(app, show.entity, scope)
    from_ = t
    if visible and app.entity(show.entity).child:
        p = schema.tables[app.entity(show.entity).parent]
        from_ = t.join(p, t.c.parent_id == p.c.id)
    stmt = select(t.c.id, *[t.c[c] for c in show.columns]).select_from(from_).where(*where, *visible).order_by(t.c.id).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]
