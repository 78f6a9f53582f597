"""In-app notifications: who is told (roles, with the roles that inherit them, or a record's
owner and the owner's manager), written in the caller's transaction so a notice exists exactly
when the change that caused it does, and read back per user."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from engine.metadata.model import App
from engine.schema import Schema

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


def recipients(conn, schema: Schema, app: App, names, owner_id: int | None) -> list[int]:
    """Active users for notify lists of roles and relations (owner, owner_manager), each once."""
    u, ur = schema.user, schema.user_role
    ids: list[int] = []
    roles = set()
    for name in names:
        if name == "owner" and owner_id is not None:
            ids.append(owner_id)
        elif name == "owner_manager" and owner_id is not None:
            m = conn.execute(select(u.c.manager_id).where(u.c.id == owner_id)).scalar()
            if m is not None:
                ids.append(m)
        elif name not in RELATIONS:
            roles |= roles_meaning(app, name)
    if roles:
        ids += conn.execute(select(ur.c.user_id).join(u, u.c.id == ur.c.user_id).where(ur.c.role.in_(sorted(roles)), u.c.active.is_(True))
                            .order_by(ur.c.user_id)).scalars().all()
    if ids:
        active = set(conn.execute(select(u.c.id).where(u.c.id.in_(set(ids)), u.c.active.is_(True))).scalars())
        ids = [i for i in ids if i in active]
    return list(dict.fromkeys(ids))


def send(conn, schema: Schema, user_ids, entity: str | None, record_id: int | None, kind: str, message: str, now: dt.datetime) -> int:
    rows = [dict(user_id=u, entity=entity, record_id=record_id, kind=kind, message=message[:2000], created_at=now) for u in user_ids]
    if rows:
        conn.execute(schema.notification.insert(), rows)
    return len(rows)


def unread(conn, schema: Schema, user_id: int, limit: int = 20) -> tuple[list[dict], int]:
    """The user's unread notifications, newest first, and how many there are."""
    n = schema.notification
    where = (n.c.user_id == user_id, n.c.read_at.is_(None))
    rows = conn.execute(select(n).where(*where).order_by(n.c.id.desc()).limit(limit)).mappings().all()
    total = conn.execute(select(func.count()).select_from(n).where(*where)).scalar()
    return [dict(r) for r in rows], total


def mark_read(conn, schema: Schema, user_id: int, now: dt.datetime, ids=None) -> int:
    n = schema.notification
    stmt = n.update().where(n.c.user_id == user_id, n.c.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(n.c.id.in_(list(ids)))
    return conn.execute(stmt.values(read_at=now)).rowcount
