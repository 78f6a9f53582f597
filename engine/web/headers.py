"""Security headers on every response (engine.web.envelope adds them).

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


def security_headers(scheme: str | None) -> list[tuple[bytes, bytes]]:
    """The headers every response carries (HSTS only over HTTPS); a response's own win."""
    return _COMMON + [_HSTS] if scheme == "https" else _COMMON
