"""The comments on records. Declared here, by the package that owns them, and put together with the
other tables by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, MetaData, String, Table, Text

from engine.storage.schema import ID, UtcDateTime


def declare(md: MetaData) -> dict[str, Table]:
    return {"comment": Table(
        "sys_comment", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger, nullable=False),
        Column("author_id", BigInteger),
        Column("text", Text, nullable=False),  # as written: a small subset of Markdown (engine.comments.markdown)
        Column("mentions", JSON, nullable=False),  # the ids of the people it mentions
        Column("created_at", UtcDateTime, nullable=False),
        Column("edited_at", UtcDateTime),
        Column("shared", Boolean),  # part of the conversation with the record's party (their portal shows it); else internal
        Index("ix_sys_comment_record", "entity", "record_id", "id"),
        sqlite_autoincrement=True,  # an id is never given again: a link to a deleted comment never shows another
    )}
