"""Domain events: every write emits them inside its transaction, they are stored in the outbox with a
monotonic id, plugins see them (transitions and escalations included), a rolled-back change leaves
none, the feed lists them in order within the reader's scope, and subscribers outside the transaction
get each one at least once - also when the worker dies between the commit and the delivery."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from engine.core.errors import FieldError, ValidationFailed
from engine.events import deliver, outbox
from engine.events.hooks import hookimpl
from engine.workflow import escalations, transitions
from tests.apps import write_app
from tests.conftest import ROOT, make_user
from tests.orders import new_order
from tests.workflow.test_sla import waiting_ticket


class Recorder:
    def __init__(self):
        self.seen = []

    @hookimpl
    def on_event(self, event, tx):
        self.seen.append((event.type, event.entity, event.record_id, (event.data.get("transition") or {}).get("name")
                          if event.type == "transitioned" else event.data.get("kind")))


def stored(rt) -> list[tuple]:
    e = rt.schema.event
    with rt.db.read() as conn:
        return [(r.id, r.type, r.entity, r.record_id) for r in conn.execute(select(e).order_by(e.c.id))]


def test_a_plugin_sees_a_transition_and_an_escalation(dbs, tmp_path):
    rt, clock, lead, agent, ticket = waiting_ticket(dbs, tmp_path)
    recorder = Recorder()
    rt.hooks.register(recorder)
    clock.now += dt.timedelta(minutes=30)
    escalations.run_due(rt.records)  # reassigned to the lead
    clock.now += dt.timedelta(minutes=10)
    escalations.run_due(rt.records)  # notified, and the workflow fires `expire` by itself
    assert recorder.seen == [
        ("deadline_reached", "ticket", ticket["id"], "escalation"),
        ("updated", "ticket", ticket["id"], None),  # the reassignment: an update of the owner
        ("deadline_reached", "ticket", ticket["id"], "escalation"),
        ("state_entered", "ticket", ticket["id"], None),
        ("transitioned", "ticket", ticket["id"], "expire"),
    ]


def test_every_write_is_in_the_outbox_in_order_and_the_feed_shows_it(rt, people, api):
    order = new_order(rt, people)
    rt.records.update(people["rep"], "sales_order", order["id"], {"notes": "rush"}, order["version"])
    transitions.fire(rt.records, people["rep"], "sales_order", order["id"], "submit")
    kinds = [(t, e) for _, t, e, rid in stored(rt) if (e, rid) == ("sales_order", order["id"])]
    assert kinds == [("created", "sales_order"), ("state_entered", "sales_order"), ("updated", "sales_order"),
                     ("state_entered", "sales_order"), ("transitioned", "sales_order")]
    ids = [i for i, *_ in stored(rt)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    body = api.get("/api/v1/events?after=0&limit=1000").json()
    mine = [i for i in body["items"] if i["entity"] == "sales_order" and i["record_id"] == order["id"]]
    assert [i["type"] for i in mine] == [k for k, _ in kinds]
    assert mine[2]["data"]["fields"]["notes"] == [None, "rush"] and mine[2]["actor"] == "rep"
    assert mine[-1]["data"]["transition"]["name"] == "submit"
    # paging with the cursor goes on where it stopped, and polling at the end is empty
    first = api.get("/api/v1/events?limit=2").json()
    assert [i["id"] for i in first["items"]] == [i["id"] for i in body["items"][:2]] and first["more"] is True
    second = api.get(f"/api/v1/events?cursor={first['next_cursor']}&limit=2").json()
    assert [i["id"] for i in second["items"]] == [i["id"] for i in body["items"][2:4]]
    end = api.get(f"/api/v1/events?cursor={body['next_cursor']}").json()
    assert end["items"] == [] and end["more"] is False and end["next_cursor"] == body["next_cursor"]


def test_the_feed_is_for_administrators_and_integration_roles_within_their_scope(dbs, tmp_path):
    app = write_app(tmp_path / "app", {
        "app.yaml": "name: feed\nlabel: Feed\nlanguages: [en]\n",
        "entities/deal.yaml": """
            name: deal
            label: Deal
            fields:
              title: {type: string, required: true}
              margin: {type: decimal}
              region: {type: select, options: [east, west]}
        """,
        "roles.yaml": """
            roles:
              seller:
                permissions:
                  deal: {read: all, create: all, update: all}
              erp:
                integration: true
                permissions:
                  deal: {read: "record.region == 'east'"}
                fields:
                  deal: {margin: hidden}
        """,
    })
    rt = dbs.runtime(app)
    seller = make_user(rt, "seller", roles=("seller",))
    make_user(rt, "erp", roles=("erp",))
    rt.records.create(seller, "deal", {"title": "East pumps", "margin": "12.50", "region": "east"})
    rt.records.create(seller, "deal", {"title": "West valves", "margin": "9.00", "region": "west"})
    from starlette.testclient import TestClient

    from engine.server import create_app
    with TestClient(create_app(rt, secret_key="k" * 40)) as c:
        def feed(user):
            token = c.post("/api/v1/auth/token", json={"username": user, "password": "demo"}).json()["token"]
            return c.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
        assert feed("seller").status_code == 403
        items = feed("erp").json()["items"]
        assert [i["data"]["fields"]["title"][1] for i in items if i["type"] == "created"] == ["East pumps"]  # not the west deal
        assert all("margin" not in i["data"].get("fields", {}) for i in items)  # nor the margin hidden from the ERP


def test_a_rolled_back_change_leaves_no_event(rt, people):
    class Refuser:
        @hookimpl
        def on_event(self, event, tx):
            if event.type == "updated":
                raise ValidationFailed([FieldError("notes", "not today")])
    order = new_order(rt, people)
    before = stored(rt)
    rt.hooks.register(Refuser())
    with pytest.raises(ValidationFailed):
        rt.records.update(people["rep"], "sales_order", order["id"], {"notes": "x"}, order["version"])
    assert stored(rt) == before
    a = rt.schema.audit
    with rt.db.read() as conn:
        assert conn.execute(select(a.c.action).where(a.c.entity == "sales_order", a.c.record_id == order["id"]).order_by(a.c.id)).scalars().all() == ["create"]


class Publisher:
    def __init__(self, fail_on=None):
        self.got, self.fail_on = [], fail_on

    @hookimpl
    def publish(self, event):
        if event.id == self.fail_on:
            self.fail_on = None
            raise RuntimeError("the other system is down")
        self.got.append(event.id)


def test_subscribers_outside_the_transaction_get_every_event_at_least_once_in_order(rt, people):
    new_order(rt, people)
    new_order(rt, people)
    ids = [i for i, *_ in stored(rt)]
    steady, flaky = Publisher(), Publisher(fail_on=ids[1])
    rt.hooks.register(steady, name="steady")
    rt.hooks.register(flaky, name="flaky")
    deliver.deliver(rt.records)
    assert steady.got == ids and flaky.got == ids[:1]  # the flaky one stopped where it failed ...
    with rt.db.read() as conn:
        assert outbox.cursor(conn, rt.schema, "flaky") == ids[0]
        err = conn.execute(select(rt.schema.event_cursor.c.last_error).where(rt.schema.event_cursor.c.subscriber == "flaky")).scalar()
    assert "the other system is down" in err
    new_order(rt, people)
    deliver.deliver(rt.records)
    later = [i for i, *_ in stored(rt)]
    assert flaky.got == later and steady.got == later  # ... and caught up, in order, on the next run


def test_the_outbox_forgets_old_events_only_once_every_subscriber_has_them(rt, people):
    new_order(rt, people)
    sub = Publisher()
    rt.hooks.register(sub, name="sub")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with rt.db.write() as conn:
        assert outbox.prune(conn, rt.schema, later, ["sub"]) == 0  # `sub` has taken nothing yet: nothing goes
    deliver.deliver(rt.records)
    with rt.db.write() as conn:
        assert outbox.prune(conn, rt.schema, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1), ["sub"]) == 0  # too young
        assert outbox.prune(conn, rt.schema, later, ["sub", "gone"]) == 0  # a subscriber with nothing taken holds all back
        assert outbox.prune(conn, rt.schema, later, deliver.subscribers(rt.records)) == len(sub.got) - 1 > 0
    assert [i for i, *_ in stored(rt)] == [max(sub.got)]  # the newest stays: the next ids follow it
    new_order(rt, people)
    deliver.deliver(rt.records)
    fresh = [i for i, *_ in stored(rt)][1:]
    assert fresh and min(fresh) > max(sub.got[:-len(fresh)] or [0]) and sub.got[-len(fresh):] == fresh  # no id given twice


PLUGIN = '''
import os, time
from engine.events.hooks import hookimpl

@hookimpl
def publish(event):
    block = os.environ["EVENTS_BLOCK"]
    if os.path.exists(block):  # the first worker hangs here, after the commit and before the delivery, and is killed
        os.remove(block)
        time.sleep(120)
    with open(os.environ["EVENTS_LOG"], "a") as f:
        f.write(f"{event.id} {event.type}\\n")
'''


def test_an_event_committed_before_the_worker_died_is_delivered_after_its_restart(dbs, tmp_path):
    from tests.records.test_notifications import APP
    files = dict(APP)
    files["app.yaml"] = "name: visits\nlabel: Visits\nlanguages: [en]\nplugins_dir: plugins\n"
    files["plugins/erp.py"] = PLUGIN
    app = write_app(tmp_path / "app", files)
    url, schema = dbs.new()
    rt = dbs.runtime(app, url, schema)
    disp = make_user(rt, "disp", roles=("dispatcher",))
    visit = rt.records.create(disp, "visit", {"customer": "Ivanov"})  # committed; no worker runs yet
    log, block = tmp_path / "delivered.log", tmp_path / "block"
    block.write_text("hold the first delivery")
    env = {**os.environ, "EVENTS_LOG": str(log), "EVENTS_BLOCK": str(block), "ENGINE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
    args = [sys.executable, str(ROOT / "run.py"), "worker", "--app", app, "--db", dbs.url_with_schema(url, schema)]

    def start():
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = start()
    try:
        wait_for(lambda: not block.exists(), first)  # inside `publish`: the event is committed, its delivery not done
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    assert not log.exists()
    second = start()
    try:
        wait_for(lambda: log.exists() and f"{first_event(rt, 'visit', visit['id'])} created" in log.read_text(), second)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)
    with rt.db.read() as conn:
        assert outbox.cursor(conn, rt.schema, "erp") >= first_event(rt, "visit", visit["id"])


def first_event(rt, entity: str, record_id: int) -> int:
    e = rt.schema.event
    with rt.db.read() as conn:
        return conn.execute(select(e.c.id).where(e.c.entity == entity, e.c.record_id == record_id).order_by(e.c.id).limit(1)).scalar()


def wait_for(condition, process, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"the worker stopped (exit {process.returncode})")
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_events_carry_what_their_subscribers_need(rt, people):
    order = new_order(rt, people)
    e = rt.schema.event
    with rt.db.read() as conn:
        row = conn.execute(select(e).where(e.c.entity == "sales_order", e.c.record_id == order["id"], e.c.type == "created")).first()
    data = json.loads(row.data)
    assert row.actor == "rep" and data["fields"]["customer"] == [None, people["customer"]]
    assert data["fields"]["status"] == [None, "draft"] and row.at is not None


def test_event_ids_follow_the_order_of_the_commits(rt):
    """A reader of the outbox remembers the last id it saw, so an event must never commit after one
    with a higher id: a transaction that emits waits until another one that has emitted commits -
    also for events that are not audited."""
    import threading

    from engine.core.actor import SYSTEM
    from engine.events.bus import emit
    from engine.events.model import Tx

    def one_event(conn, n):
        tx = Tx(conn, rt.records, SYSTEM, dt.datetime.now(dt.timezone.utc), "en")
        return emit(tx, "deadline_reached", "sales_order", n, {"kind": "test"}).id

    ids, emitted, release, done = {}, threading.Event(), threading.Event(), threading.Event()

    def first():
        with rt.db.write() as conn:
            ids["first"] = one_event(conn, 1)
            emitted.set()
            release.wait(10)

    def second():
        with rt.db.write() as conn:
            ids["second"] = one_event(conn, 2)
        done.set()

    a = threading.Thread(target=first)
    a.start()
    assert emitted.wait(10)
    b = threading.Thread(target=second)
    b.start()
    assert not done.wait(0.5)  # the second waits for the first to commit ...
    release.set()
    a.join(10)
    b.join(10)
    assert done.is_set() and ids["second"] > ids["first"]  # ... and its event comes after
    assert [r[0] for r in stored(rt)][-2:] == [ids["first"], ids["second"]]
