"""Signed-cookie sessions (itsdangerous), like Starlette's SessionMiddleware but the cookie is
signed and sent again only when the session changed, not on every response.

The cookie is HttpOnly, SameSite=Lax, Secure when https_only, and expires after max_age.
"""
from __future__ import annotations

import base64
import json

from itsdangerous import BadSignature, TimestampSigner
from starlette.requests import HTTPConnection


class CookieSessions:
    """Reads the session from the request's cookie into scope["session"] and says which
    Set-Cookie header the response needs (none when the session did not change)."""

    def __init__(self, secret_key: str, session_cookie: str = "engine_session", max_age: int = 14 * 24 * 3600,
                 same_site: str = "lax", https_only: bool = False):
        self.signer = TimestampSigner(secret_key)
        self.cookie = session_cookie
        self.max_age = max_age
        self.flags = f"httponly; samesite={same_site}"
        self.https_only = https_only

    def open(self, scope) -> str:
        """Put the session in scope["session"]; what it was, to compare at the response."""
        raw = HTTPConnection(scope).cookies.get(self.cookie)
        session: dict = {}
        if raw:
            try:
                session = json.loads(base64.b64decode(self.signer.unsign(raw.encode(), max_age=self.max_age)))
            except (BadSignature, ValueError, TypeError):
                session = {}
        scope["session"] = session
        return json.dumps(session, sort_keys=True)

    def set_cookie(self, scope, before: str) -> tuple[bytes, bytes] | None:
        """The Set-Cookie header for a session that changed since `open`, or None."""
        now = scope["session"]
        after = json.dumps(now, sort_keys=True)
        if after == before:
            return None
        # Secure when the app is told it runs behind HTTPS, or the request came over HTTPS (directly,
        # or through a trusted proxy's X-Forwarded-Proto)
        flags = self.flags + ("; secure" if self.https_only or scope.get("scheme") == "https" else "")
        if now:
            value = self.signer.sign(base64.b64encode(after.encode())).decode()
            return b"set-cookie", f"{self.cookie}={value}; path=/; Max-Age={self.max_age}; {flags}".encode("latin-1")
        return b"set-cookie", f"{self.cookie}=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; {flags}".encode("latin-1")
