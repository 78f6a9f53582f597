"""Schema changes from metadata: additive ones apply on start, destructive ones need confirming."""
import pytest
from sqlalchemy import inspect, select

from engine.app.runtime import Runtime
from engine.core.actor import SYSTEM
from engine.records.listing import ListQuery
from engine.storage import migrate

BASE = """name: item
fields:
  code: {type: string, required: true, unique: true, max_length: 20}
  note: {type: string}
"""


def write(app, text, name="item"):
    (app / "entities").mkdir(parents=True, exist_ok=True)
    (app / "entities" / f"{name}.yaml").write_text(text, encoding="utf-8")


def start(dbs, tmp_path, *extra: tuple[str, str]):
    """An app folder with the base entity (and any extra entities), migrated into a fresh database."""
    app = tmp_path / "app"
    write(app, BASE)
    for text, name in extra:
        write(app, text, name)
    url, schema = dbs.new()
    return app, url, schema, dbs.runtime(str(app), url, schema)


def reopen(dbs, app, url, schema) -> Runtime:
    """Open the changed app without migrating, as `migrate --dry-run` does."""
    rt = Runtime.open(str(app), url, schema_name=schema, migrate_now=False)
    dbs.runtimes.append(rt)
    return rt


def columns(rt, table):
    with rt.db.read() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_additive_changes_apply_on_start_and_keep_data(dbs, tmp_path):
    app, url, schema, rt = start(dbs, tmp_path)
    rt.records.create(SYSTEM, "item", {"code": "A1", "note": "keep me"})
    rt.close()
    write(app, BASE + "  qty: {type: integer, indexed: true}\n  price: {type: decimal, scale: 4}\n")
    write(app, "name: tag\nfields:\n  label: {type: string}\n", "tag")
    rt2 = dbs.runtime(str(app), url, schema)
    assert {"qty", "price"} <= columns(rt2, "item")
    assert "tag" in inspect(rt2.db.engine).get_table_names()
    rec = rt2.records.list(SYSTEM, "item", ListQuery())["items"][0]
    assert rec["note"] == "keep me" and rec["qty"] is None
    assert migrate.plan(rt2.db, rt2.schema) == []


def test_destructive_changes_are_refused_until_confirmed(dbs, tmp_path):
    app, url, schema, rt = start(dbs, tmp_path)
    rt.records.create(SYSTEM, "item", {"code": "A1", "note": "precious"})
    rt.close()
    write(app, BASE.replace("  note: {type: string}\n", ""))
    with pytest.raises(migrate.DestructiveChange) as exc:
        Runtime.open(str(app), url, schema_name=schema)
    assert "drop column item.note (1 values would be lost)" in str(exc.value)
    assert "--confirm-destructive" in str(exc.value)
    rt2 = reopen(dbs, app, url, schema)
    assert "note" in columns(rt2, "item")  # nothing was lost
    done = migrate.apply(rt2.db, rt2.schema, confirm_destructive=True)
    assert [s.description for s in done] == ["drop column item.note (1 values would be lost)"]
    assert "note" not in columns(rt2, "item")
    with rt2.db.read() as conn:
        assert conn.execute(select(rt2.schema.tables["item"].c.code)).scalars().all() == ["A1"]


def test_dropping_an_entity_and_narrowing_a_type_are_destructive(dbs, tmp_path):
    app, url, schema, rt = start(dbs, tmp_path, ("name: tag\nfields:\n  label: {type: string}\n", "tag"))
    rt.close()
    (app / "entities" / "tag.yaml").unlink()
    write(app, BASE.replace("  note: {type: string}", "  note: {type: integer}"))
    rt = reopen(dbs, app, url, schema)
    steps = {s.description.split(" (")[0]: s.destructive for s in migrate.plan(rt.db, rt.schema)}
    assert steps.get("drop table tag") is True
    assert any(k.startswith("change type of item.note") and v for k, v in steps.items()), steps


def test_widening_a_text_column_is_additive(dbs, tmp_path):
    app, url, schema, rt = start(dbs, tmp_path)
    rt.close()
    write(app, BASE.replace("max_length: 20", "max_length: 80"))
    rt = reopen(dbs, app, url, schema)
    steps = migrate.plan(rt.db, rt.schema)
    if dbs.dialect == "postgresql":  # SQLite does not record VARCHAR lengths it ignores anyway
        assert [s.destructive for s in steps] == [False]
    migrate.apply(rt.db, rt.schema)
    assert migrate.plan(rt.db, rt.schema) == []


def test_tables_the_engine_does_not_manage_are_left_alone(dbs, tmp_path):
    app, url, schema, rt = start(dbs, tmp_path)
    with rt.db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE someone_elses (x INTEGER)")
    assert migrate.plan(rt.db, rt.schema) == []


def test_a_first_start_creates_every_table_at_once_and_leaves_nothing_to_plan(dbs):
    """A database with none of the app's tables gets them without comparing: the result is what the
    step-by-step migration would make, so a later plan finds nothing to do."""
    from engine.storage import migrate
    rt = dbs.runtime()
    assert migrate.plan(rt.db, rt.schema) == []
    assert rt.records.create(SYSTEM, "customer", {"code": "C1", "name": "First", "region": "east"})["id"] == 1


def test_an_index_and_a_unique_constraint_that_change_columns_under_their_names_migrate(dbs):
    """A database from before notifications went out by e-mail: sys_delivery had one delivery per
    connector and event, and its record index no recipient. Starting the engine drops each old
    index and constraint before making the new one of the same name, on SQLite (in batch mode) and
    PostgreSQL alike, and keeps the deliveries."""
    import datetime as dt

    from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, UniqueConstraint

    from engine.storage.schema import ID, UtcDateTime
    rt = dbs.runtime()
    old = Table("sys_delivery", MetaData(schema=rt.schema.delivery.schema), Column("id", ID, primary_key=True, autoincrement=True),
                Column("connector", String(63), nullable=False), Column("event_id", BigInteger, nullable=False),
                Column("event_type", String(32), nullable=False), Column("entity", String(64), nullable=False), Column("record_id", BigInteger),
                Column("status", String(16), nullable=False), Column("attempts", Integer, nullable=False), Column("next_at", UtcDateTime, nullable=False),
                Column("request", JSON, nullable=False), Column("last_status", Integer), Column("last_error", String), Column("response", String),
                Column("created_at", UtcDateTime, nullable=False), Column("delivered_at", UtcDateTime),
                UniqueConstraint("connector", "event_id", name="ux_sys_delivery_event"),
                Index("ix_sys_delivery_record", "connector", "entity", "record_id", "id"))
    now = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    with rt.db.write() as conn:
        rt.schema.delivery.drop(conn)
        old.create(conn)
        conn.execute(old.insert().values(connector="erp", event_id=7, event_type="transitioned", entity="sales_order", record_id=1,
                                         status="delivered", attempts=1, next_at=now, request={}, created_at=now))
    steps = [str(s) for s in migrate.plan(rt.db, rt.schema)]
    assert "add column sys_delivery.recipient_id" in steps and "drop constraint ux_sys_delivery_event on sys_delivery" in steps
    migrate.apply(rt.db, rt.schema)
    assert migrate.plan(rt.db, rt.schema) == []
    d = rt.schema.delivery
    with rt.db.write() as conn:
        for person in (3, 4):  # one event, a delivery per person now
            conn.execute(d.insert().values(connector="mail", event_id=8, recipient_id=person, event_type="transition", entity="sales_order",
                                           record_id=1, status="pending", attempts=0, next_at=now, request={}, created_at=now))
        kept = conn.execute(select(d.c.event_id, d.c.recipient_id, d.c.status).order_by(d.c.id)).all()
    assert [tuple(r) for r in kept] == [(7, 0, "delivered"), (8, 3, "pending"), (8, 4, "pending")]
    with pytest.raises(Exception, match="(?i)unique"):
        with rt.db.write() as conn:
            conn.execute(d.insert().values(connector="mail", event_id=8, recipient_id=4, event_type="transition", entity="sales_order",
                                           record_id=1, status="pending", attempts=0, next_at=now, request={}, created_at=now))
