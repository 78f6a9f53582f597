"""The demo order workflow through the record service and the API: who may fire what, guards,
inputs, stamps and effects, locks and fixed fields, history, and concurrent firing."""
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from engine.core.errors import Conflict, Forbidden, ValidationFailed
from engine.server import create_app
from engine.workflow import reviews, transitions
from tests.orders import DEPARTMENTS, new_order, reviewed, to_decision
from tests.records.test_concurrency import run_threads


def test_submit_approve_with_stamps_and_a_timeline(rt, people):
    rep, sup, other = people["rep"], people["sup"], people["other"]
    order = new_order(rt, people)
    assert order["status"] == "draft"
    names = [t["name"] for t in transitions.available(rt.records, rep, "sales_order", order["id"])["transitions"]]
    assert names == ["submit", "cancel"]
    submitted = transitions.fire(rt.records, rep, "sales_order", order["id"], "submit", comment="please check the price")
    assert submitted["status"] == "in_review" and submitted["version"] == order["version"] + 1
    # the rep may not approve their own order; the supervisor (above the owner) may
    assert [t["name"] for t in transitions.available(rt.records, rep, "sales_order", order["id"])["transitions"]] == ["cancel"]
    decided = reviewed(rt, people, order["id"])
    assert decided["status"] == "decision"
    with pytest.raises(Forbidden):
        transitions.fire(rt.records, rep, "sales_order", order["id"], "approve")
    approved = transitions.fire(rt.records, sup, "sales_order", order["id"], "approve")
    assert approved["status"] == "approved" and approved["approved_by"] == sup.id and approved["approved_at"] is not None
    steps = transitions.timeline(rt.records, rep, "sales_order", order["id"])
    assert [(s["transition"], s["from"], s["to"], s["actor"]) for s in steps] == [
        ("submit", "draft", "in_review", "rep"), ("reviews_done", "in_review", "decision", "workflow"), ("approve", "decision", "approved", "sup")]
    assert steps[0]["comment"] == "please check the price" and steps[1]["seconds_in_state"] >= 0
    a = rt.schema.audit
    with rt.db.read() as conn:
        actions = [r for (r,) in conn.execute(select(a.c.action).where(a.c.entity == "sales_order", a.c.record_id == order["id"]))]
    assert actions == ["create", "transition", "review", "review", "review", "review", "transition", "transition"]
    # a colleague cannot even see the order, so neither its transitions
    from engine.core.errors import NotFound
    with pytest.raises(NotFound):
        transitions.available(rt.records, other, "sales_order", order["id"])


def test_guards_inputs_and_wrong_states(rt, people):
    rep, sup = people["rep"], people["sup"]
    free = new_order(rt, people, price="0")
    with pytest.raises(ValidationFailed) as exc:
        transitions.fire(rt.records, rep, "sales_order", free["id"], "submit")
    assert "at least one line with a price" in exc.value.errors[0].message
    order = new_order(rt, people)
    transitions.fire(rt.records, rep, "sales_order", order["id"], "submit")
    with pytest.raises(ValidationFailed) as exc:  # returning to the owner needs a reason
        transitions.fire(rt.records, sup, "sales_order", order["id"], "reject", fields={"reason": "  "})
    assert exc.value.errors[0].field == "fields.reason"
    back = transitions.fire(rt.records, sup, "sales_order", order["id"], "reject", fields={"reason": "price below the floor"})
    assert back["status"] == "rejected"
    assert transitions.timeline(rt.records, rep, "sales_order", order["id"])[-1]["inputs"] == {"reason": "price below the floor"}
    with pytest.raises(Conflict):  # not from here
        transitions.fire(rt.records, sup, "sales_order", order["id"], "approve")
    cancelled = transitions.fire(rt.records, rep, "sales_order", order["id"], "cancel", fields={"reason": "customer withdrew"})
    assert cancelled["cancel_reason"] == "customer withdrew"


def test_locks_and_fixed_fields_are_enforced_on_every_write(rt, people):
    rep, boss = people["rep"], people["boss"]
    order = new_order(rt, people)
    with pytest.raises(ValidationFailed) as exc:  # the state moves only by transitions
        rt.records.update(boss, "sales_order", order["id"], {"status": "approved"}, version=order["version"])
    assert exc.value.errors[0].field == "status"
    with pytest.raises(ValidationFailed):
        rt.records.create(rep, "sales_order", {"customer": people["customer"], "status": "approved"})
    order = transitions.fire(rt.records, rep, "sales_order", order["id"], "submit")
    with pytest.raises(ValidationFailed) as exc:  # in review only notes may change
        rt.records.update(rep, "sales_order", order["id"], {"lines": [{"product": people["product"], "quantity": 9, "unit_price": "1"}]},
                          version=order["version"])
    assert [e.field for e in exc.value.errors] == ["lines"]
    order = rt.records.update(rep, "sales_order", order["id"], {"notes": "call before delivery"}, version=order["version"])
    reviewed(rt, people, order["id"])
    order = transitions.fire(rt.records, boss, "sales_order", order["id"], "approve")
    transitions.fire(rt.records, boss, "sales_order", order["id"], "from_stock")
    shipped = transitions.fire(rt.records, boss, "sales_order", order["id"], "ship")
    with pytest.raises(Conflict) as exc:
        rt.records.update(boss, "sales_order", shipped["id"], {"notes": "too late"}, version=shipped["version"])
    assert "can no longer change" in exc.value.detail
    with pytest.raises(Conflict):
        rt.records.delete(boss, "sales_order", shipped["id"])


def test_two_people_firing_at_once_exactly_one_wins(rt, people):
    sup, boss = people["sup"], people["boss"]
    order = to_decision(rt, people)
    actors = [sup, boss] * 3
    results, errors = run_threads(6, lambda i: transitions.fire(rt.records, actors[i], "sales_order", order["id"], "approve"))
    assert len(results) == 1 and len(errors) == 5 and all(isinstance(e, Conflict) for e in errors)
    assert len(transitions.timeline(rt.records, sup, "sales_order", order["id"])) == 3


def test_the_api_lists_and_fires_transitions(rt, people):
    order = new_order(rt, people)
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        tok = c.post("/api/v1/auth/token", json={"username": "rep", "password": "demo"}).json()["token"]
        h = {"Authorization": f"Bearer {tok}"}
        listed = c.get(f"/api/v1/sales_order/{order['id']}/transitions", headers=h).json()
        assert listed["state"] == "draft" and [t["name"] for t in listed["transitions"]] == ["submit", "cancel"]
        cancel = listed["transitions"][1]
        assert cancel["inputs"][0]["name"] == "reason" and cancel["inputs"][0]["required"] is True
        r = c.post(f"/api/v1/sales_order/{order['id']}/transitions/submit", json={"comment": "ok", "version": order["version"]}, headers=h)
        assert r.status_code == 200 and r.json()["status"] == "in_review"
        again = c.post(f"/api/v1/sales_order/{order['id']}/transitions/submit", json={}, headers=h)
        assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
        assert c.post(f"/api/v1/sales_order/{order['id']}/transitions/approve", json={}, headers=h).status_code == 409
        assert c.post(f"/api/v1/sales_order/{order['id']}/transitions/fly", json={}, headers=h).status_code == 404
        bad = c.post(f"/api/v1/sales_order/{order['id']}/transitions/cancel", json={"fields": {"reason": 5, "why": "x"}}, headers=h)
        assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"fields.why", "fields.reason"}
        steps = c.get(f"/api/v1/sales_order/{order['id']}/timeline", headers=h).json()["items"]
        assert [s["transition"] for s in steps] == ["submit"]


def test_a_key_change_after_approval_sends_the_order_back_to_review(rt, people):
    rep, sup = people["rep"], people["sup"]
    order = transitions.fire(rt.records, sup, "sales_order", to_decision(rt, people)["id"], "approve")
    same = rt.records.update(rep, "sales_order", order["id"], {"notes": "gate 3"}, version=order["version"])
    assert same["status"] == "approved"  # notes are not a key field
    line = same["lines"][0]
    changed = rt.records.update(rep, "sales_order", order["id"], {"lines": [{"id": line["id"], "quantity": 5}]}, version=same["version"])
    assert changed["status"] == "in_review"
    steps = transitions.timeline(rt.records, rep, "sales_order", order["id"])
    assert (steps[-1]["transition"], steps[-1]["from"], steps[-1]["to"], steps[-1]["comment"]) == ("reapproval", "approved", "in_review",
                                                                                                     "changed: lines")
    history = rt.records.history(rep, "sales_order", order["id"])[-1]
    assert history["changes"]["fields"]["status"] == ["approved", "in_review"] and "lines" in history["changes"]
    again = reviews.summary(rt.records, rep, "sales_order", order["id"])  # a second round of department review opens
    assert again["round"] == 2 and again["outcome"] == "pending" and again["waiting"] == list(DEPARTMENTS)


def test_bulk_transitions_from_the_list_and_the_api(rt, people):
    import re

    from tests.web.test_pages import SECRET, csrf, sign_in
    boss = people["boss"]
    orders = [to_decision(rt, people) for _ in range(3)]
    draft = new_order(rt, people)
    results = transitions.fire_many(rt.records, boss, "sales_order", [orders[0]["id"], draft["id"]], "approve")
    assert [r["ok"] for r in results] == [True, False] and results[1]["status"] == 409
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "boss")
        page = web.get("/sales_order")
        assert 'form="bulk"' in page.text and 'id="bulk-transition"' in page.text
        done = web.post("/sales_order/bulk", data={"csrf_token": csrf(page.text), "transition": "reject", "text": "recheck prices",
                                                   "ids": [str(orders[1]["id"]), str(orders[2]["id"]), str(draft["id"])]})
        assert done.status_code == 200 and re.search(r"2 of 3 done", done.text)
    assert rt.records.get(boss, "sales_order", orders[1]["id"])["status"] == "rejected"
    assert transitions.timeline(rt.records, boss, "sales_order", orders[2]["id"])[-1]["inputs"] == {"reason": "recheck prices"}
    with TestClient(create_app(rt)) as c:
        tok = c.post("/api/v1/auth/token", json={"username": "boss", "password": "demo"}).json()["token"]
        r = c.post("/api/v1/sales_order/transitions/cancel", json={"ids": [orders[1]["id"]], "fields": {"reason": "duplicate"}},
                   headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 200 and r.json()["moved"] == 1
        bad = c.post("/api/v1/sales_order/transitions/cancel", json={"ids": "all"}, headers={"Authorization": f"Bearer {tok}"})
        assert bad.status_code == 422


def test_quick_search_follows_what_a_transition_writes(dbs, tmp_path):
    """A searched field that a transition sets (the state) is found under its new value at once, and
    no longer under the old one; the record a transition returns is the one stored."""
    from engine.records.listing import ListQuery
    from tests.apps import write_app
    from tests.conftest import make_user
    from tests.records.test_notifications import APP
    files = dict(APP)
    files["entities/visit.yaml"] = files["entities/visit.yaml"].replace("title_field: customer", "title_field: customer\n        search_fields: [customer, status]")
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    disp, anna = make_user(rt, "disp", roles=("dispatcher",)), make_user(rt, "anna", roles=("measurer",))
    v = rt.records.create(disp, "visit", {"customer": "Ivanov"})

    def found(text):
        return [r["id"] for r in rt.records.list(disp, "visit", ListQuery(q=text))["items"]]
    assert found("new") == [v["id"]] and found("planned") == []
    fired = transitions.fire(rt.records, disp, "visit", v["id"], "plan", fields={"specialist": anna.id})
    assert found("planned") == [v["id"]] and found("new") == []
    stored = rt.records.get(disp, "visit", v["id"])
    assert {k: fired[k] for k in stored} == stored
