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
)
from sqlalchemy.types import TypeDecorator

from engine.metadata.model import App, Entity, Field
from engine.metadata.reports import covering_index, list_index

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
    if t in ("integer", "link", "user", "file"):  # a file field holds the id of its attachment (sys_attachment)
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
    """All tables of an app: `tables[entity]`, and the engine's system tables as attributes
    (`schema.user`, `schema.event`...), declared by the packages that own them."""

    def __init__(self, app: App, system, keep_columns: dict | None = None):
        """`system`: the functions that declare the engine's own tables (engine.app.tables.SYSTEM), each
        `declare(metadata) -> {attribute: Table}`; `keep_columns`: {table: column names} the app no
        longer has a field for but whose data is kept (a custom field an admin change took back):
        migrations leave them alone."""
        self.app = app
        self.keep_columns = {t: frozenset(cols) for t, cols in (keep_columns or {}).items()}
        self.metadata = MetaData()
        self.tables: dict[str, Table] = {}
        for declare in system:  # the engine's own tables, each declared by the package that owns it (engine.app.tables)
            for attr, table in declare(self.metadata).items():
                setattr(self, attr, table)
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
        seen: set[tuple] = {tuple(str(e) for e in ix.expressions) for ix in idx}  # made above (the owner index): not again

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
        for view in ent.views.values():  # a calendar's or a Gantt's window: by its start, in order, and so for one owner
            add_index((view.start, "id"))  # (engine.web.timeviews)
            add_index(("owner", view.start, "id"))
        for report in self.app.reports.values():  # a report over this entity answered from one index (engine.metadata.reports)
            columns = covering_index(report, ent) if report.source == ent.name else ()
            if columns and columns not in seen:
                seen.add(columns)
                idx.append(Index(f"ix_{name}_report_{report.name}"[:63], *columns))
        for board in self.app.dashboards.values():  # a dashboard's short list of this entity walks its own index
            for i, card in enumerate(board.cards):
                columns = list_index(card, ent) if card.kind == "list" and card.entity == ent.name else ()
                if columns and columns not in seen:
                    seen.add(columns)
                    idx.append(Index(f"ix_{name}_board_{board.name}_{i}"[:63], *columns))
        return Table(name, self.metadata, *cols, *idx)

    def entity_table_names(self) -> list[str]:
        return list(self.tables)
