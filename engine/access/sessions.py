"""Server-side sessions: one row per browser sign-in (sys_session), so that signing out, a password
change or reset, and deactivation end a session at once on every app process, and idle or old
sessions expire.

The browser's signed cookie carries only a random token; the table keeps its SHA-256, never the
token itself. Each screen request reads the session, its user and the user's roles in one query;
`last_seen_at` is written at most once a minute per session, so a busy user costs no write per page.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select

from engine.access import users
from engine.core.actor import Actor
from engine.core.settings import positive_number
from engine.storage.schema import Schema

TOUCH_EVERY = dt.timedelta(minutes=1)  # how stale last_seen_at may get before a request writes it
KEEP_ENDED = dt.timedelta(days=30)  # ended sessions stay listed in the table this long, then go

# why a session ended (sys_session.ended_reason)
SIGNED_OUT, ENDED_BY_USER, PASSWORD_CHANGED, PASSWORD_RESET, DEACTIVATED = (
    "signed_out", "ended_by_user", "password_changed", "password_reset", "deactivated")


@dataclass(frozen=True)
class Policy:
    """How long a session lives: `idle` without a request, `absolute` from sign-in whatever happens."""

    idle: dt.timedelta = dt.timedelta(hours=12)
    absolute: dt.timedelta = dt.timedelta(days=14)

    @classmethod
    def from_env(cls, environ=os.environ) -> "Policy":
        """ENGINE_SESSION_IDLE_HOURS (default 12) and ENGINE_SESSION_MAX_DAYS (default 14)."""
        return cls(idle=dt.timedelta(hours=positive_number("ENGINE_SESSION_IDLE_HOURS", 12, environ)),
                   absolute=dt.timedelta(days=positive_number("ENGINE_SESSION_MAX_DAYS", 14, environ)))




def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def start(conn, schema: Schema, user_id: int, address: str | None, user_agent: str | None, now: dt.datetime | None = None) -> str:
    """A new session for the user; returns the token for the cookie (shown nowhere else)."""
    now = now or _now()
    s = schema.session
    conn.execute(delete(s).where(s.c.user_id == user_id, s.c.ended_at.is_not(None), s.c.ended_at < now - KEEP_ENDED))
    token = secrets.token_urlsafe(32)
    conn.execute(s.insert().values(token_hash=_hash(token), user_id=user_id, created_at=now, last_seen_at=now,
                                   address=(address or "")[:64] or None, user_agent=(user_agent or "")[:300] or None))
    return token


@dataclass(frozen=True)
class Current:
    """The signed-in user of a live session, and whether its last_seen_at needs writing."""

    actor: Actor
    session_id: int
    stale: bool


def _resolve_stmt(schema: Schema):
    """Built once per schema: it runs on every screen request."""
    stmt = getattr(schema, "_session_resolve", None)
    if stmt is None:
        s, u, r = schema.session, schema.user, schema.user_role
        stmt = (select(s.c.id.label("session_id"), s.c.created_at.label("session_created"), s.c.last_seen_at, u.c.id, u.c.username,
                       u.c.full_name, u.c.language, u.c.time_zone, u.c.attributes, u.c.party, r.c.role)
                .select_from(s.join(u, u.c.id == s.c.user_id).outerjoin(r, r.c.user_id == u.c.id))
                .where(s.c.token_hash == bindparam("token_hash"), s.c.ended_at.is_(None), u.c.active.is_(True)))
        schema._session_resolve = stmt
    return stmt


def resolve(conn, schema: Schema, token, policy: Policy, via: str = "screen", now: dt.datetime | None = None) -> Current | None:
    """The session's user, or None when the token is unknown, the session ended or expired (idle
    too long, or older than the absolute limit), or its user is deactivated."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    rows = conn.execute(_resolve_stmt(schema), {"token_hash": _hash(token)}).all()
    if not rows:
        return None
    first = rows[0]
    now = now or _now()
    if now - first.last_seen_at > policy.idle or now - first.session_created > policy.absolute:
        return None
    actor = Actor(id=first.id, username=first.username, roles=frozenset(x.role for x in rows if x.role), via=via,
                  full_name=first.full_name or first.username, language=first.language or "", time_zone=first.time_zone or "",
                  attributes=dict(first.attributes or {}), party=first.party)
    if actor.party is not None and not users.party_open(conn, schema, actor):
        return None  # the customer (supplier, partner) was deactivated: its contacts are signed out
    return Current(actor, first.session_id, now - first.last_seen_at >= TOUCH_EVERY)


def touch(conn, schema: Schema, session_id: int, now: dt.datetime | None = None) -> None:
    s = schema.session
    conn.execute(s.update().where(s.c.id == session_id, s.c.ended_at.is_(None)).values(last_seen_at=now or _now()))


def end(conn, schema: Schema, token, reason: str = SIGNED_OUT, now: dt.datetime | None = None) -> int | None:
    """End the session this token belongs to; its user id, or None when there was no live one."""
    if not isinstance(token, str):
        return None
    s = schema.session
    uid = conn.execute(select(s.c.user_id).where(s.c.token_hash == _hash(token), s.c.ended_at.is_(None))).scalar()
    if uid is not None:
        conn.execute(s.update().where(s.c.token_hash == _hash(token)).values(ended_at=now or _now(), ended_reason=reason))
    return uid


def end_one(conn, schema: Schema, user_id: int, session_id: int, reason: str = ENDED_BY_USER, now: dt.datetime | None = None) -> bool:
    """End one of the user's own sessions by its id (the account page's list); False if none such is live."""
    s = schema.session
    res = conn.execute(s.update().where(s.c.id == session_id, s.c.user_id == user_id, s.c.ended_at.is_(None))
                       .values(ended_at=now or _now(), ended_reason=reason))
    return res.rowcount == 1


def end_all(conn, schema: Schema, user_id: int, reason: str, keep: int | None = None, now: dt.datetime | None = None) -> int:
    """End every live session of the user (but `keep`, a session id); returns how many ended."""
    s = schema.session
    stmt = s.update().where(s.c.user_id == user_id, s.c.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(s.c.id != keep)
    return conn.execute(stmt.values(ended_at=now or _now(), ended_reason=reason)).rowcount


def active(conn, schema: Schema, user_id: int, policy: Policy, now: dt.datetime | None = None) -> list[dict]:
    """The user's live sessions, most recently used first: id, created_at, last_seen_at, address, user_agent."""
    s = schema.session
    now = now or _now()
    rows = conn.execute(select(s.c.id, s.c.created_at, s.c.last_seen_at, s.c.address, s.c.user_agent)
                        .where(s.c.user_id == user_id, s.c.ended_at.is_(None), s.c.last_seen_at > now - policy.idle,
                               s.c.created_at > now - policy.absolute)
                        .order_by(s.c.last_seen_at.desc(), s.c.id.desc())).mappings().all()
    return [dict(r) for r in rows]


def device(user_agent: str | None) -> str:
    """'Chrome on Windows' from a User-Agent header: enough for a person to recognise their devices."""
    ua = user_agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("YaBrowser", "Yandex Browser"),
                                           ("MicroMessenger", "WeChat"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
                                           ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"),
                                           ("python-httpx", "httpx"), ("testclient", "test client")) if key in ua), "")
    system = next((name for key, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
                                          ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux")) if key in ua), "")
    if browser and system:
        return f"{browser} · {system}"
    return browser or system or (ua[:40] if ua else "?")
