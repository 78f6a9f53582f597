"""The client's real address and scheme behind reverse proxies the operator names, and only those.

`X-Forwarded-For` and `X-Forwarded-Proto` are written by whoever sends the request: believed from
anyone, they would let a client pose as any address (and so dodge the per-address sign-in lock)
or as HTTPS. They are read only when the connection comes from a trusted proxy
(`ENGINE_TRUSTED_PROXIES`: addresses or networks, comma-separated; default none). The client is
then the right-most address in X-Forwarded-For that is not itself a trusted proxy.
"""
from __future__ import annotations

import ipaddress
import os


def parse_trusted(text: str | None = None) -> tuple:
    """Networks from '10.0.0.1, 10.1.0.0/16, ::1' (default: $ENGINE_TRUSTED_PROXIES); ValueError naming a bad entry."""
    if text is None:
        text = os.environ.get("ENGINE_TRUSTED_PROXIES")
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"ENGINE_TRUSTED_PROXIES: '{part}' is not an IP address or network "
                             f"(write addresses or networks separated by commas, like 10.0.0.2, 192.168.0.0/24)") from None
    return tuple(out)


def _trusted(networks: tuple, host: str | None) -> bool:
    if not networks or not host:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in n for n in networks)


class TrustedProxies:
    """Sets scope["client"] and scope["scheme"] from the forwarding headers of trusted proxies."""

    def __init__(self, app, networks: tuple = ()):
        """`networks` from parse_trusted() (parsed when the app is made, so a bad value stops the start)."""
        self.app = app
        self.networks = networks

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and self.networks:
            client = scope.get("client")
            if client and _trusted(self.networks, client[0]):
                headers = dict(scope.get("headers") or [])
                forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
                hops = [h.strip() for h in forwarded.split(",") if h.strip()]
                real = None
                for hop in reversed(hops):
                    real = hop
                    if not _trusted(self.networks, hop):
                        break
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[0].strip().lower()
                if real is not None or proto in ("http", "https"):
                    scope = dict(scope)
                    if real is not None:
                        scope["client"] = (real[:64], 0)
                    if proto in ("http", "https"):
                        scope["scheme"] = ("wss" if proto == "https" else "ws") if scope["type"] == "websocket" else proto
        await self.app(scope, receive, send)
