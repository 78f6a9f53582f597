"""Signing in with a password, throttled: after repeated failures a username (or a client
address) is locked for a while, and every sign-in and failed sign-in is an audit entry.

Counters live in the database (sys_login_attempt), so every app process sees the same lockout.
A failure is recorded and committed before the error is raised: an attacker cannot roll it back.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from engine import audit, users
from engine.actor import Actor
from engine.errors import TooManyRequests, Unauthenticated
from engine.schema import Schema

USER_LIMIT = 5  # failures per username within WINDOW before it is locked
ADDRESS_LIMIT = 30  # failures per client address within WINDOW (many usernames from one place)
WINDOW = dt.timedelta(minutes=15)
LOCK = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Outcome:
    actor: Actor | None
    error: Exception | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _keys(username: str, address: str | None) -> list[tuple[str, int]]:
    keys = [("user:" + username.strip().lower()[:150], USER_LIMIT)]
    if address:
        keys.append(("addr:" + address[:150], ADDRESS_LIMIT))
    return keys


def sign_in(db, schema: Schema, username: str, password: str, address: str | None, via: str) -> Actor:
    """The user, if the password is right and neither the username nor the address is locked.
    Raises Unauthenticated (wrong username or password, the same either way) or TooManyRequests."""
    username = username if isinstance(username, str) else ""
    with db.write() as conn:
        outcome = _attempt(conn, schema, username, password, address, via)
    if outcome.error is not None:
        raise outcome.error
    return outcome.actor


def _attempt(conn, schema: Schema, username: str, password: str, address: str | None, via: str) -> Outcome:
    t = schema.login_attempt
    now = _now()
    keys = _keys(username, address)
    rows = {r.key: r for r in conn.execute(select(t).where(t.c.key.in_([k for k, _ in keys])))}
    for key, _ in keys:
        r = rows.get(key)
        if r is not None and r.locked_until is not None and r.locked_until > now:
            wait = int((r.locked_until - now).total_seconds()) + 1
            return Outcome(None, TooManyRequests(f"too many failed sign-ins; try again in {max(1, wait // 60)} minute(s)", wait))
    try:
        actor = users.authenticate(conn, schema, username, password, via=via)
    except Unauthenticated as exc:
        for key, limit in keys:
            r = rows.get(key)
            failures = r.failures + 1 if r is not None and now - r.last_failure < WINDOW else 1
            values = {"failures": failures, "last_failure": now, "locked_until": now + LOCK if failures >= limit else None}
            if r is None:
                conn.execute(t.insert().values(key=key, **values))
            else:
                conn.execute(t.update().where(t.c.key == key).values(**values))
        uid = conn.execute(select(schema.user.c.id).where(schema.user.c.username == username)).scalar()
        who = Actor(id=None, username=username[:64] or "?", via=via)
        audit.append(conn, schema, who, "sys_user", uid, "login_failed", {"address": address})
        return Outcome(None, exc)
    conn.execute(t.delete().where(t.c.key == keys[0][0]))
    audit.append(conn, schema, actor, "sys_user", actor.id, "login", {"address": address})
    return Outcome(actor, None)
