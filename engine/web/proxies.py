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


def forwarded_scope(scope, networks: tuple):
    """The request's scope with "client" and "scheme" from the forwarding headers of a trusted proxy
    (`networks` from parse_trusted(), parsed when the app is made, so a bad value stops the start)."""
    if not networks:
        return scope
    client = scope.get("client")
    if client and _trusted(networks, client[0]):
        real, proto = _forwarded(scope.get("headers") or [], networks)
        if real is not None or proto is not None:
            scope = dict(scope)
            if real is not None:
                scope["client"] = (real, 0)
            if proto is not None:
                scope["scheme"] = proto
    return scope


def _forwarded(headers, networks: tuple) -> tuple[str | None, str | None]:
    """(client address, scheme) that trusted proxies report. Several X-Forwarded-For lines count as one
    list, in order; the client is the right-most hop that is not a trusted proxy, and must be an
    address (a port after it is dropped) - anything else, and the header is not believed. The scheme
    is the nearest proxy's (the right-most X-Forwarded-Proto value)."""
    hops: list[str] = []
    protos: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            hops += [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
        elif name == b"x-forwarded-proto":
            protos += [p.strip().lower() for p in value.decode("latin-1").split(",") if p.strip()]
    real = None
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            real = None  # a value that is not an address: believe none of it
            break
        real = address
        if not _trusted(networks, address):
            break
    proto = protos[-1] if protos and protos[-1] in ("http", "https") else None
    return real, proto


def _address(hop: str) -> str | None:
    """'203.0.113.7', '203.0.113.7:5123', '[2001:db8::1]:443' or '2001:db8::1' as an address; None if it is none."""
    candidates = [hop]
    if hop.startswith("[") and "]" in hop:
        candidates = [hop[1:hop.index("]")]]
    elif hop.count(":") == 1:
        candidates = [hop.split(":")[0]]
    for c in candidates:
        try:
            return str(ipaddress.ip_address(c))
        except ValueError:
            continue
    return None
