"""Bring the database in line with the metadata through Alembic's operations.

`plan()` compares the live database with the tables built from the App and lists the steps;
additive steps (new table, column, index, widening a text column) apply freely, destructive
ones (dropping a table or column, narrowing or changing a type) are refused unless the caller
confirms, and their description says how much data they would destroy. SQLite uses batch
mode, which rebuilds a table where ALTER cannot.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.operations import ops as aops
from sqlalchemy import String, Text, func, inspect, select

from engine.storage import search_index
from engine.storage.db import Database
from engine.storage.schema import Schema

MANAGED_KEY = "managed_tables"


@dataclass
class Step:
    description: str
    destructive: bool
    op: object
    table: str

    def __str__(self) -> str:
        return ("DESTRUCTIVE " if self.destructive else "") + self.description


class DestructiveChange(Exception):
    def __init__(self, steps: list[Step]):
        self.steps = steps
        lines = "\n".join(f"  - {s.description}" for s in steps)
        super().__init__(
            "the metadata needs changes that would destroy data:\n" + lines +
            "\nBack up the database, then run `python run.py migrate --confirm-destructive` to apply them, "
            "or restore the fields in the metadata."
        )


def _managed(conn, schema: Schema) -> set[str]:
    insp = inspect(conn)
    if not insp.has_table("sys_setting"):
        return set()
    row = conn.execute(select(schema.setting.c.value).where(schema.setting.c.key == MANAGED_KEY)).first()
    return set(json.loads(row[0])) if row else set()


def _context(conn, schema: Schema) -> MigrationContext:
    ours = set(schema.metadata.tables) | _managed(conn, schema)

    def include_name(name, type_, parent_names):
        if search_index.is_search_object(name or ""):
            return False
        if type_ == "table":
            return name in ours
        if type_ == "column":
            return name not in schema.keep_columns.get(parent_names.get("table_name"), ())
        return True

    return MigrationContext.configure(conn, opts={
        "compare_type": True, "include_name": include_name, "render_as_batch": conn.dialect.name == "sqlite",
    })


def plan(db: Database, schema: Schema) -> list[Step]:
    with db.read() as conn:
        return _plan(conn, schema)


def _plan(conn, schema: Schema) -> list[Step]:
    mc = _context(conn, schema)
    script = produce_migrations(mc, schema.metadata)
    steps: list[Step] = []
    for op in script.upgrade_ops.ops:
        if isinstance(op, aops.ModifyTableOps):
            for sub in op.ops:
                steps.append(_describe(conn, op.table_name, sub))
        else:
            steps.append(_describe(conn, getattr(op, "table_name", ""), op))
    # create tables and columns before indexes on them; drop an index or constraint before one of the same name is made again
    order = {aops.CreateTableOp: 0, aops.AddColumnOp: 1, aops.DropIndexOp: 2, aops.DropConstraintOp: 2, aops.CreateIndexOp: 3,
             aops.CreateUniqueConstraintOp: 4, aops.AddConstraintOp: 4}
    steps.sort(key=lambda s: order.get(type(s.op), 5))
    return steps


def _count(conn, table: str, column: str | None = None) -> int:
    from sqlalchemy import column as col
    from sqlalchemy import table as tbl
    t = tbl(table, col(column)) if column else tbl(table)
    expr = func.count(col(column)) if column else func.count()
    return conn.execute(select(expr).select_from(t)).scalar_one()


def _describe(conn, table: str, op) -> Step:
    if isinstance(op, aops.CreateTableOp):
        return Step(f"create table {op.table_name}", False, op, op.table_name)
    if isinstance(op, aops.AddColumnOp):
        return Step(f"add column {op.table_name}.{op.column.name}", False, op, op.table_name)
    if isinstance(op, aops.CreateIndexOp):
        return Step(f"create index {op.index_name} on {op.table_name}", False, op, op.table_name)
    if isinstance(op, aops.DropIndexOp):
        return Step(f"drop index {op.index_name} on {op.table_name}", False, op, op.table_name or table)
    if isinstance(op, aops.DropTableOp):
        n = _count(conn, op.table_name)
        return Step(f"drop table {op.table_name} ({n} rows would be lost)", True, op, op.table_name)
    if isinstance(op, aops.DropColumnOp):
        n = _count(conn, op.table_name, op.column_name)
        return Step(f"drop column {op.table_name}.{op.column_name} ({n} values would be lost)", True, op, op.table_name)
    if isinstance(op, aops.AlterColumnOp):
        old, new = op.existing_type, op.modify_type
        if new is not None:
            widening = (isinstance(old, String) and isinstance(new, (String, Text)) and
                        (isinstance(new, Text) or (old.length or 0) <= (new.length or 10**9)))
            desc = f"change type of {op.table_name}.{op.column_name} from {old} to {new}"
            if not widening:
                n = _count(conn, op.table_name, op.column_name)
                desc += f" ({n} values may not convert)"
            return Step(desc, not widening, op, op.table_name)
        return Step(f"alter column {op.table_name}.{op.column_name}", False, op, op.table_name)
    if isinstance(op, (aops.CreateUniqueConstraintOp, aops.AddConstraintOp)):
        return Step(f"add constraint on {table}", False, op, table)
    if isinstance(op, aops.DropConstraintOp):
        return Step(f"drop constraint {op.constraint_name} on {table}", False, op, table)
    return Step(f"{type(op).__name__} on {table}", True, op, table)  # unknown: be careful


def apply(db: Database, schema: Schema, confirm_destructive: bool = False, additive_only: bool = False) -> list[Step]:
    """Apply the plan in one transaction. Destructive steps need `confirm_destructive`;
    with `additive_only` they are left pending (the caller decides whether that is an error)."""
    with db.write() as conn:
        return _apply(conn, schema, _plan(conn, schema), confirm_destructive, additive_only)


def _apply(conn, schema: Schema, steps: list[Step], confirm_destructive: bool = False, additive_only: bool = False) -> list[Step]:
    destructive = [s for s in steps if s.destructive]
    if destructive and not confirm_destructive and not additive_only:
        raise DestructiveChange(destructive)
    todo = [s for s in steps if confirm_destructive or not s.destructive]
    ops = Operations(_context(conn, schema))
    batch_tables: dict[str, list] = {}
    for s in todo:
        if conn.dialect.name == "sqlite" and isinstance(s.op, (aops.DropColumnOp, aops.AlterColumnOp, aops.DropConstraintOp, aops.AddConstraintOp)):
            batch_tables.setdefault(s.table, []).append(s.op)
        else:
            ops.invoke(s.op)
    for table, table_ops in batch_tables.items():
        with ops.batch_alter_table(table) as batch:
            for op in table_ops:
                batch.invoke(op)
    _record_managed(conn, schema, dropped={s.table for s in todo if isinstance(s.op, aops.DropTableOp)})
    search_index.ensure(conn, schema)
    if any(isinstance(s.op, aops.CreateIndexOp) for s in todo) or not has_statistics(conn):
        analyze(conn)
    return todo




def has_statistics(conn) -> bool:
    """Does the database know how its indexes divide the rows? (PostgreSQL's autovacuum keeps that up by itself.)"""
    if conn.dialect.name != "sqlite":
        return True
    return conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is not None


def analyze(conn) -> None:
    """Let SQLite's planner know its indexes (ANALYZE): without it, a report over a million orders may read them through
    an index that does not cover it, ten times slower (bench/reports.py). Run when indexes were made, and nightly; it reads
    every index (1.3 s at a million orders): a sampled one (analysis_limit) misjudged the team scope by ten times."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("ANALYZE")


def _record_managed(conn, schema: Schema, dropped: set[str]) -> None:
    managed = (_managed(conn, schema) | set(schema.metadata.tables)) - dropped
    t = schema.setting
    value = json.dumps(sorted(managed))
    if conn.execute(select(t.c.key).where(t.c.key == MANAGED_KEY)).first():
        conn.execute(t.update().where(t.c.key == MANAGED_KEY).values(value=value))
    else:
        conn.execute(t.insert().values(key=MANAGED_KEY, value=value))


def ensure(db: Database, schema: Schema) -> list[Step]:
    """On start: apply additive steps; refuse to start if destructive ones are pending. The plan is
    made once, in the transaction that applies it; a database with none of the app's tables yet
    (a first start) gets them all at once without comparing anything."""
    with db.write() as conn:
        existing = set(inspect(conn).get_table_names())
        if not existing & (set(schema.metadata.tables) | _managed(conn, schema)):
            schema.metadata.create_all(conn)
            _record_managed(conn, schema, dropped=set())
            search_index.ensure(conn, schema)
            return [Step(f"create table {name}", False, None, name) for name in schema.metadata.tables]
        return _apply(conn, schema, _plan(conn, schema))

