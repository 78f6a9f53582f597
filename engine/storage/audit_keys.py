"""The keys that sign the audit trail.

A chain of plain SHA-256 hashes only shows that entries fit together: whoever can write the
table can rewrite an entry and recompute every hash after it. Keyed with HMAC-SHA256, the chain
can only be extended or rewritten by someone who holds the key, which lives outside the
database: `ENGINE_AUDIT_KEY` (the same on every app process; never the session key).

Each entry records the key id (a fingerprint that does not reveal the key) it was signed with,
so the key can be rotated: the new key goes into ENGINE_AUDIT_KEY, the old ones into
ENGINE_AUDIT_OLD_KEYS (comma-separated), and entries signed before stay verifiable.

Without ENGINE_AUDIT_KEY, a development key is made once and kept in a file beside the
database (`audit_key`, mode 0600), with a warning: enough for a laptop, not for production.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.storage.db import var_dir

log = logging.getLogger("engine")

ENV_KEY = "ENGINE_AUDIT_KEY"
ENV_OLD = "ENGINE_AUDIT_OLD_KEYS"
FILE_NAME = "audit_key"


def key_id(key: bytes) -> str:
    """A key's fingerprint (16 hex digits): names the key in each entry without revealing it."""
    return hmac.new(key, b"engine audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    current: bytes
    current_id: str
    source: str  # where the current key comes from, for messages
    old: dict = field(default_factory=dict)  # key id -> key, for verifying entries signed before a rotation

    def get(self, kid: str) -> bytes | None:
        return self.current if kid == self.current_id else self.old.get(kid)


_cache: dict[tuple, Keyring] = {}
_lock = threading.Lock()


def keyring(url: str) -> Keyring:
    """The keys for the database at `url`: from the environment, else the development file."""
    env_key, env_old = os.environ.get(ENV_KEY) or "", os.environ.get(ENV_OLD) or ""
    cache_key = (url, env_key, env_old) if not env_key else ("", env_key, env_old)
    ring = _cache.get(cache_key)
    if ring is not None:
        return ring
    with _lock:
        ring = _cache.get(cache_key)
        if ring is None:
            ring = _load(url, env_key, env_old)
            _cache[cache_key] = ring
    return ring


def for_connection(conn) -> Keyring:
    return keyring(conn.engine.url.render_as_string(hide_password=False))


def _load(url: str, env_key: str, env_old: str) -> Keyring:
    old = {}
    for part in env_old.split(","):
        part = part.strip()
        if part:
            k = part.encode("utf-8")
            old[key_id(k)] = k
    if env_key:
        key = env_key.encode("utf-8")
        return Keyring(key, key_id(key), ENV_KEY, old)
    key, source = _dev_key(var_dir(url) / FILE_NAME)
    return Keyring(key, key_id(key), source, old)


def _dev_key(path: Path) -> tuple[bytes, str]:
    """A random key kept in `path` (made on first use, readable by this OS user only)."""
    try:
        for _ in range(100):
            if path.is_file():
                text = path.read_text(encoding="ascii").strip()
                if text:
                    log.warning("%s is not set: the audit trail is signed with the development key in %s; "
                                "set %s (the same on every app process) in production", ENV_KEY, path, ENV_KEY)
                    return text.encode("ascii"), str(path)
                time.sleep(0.02)  # another process is writing it
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            text = secrets.token_urlsafe(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it at the same moment: use theirs
                continue
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(text + "\n")
            log.warning("%s is not set: made a development key for the audit trail in %s; "
                        "set %s (the same on every app process) in production", ENV_KEY, path, ENV_KEY)
            return text.encode("ascii"), str(path)
        raise OSError(f"{path} stays empty")
    except OSError as exc:
        log.warning("%s is not set and %s cannot be used (%s): the audit trail is signed with a key that ends with "
                    "this process, so its entries cannot be verified later; set %s", ENV_KEY, path, exc, ENV_KEY)
        return secrets.token_urlsafe(32).encode("ascii"), "a key of this process only"
