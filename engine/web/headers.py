"""Security headers on every response (a pure ASGI middleware).

The Content-Security-Policy allows scripts and styles only from this site - no inline script,
no eval - which the screens are written for (htmx and app.js are static files, htmx's own
indicator styles are switched off). Frames are denied, types are not sniffed, and over HTTPS
browsers are told to stay on HTTPS.
"""
from __future__ import annotations

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
_COMMON = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = _COMMON + ([_HSTS] if scope.get("scheme") == "https" else [])

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []), *(h for h in extra if h[0] not in present)]}
            await send(message)
        await self.app(scope, receive, with_headers)
