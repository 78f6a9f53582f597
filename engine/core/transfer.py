"""Files in and out of requests, whatever the web framework: the Content-Disposition of a download,
and an upload's body cut off at a size limit while it streams in (a body sent without a
Content-Length, in chunks, is counted too)."""
from __future__ import annotations

from urllib.parse import quote

from engine.core.errors import Msg, PayloadTooLarge


def attachment(name: str, disposition: str = "attachment") -> str:
    """`attachment` with an ASCII fallback name and the UTF-8 one (RFC 6266, RFC 5987): клиенты.errors.csv arrives as itself."""
    name = "".join(ch for ch in name if ch.isprintable())
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_").replace("\\", "_")
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def inline(name: str) -> str:
    """The same, for a file the browser shows in the page (an image, a PDF)."""
    return attachment(name, "inline")


def megabytes(n: int) -> str:
    """A size limit as people read it: 25, 0.5, 0.001."""
    mb = n / 1048576
    return f"{mb:g}" if mb >= 1 else f"{mb:.2g}"


def capped(receive, limit: int):
    """An ASGI `receive` that raises PayloadTooLarge once more than `limit` bytes of body have come in."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(Msg("the upload is larger than %(limit)s MB, the most it may be", limit=round(limit / 1048576)))
        return message
    return wrapped
