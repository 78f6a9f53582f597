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
