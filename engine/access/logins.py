"""Checking a password, throttled: after repeated failures a username (or a client address, or an
IPv6 /64) is locked for a while, and every sign-in and failed sign-in is an audit entry.

Counters live in the database (sys_login_attempt), so every app process sees the same lockout;
a failure is counted with one atomic upsert (parallel failures all count) and committed before
the error is raised, so an attacker cannot roll it back. The slow argon2 check runs outside any
transaction; the short write transaction that follows locks the user's row, checks that the
password it verified is still the user's, and runs what the success is for (`then`: start a
session, make a token, change the password) in the same transaction - so a password change or
reset either ends what it starts, or makes it fail.
"""
from __future__ import annotations

import datetime as dt
import ipaddress

from sqlalchemy import case, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from engine.access import users
from engine.core.actor import Actor
from engine.core.errors import Msg, TooManyRequests, Unauthenticated
from engine.storage import audit
from engine.storage.schema import Schema

USER_LIMIT = 5  # failures per username within WINDOW before it is locked
ADDRESS_LIMIT = 30  # failures per client address within WINDOW (many usernames from one place)
WINDOW = dt.timedelta(minutes=15)
LOCK = dt.timedelta(minutes=15)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _address_key(address: str) -> str:
    """An IPv6 client counts by its /64 (one subscriber's whole block), anything else as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:150]
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


def _keys(username: str, address: str | None) -> list[tuple[str, int]]:
    keys = [("user:" + username.strip().lower()[:150], USER_LIMIT)]
    if address:
        keys.append(("addr:" + _address_key(address), ADDRESS_LIMIT))
    return keys


def _refuse_if_locked(conn, schema: Schema, keys, now: dt.datetime, what: str = "sign-in") -> None:
    t = schema.login_attempt
    for r in conn.execute(select(t).where(t.c.key.in_([k for k, _ in keys]))):
        if r.locked_until is not None and r.locked_until > now:
            wait = int((r.locked_until - now).total_seconds()) + 1
            said = (Msg("too many failed sign-ins; try again in %(n)s minute(s)", n=max(1, wait // 60)) if what == "sign-in" else
                    Msg("too many requests of this kind; try again in %(n)s minute(s)", n=max(1, wait // 60)))
            raise TooManyRequests(said, wait)


def _count_failure(conn, schema: Schema, key: str, limit: int, now: dt.datetime, window: dt.timedelta = WINDOW,
                   lock: dt.timedelta = LOCK) -> None:
    """One more failure for `key`, counted atomically (insert or add one, starting again after `window`)."""
    t = schema.login_attempt
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(t)
    failures = case((t.c.last_failure >= literal(now - window, t.c.last_failure.type), t.c.failures + 1), else_=1)
    lock_until = literal(now + lock, t.c.locked_until.type)
    stmt = insert.values(key=key, failures=1, last_failure=now, locked_until=now + lock if limit <= 1 else None)
    conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.key], set_={
        "failures": failures, "last_failure": now, "locked_until": case((failures >= limit, lock_until), else_=None)}))


def _request_key(kind: str, subject: str) -> str:
    return f"{kind}:{_address_key(subject) if kind.endswith('addr') else subject}"[:200]


def refuse_if_limited(conn, schema: Schema, kind: str, subject: str, limit: int, now: dt.datetime | None = None) -> None:
    """TooManyRequests while `kind` of requests for `subject` is locked (count_request reached its limit)."""
    _refuse_if_locked(conn, schema, [(_request_key(kind, subject), limit)], now or _now(), what=kind)


def count_request(conn, schema: Schema, kind: str, subject: str, limit: int, now: dt.datetime | None = None,
                  window: dt.timedelta = WINDOW, check: bool = True) -> None:
    """One more request of `kind` (a password reset, a public form) for `subject` (a client address, a user): TooManyRequests
    once `limit` of them came within `window` (until it has passed) - the same counters, in the database, as failed sign-ins."""
    now = now or _now()
    key = _request_key(kind, subject)
    if check:
        _refuse_if_locked(conn, schema, [(key, limit)], now, what=kind)
    _count_failure(conn, schema, key, limit, now, window, window)


def sign_in(db, schema: Schema, username: str, password: str, address: str | None, via: str, then=None, purpose: str = "login"):
    """(actor, what `then(conn, actor)` returned) if the password is right and neither the username
    nor the address is locked. Raises Unauthenticated (wrong username or password, the same
    either way) or TooManyRequests. `purpose`: "login" audits a sign-in; anything else (a password
    change checking the current one) audits only the failures, naming the purpose."""
    username = username if isinstance(username, str) else ""
    keys = _keys(username, address)
    with db.read() as conn:  # no argon2 work for a locked name or address
        _refuse_if_locked(conn, schema, keys, _now())
        checked = users.credentials(conn, schema, username)
    ok = users.password_matches(checked, password)  # the slow part, outside any transaction
    with db.write() as conn:
        now = _now()
        try:
            _refuse_if_locked(conn, schema, keys, now)
        except TooManyRequests as exc:
            error = exc
        else:
            error = None
            row = users.credentials(conn, schema, username, lock=True) if ok else None
            if row is None or not row.active or row.password_hash != checked.password_hash:  # wrong, or changed meanwhile
                for key, limit in keys:
                    _count_failure(conn, schema, key, limit, now)
                who = Actor(id=None, username=username[:64] or "?", via=via)
                details = {"address": address} if purpose == "login" else {"address": address, "purpose": purpose}
                audit.append(conn, schema, who, "sys_user", checked.id if checked is not None else None, "login_failed", details)
                error = Unauthenticated("wrong username or password")
        if error is None:
            conn.execute(schema.login_attempt.delete().where(schema.login_attempt.c.key == keys[0][0]))
            actor = users.actor_of(conn, schema, row, via)
            if purpose == "login":
                audit.append(conn, schema, actor, "sys_user", actor.id, "login", {"address": address})
            extra = then(conn, actor) if then is not None else None
    if error is not None:
        raise error
    return actor, extra
