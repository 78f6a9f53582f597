"""Signed-cookie sessions (itsdangerous), like Starlette's SessionMiddleware but the cookie is
signed and sent again only when the session changed, not on every response.

The cookie is HttpOnly, SameSite=Lax, Secure when https_only, and expires after max_age.
"""
from __future__ import annotations

import base64
import json

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection


class SignedCookieSessions:
    def __init__(self, app, secret_key: str, session_cookie: str = "engine_session", max_age: int = 14 * 24 * 3600,
                 same_site: str = "lax", https_only: bool = False):
        self.app = app
        self.signer = TimestampSigner(secret_key)
        self.cookie = session_cookie
        self.max_age = max_age
        self.flags = f"httponly; samesite={same_site}"
        self.https_only = https_only

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        raw = HTTPConnection(scope).cookies.get(self.cookie)
        session: dict = {}
        if raw:
            try:
                session = json.loads(base64.b64decode(self.signer.unsign(raw.encode(), max_age=self.max_age)))
            except (BadSignature, ValueError, TypeError):
                session = {}
        scope["session"] = session
        before = json.dumps(session, sort_keys=True)

        # Secure when the app is told it runs behind HTTPS, or the request came over HTTPS (directly,
        # or through a proxy uvicorn trusts for X-Forwarded-Proto)
        flags = self.flags + ("; secure" if self.https_only or scope.get("scheme") in ("https", "wss") else "")

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                now = scope["session"]
                after = json.dumps(now, sort_keys=True)
                if after != before:
                    headers = MutableHeaders(scope=message)
                    if now:
                        value = self.signer.sign(base64.b64encode(after.encode())).decode()
                        headers.append("Set-Cookie", f"{self.cookie}={value}; path=/; Max-Age={self.max_age}; {flags}")
                    else:
                        headers.append("Set-Cookie", f"{self.cookie}=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; {flags}")
            await send(message)
        await self.app(scope, receive, send_wrapper)
