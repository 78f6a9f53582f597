"""The storage layer's own tables: the signed audit trail and its head, naming-series counters, settings, the form designer's versions.

Declared here, by the package that owns them, and put together with the app's entity tables
into one Schema by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from engine.storage.schema import ID, UtcDateTime


def declare(md: MetaData) -> dict[str, Table]:
    out: dict[str, Table] = {}
    out["audit"] = Table(
        "sys_audit", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger),
        Column("action", String(32), nullable=False),
        Column("actor_id", BigInteger),
        Column("actor", String(64)),
        Column("via", String(16), nullable=False),
        Column("at", UtcDateTime, nullable=False),
        Column("changes", Text, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Column("key_id", String(16)),  # fingerprint of the HMAC key (engine/storage/audit_keys.py); NULL: plain SHA-256, from before audit keys
        Index("ix_sys_audit_record", "entity", "record_id", "id"),
    )
    out["audit_head"] = Table(
        "sys_audit_head", md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("last_id", BigInteger),
        Column("last_hash", String(64), nullable=False),
    )
    out["series"] = Table(
        "sys_series", md,
        Column("key", String(200), primary_key=True),
        Column("last", BigInteger, nullable=False),
    )
    out["setting"] = Table(
        "sys_setting", md,
        Column("key", String(100), primary_key=True),
        Column("value", Text, nullable=False),
    )
    out["form_version"] = Table(  # the form designer's changes: each save or restore is a new version of one form's overlay
        "sys_form_version", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("form", String(64), nullable=False),
        Column("number", Integer, nullable=False),  # 1, 2, ... per form
        Column("action", String(16), nullable=False),  # save, restore
        Column("restored_from", Integer),
        Column("piece", Text, nullable=False),  # JSON: the form's whole overlay after this version
        Column("changes", Text, nullable=False),  # JSON: what changed from the version before, for people
        Column("created_by", BigInteger),
        Column("created_by_name", String(64)),
        Column("created_at", UtcDateTime, nullable=False),
        UniqueConstraint("form", "number", name="uq_sys_form_version_number"),
    )
    return out
