"""The delivery log that administrators read and act on: each connector with its deliveries by
status, each delivery with its attempts (time, status code, error, next try), and Retry or Replay of
one. Closed to everyone but administrators (the requests and answers may carry any record's data)."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.connectors.tables import STATUSES
from engine.core.actor import Actor
from engine.core.errors import Conflict, Forbidden, Msg, NotFound
from engine.core.values import to_json
from engine.records.service import Records
from engine.storage import audit

MAX_LIMIT = 500


def require_admin(records: Records, actor: Actor) -> None:
    if not records.permissions.grants(actor).admin:
        raise Forbidden(Msg("the connectors and their deliveries are for administrators"))


def connectors(records: Records, actor: Actor) -> list[dict]:
    """Every connector of the app: its type, whether it is on (and which variables it misses), and its deliveries by status."""
    require_admin(records, actor)
    d = records.schema.delivery
    with records.db.read() as conn:
        counts: dict = {}
        for name, status, n in conn.execute(select(d.c.connector, d.c.status, func.count()).group_by(d.c.connector, d.c.status)):
            counts.setdefault(name, {})[status] = n
    return [{"name": c.name, "type": c.type, "label": c.label.as_dict(), "enabled": c.enabled, "missing": list(c.missing), "channel": c.channel,
             "events": [{"entity": t.entity, "event": t.event, "to": t.to, "when": t.when.source if t.when else None} for t in c.triggers],
             "deliveries": {s: counts.get(c.name, {}).get(s, 0) for s in STATUSES}}
            for c in records.app.connectors.values()]


def _connector(records: Records, name: str):
    c = records.app.connectors.get(name)
    if c is None:
        raise NotFound(Msg("there is no connector '%(name)s'; GET /api/v1/connectors lists them", name=name))
    return c


def _item(r) -> dict:
    return {"id": r["id"], "event_id": r["event_id"], "event": r["event_type"], "entity": r["entity"], "record_id": r["record_id"],
            "recipient_id": r["recipient_id"] or None,
            "status": r["status"], "attempts": r["attempts"],
            "next_try": to_json("datetime", r["next_at"]) if r["status"] == "pending" else None,
            "last_status": r["last_status"], "last_error": r["last_error"],
            "created_at": to_json("datetime", r["created_at"]), "delivered_at": to_json("datetime", r["delivered_at"])}


def deliveries(records: Records, actor: Actor, name: str, status: str | None = None, before: int | None = None,
               limit: int = 50) -> dict:
    """A connector's deliveries, newest first, optionally of one status; `before` pages back from an id."""
    require_admin(records, actor)
    _connector(records, name)
    d = records.schema.delivery
    found, following = _newest(records, d, name, before, limit, *([d.c.status == status] if status is not None else []))
    return {"items": [_item(r) for r in found], "next_before": following}


def _newest(records: Records, table, name: str, before: int | None, limit: int, *where) -> tuple[list[dict], int | None]:
    """A connector's rows of `table`, newest first, below `before`; and the id to page on from (None: no more)."""
    stmt = select(table).where(table.c.connector == name, *where).order_by(table.c.id.desc()).limit(limit + 1)
    if before is not None:
        stmt = stmt.where(table.c.id < before)
    with records.db.read() as conn:
        found = [dict(r) for r in conn.execute(stmt).mappings()]
    return found[:limit], (found[limit - 1]["id"] if len(found) > limit else None)


def calls(records: Records, actor: Actor, name: str, before: int | None = None, limit: int = 50) -> dict:
    """A webhook connector's calls, newest first: when, the sender's message id, what became of it and why."""
    require_admin(records, actor)
    _connector(records, name)
    found, following = _newest(records, records.schema.webhook_call, name, before, limit)
    return {"items": [{"id": r["id"], "received_at": to_json("datetime", r["received_at"]), "webhook_id": r["webhook_id"],
                       "outcome": r["outcome"], "http_status": r["http_status"], "detail": r["detail"], "entity": r["entity"],
                       "record_id": r["record_id"], "size": r["size"]} for r in found],
            "next_before": following}


def delivery(records: Records, actor: Actor, name: str, delivery_id: int) -> dict:
    """One delivery: what it sends (with ${VAR} references, never their values), the last answer, and every attempt."""
    require_admin(records, actor)
    _connector(records, name)
    d, a = records.schema.delivery, records.schema.delivery_attempt
    with records.db.read() as conn:
        row = conn.execute(select(d).where(d.c.id == delivery_id, d.c.connector == name)).mappings().first()
        if row is None:
            raise NotFound(Msg("connector %(name)s has no delivery %(id)s", name=name, id=delivery_id))
        attempts = conn.execute(select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id)).mappings().all()
    return {**_item(row), "request": row["request"], "response": row["response"],
            "attempts": [{"at": to_json("datetime", t["at"]), "status_code": t["status_code"], "error": t["error"], "ms": t["ms"],
                          "next_try": to_json("datetime", t["next_at"]), "by": t["by"]} for t in attempts]}


def again(records: Records, actor: Actor, connector: str, delivery_id: int) -> dict:
    """An admin's Retry (a dead or waiting delivery: due now, with a fresh series of attempts) or Replay
    (a delivered one: sent again, with the same idempotency key). Audited."""
    require_admin(records, actor)
    _connector(records, connector)
    d = records.schema.delivery
    with records.db.write() as conn:
        row = conn.execute(select(d).where(d.c.id == delivery_id, d.c.connector == connector)).mappings().first()
        if row is None:
            raise NotFound(Msg("connector %(name)s has no delivery %(id)s", name=connector, id=delivery_id))
        if row["status"] == "sending":
            raise Conflict(Msg("this delivery is being sent right now; look again in a moment"))
        if not row["request"]:
            raise Conflict(Msg("this delivery has no request to send (its template failed); fix the connector - a new event will use it"))
        action = "replay" if row["status"] == "delivered" else "retry"
        now = records.clock()
        conn.execute(d.update().where(d.c.id == delivery_id).values(status="pending", attempts=0, next_at=now))
        conn.execute(records.schema.delivery_attempt.insert().values(
            delivery_id=delivery_id, at=now, ms=0, next_at=now, by=actor.username[:64],
            error=f"{action} asked by {actor.username}"))
        audit.append(conn, records.schema, actor, "sys_delivery", delivery_id, action,
                     {"connector": connector, "event_id": row["event_id"], "was": row["status"]})
    return {"id": delivery_id, "status": "pending", "action": action}
