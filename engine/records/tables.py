"""The in-app notifications users are told.

Declared here, by the package that owns them, and put together with the app's entity tables
into one Schema by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, MetaData, String, Table, Text

from engine.storage.schema import ID, UtcDateTime


def declare(md: MetaData) -> dict[str, Table]:
    out: dict[str, Table] = {}
    out["notification"] = Table(  # what a user is told: reminders, escalations, transitions, reduced lines
        "sys_notification", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("user_id", BigInteger, nullable=False),
        Column("entity", String(64)),
        Column("record_id", BigInteger),
        Column("kind", String(32), nullable=False),
        Column("message", Text, nullable=False),  # in the reader's language when it was sent
        Column("texts", JSON),  # {language: text} in each of the app's languages: shown in the reader's language of now
        Column("created_at", UtcDateTime, nullable=False),
        Column("read_at", UtcDateTime),
        Index("ix_sys_notification_user", "user_id", "read_at", "id"),
    )
    return out
