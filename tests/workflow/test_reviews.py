"""Countersign: review tasks opened per role when an order enters review, opinions recorded by
each department, completion rules, the automatic step to the supervisor's decision, guards that
read the outcome, pending reviews per reviewer, notifications - through the service and the API."""

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from engine.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.metadata.model import Review
from engine.server import create_app
from engine.workflow import reviews, transitions
from engine.workflow.rules import review_outcome
from tests.apps import write_app
from tests.conftest import make_user
from tests.orders import DEPARTMENTS, new_order, to_decision

RULES = {"all": Review(("a", "b", "c")), "any": Review(("a", "b", "c"), "any"), "any_reject": Review(("a", "b", "c"), "any_reject"),
         "at_least": Review(("a", "b", "c"), "at_least", 2)}


@pytest.mark.parametrize("rule, statuses, outcome", [
    ("all", ["approved", "approved", "pending"], "pending"),
    ("all", ["approved", "rejected", "pending"], "pending"),  # waits for every opinion
    ("all", ["approved", "rejected", "approved"], "rejected"),
    ("all", ["approved", "approved", "approved"], "approved"),
    ("any_reject", ["approved", "rejected", "pending"], "rejected"),  # the first rejection ends it
    ("any_reject", ["approved", "approved", "approved"], "approved"),
    ("any", ["rejected", "approved", "pending"], "approved"),
    ("any", ["rejected", "rejected", "rejected"], "rejected"),
    ("at_least", ["approved", "pending", "pending"], "pending"),
    ("at_least", ["approved", "rejected", "approved"], "approved"),
    ("at_least", ["rejected", "rejected", "pending"], "rejected"),  # two approvals can no longer be reached
])
def test_completion_rules(rule, statuses, outcome):
    assert review_outcome(RULES[rule], statuses) == outcome


def test_every_department_reviews_then_the_supervisor_decides(rt, people):
    rep, sup = people["rep"], people["sup"]
    order = transitions.fire(rt.records, rep, "sales_order", new_order(rt, people)["id"], "submit")
    summary = reviews.summary(rt.records, rep, "sales_order", order["id"])
    assert summary["outcome"] == "pending" and summary["waiting"] == list(DEPARTMENTS) and summary["rule"] == "all"
    assert not any(t["yours"] for t in summary["tasks"])
    # a department's reviewer sees the task on their list; the rep has none
    assert [p["record_id"] for p in reviews.pending_for(rt.records, people["finance"])] == [order["id"]]
    assert reviews.pending_for(rt.records, rep) == []
    # the supervisor cannot decide before the departments have answered
    options = {t["name"]: t for t in transitions.available(rt.records, sup, "sales_order", order["id"])["transitions"]}
    assert set(options) == {"reject", "cancel"}
    with pytest.raises(Conflict):
        transitions.fire(rt.records, sup, "sales_order", order["id"], "approve")
    with pytest.raises(ValidationFailed) as exc:  # a rejection says why
        reviews.decide(rt.records, people["finance"], "sales_order", order["id"], "reject", "  ")
    assert exc.value.errors[0].field == "opinion"
    with pytest.raises(Forbidden):  # only the awaited departments answer
        reviews.decide(rt.records, sup, "sales_order", order["id"], "approve")
    after = reviews.decide(rt.records, people["finance"], "sales_order", order["id"], "reject", "Net 60 is too long")
    assert after["rejected"] == 1 and after["outcome"] == "pending" and "finance" not in after["waiting"]
    with pytest.raises(Conflict):  # once per round
        reviews.decide(rt.records, people["finance"], "sales_order", order["id"], "approve")
    for dept in ("purchasing", "technical"):
        reviews.decide(rt.records, people[dept], "sales_order", order["id"], "approve")
    assert rt.records.get(rep, "sales_order", order["id"])["status"] == "in_review"
    last = reviews.decide(rt.records, people["production"], "sales_order", order["id"], "approve", "fits the plan")
    assert last["outcome"] == "rejected" and last["record_state"] == "decision"
    # the guard reads the outcome: a department rejected, so approve is shown disabled with the reason
    options = {t["name"]: t for t in transitions.available(rt.records, sup, "sales_order", order["id"])["transitions"]}
    assert options["approve"]["enabled"] is False and "department rejected" in options["approve"]["message"]
    with pytest.raises(ValidationFailed):
        transitions.fire(rt.records, sup, "sales_order", order["id"], "approve")
    back = transitions.fire(rt.records, sup, "sales_order", order["id"], "reject", fields={"reason": "see finance"})
    assert back["status"] == "rejected"
    # the owner fixes it and resubmits: a new round opens, the old opinions stay readable in the audit
    again = transitions.fire(rt.records, rep, "sales_order", order["id"], "submit")
    fresh = reviews.summary(rt.records, rep, "sales_order", again["id"])
    assert fresh["round"] == 2 and fresh["approved"] == 0 and fresh["waiting"] == list(DEPARTMENTS)
    steps = [s["transition"] for s in transitions.timeline(rt.records, rep, "sales_order", order["id"])]
    assert steps == ["submit", "reviews_done", "reject", "submit"]


def test_an_approved_review_lets_the_supervisor_approve(rt, people):
    order = to_decision(rt, people)
    assert order["status"] == "decision"
    approved = transitions.fire(rt.records, people["sup"], "sales_order", order["id"], "approve")
    assert approved["status"] == "approved"
    assert reviews.pending_for(rt.records, people["finance"]) == []


def test_leaving_review_closes_the_open_tasks(rt, people):
    order = transitions.fire(rt.records, people["rep"], "sales_order", new_order(rt, people)["id"], "submit")
    reviews.decide(rt.records, people["technical"], "sales_order", order["id"], "approve")
    transitions.fire(rt.records, people["rep"], "sales_order", order["id"], "cancel", fields={"reason": "customer withdrew"})
    rt_ = rt.schema.review_task
    with rt.db.read() as conn:
        statuses = sorted(s for (s,) in conn.execute(select(rt_.c.status).where(rt_.c.record_id == order["id"])))
    assert statuses == ["approved", "closed", "closed", "closed"]
    assert reviews.pending_for(rt.records, people["finance"]) == []
    with pytest.raises(NotFound):  # the reviewer no longer reads a cancelled order
        reviews.decide(rt.records, people["finance"], "sales_order", order["id"], "approve")


def test_notifications_follow_the_order(rt, people):
    rep, sup = people["rep"], people["sup"]
    order = to_decision(rt, people)
    notes, unread = rt.records.notifications(sup)
    assert unread == 1 and "waits for your decision" in notes[0]["message"] and notes[0]["record_id"] == order["id"]
    transitions.fire(rt.records, sup, "sales_order", order["id"], "reject", fields={"reason": "price below the floor"})
    notes, _ = rt.records.notifications(rep)
    assert notes[0]["message"].endswith("was returned to you: price below the floor")
    assert rt.records.mark_read(rep) == 1 and rt.records.notifications(rep)[1] == 0


def test_production_hears_when_an_order_in_production_loses_quantity(rt, people):
    boss = people["boss"]
    order = transitions.fire(rt.records, boss, "sales_order", to_decision(rt, people)["id"], "approve")
    transitions.fire(rt.records, boss, "sales_order", order["id"], "to_technical")
    order = transitions.fire(rt.records, people["technical"], "sales_order", order["id"], "confirm_technical")
    assert order["status"] == "in_production"
    line = order["lines"][0]
    more = rt.records.update(boss, "sales_order", order["id"], {"notes": "rush"}, version=order["version"])
    assert rt.records.notifications(people["production"])[1] == 1  # only the confirmation so far
    less = rt.records.update(boss, "sales_order", order["id"], {"lines": [{"id": line["id"], "quantity": 1}]}, version=more["version"])
    assert less["status"] == "in_review"  # a key field changed: reviewed again
    notes, _ = rt.records.notifications(people["production"])
    assert "quantity 2.000 → 1" in notes[0]["message"] or "quantity 2 → 1" in notes[0]["message"]


def test_the_review_api_and_pending_list(rt, people):
    order = transitions.fire(rt.records, people["rep"], "sales_order", new_order(rt, people)["id"], "submit")
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        def token(name):
            return {"Authorization": "Bearer " + c.post("/api/v1/auth/token", json={"username": name, "password": "demo"}).json()["token"]}
        fin = token("finance")
        pending = c.get("/api/v1/reviews/pending", headers=fin).json()["items"]
        assert [(p["entity"], p["record_id"], p["role"]) for p in pending] == [("sales_order", order["id"], "finance")]
        got = c.get(f"/api/v1/sales_order/{order['id']}/review", headers=fin).json()
        assert [t["yours"] for t in got["tasks"]] == [False, False, False, True]
        bad = c.post(f"/api/v1/sales_order/{order['id']}/review", json={"decision": "maybe", "colour": 1}, headers=fin)
        assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"colour"}
        bad = c.post(f"/api/v1/sales_order/{order['id']}/review", json={"decision": "maybe"}, headers=fin)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "decision"
        ok = c.post(f"/api/v1/sales_order/{order['id']}/review", json={"decision": "approve", "opinion": "terms fine"}, headers=fin)
        assert ok.status_code == 200 and ok.json()["approved"] == 1
        assert c.post(f"/api/v1/sales_order/{order['id']}/review", json={"decision": "approve"}, headers=fin).status_code == 409
        rep = token("rep")
        assert c.post(f"/api/v1/sales_order/{order['id']}/review", json={"decision": "approve"}, headers=rep).status_code == 403
        assert c.get("/api/v1/notifications", headers=rep).json() == {"items": [], "unread": 0}


def _review_app(tmp_path, rule: str) -> str:
    """A small app whose one review state uses `rule`, with automatic steps for both outcomes."""
    return write_app(tmp_path, {
        "entities/request.yaml": """
        name: request
        title_field: title
        fields:
          title: {type: string, required: true}
          status: {type: select, read_only: true, options: [open, review, yes, no]}
        """,
        "roles.yaml": """
        roles:
          maker: {permissions: {request: {read: own, create: own, update: own}}}
          a: {permissions: {request: {read: all}}}
          b: {permissions: {request: {read: all}}}
          c: {permissions: {request: {read: all}}}
        """,
        "workflows/request_flow.yaml": f"""
        name: request_flow
        entity: request
        state_field: status
        initial: open
        states:
          open: {{category: draft}}
          review:
            review: {{roles: [a, b, c], rule: {rule}, on_approved: accept, on_rejected: refuse}}
          yes: {{category: done}}
          no: {{category: cancelled}}
        transitions:
          send: {{from: [open], to: review, relations: [owner]}}
          accept: {{from: [review], to: yes, roles: [a]}}
          refuse: {{from: [review], to: no, roles: [a]}}
        """,
    })


@pytest.mark.parametrize("rule, answers, state", [
    ("any", [("a", "reject"), ("b", "approve")], "yes"),
    ("any_reject", [("a", "approve"), ("b", "reject")], "no"),
    ("'{at_least: 2}'", [("a", "approve"), ("b", "reject"), ("c", "approve")], "yes"),
    ("'{at_least: 2}'", [("a", "reject"), ("b", "reject")], "no"),
    ("all", [("a", "approve"), ("b", "approve"), ("c", "approve")], "yes"),
])
def test_each_rule_fires_its_outcome_once(dbs, tmp_path, rule, answers, state):
    rt = dbs.runtime(_review_app(tmp_path, rule.strip("'")))
    maker = make_user(rt, "maker", roles=("maker",))
    deciders = {r: make_user(rt, f"user_{r}", roles=(r,)) for r in "abc"}
    req = rt.records.create(maker, "request", {"title": "new press"})
    transitions.fire(rt.records, maker, "request", req["id"], "send")
    for role, decision in answers:
        reviews.decide(rt.records, deciders[role], "request", req["id"], decision, "because")
    assert rt.records.get(deciders["a"], "request", req["id"])["status"] == state
    steps = transitions.timeline(rt.records, maker, "request", req["id"])
    assert [s["to"] for s in steps] == ["review", state] and steps[1]["actor"] == "workflow"
    t = rt.schema.review_task
    with rt.db.read() as conn:
        left = conn.execute(select(func.count()).select_from(t).where(t.c.status == "pending")).scalar()
    assert left == 0  # tasks no longer needed are skipped
