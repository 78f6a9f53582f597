"""Reply addresses: a notification e-mail about a record says, in its Reply-To, who it went to and
which record it is about, signed, so a reply can become that person's comment on that record.

ENGINE_REPLY_ADDRESS (e.g. replies@mail.example.com) is the mailbox the mail provider hands to the
app's inbound webhook; each e-mail gets a sub-address of it, `replies+<user>.<record>.<entity>.<mac>@...`,
where the MAC is an HMAC-SHA256 with ENGINE_REPLY_SECRET (at least 32 characters) - lower case and
short, so it survives mail systems that lower-case or fold addresses. Without both variables no
e-mail offers replies and none is taken."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from email.utils import getaddresses

ADDRESS = "ENGINE_REPLY_ADDRESS"
SECRET = "ENGINE_REPLY_SECRET"
_TOKEN = re.compile(r"^(\d{1,18})\.(\d{1,18})\.([a-z][a-z0-9_]{0,63})\.([a-z2-7]{20})$")


def _settings() -> tuple[str, str, bytes] | None:
    """(local part, domain, key) of the reply mailbox; None when replies are not set up."""
    address, secret = os.environ.get(ADDRESS, "").strip(), os.environ.get(SECRET, "")
    if "@" not in address or len(secret) < 32:
        return None
    local, _, domain = address.rpartition("@")
    return local.split("+")[0], domain.lower(), secret.encode()


def enabled() -> bool:
    return _settings() is not None


def _mac(key: bytes, text: str) -> str:
    return base64.b32encode(hmac.new(key, b"reply:" + text.encode(), hashlib.sha256).digest()).decode()[:20].lower()


def address(user_id: int, entity: str, record_id: int) -> str | None:
    """The Reply-To of an e-mail to the user about the record, or None when replies are not set up."""
    found = _settings()
    if found is None:
        return None
    local, domain, key = found
    said = f"{user_id}.{record_id}.{entity}"
    return f"{local}+{said}.{_mac(key, said)}@{domain}"


def read(recipients) -> tuple[int, str, int] | None:
    """(user id, entity, record id) of the first reply address among `recipients` (addresses, or a
    header's text such as "Orders <replies+...@...>, x@y") whose signature holds; None if there is none."""
    found = _settings()
    if found is None:
        return None
    local, domain, key = found
    items = recipients if isinstance(recipients, (list, tuple)) else [recipients]
    for _, addr in getaddresses([str(r) for r in items if r]):
        box, _, at = addr.strip().lower().rpartition("@")
        head, plus, token = box.partition("+")
        if at != domain or head != local.lower() or not plus:
            continue
        m = _TOKEN.match(token)
        if m and hmac.compare_digest(m.group(4), _mac(key, f"{m.group(1)}.{m.group(2)}.{m.group(3)}")):
            return int(m.group(1)), m.group(3), int(m.group(2))
    return None
