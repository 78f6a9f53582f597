"""In-app notifications: who is told (roles, with the roles that inherit them, a record's owner
and the owner's manager, or a person a user field of the record names), written in the caller's
transaction so a notice exists exactly when the change that caused it does, and read back per
user. The record service decides who of them may read the record (Records.deliver) and which
notifications a reader may still see (Records.notifications)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from engine.metadata.model import App
from engine.storage.schema import Schema

RELATIONS = ("owner", "owner_manager")


def roles_meaning(app: App, role: str) -> set[str]:
    """The roles whose users count as `role`: itself and every role that inherits it."""
    out, changed = {role}, True
    while changed:
        changed = False
        for r in app.roles.values():
            if r.name not in out and out & set(r.inherits):
                out.add(r.name)
                changed = True
    return out


def recipients(conn, schema: Schema, app: App, names, record: dict, people: frozenset = frozenset()) -> list[int]:
    """Active users for a notify list, each once: relations (owner, owner_manager), user fields of
    the record (`people`: a specialist, a customer contact) and roles. Whether each may read the
    record is decided by the caller (the record service), not here."""
    u, ur = schema.user, schema.user_role
    owner_id = record.get("owner")
    ids: list[int] = []
    roles = set()
    for name in names:
        if name == "owner" and owner_id is not None:
            ids.append(owner_id)
        elif name == "owner_manager" and owner_id is not None:
            m = conn.execute(select(u.c.manager_id).where(u.c.id == owner_id)).scalar()
            if m is not None:
                ids.append(m)
        elif name in people:
            if isinstance(record.get(name), int):
                ids.append(record[name])
        elif name not in RELATIONS:
            roles |= roles_meaning(app, name)
    if roles:
        ids += conn.execute(select(ur.c.user_id).join(u, u.c.id == ur.c.user_id).where(ur.c.role.in_(sorted(roles)), u.c.active.is_(True))
                            .order_by(ur.c.user_id)).scalars().all()
    if ids:
        active = set(conn.execute(select(u.c.id).where(u.c.id.in_(set(ids)), u.c.active.is_(True))).scalars())
        ids = [i for i in ids if i in active]
    return list(dict.fromkeys(ids))


def send(conn, schema: Schema, user_ids, entity: str | None, record_id: int | None, kind: str, message: str, now: dt.datetime,
         texts: dict | None = None) -> int:
    """Notices for these users; `texts`: the message in each language ({lang: text}), so it is shown in the reader's language of now."""
    texts = {k: v[:2000] for k, v in texts.items()} if texts else None
    rows = [dict(user_id=u, entity=entity, record_id=record_id, kind=kind, message=message[:2000], texts=texts, created_at=now) for u in user_ids]
    if rows:
        conn.execute(schema.notification.insert(), rows)
    return len(rows)


def unread(conn, schema: Schema, user_id: int, visible, limit: int = 20) -> tuple[list[dict], int]:
    """The user's unread notifications that `visible` (a WHERE clause: those whose record the user
    may still read) lets through, newest first, and how many there are."""
    n = schema.notification
    rows = conn.execute(select(n).where(n.c.user_id == user_id, n.c.read_at.is_(None), visible).order_by(n.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows], count_unread(conn, schema, user_id, visible)


def count_unread(conn, schema: Schema, user_id: int, visible) -> int:
    """How many unread notifications of the user `visible` lets through."""
    n = schema.notification
    return conn.execute(select(func.count()).select_from(n).where(n.c.user_id == user_id, n.c.read_at.is_(None), visible)).scalar()


def unread_entities(conn, schema: Schema, user_id: int, everything: bool = False) -> list[str | None]:
    """The entities the user's unread (with `everything`: all) notifications are about (None: about no record)."""
    n = schema.notification
    stmt = select(n.c.entity).where(n.c.user_id == user_id)
    if not everything:
        stmt = stmt.where(n.c.read_at.is_(None))
    return list(conn.execute(stmt.distinct()).scalars())


def latest(conn, schema: Schema, user_id: int, visible, limit: int, before: int | None = None, everything: bool = False) -> list[dict]:
    """The user's notifications `visible` lets through, newest first: the unread ones first (the
    bell), or, with `everything`, read and unread alike (the page), older than id `before`."""
    n = schema.notification
    stmt = select(n).where(n.c.user_id == user_id, visible)
    if before is not None:
        stmt = stmt.where(n.c.id < before)
    order = (n.c.id.desc(),) if everything else (n.c.read_at.is_not(None), n.c.id.desc())
    return [dict(r) for r in conn.execute(stmt.order_by(*order).limit(limit)).mappings()]


def mark_read(conn, schema: Schema, user_id: int, now: dt.datetime, visible, ids=None) -> int:
    n = schema.notification
    stmt = n.update().where(n.c.user_id == user_id, n.c.read_at.is_(None), visible)
    if ids is not None:
        stmt = stmt.where(n.c.id.in_(list(ids)))
    return conn.execute(stmt.values(read_at=now)).rowcount


PRUNE_BATCH = 5000  # rows deleted per statement: a night's pruning never holds a long lock


def prune(db, schema: Schema, before: dt.datetime) -> int:
    """Forget the notifications read before `before` (unread ones stay, however old); how many went."""
    n = schema.notification
    gone = 0
    while True:
        with db.write() as conn:
            ids = [r[0] for r in conn.execute(select(n.c.id).where(n.c.read_at.is_not(None), n.c.read_at < before)
                                              .order_by(n.c.id).limit(PRUNE_BATCH))]
            if ids:
                conn.execute(n.delete().where(n.c.id.in_(ids)))
        gone += len(ids)
        if len(ids) < PRUNE_BATCH:
            return gone
