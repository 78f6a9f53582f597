"""Naming series such as SO-{YYYY}-{#####}: human numbers, unique and gap-free.

The counter row is incremented inside the record's own transaction, so a rolled-back
create gives its number back, and concurrent creators queue on the counter row (row lock
on PostgreSQL, the write lock on SQLite): no gaps, no duplicates.
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.metadata.model import Series
from engine.storage import memo
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
    rendered = _prefix(series, today)
    key = f"{key_base}:{rendered}"
    ensure, take = _statements(schema, conn.dialect.name)
    remembered = memo.current()  # within an import: the counter row is made once (counter rows are never deleted)
    if remembered is None or remembered.get("sys_series", key) is memo.MISSING:
        conn.execute(ensure, {"series_key": key})
        if remembered is not None:
            remembered.put("sys_series", key, True)
    n = conn.execute(take, {"series_key": key}).scalar_one()
    return re.sub(r"\{#+\}", str(n).zfill(series.digits), rendered)


def current(conn, schema: Schema, key_base: str) -> dict[str, int]:
    t = schema.series
    return {k: v for k, v in conn.execute(select(t.c.key, t.c.last).where(t.c.key.like(f"{key_base}:%")))}
