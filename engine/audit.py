"""The append-only audit trail, chained by SHA-256 so that tampering is detectable.

Each entry's hash covers its content and the previous entry's hash; a head row holds the
last hash. Appending locks the head row (FOR UPDATE on PostgreSQL; SQLite writers are
serialised by BEGIN IMMEDIATE), so concurrent writers extend one chain. `verify()` walks
the chain and reports the first entry that does not fit.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from engine.actor import Actor
from engine.schema import Schema

GENESIS = "0" * 64


def _digest(prev: str, entity: str, record_id, action: str, actor_id, actor: str, via: str, at: dt.datetime, changes: str) -> str:
    stamp = at.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
    payload = json.dumps([prev, entity, record_id, action, actor_id, actor, via, stamp, changes],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def ensure_head(conn, schema: Schema) -> None:
    if conn.execute(select(schema.audit_head.c.id).where(schema.audit_head.c.id == 1)).first() is None:
        conn.execute(schema.audit_head.insert().values(id=1, last_id=None, last_hash=GENESIS))


def _head_update(schema: Schema):
    """The head-moving UPDATE, built once per schema and reused with new parameters."""
    stmt = getattr(schema, "_audit_head_update", None)
    if stmt is None:
        head = schema.audit_head
        stmt = head.update().where(head.c.id == 1).values(last_id=bindparam("new_id"), last_hash=bindparam("new_hash"))
        schema._audit_head_update = stmt
    return stmt


def append(conn, schema: Schema, actor: Actor, entity: str, record_id, action: str, changes: dict, at: dt.datetime | None = None) -> int:
    """Append one entry in the caller's transaction; returns its id."""
    at = at or dt.datetime.now(dt.timezone.utc)
    head = schema.audit_head
    row = conn.execute(select(head.c.last_hash).where(head.c.id == 1).with_for_update()).first()
    if row is None:
        ensure_head(conn, schema)
        prev = GENESIS
    else:
        prev = row[0]
    text = json.dumps(changes, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    h = _digest(prev, entity, record_id, action, actor.id, actor.username, actor.via, at, text)
    new_id = conn.execute(schema.audit.insert(), {
        "entity": entity, "record_id": record_id, "action": action, "actor_id": actor.id, "actor": actor.username,
        "via": actor.via, "at": at, "changes": text, "prev_hash": prev, "hash": h,
    }).inserted_primary_key[0]
    conn.execute(_head_update(schema), {"new_id": new_id, "new_hash": h})
    return new_id


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    message: str


def verify(conn, schema: Schema, batch: int = 5000) -> VerifyResult:
    t = schema.audit
    prev = GENESIS
    last_id = 0
    checked = 0
    while True:
        rows = conn.execute(select(t).where(t.c.id > last_id).order_by(t.c.id).limit(batch)).mappings().all()
        if not rows:
            break
        for r in rows:
            if r["prev_hash"] != prev:
                return VerifyResult(False, checked, f"entry {r['id']}: does not follow the entry before it (an entry was removed or altered before it)")
            h = _digest(r["prev_hash"], r["entity"], r["record_id"], r["action"], r["actor_id"], r["actor"], r["via"], r["at"], r["changes"])
            if h != r["hash"]:
                return VerifyResult(False, checked, f"entry {r['id']}: its content does not match its hash (it was altered)")
            prev = r["hash"]
            last_id = r["id"]
            checked += 1
    head = conn.execute(select(schema.audit_head.c.last_hash, schema.audit_head.c.last_id).where(schema.audit_head.c.id == 1)).first()
    if head is not None and head[0] != prev:
        return VerifyResult(False, checked, f"the chain ends at entry {last_id or 'none'} but the head records entry {head[1]}: entries at the end were removed")
    return VerifyResult(True, checked, f"audit chain intact: {checked} entries verified")
