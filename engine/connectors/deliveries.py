"""Outbound deliveries: events taken from the outbox, sent, retried, logged.

`Maker` turns each event that a connector's triggers match into a delivery, inside the transaction
of the change (an on_event subscriber): the request is built from the record as the change left it
and stored with the delivery, which exists exactly when the change does. A connector that is off
(a variable unset) makes none.

The workflows' notifications on the email and sms channels arrive through `send_notice`: one
delivery per person, of the connector carrying that channel, keyed by the event and the person.

`send_due` sends what is due, oldest first, one record's deliveries in order (a later one waits while
an earlier one of the same record is not delivered or given up). A delivery is claimed with a
compare-and-set that also sets a lease, so two workers never send it at once and a worker killed
mid-send leaves it to be sent again when the lease ends - with the same idempotency key. Each
attempt is logged; a failure worth retrying is tried again after a growing wait with jitter, up to
the connector's max_attempts; then, or on an answer that will not change, the delivery is dead.
An admin may retry a dead one or replay a delivered one (audited).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import bindparam, func, select

from engine.connectors.adapters import Adapter, Outcome, render
from engine.core import replyto
from engine.core.actor import SYSTEM, Actor
from engine.core.errors import Conflict, Msg, NotFound, ValidationFailed
from engine.core.i18n import localize
from engine.events.hooks import hookimpl
from engine.events.model import CREATED, DELETED, TRANSITIONED, UPDATED, Event, Notice, Tx
from engine.metadata.model import Connector, Entity, Retry, Trigger
from engine.records.serialize import record_json
from engine.records.service import Records

log = logging.getLogger("engine.connectors")
WAITING = ("pending", "sending")  # statuses of a delivery not through yet
LEASE_MARGIN = 5  # seconds a claimed delivery stays claimed beyond twice the connector's timeout (connecting, then reading)
_EVENT_OF = {"created": CREATED, "updated": UPDATED, "deleted": DELETED, "transitioned": TRANSITIONED}


def actor_for(connector: Connector) -> Actor:
    """Who a connector's write-back is by, in the audit trail."""
    return Actor(id=None, username=f"connector:{connector.name}"[:64], roles=frozenset({"admin"}), via="system")


def active(records: Records, adapters: dict[str, Adapter]) -> list[Connector]:
    """The connectors that send: with triggers (or carrying a notification channel), every variable set, and a known type."""
    return [c for c in records.app.connectors.values() if (c.triggers or c.channel) and c.enabled and c.type in adapters]


def key_of(row) -> str:
    """A delivery's idempotency key: its event's id, and for a notification the person's too (one event tells several people)."""
    return f"{row['event_id']}.{row['recipient_id']}" if row.get("recipient_id") else str(row["event_id"])


def matches(t: Trigger, event: Event) -> bool:
    if event.entity != t.entity or event.type != _EVENT_OF[t.event]:
        return False
    return t.to is None or (event.data.get("transition") or {}).get("to") == t.to


class Maker:
    """The in-transaction subscriber (`on_event`) that turns each event a connector's triggers match into
    a delivery, in the transaction of the change: the request is built from the record as the change
    left it, and the delivery exists exactly when the change does (none for a rolled-back change, none
    lost if the process dies after the commit). It takes the workflows' notifications on the email and
    sms channels too (`send_notice`): each person's message becomes a delivery of the channel's
    connector. Registered as `builtin.connectors` when the app has connectors that send
    (engine.app.runtime.plugins_of)."""

    def __init__(self, adapters: dict[str, Adapter]):
        self.adapters = adapters

    @hookimpl
    def on_event(self, event: Event, tx: Tx) -> None:
        records = tx.records
        for c in records.app.connectors.values():
            if not c.enabled or c.type not in self.adapters or event.actor.username == actor_for(c).username:
                continue  # off, of no known type, or the connector's own write-back (never echoed)
            trigger = next((t for t in c.triggers if matches(t, event)), None)
            if trigger is not None:
                delivery = _delivery(records, tx.conn, c, self.adapters[c.type], trigger, event, tx.now)
                if delivery is not None:
                    tx.conn.execute(records.schema.delivery.insert().values(**delivery))


    @hookimpl
    def send_notice(self, notice: Notice, tx: Tx) -> bool | None:
        c = next((c for c in tx.records.app.connectors.values() if c.channel and c.type == notice.channel), None)
        if c is None or not c.enabled or c.type not in self.adapters:
            return None  # no connector carries this channel now: the record service keeps the notice in the bell
        context = {"notice": notice.json(), "connector": c.name, "app_language": tx.records.app.default_language}
        try:
            request, error = self.adapters[c.type].prepare(c, context), None
        except Exception as exc:  # a template of the connector that fails on this notice: a dead delivery that says why
            request, error = {}, f"the message could not be built: {type(exc).__name__}: {exc}"[:2000]
        if not error and notice.channel == "email":
            _offer_reply(tx.records, notice, request)
        tx.conn.execute(tx.records.schema.delivery.insert().values(
            connector=c.name, event_id=notice.event_id, recipient_id=notice.user_id, event_type=notice.kind, entity=notice.entity,
            record_id=notice.record_id, status="dead" if error else "pending", attempts=0, next_at=tx.now, request=request,
            last_error=error, created_at=tx.now))
        return True


def _offer_reply(records: Records, notice: Notice, request: dict) -> None:
    """An e-mail about a record that takes comments gets a reply address (engine.core.replyto) and a line that says a reply
    becomes a comment, in the person's language - when the app takes replies (ENGINE_REPLY_ADDRESS and ENGINE_REPLY_SECRET)."""
    ent = records.app.entities.get(notice.entity)
    if ent is None or not ent.comments or notice.record_id is None:
        return
    reply_to = replyto.address(notice.user_id, ent.name, notice.record_id)
    if reply_to is None:
        return
    request["reply_to"] = reply_to
    request["text"] = request.get("text", "").rstrip() + "\n\n-- \n" + localize(Msg(
        "Reply to this e-mail to add a comment to the %(thing)s.", thing=Msg.label(ent.label, lower=True)), notice.language)


def _delivery(records: Records, conn, c: Connector, adapter: Adapter, t: Trigger, event: Event, now) -> dict | None:
    ent = records.app.entity(event.entity)
    record = event.before if event.type == DELETED else event.record
    if t.when is not None:
        try:
            if not t.when.evaluate(record):
                return None
        except Exception as exc:  # a condition that cannot be evaluated on this record: say so in the log, send nothing
            log.warning("connector %s: condition %r failed on %s %s: %s", c.name, t.when.source, ent.name, event.record_id, exc)
            return None
    context = context_for(records, conn, ent, record, {"id": event.id, "type": event.type, "at": event.at.isoformat().replace("+00:00", "Z"),
                                                       "actor": event.actor.username, "data": event.data}, c.name)
    try:
        request = adapter.prepare(c, context)
        error = None
    except Exception as exc:  # a template that fails on this record: a dead delivery that says why, visible in the log
        request, error = {}, f"the request could not be built: {type(exc).__name__}: {exc}"[:2000]
    return {"connector": c.name, "event_id": event.id, "event_type": event.type, "entity": ent.name, "record_id": event.record_id,
            "status": "dead" if error else "pending", "attempts": 0, "next_at": now, "request": request, "last_error": error,
            "created_at": now}


def context_for(records: Records, conn, ent: Entity, record: dict, event: dict, connector: str) -> dict:
    """What a connector's templates see: the record in JSON form with its links' titles, the event, the connector's name."""
    return {"record": _with_titles(records, conn, ent, record_json(records.app, ent, record)), "event": event, "connector": connector,
            "app_language": records.app.default_language}


def _with_titles(records: Records, conn, ent: Entity, shown: dict) -> dict:
    """The record's JSON with `<link>__title` beside each link and user field (on its lines too)."""
    def add(target: Entity, rows: list[dict]):
        for f in target.fields.values():
            if f.type not in ("link", "user"):
                continue
            ids = {r.get(f.name) for r in rows if isinstance(r.get(f.name), int)}
            titles = records.titles_in(conn, SYSTEM, f.entity if f.type == "link" else "@user", ids)
            for r in rows:
                if r.get(f.name) is not None:
                    r[f.name + "__title"] = titles.get(r[f.name])
    add(ent, [shown])
    for tf in ent.table_fields():
        add(records.app.entity(tf.entity), shown.get(tf.name, []))
    return shown


def backoff(retry: Retry, attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: growing by `factor`, capped, with up to 20 % jitter."""
    wait = min(retry.max_delay, retry.first_delay * retry.factor ** max(0, attempts - 1))
    return wait * (1 + random.uniform(0, 0.2))


PARALLEL = 8  # deliveries sent side by side
ROUND = 16  # deliveries claimed, sent and recorded together: after a crash, at most two rounds are sent again


def send_due(records: Records, adapters: dict[str, Adapter], limit: int = ROUND, parallel: int = PARALLEL) -> tuple[int, dt.datetime | None]:
    """Send every due delivery; (how many were tried, when the next one is due). In rounds: claim up to
    `limit` due deliveries at once (the first waiting one of each record), send them side by side on
    up to `parallel` connections, then record every outcome - attempts, statuses, write-backs - in
    one transaction, while the next round is already claimed and being sent (a record's next
    delivery waits for the round that holds its earlier one). A worker that dies leaves the
    deliveries of its last two rounds to be sent again when their lease ends, with the same
    idempotency keys."""
    d = records.schema.delivery
    tried = 0
    connectors = {c.name: c for c in active(records, adapters)}
    if not connectors:
        return 0, None
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="connector") as pool:
        def sending(rows):
            return rows, [pool.submit(_send, connectors[row["connector"]], adapters, row) for row in rows], time.perf_counter()
        rows, futures, started = sending(_claim(records, connectors, limit))
        while rows:  # the next round is claimed and on its way while this one's outcomes are written
            outcomes = [f.result() for f in futures]
            following = sending(_claim(records, connectors, limit))
            _record(records, connectors, rows, outcomes)
            if not following[0]:  # nothing else was due: what this round delivered may let a record's next delivery go
                following = sending(_claim(records, connectors, limit))
            tried += len(rows)
            log.debug("connectors: %s deliveries in %.0f ms", len(rows), (time.perf_counter() - started) * 1000)
            rows, futures, started = following
    with records.db.read() as conn:
        following = conn.execute(select(func.min(d.c.next_at)).where(d.c.status.in_(WAITING),
                                                                      d.c.connector.in_(list(connectors)))).scalar()
    return tried, following


def _claim(records: Records, connectors: dict[str, Connector], limit: int) -> list[dict]:
    """Claim due deliveries: of several workers, the one whose UPDATE finds a delivery as it was sends it,
    with a lease of twice its connector's timeout plus LEASE_MARGIN (then another may send it again)."""
    d = records.schema.delivery
    now = records.clock()
    claimed: list[dict] = []
    with records.db.write() as conn:
        by_connector: dict[str, list[int]] = {}
        for row in _due(conn, d, list(connectors), now, limit):
            by_connector.setdefault(row.connector, []).append(row.id)
        for name, ids in by_connector.items():
            lease = now + dt.timedelta(seconds=2 * connectors[name].timeout + LEASE_MARGIN)
            got = conn.execute(d.update().where(d.c.id.in_(ids), d.c.status.in_(WAITING), d.c.next_at <= now)
                               .values(status="sending", next_at=lease).returning(d.c.id)).scalars().all()
            if got:
                claimed += [dict(r) for r in conn.execute(select(d).where(d.c.id.in_(got))).mappings()]
    return sorted(claimed, key=lambda r: r["id"])


def _due(conn, d, names: list[str], now, limit: int) -> list:
    """Up to `limit` due deliveries, oldest first, each the first still waiting of its record (and
    person): due ones are read a page at a time by id, then one grouped query over their records
    tells which of them is the first waiting. Two index walks, whatever the planner knows of the
    table (a correlated NOT EXISTS was planned as a nested loop over every waiting row by PostgreSQL
    before its statistics were gathered: a tenth of a second per round)."""
    out: list = []
    after = 0
    page = limit * 4
    while len(out) < limit:
        candidates = conn.execute(select(d.c.id, d.c.connector, d.c.entity, d.c.record_id, d.c.recipient_id).where(
            d.c.status.in_(WAITING), d.c.next_at <= now, d.c.connector.in_(names), d.c.id > after).order_by(d.c.id).limit(page)).all()
        if not candidates:
            break
        after = candidates[-1].id
        record_ids = {c.record_id for c in candidates if c.record_id is not None}
        first = {tuple(r[:4]): r[4] for r in conn.execute(
            select(d.c.connector, d.c.entity, d.c.record_id, d.c.recipient_id, func.min(d.c.id))
            .where(d.c.status.in_(WAITING), d.c.connector.in_(names), d.c.record_id.in_(record_ids))
            .group_by(d.c.connector, d.c.entity, d.c.record_id, d.c.recipient_id))} if record_ids else {}
        out += [c for c in candidates if c.record_id is None or first.get((c.connector, c.entity, c.record_id, c.recipient_id)) == c.id]
        if len(candidates) < page:
            break
    return out[:limit]


def _send(c: Connector, adapters: dict[str, Adapter], row: dict) -> tuple[Outcome, int]:
    started = time.perf_counter()
    try:
        outcome = adapters[c.type].send(c, row["request"], key_of(row))
    except Exception as exc:  # an adapter (a plugin's, perhaps) that raised: a failure worth another try
        outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}"[:2000], retry=True)
    return outcome, int((time.perf_counter() - started) * 1000)


def _record(records: Records, connectors: dict[str, Connector], rows: list[dict], outcomes: list[tuple[Outcome, int]]) -> None:
    """Every outcome of a round in one transaction: the write-backs (each its own savepoint), the
    deliveries' new status and next try, and one attempt row each."""
    d, a = records.schema.delivery, records.schema.delivery_attempt
    updates, attempts = [], []
    with records.db.write() as conn:
        finished = records.clock()
        for row, (outcome, ms) in zip(rows, outcomes):
            c = connectors[row["connector"]]
            note = _write_back(records, c, row, outcome) if outcome.delivered else None
            tries = row["attempts"] + 1
            next_at = None
            if outcome.delivered:
                status, due = "delivered", finished
            elif outcome.retry and tries < c.retry.max_attempts:
                next_at = finished + dt.timedelta(seconds=backoff(c.retry, tries))
                status, due = "pending", next_at
            else:
                status, due = "dead", finished
            updates.append({"did": row["id"], "status": status, "next_at": due, "attempts": tries, "last_status": outcome.status,
                            "last_error": note or outcome.error, "response": outcome.excerpt or None,
                            "delivered_at": finished if outcome.delivered else None})
            attempts.append({"delivery_id": row["id"], "at": finished, "status_code": outcome.status, "error": outcome.error or note,
                             "ms": ms, "next_at": next_at})
            if not outcome.delivered:
                log.info("connector %s: delivery %s (event %s) failed: %s%s", c.name, row["id"], row["event_id"], outcome.error,
                         "" if next_at is None else f"; next try at {next_at:%H:%M:%S}")
        conn.execute(d.update().where(d.c.id == bindparam("did")).values(
            status=bindparam("status"), next_at=bindparam("next_at"), attempts=bindparam("attempts"), last_status=bindparam("last_status"),
            last_error=bindparam("last_error"), response=bindparam("response"), delivered_at=bindparam("delivered_at")), updates)
        conn.execute(a.insert(), attempts)


def _write_back(records: Records, c: Connector, row, outcome: Outcome) -> str | None:
    """The response mapping: values from the answer written to the record through the record service,
    as the connector (audited). Returns what went wrong, or None."""
    mapping = (c.settings.get("response") or {}).get("set")
    if not mapping or row["record_id"] is None or row["event_type"] == DELETED:
        return None
    try:
        values = render(dict(mapping), {"response": outcome.answer, "status": outcome.status})
    except Exception as exc:
        return f"delivered, but the response mapping failed: {type(exc).__name__}: {exc}"[:2000]
    actor = actor_for(c)
    try:  # inside the round's transaction (a savepoint of its own): the record cannot change under it
        with records.db.write():
            found = records.find(actor, row["entity"], "id", str(row["record_id"]))
            if not found:
                return "delivered, but the record is gone: nothing written back"
            records.update(actor, row["entity"], row["record_id"], values, version=found[0][1])  # the same values again: no change
        return None
    except NotFound:
        return "delivered, but the record is gone: nothing written back"
    except ValidationFailed as exc:
        return "delivered, but the answer could not be written back: " + "; ".join(f"{e.field}: {e.message}" for e in exc.errors)[:1900]
    except Conflict as exc:
        return f"delivered, but the answer could not be written back: {exc.reason}"[:2000]
