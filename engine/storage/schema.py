"""SQLAlchemy Core tables built from the App: one table per entity, plus the engine's own.

Types keep values exact on both databases: decimals are NUMERIC on PostgreSQL and scaled
integers on SQLite (whose NUMERIC is a float), times are stored in UTC. Indexes come from
the metadata: owner, links, the default sort and indexed fields, each ending in `id` so
keyset pagination can walk them.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from engine.metadata.model import App, Entity, Field

ID = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is the rowid on SQLite


class Money(TypeDecorator):
    """An exact decimal: NUMERIC(p, s) on PostgreSQL, an integer of 10^-s units on SQLite."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 2):
        super().__init__()
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return int(value.scaleb(self.scale).to_integral_value(rounding="ROUND_HALF_UP"))
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale))

    @property
    def python_type(self):
        return Decimal


class UtcDateTime(TypeDecorator):
    """A timezone-aware time, stored in UTC; values come back aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(DateTime(timezone=dialect.name != "sqlite"))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times must carry a timezone")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def column_type(f: Field):
    t = f.value_type
    if t in ("string", "select", "email", "phone", "url"):
        from engine.core.values import DEFAULT_MAX_LENGTH
        length = f.max_length or DEFAULT_MAX_LENGTH.get(t, 255)
        if t == "select":
            length = max(32, max((len(o.value) for o in f.options), default=1))
        return String(length) if length <= 10_000 else Text()
    if t == "text":
        return Text()
    if t in ("integer", "link", "user"):
        return BigInteger()
    if t == "decimal":
        return Money(f.precision or 18, f.scale if f.scale is not None else 2)
    if t == "boolean":
        return Boolean()
    if t == "date":
        return Date()
    if t == "datetime":
        return UtcDateTime()
    if t == "json":
        return JSON()
    raise ValueError(f"no column type for {t}")  # pragma: no cover - the loader only allows the above


class Schema:
    """All tables of an app: `tables[entity]` plus the engine's system tables."""

    def __init__(self, app: App, keep_columns: dict | None = None):
        """`keep_columns`: {table: column names} the app no longer has a field for but whose data is
        kept (a custom field an admin change took back): migrations leave them alone."""
        self.app = app
        self.keep_columns = {t: frozenset(cols) for t, cols in (keep_columns or {}).items()}
        self.metadata = MetaData()
        self.tables: dict[str, Table] = {}
        md = self.metadata
        self.user = Table(
            "sys_user", md,
            Column("id", ID, primary_key=True, autoincrement=True),
            Column("username", String(64), nullable=False, unique=True),
            Column("password_hash", String(255), nullable=False),
            Column("full_name", String(140)),
            Column("email", String(254)),
            Column("language", String(8)),
            Column("manager_id", BigInteger, index=True),
            Column("attributes", JSON),  # values of roles.yaml's user_fields, e.g. {"region": "east"}
            Column("active", Boolean, nullable=False, default=True),
            Column("created_at", UtcDateTime, nullable=False),
            Column("session_epoch", Integer),  # no longer read (sessions live in sys_session); kept so older databases migrate without a drop
        )
        self.user_role = Table(
            "sys_user_role", md,
            Column("user_id", BigInteger, primary_key=True),
            Column("role", String(64), primary_key=True),
        )
        self.token = Table(
            "sys_api_token", md,
            Column("id", ID, primary_key=True, autoincrement=True),
            Column("user_id", BigInteger, nullable=False, index=True),
            Column("token_hash", String(64), nullable=False, unique=True),
            Column("label", String(140)),
            Column("created_at", UtcDateTime, nullable=False),
            Column("last_used_at", UtcDateTime),
            Column("revoked_at", UtcDateTime),
        )
        self.session = Table(  # browser sessions (engine/access/sessions.py): the cookie carries a token, this row its hash
            "sys_session", md,
            Column("id", ID, primary_key=True, autoincrement=True),
            Column("token_hash", String(64), nullable=False, unique=True),
            Column("user_id", BigInteger, nullable=False),
            Column("created_at", UtcDateTime, nullable=False),
            Column("last_seen_at", UtcDateTime, nullable=False),
            Column("ended_at", UtcDateTime),
            Column("ended_reason", String(32)),  # signed_out, ended_by_user, password_changed, password_reset, deactivated
            Column("address", String(64)),
            Column("user_agent", String(300)),
            Index("ix_sys_session_user", "user_id", "ended_at"),
        )
        self.audit = Table(
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
        self.event = Table(  # the outbox: every domain event, stored in the transaction of its change (engine/events)
            "sys_event", md,
            Column("id", ID, primary_key=True, autoincrement=True),  # monotonic: the feed's order and the idempotency key
            Column("type", String(32), nullable=False),
            Column("entity", String(64), nullable=False),
            Column("record_id", BigInteger),
            Column("actor_id", BigInteger),
            Column("actor", String(64)),
            Column("via", String(16), nullable=False),
            Column("at", UtcDateTime, nullable=False),
            Column("data", Text, nullable=False),  # JSON
            Index("ix_sys_event_record", "entity", "record_id", "id"),
        )
        self.event_cursor = Table(  # how far each subscriber outside the transaction has taken the outbox
            "sys_event_cursor", md,
            Column("subscriber", String(100), primary_key=True),
            Column("last_id", BigInteger, nullable=False),
            Column("updated_at", UtcDateTime, nullable=False),
            Column("failures", Integer, nullable=False, default=0),
            Column("last_error", Text),
        )
        self.audit_head = Table(
            "sys_audit_head", md,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("last_id", BigInteger),
            Column("last_hash", String(64), nullable=False),
        )
        self.series = Table(
            "sys_series", md,
            Column("key", String(200), primary_key=True),
            Column("last", BigInteger, nullable=False),
        )
        self.saved_filter = Table(
            "sys_saved_filter", md,
            Column("id", ID, primary_key=True, autoincrement=True),
            Column("user_id", BigInteger, nullable=False),
            Column("entity", String(64), nullable=False),
            Column("name", String(80), nullable=False),
            Column("query", Text, nullable=False),
            Column("created_at", UtcDateTime, nullable=False),
            UniqueConstraint("user_id", "entity", "name", name="uq_sys_saved_filter_name"),
        )
        self.workflow_history = Table(  # every transition: the record's timeline
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
        self.review_task = Table(  # countersign: one task per reviewing role each time a record enters a review state
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
        self.timer = Table(  # SLA: durable timers, claimed by one process each with a compare-and-set on status
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
        self.notification = Table(  # what a user is told: reminders, escalations, transitions, reduced lines
            "sys_notification", md,
            Column("id", ID, primary_key=True, autoincrement=True),
            Column("user_id", BigInteger, nullable=False),
            Column("entity", String(64)),
            Column("record_id", BigInteger),
            Column("kind", String(32), nullable=False),
            Column("message", Text, nullable=False),
            Column("created_at", UtcDateTime, nullable=False),
            Column("read_at", UtcDateTime),
            Index("ix_sys_notification_user", "user_id", "read_at", "id"),
        )
        self.login_attempt = Table(  # failed sign-ins per username and per client address, for throttling
            "sys_login_attempt", md,
            Column("key", String(200), primary_key=True),
            Column("failures", Integer, nullable=False),
            Column("last_failure", UtcDateTime, nullable=False),
            Column("locked_until", UtcDateTime),
        )
        self.form_version = Table(  # the form designer's changes: each save or restore is a new version of one form's overlay
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
        self.setting = Table(
            "sys_setting", md,
            Column("key", String(100), primary_key=True),
            Column("value", Text, nullable=False),
        )
        for ent in app.entities.values():
            self.tables[ent.name] = self._entity_table(ent)

    def _entity_table(self, ent: Entity) -> Table:
        cols = [Column("id", ID, primary_key=True, autoincrement=True)]
        idx = []
        name = ent.name
        if ent.child:
            cols += [Column("parent_id", BigInteger, nullable=False), Column("idx", Integer, nullable=False)]
            idx.append(Index(f"ix_{name}_parent", "parent_id", "idx"))
        else:
            cols += [
                Column("owner", BigInteger),
                Column("created_at", UtcDateTime, nullable=False),
                Column("created_by", BigInteger),
                Column("updated_at", UtcDateTime, nullable=False),
                Column("updated_by", BigInteger),
                Column("version", Integer, nullable=False, default=1),
            ]
            # owner first, then the default sort: an `own` list walks this index in order
            sort = tuple(c for c, _ in ent.default_sort if c not in ("id", "owner"))
            idx.append(Index(f"ix_{name}_owner" + "".join("_" + c for c in sort), "owner", *sort, "id"))
        for f in ent.stored_fields():
            cols.append(Column(f.name, column_type(f), nullable=True))
        if ent.search_fields and not ent.child:
            cols.append(Column("search_text", Text))
        wf = self.app.workflows.get(ent.name)
        if wf is not None and any(st.sla for st in wf.states.values()):
            # the current state's deadline and the moment it turns 'at risk', kept on the row so lists flag without a query
            cols += [Column("sla_due", UtcDateTime), Column("sla_risk", UtcDateTime)]
        seen: set[tuple] = set()

        def add_index(columns: tuple, unique: bool = False):
            if columns in seen:
                return
            seen.add(columns)
            iname = ("ux_" if unique else "ix_") + name + "_" + "_".join(c for c in columns if c != "id")
            idx.append(Index(iname[:63], *columns, unique=unique))

        sort = tuple(c for c, _ in ent.default_sort)
        if sort and sort != ("id",):
            add_index(sort + ("id",))
        for f in ent.stored_fields():
            if f.unique:
                add_index((f.name,), unique=True)
            if f.type in ("link", "user") or f.indexed:
                add_index((f.name, "id"))
        for cols_ in ent.indexes:
            add_index(tuple(cols_) + ("id",))
        return Table(name, self.metadata, *cols, *idx)

    def entity_table_names(self) -> list[str]:
        return list(self.tables)
