"""The imports started from a screen or the API: the file, who started it, how, and where it stands.
Declared here, by the package that owns them, and put together with the other tables by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, UniqueConstraint

from engine.storage.schema import ID, UtcDateTime

STATUSES = ("uploaded", "queued", "running", "done", "failed")


def declare(md: MetaData) -> dict[str, Table]:
    mapping = Table(  # the column mapping a user keeps for an entity: their next file of that kind maps the same way
        "sys_import_mapping", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("user_id", BigInteger, nullable=False),
        Column("entity", String(64), nullable=False),
        Column("mapping", JSON, nullable=False),  # {column title: field, or "" to leave it out}
        Column("updated_at", UtcDateTime, nullable=False),
        UniqueConstraint("user_id", "entity", name="ux_sys_import_mapping"),
    )
    return {"import_mapping": mapping, "import_job": Table(
        "sys_import", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("user_id", BigInteger, nullable=False),  # who imports: the job runs as them
        Column("entity", String(64), nullable=False),
        Column("file_name", String(255), nullable=False),
        Column("content", LargeBinary, nullable=False),  # the file as uploaded: every process and host can run the job
        Column("size", BigInteger, nullable=False),
        Column("rows", Integer, nullable=False),
        Column("preview", JSON, nullable=False),  # {header, samples}: the file's header and first rows, as text, for the mapping screen
        Column("options", JSON, nullable=False),  # key, skip_errors, mapping, encoding, delimiter, lang
        Column("dry_run", Boolean, nullable=False, default=False),
        Column("status", String(16), nullable=False),  # one of STATUSES
        Column("runs", Integer, nullable=False, default=0),  # how often it was started: a run may seal its result only if it is the last
        Column("result", JSON),  # {dry_run, created, updated, unchanged, transitioned, errors, changes}
        Column("error", Text),  # why a run stopped without a result
        Column("created_at", UtcDateTime, nullable=False),
        Column("started_at", UtcDateTime),
        Column("finished_at", UtcDateTime),
        Index("ix_sys_import_user", "user_id", "id"),
        Index("ix_sys_import_status", "status", "id"),
    )}
