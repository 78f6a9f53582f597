"""The blob store's tables (content by its SHA-256, in chunks) and the attachments of records.
Declared here, by the package that owns them, and put together with the other tables by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, MetaData, PrimaryKeyConstraint, String, Table

from engine.storage.schema import ID, UtcDateTime


def declare(md: MetaData) -> dict[str, Table]:
    out: dict[str, Table] = {}
    out["blob"] = Table(  # one row per distinct content, whatever store holds the bytes
        "sys_blob", md,
        Column("sha256", String(64), primary_key=True),
        Column("size", BigInteger, nullable=False),
        Column("store", String(8), nullable=False),  # db or s3: where the bytes are
        Column("created_at", UtcDateTime, nullable=False),
    )
    out["blob_chunk"] = Table(  # the bytes of a blob kept in the database, in chunks of engine.files.blobs.CHUNK
        "sys_blob_chunk", md,
        Column("sha256", String(64), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("data", LargeBinary, nullable=False),
        PrimaryKeyConstraint("sha256", "seq", name="pk_sys_blob_chunk"),
    )
    out["attachment"] = Table(  # a file on a record: its name as uploaded, what it is, who added it
        "sys_attachment", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger, nullable=False),
        Column("name", String(255), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("content_type", String(100), nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("field", String(130)),  # the file field that holds it (`drawing`, a line's `lines.drawing`); none: in the record's Files
        Column("shared", Boolean),  # one of the record's Files shared with its party (their portal lists it); else internal
        Column("created_by", BigInteger),
        Column("created_at", UtcDateTime, nullable=False),
        Index("ix_sys_attachment_record", "entity", "record_id", "id"),
        Index("ix_sys_attachment_sha", "sha256"),
        sqlite_autoincrement=True,  # an id is never given again: a link to a removed file never opens another one
    )
    return out
