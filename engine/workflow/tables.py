"""The workflow's tables: each record's timeline of transitions, review tasks, SLA timers.

Declared here, by the package that owns them, and put together with the app's entity tables
into one Schema by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from engine.storage.schema import ID, UtcDateTime


def declare(md: MetaData) -> dict[str, Table]:
    out: dict[str, Table] = {}
    out["workflow_history"] = Table(  # every transition: the record's timeline
        "sys_workflow_history", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger, nullable=False),
        Column("workflow", String(64), nullable=False),
        Column("transition", String(64), nullable=False),
        Column("from_state", String(64), nullable=False),
        Column("to_state", String(64), nullable=False),
        Column("actor_id", BigInteger),
        Column("actor", String(64)),
        Column("at", UtcDateTime, nullable=False),
        Column("comment", Text),
        Column("inputs", JSON),
        Column("seconds_in_state", Integer),
        Index("ix_sys_workflow_history_record", "entity", "record_id", "id"),
    )
    out["review_task"] = Table(  # countersign: one task per reviewing role each time a record enters a review state
        "sys_review_task", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger, nullable=False),
        Column("round", Integer, nullable=False),  # 1 for the first review of the record, then 2, ...
        Column("state", String(64), nullable=False),
        Column("role", String(64), nullable=False),
        Column("status", String(16), nullable=False),  # pending, approved, rejected, skipped (outcome reached), closed (state left)
        Column("opinion", Text),
        Column("decided_by", BigInteger),
        Column("decided_by_name", String(64)),
        Column("created_at", UtcDateTime, nullable=False),
        Column("decided_at", UtcDateTime),
        Index("ix_sys_review_task_record", "entity", "record_id", "round"),
        Index("ix_sys_review_task_pending", "role", "status", "entity", "record_id"),
    )
    out["timer"] = Table(  # SLA: durable timers, claimed by one process each with a compare-and-set on status
        "sys_timer", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger, nullable=False),
        Column("state", String(64), nullable=False),
        Column("kind", String(16), nullable=False),  # deadline, reminder, escalation
        Column("step", Integer, nullable=False),  # which reminder or escalation of the state's SLA
        Column("due_at", UtcDateTime, nullable=False),
        Column("status", String(16), nullable=False),  # pending, done, failed, cancelled
        Column("entered_at", UtcDateTime, nullable=False),
        Column("fired_at", UtcDateTime),
        Column("result", Text),
        Index("ix_sys_timer_due", "status", "due_at"),
        Index("ix_sys_timer_record", "entity", "record_id", "status"),
    )
    return out
