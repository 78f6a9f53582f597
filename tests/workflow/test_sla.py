"""SLA deadlines: working-hours arithmetic, durable timers written on entering a state and
cancelled on leaving it, reminders and escalations fired exactly once (also by several workers
at the same moment), automatic transitions and reassignment, at-risk and overdue flags on lists,
and the Huey task that runs them - with a clock the tests control."""
import datetime as dt
import os
import zoneinfo

import pytest
from sqlalchemy import func, select

from engine.app import tasks
from engine.metadata.model import WorkingHours
from engine.records.listing import ListQuery
from engine.workflow import escalations, sla, transitions
from tests.apps import write_app
from tests.conftest import ROOT, make_user
from tests.html import texts_of, visible_text
from tests.orders import DEPARTMENTS, new_order, reviewed
from tests.records.test_concurrency import run_threads

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
HOURS = WorkingHours("Asia/Shanghai", (0, 1, 2, 3, 4), 9 * 60, 18 * 60, frozenset({dt.date(2026, 11, 26)}))


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI).astimezone(dt.timezone.utc)


@pytest.mark.parametrize("start, minutes, expected", [
    (local(2026, 11, 23, 10, 0), 120, local(2026, 11, 23, 12, 0)),  # Monday, inside the day
    (local(2026, 11, 23, 17, 0), 120, local(2026, 11, 24, 10, 0)),  # runs over into Tuesday morning
    (local(2026, 11, 23, 20, 0), 60, local(2026, 11, 24, 10, 0)),  # started after hours: counts from opening
    (local(2026, 11, 25, 17, 0), 120, local(2026, 11, 27, 10, 0)),  # Thursday the 26th is a holiday
    (local(2026, 11, 27, 17, 0), 120, local(2026, 11, 30, 10, 0)),  # Friday evening to Monday
    (local(2026, 11, 28, 12, 0), 0, local(2026, 11, 30, 9, 0)),  # a Saturday start waits for Monday
])
def test_working_hours_arithmetic(start, minutes, expected):
    assert sla.add(start, minutes, HOURS) == expected


def test_calendar_time_counts_every_minute():
    start = local(2026, 11, 28, 12, 0)
    assert sla.add(start, 90, None) == start + dt.timedelta(minutes=90)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(rt):
    c = Clock(local(2026, 11, 23, 9, 0))  # a Monday morning in Shanghai
    rt.records.clock = c
    return c


def unread(rt, actor) -> list[str]:
    return [n["message"] for n in rt.records.notifications(actor, 100)[0]]


def test_review_deadline_reminds_flags_and_escalates(rt, people, clock):
    rep, sup, boss = people["rep"], people["sup"], people["boss"]
    order = transitions.fire(rt.records, rep, "sales_order", new_order(rt, people)["id"], "submit")
    tm = rt.schema.timer
    with rt.db.read() as conn:
        plan = conn.execute(select(tm.c.kind, tm.c.step, tm.c.due_at).where(tm.c.record_id == order["id"]).order_by(tm.c.due_at, tm.c.id)).all()
    # 2 working days of 9 hours: reminder 4 h before the deadline, the deadline, escalations at +0 and +1 working day
    assert [(k, s, d) for k, s, d in plan] == [("reminder", 0, local(2026, 11, 24, 14, 0)), ("deadline", 0, local(2026, 11, 24, 18, 0)),
                                                 ("escalation", 0, local(2026, 11, 24, 18, 0)), ("escalation", 1, local(2026, 11, 25, 18, 0))]
    listed = lambda: rt.records.list(rep, "sales_order", ListQuery()).get("sla", {}).get(order["id"], {}).get("flag")  # noqa: E731
    clock.now = local(2026, 11, 24, 13, 59)
    assert escalations.run_due(rt.records) == [] and listed() is None
    from engine.workflow import reviews
    reviews.decide(rt.records, people["purchasing"], "sales_order", order["id"], "approve")
    clock.now = local(2026, 11, 24, 14, 0)
    assert listed() == "at_risk"
    assert "sla_due" not in rt.records.list(rep, "sales_order", ListQuery())["items"][0]  # the row's deadline columns are not fields
    fired = escalations.run_due(rt.records)
    assert [(f["kind"], f["result"]) for f in fired] == [("reminder", "reminded 3")]  # purchasing has answered
    assert [any("is due out of 'Department review'" in m for m in unread(rt, people[d])) for d in DEPARTMENTS] == [False, True, True, True]
    assert escalations.run_due(rt.records) == []  # fired once
    reviews.decide(rt.records, people["finance"], "sales_order", order["id"], "approve")
    clock.now = local(2026, 11, 24, 18, 0)
    assert listed() == "overdue"
    fired = escalations.run_due(rt.records)
    assert [(f["kind"], f["result"]) for f in fired] == [("escalation", "notified 1")]
    assert any("is overdue in 'Department review'" in m for m in unread(rt, sup))
    # the next escalation goes to the sales manager; several workers at that moment fire it once
    clock.now = local(2026, 11, 25, 18, 0)
    results, errors = run_threads(4, lambda i: escalations.run_due(rt.records))
    assert not errors and sum(len(r) for r in results) == 1
    assert sum("is overdue" in m for m in unread(rt, boss)) == 1


def test_leaving_the_state_cancels_its_timers_and_starts_the_next(rt, people, clock):
    order = transitions.fire(rt.records, people["rep"], "sales_order", new_order(rt, people)["id"], "submit")
    clock.now = local(2026, 11, 23, 11, 0)
    reviewed(rt, people, order["id"])  # all four answer: on to the supervisor's decision (1 working day)
    tm = rt.schema.timer
    with rt.db.read() as conn:
        rows = conn.execute(select(tm.c.state, tm.c.kind, tm.c.status, tm.c.due_at).where(tm.c.record_id == order["id"]).order_by(tm.c.id)).all()
    assert {(s, st) for s, _, st, _ in rows if s == "in_review"} == {("in_review", "cancelled")}
    assert [(k, st, d) for s, k, st, d in rows if s == "decision"] == [("deadline", "pending", local(2026, 11, 24, 11, 0)),
                                                                       ("escalation", "pending", local(2026, 11, 24, 11, 0))]
    clock.now = local(2026, 11, 25, 9, 0)
    assert [f["result"] for f in escalations.run_due(rt.records)] == ["notified 1"]  # only the decision's escalation
    transitions.fire(rt.records, people["sup"], "sales_order", order["id"], "approve")
    page = rt.records.list(people["rep"], "sales_order", ListQuery())
    assert order["id"] not in page.get("sla", {})  # approved has no deadline: no flag


def _escalating_app(tmp_path) -> str:
    return write_app(tmp_path, {
        "entities/ticket.yaml": """
        name: ticket
        title_field: title
        fields:
          title: {type: string, required: true}
          status: {type: select, read_only: true, options: [open, waiting, expired, done]}
        """,
        "roles.yaml": """
        roles:
          agent: {permissions: {ticket: {read: team, create: own, update: own}}}
          lead: {inherits: [agent]}
        """,
        "workflows/ticket_flow.yaml": """
        name: ticket_flow
        entity: ticket
        state_field: status
        initial: open
        states:
          open: {category: draft}
          waiting:
            sla:
              deadline: 30m
              escalations:
                - {after: 0m, reassign: owner_manager}
                - {after: 10m, fire: expire, notify: [owner, lead]}
          expired: {category: cancelled}
          done: {category: done}
        transitions:
          wait: {from: [open], to: waiting, relations: [owner]}
          expire: {from: [waiting], to: expired, roles: [lead]}
          finish: {from: [open, waiting], to: done, relations: [owner]}
        """,
    })


def waiting_ticket(dbs, tmp_path):
    """(runtime, clock, lead, agent, ticket) of the escalating app: the agent's ticket has just started waiting."""
    rt = dbs.runtime(_escalating_app(tmp_path))
    clock = Clock(dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.timezone.utc))  # calendar time: a Saturday night counts
    rt.records.clock = clock
    lead = make_user(rt, "lead", roles=("lead",))
    agent = make_user(rt, "agent", roles=("agent",), manager="lead")
    ticket = rt.records.create(agent, "ticket", {"title": "pump noise"})
    transitions.fire(rt.records, agent, "ticket", ticket["id"], "wait")
    return rt, clock, lead, agent, ticket


def test_escalations_reassign_and_fire_a_transition(dbs, tmp_path):
    rt, clock, lead, agent, ticket = waiting_ticket(dbs, tmp_path)
    clock.now += dt.timedelta(minutes=30)
    assert [f["result"] for f in escalations.run_due(rt.records)] == [f"reassigned to user {lead.id}"]
    assert rt.records.get(lead, "ticket", ticket["id"])["owner"] == lead.id
    assert any("is now yours" in m for m in unread(rt, lead))
    clock.now += dt.timedelta(minutes=10)
    assert [f["result"] for f in escalations.run_due(rt.records)] == ["notified 1; fired expire"]
    after = rt.records.get(lead, "ticket", ticket["id"])
    assert after["status"] == "expired"
    steps = transitions.timeline(rt.records, lead, "ticket", ticket["id"])
    assert (steps[-1]["transition"], steps[-1]["actor"], steps[-1]["comment"]) == ("expire", "workflow", "overdue in waiting")
    history = [h["action"] for h in rt.records.history(lead, "ticket", ticket["id"])]
    assert history == ["create", "transition", "reassign", "transition"]


def test_an_escalation_that_cannot_fire_is_recorded_once(dbs, tmp_path):
    rt, clock, _, agent, ticket = waiting_ticket(dbs, tmp_path)
    tm = rt.schema.timer
    with rt.db.write() as conn:  # the record was moved behind the engine's back; the timer finds it elsewhere
        t = rt.schema.tables["ticket"]
        conn.execute(t.update().where(t.c.id == ticket["id"]).values(status="done"))
    clock.now += dt.timedelta(hours=1)
    assert [f["status"] for f in escalations.run_due(rt.records)] == ["cancelled", "cancelled"]
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(tm).where(tm.c.status == "pending")).scalar() == 1  # the deadline marker


def test_the_huey_task_fires_due_timers(rt, people, clock, tmp_path):
    order = transitions.fire(rt.records, people["rep"], "sales_order", new_order(rt, people)["id"], "submit")
    clock.now = local(2026, 11, 24, 14, 0)
    huey = tasks.make_queue(rt, f"sqlite:///{tmp_path / 'tasks.db'}")
    huey.immediate = True  # run in this process, in memory: checks the wiring, not the consumer
    huey.sla_timers()  # the periodic task, run at once
    assert any("is due out of" in m for m in unread(rt, people["finance"]))
    consumer_queue = tasks.make_queue(rt, f"sqlite:///{tmp_path / 'queue.db'}")
    consumer = tasks.start_embedded(consumer_queue)  # a real consumer thread with its SQLite queue
    try:
        clock.now = local(2026, 11, 24, 18, 0)
        # the consumer's own every-minute run may get there first; either way the escalation fires once
        assert consumer_queue.sla_timers_now().get(blocking=True, timeout=20) in (0, 1)
    finally:
        consumer.stop(graceful=True)
    assert sum("is overdue" in m for m in unread(rt, people["sup"])) == 1
    assert order["id"] in rt.records.list(people["rep"], "sales_order", ListQuery())["sla"]


def test_the_queue_url_picks_sqlite_or_redis(monkeypatch, rt):
    monkeypatch.delenv("ENGINE_QUEUE_URL", raising=False)
    assert tasks.queue_url("sqlite:///var/app.db") == "sqlite:///var/app.tasks.db"
    assert tasks.queue_url("postgresql://x/y") == f"sqlite:///{ROOT / 'var' / 'tasks.db'}"  # var/ beside run.py, from any folder
    monkeypatch.setenv("ENGINE_QUEUE_URL", "redis://127.0.0.1:6379/3")
    assert tasks.queue_url("sqlite:///var/app.db") == "redis://127.0.0.1:6379/3"
    with pytest.raises(ValueError):
        tasks.make_queue(rt, "amqp://nowhere")


REDIS_URL = os.environ.get("ENGINE_TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="set ENGINE_TEST_REDIS_URL (CI does) to run the Redis queue")
def test_the_redis_queue_runs_the_same_task(rt, people, clock):
    order = transitions.fire(rt.records, people["rep"], "sales_order", new_order(rt, people)["id"], "submit")
    clock.now = local(2026, 11, 24, 14, 0)
    queue = tasks.make_queue(rt, REDIS_URL, name=f"engine-test-{order['id']}-{os.getpid()}")
    queue.flush()
    consumer = tasks.start_embedded(queue)
    try:
        assert queue.sla_timers_now().get(blocking=True, timeout=20) in (0, 1)
    finally:
        consumer.stop(graceful=True)
        queue.flush()
    assert any("is due out of" in m for m in unread(rt, people["finance"]))


def test_lists_and_the_board_flag_overdue_records(rt, people, clock):
    from starlette.testclient import TestClient

    from engine.server import create_app
    from tests.web.test_pages import SECRET, sign_in
    order = transitions.fire(rt.records, people["rep"], "sales_order", new_order(rt, people)["id"], "submit")
    clock.now = local(2026, 11, 24, 15, 0)
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "rep")
        page = web.get("/sales_order?lang=zh")
        assert texts_of(page.text, "flag-at_risk") == ["有逾期风险"]
        clock.now = local(2026, 11, 24, 18, 30)
        board = web.get("/sales_order/board")
        assert f'data-id="{order["id"]}"' in board.text and texts_of(board.text, "flag-overdue") == ["已逾期"]
        record = web.get(f"/sales_order/{order['id']}")
        assert texts_of(record.text, "flag-overdue") == ["已逾期"]  # the language chosen above stays
        for html in (page.text, board.text, record.text):  # the flag is an element, not markup shown as text
            assert "<span" not in visible_text(html) and "flag" not in visible_text(html)
