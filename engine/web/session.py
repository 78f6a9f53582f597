"""Signed-cookie sessions, sign-in and CSRF for the screens.

The session cookie (signed, HttpOnly, SameSite=Lax) holds the user id and a CSRF token;
nothing lives in process memory, so any app process can serve any request. Every
state-changing request must carry the token, as a form field or the X-CSRF-Token header.
"""
from __future__ import annotations

import secrets

from starlette.requests import Request

from engine import users
from engine.actor import Actor
from engine.errors import Forbidden
from engine.runtime import Runtime

CSRF_FIELD = "csrf_token"


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


def sign_in(request: Request, actor: Actor) -> None:
    """Start a fresh session (a new CSRF token too), so nothing from before sign-in carries over."""
    request.session.clear()
    request.session["uid"] = actor.id
    request.session["epoch"] = actor.session_epoch
    request.session["csrf"] = secrets.token_urlsafe(24)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_actor(rt: Runtime, request: Request) -> Actor | None:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    with rt.db.read() as conn:
        return users.actor_for_id(conn, rt.schema, uid, via="screen", epoch=request.session.get("epoch", 0))
