"""The transactional outbox: each event is stored in sys_event by the transaction of its change,
so it exists exactly when the change does - nothing lost if the process dies after the commit,
nothing sent for a change rolled back. Read back in id order: by the event feed
(GET /api/v1/events) and by the delivery to subscribers outside the transaction (engine.events.deliver),
which keep their place in sys_event_cursor."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import bindparam, delete, func, select

from engine.core.actor import Actor
from engine.events.model import Event
from engine.storage import audit
from engine.storage.db import flush, held_back, tx_local
from engine.storage.schema import Schema

HOLD = 500  # events held back in a transaction before they are written (one INSERT for them all)


def _insert(schema: Schema):
    """The INSERT, built once per schema: it runs for every event (or every HOLD events)."""
    stmt = getattr(schema, "_event_insert", None)
    if stmt is None:
        stmt = schema._event_insert = schema.event.insert()
    return stmt


def _row(event: Event) -> dict:
    return {"type": event.type, "entity": event.entity, "record_id": event.record_id, "actor_id": event.actor.id,
            "actor": event.actor.username[:64], "via": event.actor.via, "at": event.at,
            "data": json.dumps(event.data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)}


def store(conn, schema: Schema, event: Event) -> int:
    """Keep the event in the caller's transaction; its id (monotonic)."""
    return store_all(conn, schema, [event])[0]


def store_all(conn, schema: Schema, events: list[Event]) -> list[int]:
    """Keep events in the caller's transaction; their ids, in their order.

    In a Database.write the ids are taken at once and the rows are held back and written many in
    one INSERT (before the commit, before a savepoint, every HOLD events, or when a reader of the
    outbox calls engine.storage.db.flush), so an import's events do not cost a statement each."""
    rows = [_row(e) for e in events]
    local = tx_local(conn)
    if local is None:
        stmt = getattr(schema, "_event_insert_returning", None)
        if stmt is None:
            stmt = schema._event_insert_returning = schema.event.insert().returning(schema.event.c.id, sort_by_parameter_order=True)
        return list(conn.execute(stmt, rows).scalars())
    ids = _new_ids(conn, schema, local, len(rows))
    held, n = local.get("events_held") or ([], 0)
    del held[n:]  # rows past n belong to a savepoint that rolled back
    for i, row in zip(ids, rows):
        row["id"] = i
        held.append(row)
    local["events_held"] = (held, n + len(rows))
    held_back(conn, "events", lambda: _write_held(conn, schema))
    if n + len(rows) >= HOLD:
        _write_held(conn, schema)
    return ids


def _write_held(conn, schema: Schema) -> None:
    local = tx_local(conn)
    held, n = local.get("events_held") or ([], 0)
    if n:
        conn.execute(_insert(schema), held[:n])
        local["events_held"] = ([], 0)


def _new_ids(conn, schema: Schema, local: dict, n: int) -> list[int]:
    """`n` new event ids for this transaction, above every id written before (ids are the feed's order).

    Readers take the outbox in id order and remember the last id they saw, so an id must never be
    given to an event that commits after one with a higher id: it would be passed over.
    SQLite: this transaction is the only writer (BEGIN IMMEDIATE), so the ids follow the highest one
    stored (prune always keeps the newest event: an id is never given twice).
    PostgreSQL: ids are taken from the table's sequence only while holding the audit chain's head
    row (engine.storage.audit.lock), which every writer of events holds until it commits; so they
    are taken in commit order, in blocks that grow while the transaction keeps emitting."""
    if conn.dialect.name == "sqlite":
        nxt = local.get("event_next")
        if nxt is None:
            nxt = conn.execute(select(func.coalesce(func.max(schema.event.c.id), 0))).scalar() + 1
        local["event_next"] = nxt + n
        return list(range(nxt, nxt + n))
    spare, block = local.get("event_spare") or ((), 0)
    if len(spare) < n:
        audit.lock(conn, schema)
        block = min(HOLD, max(n, 2 * block))
        sequence = func.pg_get_serial_sequence(schema.event.name, "id")
        more = conn.execute(select(func.nextval(sequence)).select_from(func.generate_series(1, block - len(spare)))).scalars().all()
        spare = (*spare, *more)
    local["event_spare"] = (spare[n:], block)
    return list(spare[:n])


def _event(row) -> Event:
    return Event(type=row.type, entity=row.entity, record_id=row.record_id,
                 actor=Actor(id=row.actor_id, username=row.actor or "?", via=row.via), at=row.at, data=json.loads(row.data), id=row.id)


def after(conn, schema: Schema, last_id: int, limit: int, visible=None) -> list[Event]:
    """Events with an id above `last_id`, oldest first; `visible`: a WHERE clause on sys_event (a reader's scope)."""
    e = schema.event
    flush(conn)  # inside a write: the events it holds back
    stmt = select(e).where(e.c.id > bindparam("after")).order_by(e.c.id).limit(limit)
    if visible is not None:
        stmt = stmt.where(visible)
    return [_event(r) for r in conn.execute(stmt, {"after": last_id})]


def last_id(conn, schema: Schema) -> int:
    flush(conn)
    return conn.execute(select(func.coalesce(func.max(schema.event.c.id), 0))).scalar()


def cursor(conn, schema: Schema, subscriber: str) -> int | None:
    """How far a subscriber has taken the outbox (None: it has never been given anything)."""
    c = schema.event_cursor
    return conn.execute(select(c.c.last_id).where(c.c.subscriber == subscriber)).scalar()


def advance(conn, schema: Schema, subscriber: str, to_id: int, now: dt.datetime, error: str | None = None) -> None:
    """Move a subscriber's place to `to_id` (or, with `error`, keep it and count a failure)."""
    c = schema.event_cursor
    row = conn.execute(select(c).where(c.c.subscriber == subscriber).with_for_update()).first()
    if row is None:
        conn.execute(c.insert().values(subscriber=subscriber, last_id=to_id, updated_at=now, failures=1 if error else 0, last_error=error))
    elif error is not None:
        conn.execute(c.update().where(c.c.subscriber == subscriber).values(failures=row.failures + 1, last_error=error[:2000], updated_at=now))
    else:
        conn.execute(c.update().where(c.c.subscriber == subscriber).values(last_id=to_id, failures=0, last_error=None, updated_at=now))


def prune(conn, schema: Schema, older_than: dt.datetime, subscribers=()) -> int:
    """Forget events older than the retention that every one of `subscribers` (the installed `publish`
    plugins) has been given; how many. One that has been given nothing yet keeps everything; the place
    of a subscriber no longer installed holds nothing back. The newest event always stays: new ids
    follow it (on SQLite the next id is one above the highest stored), so no id is ever given twice -
    a subscriber or feed reader past it would never see an event that took an old id again."""
    c, e = schema.event_cursor, schema.event
    newest = select(func.max(e.c.id)).scalar_subquery()
    stmt = delete(e).where(e.c.at < older_than, e.c.id < newest)
    if subscribers:
        places = dict(conn.execute(select(c.c.subscriber, c.c.last_id).where(c.c.subscriber.in_(list(subscribers)))).all())
        slowest = min(places.get(name, 0) for name in subscribers)
        stmt = stmt.where(e.c.id <= slowest)
    return conn.execute(stmt).rowcount
