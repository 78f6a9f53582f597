"""Per-user preferences that are not entity records: saved list filters, and the columns chosen for a list.

A saved filter is a name and the list's query string (filters, search, sort); it belongs to
one user and one entity, and only its owner sees or deletes it.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import bindparam, select

from engine.core.actor import Actor
from engine.core.errors import ErrorCollector, NotFound
from engine.storage.schema import Schema

MAX_FILTERS = 50
KEPT_PARAMS_EXCLUDED = ("cursor", "lang", "count")


def clean_query(query: str) -> str:
    """The list query without paging and display parameters, in a stable order."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=False) if k not in KEPT_PARAMS_EXCLUDED and not k.endswith("__title")]
    return urlencode(pairs)[:2000]


def list_filters(conn, schema: Schema, actor: Actor, entity: str) -> list[dict]:
    stmt = getattr(schema, "_saved_filters", None)
    if stmt is None:  # built once: it runs on every list page
        t = schema.saved_filter
        stmt = select(t.c.id, t.c.name, t.c.query).where(t.c.user_id == bindparam("u"), t.c.entity == bindparam("e")).order_by(t.c.name)
        schema._saved_filters = stmt
    return [dict(r._mapping) for r in conn.execute(stmt, {"u": actor.id, "e": entity})]


def save_filter(conn, schema: Schema, actor: Actor, entity: str, name: str, query: str) -> int:
    t = schema.saved_filter
    errors = ErrorCollector()
    name = (name or "").strip()
    if not name or len(name) > 80:
        errors.add("name", "give the filter a name of 1 to 80 characters")
    existing = list_filters(conn, schema, actor, entity)
    if any(f["name"] == name for f in existing):
        errors.add("name", "you already have a filter called '%(name)s'", name=name)
    elif len(existing) >= MAX_FILTERS:
        errors.add("name", "at most %(n)s saved filters per list; delete one first", n=MAX_FILTERS)
    errors.raise_if_any()
    return conn.execute(t.insert(), {"user_id": actor.id, "entity": entity, "name": name, "query": clean_query(query),
                                     "created_at": dt.datetime.now(dt.timezone.utc)}).inserted_primary_key[0]


def delete_filter(conn, schema: Schema, actor: Actor, filter_id: int) -> None:
    t = schema.saved_filter
    res = conn.execute(t.delete().where(t.c.id == filter_id, t.c.user_id == actor.id))
    if res.rowcount != 1:
        raise NotFound("no such saved filter of yours")


MAX_COLUMNS = 15


def list_columns(conn, schema: Schema, actor: Actor, entity: str) -> list[str] | None:
    """The columns the user chose for the entity's list, in their order; None: the list's own."""
    t = schema.list_layout
    found = conn.execute(select(t.c.columns).where(t.c.user_id == actor.id, t.c.entity == entity)).scalar()
    return [str(c) for c in found] if isinstance(found, list) and found else None


def save_list_columns(conn, schema: Schema, actor: Actor, entity: str, names: list[str]) -> None:
    """Keep the user's columns for the list (none: back to the list's own)."""
    t = schema.list_layout
    conn.execute(t.delete().where(t.c.user_id == actor.id, t.c.entity == entity))
    if names:
        conn.execute(t.insert(), {"user_id": actor.id, "entity": entity, "columns": list(dict.fromkeys(names))[:MAX_COLUMNS],
                                  "updated_at": dt.datetime.now(dt.timezone.utc)})
