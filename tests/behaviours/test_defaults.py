"""The built-in behaviours (engine.behaviours.defaults): the engine's own reactions to a write are
on_event plugins, registered after the app's plugins; a plugin module may take one's place with
REPLACES, and a name there that is not a built-in behaviour stops the start with file and line."""
import pytest
from sqlalchemy import func, select

from engine.metadata.codes import MetadataInvalid
from engine.workflow import transitions
from tests.apps import write_app
from tests.conftest import make_user


def test_a_plugin_may_take_a_built_in_behaviours_place(dbs, tmp_path):
    from tests.records.test_notifications import APP
    files = dict(APP)
    files["app.yaml"] = "name: visits\nlabel: Visits\nlanguages: [en]\nplugins_dir: plugins\n"
    files["plugins/quiet.py"] = 'REPLACES = ["notices"]  # this customer sends its own notices\n'
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    assert rt.hooks.get_plugin("builtin.notices") is None and rt.hooks.get_plugin("builtin.audit") is not None
    disp, anna = make_user(rt, "disp", roles=("dispatcher",)), make_user(rt, "anna", roles=("measurer",))
    v = rt.records.create(disp, "visit", {"customer": "Ivanov"})
    transitions.fire(rt.records, disp, "visit", v["id"], "plan", fields={"specialist": anna.id})
    assert rt.records.notifications(anna) == ([], 0)


def test_a_plugin_sees_an_event_after_the_built_ins_have_handled_it(dbs, tmp_path):
    """The built-ins are registered after the app's plugins, and pluggy calls the last registered
    first: when a plugin sees an event, its audit entry and timeline row are already written (the
    audit entries of a transaction are held back and written together: a plugin that reads the
    trail itself asks for them with engine.storage.db.flush)."""
    from tests.records.test_notifications import APP
    files = dict(APP)
    files["app.yaml"] = "name: visits\nlabel: Visits\nlanguages: [en]\nplugins_dir: plugins\n"
    files["plugins/watch.py"] = (
        "from sqlalchemy import func, select\n"
        "from engine.events.hooks import hookimpl\n"
        "from engine.storage.db import flush\n"
        "seen = []\n\n"
        "@hookimpl\n"
        "def on_event(event, tx):\n"
        "    s = tx.records.schema\n"
        "    flush(tx.conn)\n"
        "    audited = tx.conn.execute(select(func.count()).select_from(s.audit).where(s.audit.c.record_id == event.record_id)).scalar_one()\n"
        "    steps = tx.conn.execute(select(func.count()).select_from(s.workflow_history)"
        ".where(s.workflow_history.c.record_id == event.record_id)).scalar_one()\n"
        "    seen.append((event.type, audited, steps))\n")
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    called = [impl.plugin_name for impl in reversed(rt.hooks.hook.on_event.get_hookimpls())]  # pluggy's calling order
    assert called == ["builtin.portal_accounts", "builtin.conversation", "builtin.mentions", "builtin.comments", "builtin.files", "builtin.notices", "builtin.states", "builtin.timeline", "builtin.audit", "watch"]
    disp, anna = make_user(rt, "disp", roles=("dispatcher",)), make_user(rt, "anna", roles=("measurer",))
    v = rt.records.create(disp, "visit", {"customer": "Ivanov"})
    transitions.fire(rt.records, disp, "visit", v["id"], "plan", fields={"specialist": anna.id})
    seen = rt.hooks.get_plugin("watch").seen
    # (event, audit entries, timeline rows) as the plugin found them: the initial state, then the transition's
    # state entry (its timeline row written), then the transition (its audit entry written)
    assert seen == [("created", 1, 0), ("state_entered", 1, 0), ("state_entered", 1, 1), ("transitioned", 2, 1)]


def test_replacing_the_audit_trail_keeps_the_events(dbs, tmp_path):
    from tests.records.test_notifications import APP
    files = dict(APP)
    files["app.yaml"] = "name: visits\nlabel: Visits\nlanguages: [en]\nplugins_dir: plugins\n"
    files["plugins/elsewhere.py"] = 'REPLACES = ["audit"]  # audited by another system, fed from the outbox\n'
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    disp = make_user(rt, "disp", roles=("dispatcher",))
    rt.records.create(disp, "visit", {"customer": "Ivanov"})
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(rt.schema.audit)).scalar_one() == 0
        assert conn.execute(select(rt.schema.event.c.type).where(rt.schema.event.c.entity == "visit")).scalars().all() == ["created", "state_entered"]


@pytest.mark.parametrize("replaces", ['["notice"]', '"notices"', '[1]'])
def test_a_plugin_that_replaces_no_built_in_stops_the_start(dbs, tmp_path, replaces):
    from tests.records.test_notifications import APP
    files = dict(APP)
    files["app.yaml"] = "name: visits\nlabel: Visits\nlanguages: [en]\nplugins_dir: plugins\n"
    files["plugins/quiet.py"] = f'"""Our own notices."""\nimport os\n\nREPLACES = {replaces}\n'
    with pytest.raises(MetadataInvalid) as e:
        dbs.runtime(write_app(tmp_path / "app", files))
    [problem] = e.value.problems
    assert (problem.code, problem.file.endswith("plugins/quiet.py"), problem.line) == ("E047", True, 4)
    assert problem.format().endswith("not a built-in behaviour - hint: REPLACES is a list of the names of built-in behaviours: "
                                     "audit, timeline, states, notices")
