"""Naming series such as SO-{YYYY}-{#####}: human numbers, unique and gap-free.

The counter row is incremented inside the record's own transaction, so a rolled-back
create gives its number back, and concurrent creators queue on the counter row (row lock
on PostgreSQL, the write lock on SQLite): no gaps, no duplicates.
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.metadata.model import Series
from engine.storage.schema import Schema


def _prefix(series: Series, today: dt.date) -> str:
    s = series.pattern
    for token, value in (("{YYYY}", f"{today.year:04d}"), ("{YY}", f"{today.year % 100:02d}"),
                         ("{MM}", f"{today.month:02d}"), ("{DD}", f"{today.day:02d}")):
        s = s.replace(token, value)
    return s


def next_value(conn, schema: Schema, key_base: str, series: Series, today: dt.date) -> str:
    rendered = _prefix(series, today)
    key = f"{key_base}:{rendered}"
    t = schema.series
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(t).values(key=key, last=0)
    conn.execute(ins.on_conflict_do_nothing(index_elements=["key"]))
    n = conn.execute(t.update().where(t.c.key == key).values(last=t.c.last + 1).returning(t.c.last)).scalar_one()
    return re.sub(r"\{#+\}", str(n).zfill(series.digits), rendered)


def current(conn, schema: Schema, key_base: str) -> dict[str, int]:
    t = schema.series
    return {k: v for k, v in conn.execute(select(t.c.key, t.c.last).where(t.c.key.like(f"{key_base}:%")))}
