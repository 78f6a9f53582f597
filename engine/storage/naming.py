"""Naming series such as SO-{YYYY}-{#####}: human numbers, unique and gap-free.

The counter row is incremented inside the record's own transaction, so a rolled-back
create gives its number back, and concurrent creators queue on the counter row (row lock
on PostgreSQL, the write lock on SQLite): no gaps, no duplicates. A transaction that takes many
numbers (an import) locks the row once, counts on, and writes the row once before it commits.
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.metadata.model import Series
from engine.storage.db import before_commit, tx_local
from engine.storage.schema import Schema


def _prefix(series: Series, today: dt.date) -> str:
    s = series.pattern
    for token, value in (("{YYYY}", f"{today.year:04d}"), ("{YY}", f"{today.year % 100:02d}"),
                         ("{MM}", f"{today.month:02d}"), ("{DD}", f"{today.day:02d}")):
        s = s.replace(token, value)
    return s


def _statements(schema: Schema, dialect: str):
    """(make sure the counter row exists, take the next number): built once per schema and dialect."""
    cached = getattr(schema, "_series_statements", None)
    if cached is None or cached[0] != dialect:
        t = schema.series
        ensure = (pg_insert if dialect == "postgresql" else sqlite_insert)(t).values(key=bindparam("series_key"), last=0)
        take = t.update().where(t.c.key == bindparam("series_key")).values(last=t.c.last + 1).returning(t.c.last)
        cached = schema._series_statements = (dialect, ensure.on_conflict_do_nothing(index_elements=["key"]), take)
    return cached[1], cached[2]


def next_value(conn, schema: Schema, key_base: str, series: Series, today: dt.date) -> str:
    """The next number of the series. The first in a transaction takes (and locks) the counter row;
    the next ones count on in the transaction and the row is written once, before the commit (a
    savepoint that rolls back gives its numbers back)."""
    rendered = _prefix(series, today)
    key = f"{key_base}:{rendered}"
    local = tx_local(conn)
    n = local.get(("series", key)) if local is not None else None
    if n is None:
        ensure, take = _statements(schema, conn.dialect.name)
        conn.execute(ensure, {"series_key": key})
        n = conn.execute(take, {"series_key": key}).scalar_one()
        if local is not None:
            local[("series_row", key)] = n  # what the row holds now
    else:
        n += 1
    if local is not None:
        local[("series", key)] = n
        before_commit(conn, ("series", key), lambda: _write_counter(conn, schema, key))
    return re.sub(r"\{#+\}", str(n).zfill(series.digits), rendered)


def _write_counter(conn, schema: Schema, key: str) -> None:
    local = tx_local(conn) or {}
    n = local.get(("series", key))
    if n is not None and n != local.get(("series_row", key)):
        t = schema.series
        conn.execute(t.update().where(t.c.key == key).values(last=n))


def current(conn, schema: Schema, key_base: str) -> dict[str, int]:
    t = schema.series
    return {k: v for k, v in conn.execute(select(t.c.key, t.c.last).where(t.c.key.like(f"{key_base}:%")))}
