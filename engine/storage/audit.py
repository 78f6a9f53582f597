"""The append-only audit trail, chained and signed so that tampering is detectable.

Each entry's signature covers its content, the previous entry's signature and the id of the key
that made it: HMAC-SHA256 with the key from ENGINE_AUDIT_KEY (engine.storage.audit_keys), so nobody
without the key can rewrite an entry and recompute the chain after it. Entries written before
audit keys carry a plain SHA-256 hash and no key id; the first keyed entry after them seals
them, and a plain entry after a keyed one is a rewrite. A head row holds the last signature.

Appending locks the head row (FOR UPDATE on PostgreSQL; SQLite writers are serialised by BEGIN
IMMEDIATE), so concurrent writers extend one chain. Within one transaction the head is read once
and written once, just before the commit, and the entries are held back and written many in one
INSERT (a savepoint that rolls back takes its entries and its place in the chain back with it): an
import's thousands of entries do not update one row thousands of times, nor cost a statement each.
A reader of the trail inside a write transaction calls engine.storage.db.flush first.

`verify()` walks the chain and reports the
first entry that does not fit, and entries signed with keys it was not given.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from engine.core.actor import Actor
from engine.storage import audit_keys
from engine.storage.db import before_commit, flush, held_back, tx_local
from engine.storage.schema import Schema

GENESIS = "0" * 64


_PAYLOAD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # what is hashed: the same bytes as json.dumps gives
RETIRED_GRACE = dt.timedelta(minutes=15)  # a rolling restart: processes with the retired key may still write this long


def _payload(prev: str, entity: str, record_id, action: str, actor_id, actor: str, via: str, at: dt.datetime, changes: str,
             key_id: str | None = None) -> bytes:
    stamp = at.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
    parts = [prev, entity, record_id, action, actor_id, actor, via, stamp, changes]
    if key_id is not None:
        parts.append(key_id)
    return _PAYLOAD.encode(parts).encode("utf-8")


def _digest(prev: str, entity: str, record_id, action: str, actor_id, actor: str, via: str, at: dt.datetime, changes: str) -> str:
    """The plain SHA-256 hash of entries written before audit keys (verification only)."""
    return hashlib.sha256(_payload(prev, entity, record_id, action, actor_id, actor, via, at, changes)).hexdigest()


def _signature(key: bytes, key_id: str, prev: str, entity: str, record_id, action: str, actor_id, actor: str, via: str,
               at: dt.datetime, changes: str) -> str:
    return hmac.digest(key, _payload(prev, entity, record_id, action, actor_id, actor, via, at, changes, key_id), "sha256").hex()


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


def _head_read(schema: Schema):
    """The chain's head, locked for this transaction: built once (it runs on every audited write)."""
    stmt = getattr(schema, "_audit_head_read", None)
    if stmt is None:
        head = schema.audit_head
        stmt = schema._audit_head_read = select(head.c.last_hash).where(head.c.id == 1).with_for_update()
    return stmt


def _prev(conn, schema: Schema) -> str:
    """The chain's last signature, as this transaction has it: read (and locked) from the head row
    the first time, then kept in the transaction (engine.storage.db.tx_local)."""
    local = tx_local(conn)
    head = local.get("audit_head") if local is not None else None
    if head is not None:
        return head[1]
    row = conn.execute(_head_read(schema)).first()
    if row is None:
        ensure_head(conn, schema)
        return GENESIS
    return row[0]


def lock(conn, schema: Schema) -> None:
    """Take the chain's head row for this write transaction (it is then held until the commit), if
    not taken yet. Every audited writer takes it, so it orders writers: the outbox takes its event
    ids under it (engine.events.outbox), so that ids follow the order in which transactions commit."""
    local = tx_local(conn)
    if local is not None and local.get("audit_head") is None:
        local["audit_head"] = (None, _prev(conn, schema))


HOLD = 500  # entries held back in a transaction before they are written (one INSERT for them all)


def _entry(ring, prev: str, actor: Actor, entity: str, record_id, action: str, changes: dict, at: dt.datetime | None) -> dict:
    at = at or dt.datetime.now(dt.timezone.utc)
    text = json.dumps(changes, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    h = _signature(ring.current, ring.current_id, prev, entity, record_id, action, actor.id, actor.username, actor.via, at, text)
    return {"entity": entity, "record_id": record_id, "action": action, "actor_id": actor.id, "actor": actor.username,
            "via": actor.via, "at": at, "changes": text, "prev_hash": prev, "hash": h, "key_id": ring.current_id}


def append(conn, schema: Schema, actor: Actor, entity: str, record_id, action: str, changes: dict, at: dt.datetime | None = None) -> None:
    """Append one entry in the caller's transaction, signed with the current audit key.

    In a Database.write the entry is held back and written with the others of the transaction, many
    in one INSERT (before the commit, before a savepoint, every HOLD entries, or when a reader of the
    trail calls engine.storage.db.flush): an import's entries cost one statement per HOLD records."""
    entry = _entry(audit_keys.for_connection(conn), _prev(conn, schema), actor, entity, record_id, action, changes, at)
    local = tx_local(conn)
    if local is None:
        new_id = conn.execute(schema.audit.insert(), entry).inserted_primary_key[0]
        conn.execute(_head_update(schema), {"new_id": new_id, "new_hash": entry["hash"]})
        return
    held, n = local.get("audit_held") or ([], 0)
    del held[n:]  # entries past n belong to a savepoint that rolled back
    held.append(entry)
    local["audit_held"] = (held, n + 1)
    local["audit_head"] = (None, entry["hash"])
    held_back(conn, "audit", lambda: _write_held(conn, schema))
    before_commit(conn, "audit_head", lambda: _write_head(conn, schema))
    if n + 1 >= HOLD:
        _write_held(conn, schema)


def _write_held(conn, schema: Schema) -> None:
    """Write the entries held back in this transaction, and note the id of the last one for the head."""
    local = tx_local(conn)
    held, n = local.get("audit_held") or ([], 0)
    if not n:
        return
    conn.execute(schema.audit.insert(), held[:n])
    local["audit_held"] = ([], 0)
    local["audit_head"] = (conn.execute(select(func.max(schema.audit.c.id))).scalar(), held[n - 1]["hash"])


def _write_head(conn, schema: Schema) -> None:
    head = (tx_local(conn) or {}).get("audit_head")
    if head is not None and head[0] is not None:  # None: the entries were all rolled back with their savepoints
        conn.execute(_head_update(schema), {"new_id": head[0], "new_hash": head[1]})


def append_many(conn, schema: Schema, items) -> int:
    """Append many entries at once, in order, for bulk loads: one head lock and one multi-row
    INSERT. `items`: (actor, entity, record_id, action, changes, at) tuples. Returns how many."""
    ring = audit_keys.for_connection(conn)
    prev = _prev(conn, schema)
    rows = []
    for actor, entity, record_id, action, changes, at in items:
        rows.append(_entry(ring, prev, actor, entity, record_id, action, changes, at))
        prev = rows[-1]["hash"]
    if rows:
        flush(conn)  # entries held back come first in the chain
        conn.execute(schema.audit.insert(), rows)
        last = conn.execute(select(func.max(schema.audit.c.id))).scalar()
        local = tx_local(conn)
        if local is None:
            conn.execute(_head_update(schema), {"new_id": last, "new_hash": prev})
        else:
            local["audit_head"] = (last, prev)
            before_commit(conn, "audit_head", lambda: _write_head(conn, schema))
    return len(rows)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    message: str
    last_id: int | None = None
    last_hash: str | None = None


def verify(conn, schema: Schema, batch: int = 5000, since: dt.datetime | None = None,
           keys: audit_keys.Keyring | None = None) -> VerifyResult:
    """Walk the chain (from the first entry at or after `since`, else from the start) and check
    every link and signature. Not ok at the first entry that does not fit, when entries are signed
    with keys that were not given (ENGINE_AUDIT_OLD_KEYS), or when no entry is keyed at all."""
    keys = keys or audit_keys.for_connection(conn)
    t = schema.audit
    cols = (t.c.id, t.c.prev_hash, t.c.hash, t.c.entity, t.c.record_id, t.c.action, t.c.actor_id, t.c.actor, t.c.via, t.c.at,
            t.c.changes, t.c.key_id)
    last_id = 0
    prev = GENESIS
    keyed_before = False
    if since is not None:
        first = conn.execute(select(func.min(t.c.id)).where(t.c.at >= since)).scalar()
        if first is None:
            return VerifyResult(True, 0, f"no audit entries since {since.isoformat()}")
        last_id = first - 1
        prev = conn.execute(select(t.c.prev_hash).where(t.c.id == first)).scalar()
        keyed_before = conn.execute(select(t.c.id).where(t.c.id < first, t.c.key_id.is_not(None)).limit(1)).first() is not None
    start = last_id + 1
    checked = plain = retired = 0
    seen_keyed = keyed_before
    first_current = None  # (id, at) of the first entry signed with the current key
    missing: dict[str, list] = {}  # key id -> [first entry, last entry, count] for keys not given
    last_hash = None

    def fail(message: str) -> VerifyResult:
        return VerifyResult(False, checked, message, last_id or None, last_hash)

    while True:
        rows = conn.execute(select(*cols).where(t.c.id > last_id).order_by(t.c.id).limit(batch)).all()
        if not rows:
            break
        for (eid, prev_hash, h, entity, record_id, action, actor_id, actor, via, at, changes, kid) in rows:
            if prev_hash != prev:
                return fail(f"entry {eid}: does not follow the entry before it (an entry was removed or altered before it)")
            if kid is None:
                if seen_keyed:
                    return fail(f"entry {eid}: carries a plain SHA-256 hash although the entries before it are signed with a key: "
                                f"it was rewritten by someone without the audit key")
                if _digest(prev_hash, entity, record_id, action, actor_id, actor, via, at, changes) != h:
                    return fail(f"entry {eid}: its content does not match its hash (it was altered)")
                plain += 1
            else:
                seen_keyed = True
                key = keys.get(kid)
                if key is None:
                    m = missing.setdefault(kid, [eid, eid, 0])
                    m[1], m[2] = eid, m[2] + 1
                elif _signature(key, kid, prev_hash, entity, record_id, action, actor_id, actor, via, at, changes) != h:
                    return fail(f"entry {eid}: its content does not match its signature (it was altered)")
                if kid == keys.current_id:
                    if first_current is None:
                        first_current = (eid, at)
                elif key is not None:
                    retired += 1
                    if first_current is not None and at > first_current[1] + RETIRED_GRACE:
                        return fail(f"entry {eid}: signed with the retired audit key {kid} at {at:%Y-%m-%d %H:%M} UTC, although the current "
                                    f"key signs entries since entry {first_current[0]} ({first_current[1]:%Y-%m-%d %H:%M} UTC): "
                                    f"whoever still holds the retired key could have made it - or a process still runs with the old "
                                    f"ENGINE_AUDIT_KEY: restart every app process and worker with the new key")
            prev = h
            last_id, last_hash = eid, h
            checked += 1
    if since is None:
        head = conn.execute(select(schema.audit_head.c.last_hash, schema.audit_head.c.last_id).where(schema.audit_head.c.id == 1)).first()
        if head is not None and head[0] != prev:
            return fail(f"the chain ends at entry {last_id or 'none'} but the head records entry {head[1]}: entries at the end were removed")
    if checked and not seen_keyed:
        return fail(f"none of the {checked} entries is signed with an audit key: their plain SHA-256 hashes can be recomputed by "
                    f"anyone who can write the table. A database last written before audit keys is sealed by its next write "
                    f"(a sign-in is enough); in a database written since, the chain was rewritten")
    if missing:
        parts = "; ".join(f"key {kid}: {n} entr{'y' if n == 1 else 'ies'} between {a} and {b}" for kid, (a, b, n) in missing.items())
        return fail(f"{sum(m[2] for m in missing.values())} of {checked} entries could not be checked, because they are signed with "
                    f"audit keys that were not given ({parts}). Put those keys in ENGINE_AUDIT_OLD_KEYS (comma-separated; the "
                    f"current key is {keys.current_id}, from {keys.source}) and verify again; every link of the chain is intact")
    span = f"from entry {start}" if since is not None else "from the start"
    notes = []
    if retired:
        notes.append(f"{retired} signed with retired keys")
    if plain:
        notes.append(f"{plain} with plain hashes from before audit keys, sealed by the keyed entries after them")
    extra = f" ({'; '.join(notes)})" if notes else ""
    end = f"; the last is entry {last_id}, signature {last_hash}" if last_hash else ""
    return VerifyResult(True, checked, f"audit chain intact: {checked} entries verified {span}{extra}{end}", last_id or None, last_hash)
