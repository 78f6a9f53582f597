"""The outbox (every domain event, stored in the transaction of its change) and each outside subscriber's place in it.

Declared here, by the package that owns them, and put together with the app's entity tables
into one Schema by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from engine.storage.schema import ID, UtcDateTime


def declare(md: MetaData) -> dict[str, Table]:
    out: dict[str, Table] = {}
    out["event"] = Table(  # the outbox: every domain event, stored in the transaction of its change (engine/events)
        "sys_event", md,
        Column("id", ID, primary_key=True, autoincrement=True),  # monotonic: the feed's order and the idempotency key
        Column("type", String(32), nullable=False),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger),
        Column("actor_id", BigInteger),
        Column("actor", String(64)),
        Column("via", String(16), nullable=False),
        Column("at", UtcDateTime, nullable=False),
        Column("data", Text, nullable=False),  # JSON
        Index("ix_sys_event_record", "entity", "record_id", "id"),
    )
    out["event_cursor"] = Table(  # how far each subscriber outside the transaction has taken the outbox
        "sys_event_cursor", md,
        Column("subscriber", String(100), primary_key=True),
        Column("last_id", BigInteger, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        Column("failures", Integer, nullable=False, default=0),
        Column("last_error", Text),
    )
    return out
