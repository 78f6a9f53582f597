"""Plugin hooks run in a fixed order inside the record's transaction, and can refuse a write."""
import pytest
from sqlalchemy import func, select

from engine.core.actor import SYSTEM
from engine.core.errors import ValidationFailed

PLUGIN = '''
from engine.core.errors import FieldError, ValidationFailed
from engine.events.hooks import hookimpl

CALLS = []

@hookimpl
def before_create(entity, values, actor, conn):
    CALLS.append(("before_create", entity.name))
    values["code"] = values["code"].upper()

@hookimpl
def after_create(entity, record, actor, conn):
    CALLS.append(("after_create", record["code"]))
    if record["code"] == "BOOM":
        raise ValidationFailed([FieldError("code", "refused by plugin after the insert")])

@hookimpl
def before_update(entity, old, values, actor, conn):
    CALLS.append(("before_update", old["version"]))

@hookimpl
def after_update(entity, old, record, actor, conn):
    CALLS.append(("after_update", record["version"]))

@hookimpl
def before_delete(entity, record, actor, conn):
    CALLS.append(("before_delete", record["id"]))

@hookimpl
def after_delete(entity, record, actor, conn):
    CALLS.append(("after_delete", record["id"]))
'''


@pytest.fixture
def plugged(dbs, tmp_path):
    app = tmp_path / "app"
    (app / "entities").mkdir(parents=True)
    (app / "plugins").mkdir()
    (app / "app.yaml").write_text("plugins_dir: plugins\n")
    (app / "entities" / "item.yaml").write_text("name: item\nfields:\n  code: {type: string, required: true}\n")
    (app / "plugins" / "tracker.py").write_text(PLUGIN)
    return dbs.runtime(str(app))


def test_hooks_run_in_documented_order(plugged):
    rt = plugged
    tracker = rt.records.plugin_manager.get_plugin("tracker")
    rec = rt.records.create(SYSTEM, "item", {"code": "abc"})
    assert rec["code"] == "ABC"
    rt.records.update(SYSTEM, "item", rec["id"], {"code": "DEF"}, version=1)
    rt.records.delete(SYSTEM, "item", rec["id"])
    assert tracker.CALLS == [("before_create", "item"), ("after_create", "ABC"), ("before_update", 1), ("after_update", 2),
                             ("before_delete", rec["id"]), ("after_delete", rec["id"])]


def test_hook_error_rolls_back_everything(plugged):
    rt = plugged
    with pytest.raises(ValidationFailed):
        rt.records.create(SYSTEM, "item", {"code": "boom"})
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(rt.schema.tables["item"])).scalar() == 0
        assert conn.execute(select(func.count()).select_from(rt.schema.audit)).scalar() == 0
