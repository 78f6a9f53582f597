"""The Content-Disposition of a file sent for download, whatever script its name is in."""
from __future__ import annotations

from urllib.parse import quote


def attachment(name: str) -> str:
    """`attachment` with an ASCII fallback name and the UTF-8 one (RFC 6266, RFC 5987): клиенты.errors.csv arrives as itself."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_").replace("\\", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
