"""Sign-in sessions and CSRF for the screens.

The session cookie (signed, HttpOnly, SameSite=Lax) holds a random session token and a CSRF
token; the session itself is a row in sys_session (engine/access/sessions.py), so signing out, a
password change, a reset or a deactivation ends it on every app process at once, and idle or
old sessions expire. Every state-changing request must carry the CSRF token, as a form field or
the X-CSRF-Token header.
"""
from __future__ import annotations

import secrets

from starlette.requests import Request

from engine.access import sessions as user_sessions
from engine.app.runtime import Runtime
from engine.core.actor import Actor
from engine.core.errors import Forbidden, Msg
from engine.storage import audit

CSRF_FIELD = "csrf_token"
SESSION_ID = "engine.session_id"  # request.scope key: the id of the sys_session row of this request


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form=None) -> None:
    expected = request.session.get("csrf")
    given = request.headers.get("x-csrf-token") or (form.get(CSRF_FIELD) if form is not None else None)
    if not expected or not given or not secrets.compare_digest(str(expected), str(given)):
        raise Forbidden("this form has expired or did not come from this site; reload the page and try again")


def open_session(conn, schema, request: Request, user_id: int) -> str:
    """In the caller's transaction: end the session this browser had (signing in as someone else
    leaves nothing of the last one alive) and start a new one; its token, for use_session()."""
    user_sessions.end(conn, schema, request.session.get("sid"))
    address = request.client.host if request.client else None
    return user_sessions.start(conn, schema, user_id, address, request.headers.get("user-agent"))


def use_session(request: Request, token: str) -> None:
    """The cookie from now on: the new session's token and a new CSRF token, nothing from before."""
    request.session.clear()
    request.session["sid"] = token
    request.session["csrf"] = secrets.token_urlsafe(24)


def sign_in(rt: Runtime, request: Request, actor: Actor) -> None:
    """A fresh session for a user already known to be who they say (after changing their password).
    Runs database work: call it from a thread."""
    with rt.db.write() as conn:
        token = open_session(conn, rt.schema, request, actor.id)
    use_session(request, token)


def sign_out(rt: Runtime, request: Request, actor: Actor | None) -> None:
    """End this browser's session on the server (the cookie alone would not do) and clear the cookie."""
    token = request.session.get("sid")
    with rt.db.write() as conn:
        uid = user_sessions.end(conn, rt.schema, token)
        if uid is not None and actor is not None:
            audit.append(conn, rt.schema, actor, "sys_user", actor.id, "logout", {})
    request.session.clear()


class PortalOnly(Forbidden):
    """A portal user (a customer's, supplier's or partner's contact) on a back-office screen: sent to /portal."""


def current_actor(rt: Runtime, request: Request, portal: bool = False) -> Actor | None:
    """The user of this browser's live session, or None (no session, or it ended or expired). A portal user gets only
    the screens that say `portal=True` (the portal's, sign-out, the error page): anywhere else PortalOnly."""
    actor = _session_actor(rt, request)
    if actor is not None and not portal and actor.party is not None:
        raise PortalOnly(Msg("this page is for the company's staff; your orders are on the portal at /portal"))
    return actor


def _session_actor(rt: Runtime, request: Request) -> Actor | None:
    token = request.session.get("sid")
    if not token:
        return None
    with rt.db.read() as conn:
        current = user_sessions.resolve(conn, rt.schema, token, rt.session_policy)
    if current is None:
        return None
    if current.stale:
        with rt.db.write() as conn:
            user_sessions.touch(conn, rt.schema, current.session_id)
    request.scope[SESSION_ID] = current.session_id
    return current.actor


def session_id(request: Request) -> int | None:
    """The sys_session id of this request (after current_actor), for "this device" on the account page."""
    return request.scope.get(SESSION_ID)
