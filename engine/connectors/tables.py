"""The deliveries of outbound connectors and every attempt at them. Declared here, by the package
that owns them, and put together with the other tables by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from engine.storage.schema import ID, UtcDateTime

STATUSES = ("pending", "sending", "delivered", "dead")
CALL_OUTCOMES = ("applied", "ignored", "duplicate", "refused", "failed")


def declare(md: MetaData) -> dict[str, Table]:
    out: dict[str, Table] = {}
    out["delivery"] = Table(  # one event for one connector: what is sent, and where it stands
        "sys_delivery", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("connector", String(63), nullable=False),
        Column("event_id", BigInteger, nullable=False),  # the idempotency key
        Column("event_type", String(32), nullable=False),
        Column("entity", String(64), nullable=False),
        Column("record_id", BigInteger),
        Column("recipient_id", BigInteger, nullable=False, default=0, server_default="0"),  # the person a notification is for (0: none)
        Column("status", String(16), nullable=False),  # one of STATUSES
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_at", UtcDateTime, nullable=False),  # when it is due (pending), or when its lease ends (sending)
        Column("request", JSON, nullable=False),  # method, url, headers (with ${VAR} references, never their values), body
        Column("last_status", Integer),  # the HTTP status of the last attempt
        Column("last_error", Text),
        Column("response", Text),  # the start of the last answer
        Column("created_at", UtcDateTime, nullable=False),
        Column("delivered_at", UtcDateTime),
        UniqueConstraint("connector", "event_id", "recipient_id", name="ux_sys_delivery_message"),
        Index("ix_sys_delivery_due", "status", "next_at", "id"),
        Index("ix_sys_delivery_record", "connector", "entity", "record_id", "recipient_id", "id"),
        Index("ix_sys_delivery_list", "connector", "status", "id"),
    )
    out["delivery_attempt"] = Table(  # the log: every attempt at a delivery
        "sys_delivery_attempt", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("delivery_id", BigInteger, nullable=False),
        Column("at", UtcDateTime, nullable=False),
        Column("status_code", Integer),
        Column("error", Text),
        Column("ms", Integer, nullable=False),
        Column("next_at", UtcDateTime),  # when it will be tried again (none: delivered, or dead)
        Column("by", String(64)),  # who asked for it (an admin's retry or replay), or none: the worker
        Index("ix_sys_delivery_attempt", "delivery_id", "id"),
    )
    out["webhook_call"] = Table(  # the log of inbound calls: every one, whatever became of it
        "sys_webhook_call", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("connector", String(63), nullable=False),
        Column("webhook_id", String(200)),  # the sender's message id (none when the headers lacked it)
        Column("received_at", UtcDateTime, nullable=False),
        Column("outcome", String(16), nullable=False),  # one of CALL_OUTCOMES
        Column("http_status", Integer, nullable=False),  # what the sender was answered
        Column("detail", Text),  # what was done, or why not
        Column("entity", String(64)),
        Column("record_id", BigInteger),
        Column("size", Integer, nullable=False),  # bytes of the body received
        Index("ix_sys_webhook_call", "connector", "id"),
    )
    out["webhook_seen"] = Table(  # message ids whose effect is done: written in the transaction of the effect, so a replay has none
        "sys_webhook_seen", md,
        Column("connector", String(63), primary_key=True),
        Column("webhook_id", String(200), primary_key=True),
        Column("at", UtcDateTime, nullable=False),
    )
    return out
