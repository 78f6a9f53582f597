"""Build-to-order production with a measurement visit as a second workflow (tests/scenarios/build_to_order): every path through it -
cash and credit, with and without design, both back-edges - the measurement visit's required
specialist and date, cancel only in its four states and only with a reason, deadlines per state,
and the same walk through the API."""
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from engine.core.errors import Conflict, Forbidden, ValidationFailed
from engine.server import create_app
from engine.workflow import transitions
from tests.conftest import make_user

APP = str(Path(__file__).parent / "build_to_order")
CANCELLABLE = {"new", "measurement", "bank_decision", "contract_preparation"}


@pytest.fixture
def shop(dbs):
    rt = dbs.runtime(APP)
    people = {name: make_user(rt, name, roles=(role,)) for name, role in [
        ("mgr", "manager"), ("disp", "dispatcher"), ("spec", "specialist"), ("des", "designer"), ("fin", "finance"), ("prod", "production")]}
    return rt, people


def fire(rt, who, order, name, **inputs):
    return transitions.fire(rt.records, who, "fitting_order", order["id"], name, fields=inputs or None)


def new(rt, people, **values):
    return rt.records.create(people["mgr"], "fitting_order", {"customer_name": "Ivanova", "phone": "+7 900 000 00 00", **values})


def to_contract(rt, p, order):
    fire(rt, p["disp"], order, "accept")
    with pytest.raises(ValidationFailed) as exc:  # a visit needs a specialist and a time
        fire(rt, p["disp"], order, "schedule_measurement", specialist=p["spec"].id)
    assert [e.field for e in exc.value.errors] == ["fields.visit_at"]
    visit = fire(rt, p["disp"], order, "schedule_measurement", specialist=p["spec"].id, visit_at="2026-11-24T10:00:00+03:00")
    assert visit["specialist"] == p["spec"].id and visit["visit_at"] is not None
    return fire(rt, p["spec"], order, "measured")  # the assigned specialist now reads the order and reports


def states(rt, who, order) -> list[str]:
    return [s["to"] for s in transitions.timeline(rt.records, who, "fitting_order", order["id"])]


def test_cash_without_design_goes_straight_through(shop):
    rt, p = shop
    order = new(rt, p)
    assert to_contract(rt, p, order)["status"] == "contract_preparation"
    with pytest.raises(ValidationFailed) as exc:  # the payment-type branch: cash never goes to the bank
        fire(rt, p["mgr"], order, "to_bank")
    assert "Only credit orders go to the bank" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed):  # and needs no design
        fire(rt, p["mgr"], order, "to_design")
    fire(rt, p["mgr"], order, "to_payment")
    fire(rt, p["fin"], order, "paid")
    fire(rt, p["prod"], order, "produced")
    done = fire(rt, p["disp"], order, "completed")
    assert done["status"] == "completed"
    assert states(rt, p["mgr"], order) == ["measurement_planning", "measurement", "contract_preparation", "payment", "production",
                                           "delivery_planning", "completed"]
    with pytest.raises(Conflict):  # completed is locked
        rt.records.update(p["mgr"], "fitting_order", order["id"], {"phone": "+7 900 111 11 11"}, version=done["version"])


def test_credit_with_design_and_both_back_edges(shop):
    rt, p = shop
    order = new(rt, p, payment_type="credit", needs_design=True)
    to_contract(rt, p, order)
    fire(rt, p["mgr"], order, "remeasure", reason="the wall is not straight")  # contract -> measurement
    fire(rt, p["spec"], order, "measured")
    with pytest.raises(ValidationFailed):  # an order that needs design goes through design first
        fire(rt, p["mgr"], order, "to_bank")
    fire(rt, p["mgr"], order, "to_design")
    fire(rt, p["des"], order, "clarify", question="which handles?")  # design -> contract preparation
    fire(rt, p["mgr"], order, "to_design")
    with pytest.raises(ValidationFailed) as exc:  # credit: not straight to payment
        fire(rt, p["des"], order, "to_payment")
    assert "Credit orders wait for the bank" in exc.value.errors[0].message
    fire(rt, p["des"], order, "to_bank")
    fire(rt, p["fin"], order, "bank_approved")
    fire(rt, p["fin"], order, "paid")
    fire(rt, p["prod"], order, "produced")
    fire(rt, p["disp"], order, "completed")
    assert states(rt, p["mgr"], order) == [
        "measurement_planning", "measurement", "contract_preparation", "measurement", "contract_preparation", "design",
        "contract_preparation", "design", "bank_decision", "payment", "production", "delivery_planning", "completed"]
    steps = transitions.timeline(rt.records, p["mgr"], "fitting_order", order["id"])
    assert steps[3]["inputs"] == {"reason": "the wall is not straight"} and steps[6]["inputs"] == {"question": "which handles?"}


def test_cash_with_design_pays_after_design(shop):
    rt, p = shop
    order = new(rt, p, needs_design=True)
    to_contract(rt, p, order)
    with pytest.raises(ValidationFailed):
        fire(rt, p["mgr"], order, "to_payment")
    fire(rt, p["mgr"], order, "to_design")
    assert fire(rt, p["des"], order, "to_payment")["status"] == "payment"


@pytest.mark.parametrize("stop_at", ["new", "measurement_planning", "measurement", "contract_preparation", "bank_decision", "payment",
                                     "production", "delivery_planning"])
def test_cancel_only_in_its_four_states_and_only_with_a_reason(shop, stop_at):
    rt, p = shop
    order = new(rt, p, payment_type="credit")
    walk = [("disp", "accept", {}), ("disp", "schedule_measurement", {"specialist": p["spec"].id, "visit_at": "2026-11-24T10:00:00Z"}),
            ("spec", "measured", {}), ("mgr", "to_bank", {}), ("fin", "bank_approved", {}), ("fin", "paid", {}), ("prod", "produced", {})]
    order_states = ["new", "measurement_planning", "measurement", "contract_preparation", "bank_decision", "payment", "production",
                    "delivery_planning"]
    for who, name, inputs in walk[:order_states.index(stop_at)]:
        fire(rt, p[who], order, name, **inputs)
    offered = [t["name"] for t in transitions.available(rt.records, p["mgr"], "fitting_order", order["id"])["transitions"]]
    assert ("cancel" in offered) == (stop_at in CANCELLABLE)
    if stop_at in CANCELLABLE:
        with pytest.raises(ValidationFailed) as exc:
            fire(rt, p["mgr"], order, "cancel")
        assert exc.value.errors[0].field == "fields.reason"
        gone = fire(rt, p["mgr"], order, "cancel", reason="the customer moved house")
        assert gone["status"] == "cancelled" and gone["cancel_reason"] == "the customer moved house"
    else:
        with pytest.raises(Conflict):
            fire(rt, p["mgr"], order, "cancel", reason="too late")


def test_who_may_do_what(shop):
    rt, p = shop
    order = new(rt, p)
    with pytest.raises(Forbidden):  # only the dispatcher assigns measurements
        fire(rt, p["mgr"], fire(rt, p["disp"], order, "accept"), "schedule_measurement", specialist=p["spec"].id,
             visit_at="2026-11-24T10:00:00Z")
    other = make_user(rt, "spec2", roles=("specialist",))
    fire(rt, p["disp"], order, "schedule_measurement", specialist=p["spec"].id, visit_at="2026-11-24T10:00:00Z")
    from engine.core.errors import NotFound
    with pytest.raises(NotFound):  # a specialist sees only the visits assigned to them
        fire(rt, other, order, "measured")


def test_every_state_has_a_deadline(shop):
    rt, p = shop
    wf = rt.app.workflows["fitting_order"]
    assert {n for n, st in wf.states.items() if st.sla is None} == {"completed", "cancelled"}
    order = new(rt, p)
    tm = rt.schema.timer
    from sqlalchemy import select
    with rt.db.read() as conn:
        kinds = conn.execute(select(tm.c.state, tm.c.kind).where(tm.c.record_id == order["id"])).all()
    assert ("new", "deadline") in kinds and ("new", "escalation") in kinds


def test_the_same_walk_through_the_api(shop):
    rt, p = shop
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        def h(name):
            return {"Authorization": "Bearer " + c.post("/api/v1/auth/token", json={"username": name, "password": "demo"}).json()["token"]}
        mgr, disp, spec, fin, prod = h("mgr"), h("disp"), h("spec"), h("fin"), h("prod")
        created = c.post("/api/v1/fitting_order", json={"customer_name": "Petrov", "payment_type": "credit"}, headers=mgr)
        assert created.status_code == 201
        oid = created.json()["id"]

        def go(headers, name, **fields):
            r = c.post(f"/api/v1/fitting_order/{oid}/transitions/{name}", json={"fields": fields} if fields else {}, headers=headers)
            return r.status_code, r.json()
        assert go(disp, "accept")[0] == 200
        status, body = go(disp, "schedule_measurement", specialist=p["spec"].id)
        assert status == 422 and body["errors"][0]["field"] == "fields.visit_at"
        assert go(disp, "schedule_measurement", specialist=p["spec"].id, visit_at="2026-11-24T10:00:00Z")[0] == 200
        assert go(spec, "measured")[0] == 200
        status, body = go(mgr, "to_payment")
        assert status == 422 and "Credit orders wait for the bank" in body["errors"][0]["message"]
        listed = c.get(f"/api/v1/fitting_order/{oid}/transitions", headers=mgr).json()
        assert {t["name"] for t in listed["transitions"]} == {"remeasure", "to_design", "to_bank", "to_payment", "cancel"}
        assert go(mgr, "to_bank")[0] == 200
        status, body = go(mgr, "cancel")
        assert status == 422 and body["errors"][0]["field"] == "fields.reason"
        assert go(fin, "bank_approved")[0] == 200
        assert go(mgr, "cancel", reason="x")[0] == 409  # payment: no longer cancellable
        assert go(fin, "paid")[0] == 200 and go(prod, "produced")[0] == 200 and go(disp, "completed")[1]["status"] == "completed"


def test_the_dispatcher_sees_visits_on_a_calendar_and_measurements_per_specialist(shop):
    import datetime as dt
    import json

    from tests.web.test_pages import SECRET, sign_in
    rt, p = shop
    other = make_user(rt, "spec2", roles=("specialist",))
    for who in ("spec", "spec", "spec2"):
        order = new(rt, p)
        fire(rt, p["disp"], order, "accept")
        fire(rt, p["disp"], order, "schedule_measurement", specialist=(p["spec"] if who == "spec" else other).id, visit_at="2026-11-24T10:00:00+03:00")
        fire(rt, p["spec"] if who == "spec" else other, order, "measured")
    waiting = new(rt, p)
    fire(rt, p["disp"], waiting, "accept")
    fire(rt, p["disp"], waiting, "schedule_measurement", specialist=other.id, visit_at="2026-11-26T15:30:00+03:00")
    got = rt.reports.run(p["disp"], "measurements_by_specialist", without_defaults={"moved_at"})
    assert {r["moved_by"]: r["measurements"] for r in got["rows"] if r["measurements"]} == {"spec": 2, "spec2": 1}
    assert rt.reports.run(p["mgr"], "on_time_completion")["totals"]["due"] >= 0
    assert [r.name for r in rt.reports.available(p["spec"])] == []  # a specialist runs neither report
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "disp")
        feed = json.loads(web.get("/fitting_order/calendar/events?start=2026-11-01&end=2026-12-01").text)
        assert len(feed) == 4 and {e["start"][:10] for e in feed} == {"2026-11-24", "2026-11-26"}
        assert any("spec2" in e["title"] for e in feed)  # the specialist's name on the visit
        sign_in(web, "spec2")  # a specialist: only the visits assigned to them
        mine = json.loads(web.get("/fitting_order/calendar/events?start=2026-11-01&end=2026-12-01").text)
        assert len(mine) == 2 and dt.date.fromisoformat(mine[-1]["start"][:10]) == dt.date(2026, 11, 26)


def test_the_dispatcher_plans_deliveries_per_crew_on_a_gantt_chart(shop):
    import json
    import re

    from tests.web.test_pages import SECRET, csrf, sign_in
    rt, p = shop
    crews = [make_user(rt, name, roles=("production",)) for name in ("crew_north", "crew_south")]
    planned = []
    for crew, start, end in ((crews[0], "2026-12-08", "2026-12-10"), (crews[1], "2026-12-09", "2026-12-09"), (crews[0], "2026-12-14", "2026-12-15")):
        order = new(rt, p)
        to_contract(rt, p, order)
        fire(rt, p["mgr"], order, "to_payment")
        fire(rt, p["fin"], order, "paid")
        done = fire(rt, p["prod"], order, "produced")
        planned.append(rt.records.update(p["disp"], "fitting_order", order["id"], {"crew": crew.id, "delivery_from": start, "delivery_to": end},
                                         version=done["version"]))
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "disp")
        page = web.get("/fitting_order/gantt?lang=en&from=2026-12-01&to=2026-12-31")
        tasks = json.loads(re.search(r"data-tasks='([^']+)'", page.text).group(1).replace("&#34;", '"'))
        assert [t["name"].split(" · ")[0] for t in tasks] == ["crew_north", "crew_north", "crew_south"]  # in rows by crew
        assert [(t["start"], t["end"]) for t in tasks] == [("2026-12-08", "2026-12-10"), ("2026-12-14", "2026-12-15"), ("2026-12-09", "2026-12-09")]
        first = planned[0]
        moved = web.post(f"/fitting_order/{first['id']}/reschedule?view=gantt", headers={"X-CSRF-Token": csrf(page.text)},
                         content=json.dumps({"start": "2026-12-09", "end": "2026-12-11", "version": first["version"]}))
        assert moved.status_code == 200  # a bar dragged on the chart: an update through the record service
        got = rt.records.get(p["disp"], "fitting_order", first["id"])
        assert (str(got["delivery_from"]), str(got["delivery_to"])) == ("2026-12-09", "2026-12-11")
        # to another crew: the bar dropped on another row (or chosen in the table) sets the row's field, through the service
        rows = json.loads(re.search(r"data-rows='([^']+)'", page.text).group(1).replace("&#34;", '"'))
        assert {"crew_north", "crew_south"} <= {label for _, label in rows} and rows[0] == ["", "—"]  # any active person, or none
        to_south = web.post(f"/fitting_order/{first['id']}/reschedule?view=gantt", headers={"X-CSRF-Token": csrf(page.text)},
                            content=json.dumps({"group": crews[1].id, "version": moved.json()["version"]}))
        assert to_south.status_code == 200 and rt.records.get(p["disp"], "fitting_order", first["id"])["crew"] == crews[1].id
        stale = web.post(f"/fitting_order/{first['id']}/reschedule?view=gantt", headers={"X-CSRF-Token": csrf(page.text)},
                         content=json.dumps({"group": crews[0].id, "version": moved.json()["version"]}))
        assert stale.status_code == 409 and rt.records.get(p["disp"], "fitting_order", first["id"])["crew"] == crews[1].id  # nothing overwritten
        nobody = web.post(f"/fitting_order/{first['id']}/reschedule?view=gantt", headers={"X-CSRF-Token": csrf(page.text)},
                          content=json.dumps({"group": 999999, "version": to_south.json()["version"]}))
        assert nobody.status_code == 422 and nobody.json()["error"].startswith("Delivery crew: ") and "999999" not in str(rt.records.get(p["disp"], "fitting_order", first["id"])["crew"])
        # an arrow from the delivery an order follows, when both are in the window
        rt.records.update(p["disp"], "fitting_order", planned[2]["id"], {"after": first["id"]}, version=planned[2]["version"])
        page = web.get("/fitting_order/gantt?lang=en&from=2026-12-01&to=2026-12-31")
        tasks = json.loads(re.search(r"data-tasks='([^']+)'", page.text).group(1).replace("&#34;", '"'))
        assert {t["id"]: t["dependencies"] for t in tasks}[str(planned[2]["id"])] == str(first["id"])
        assert [t["name"].split(" · ")[0] for t in tasks] == ["crew_north", "crew_south", "crew_south"]
        sign_in(web, "spec")  # a specialist may not change orders: the chart shows no rows to move to, and a move is refused
        page = web.get("/fitting_order/gantt?lang=en&from=2026-12-01&to=2026-12-31")
        assert page.status_code == 200 and "data-rows" not in page.text
        refused = web.post(f"/fitting_order/{first['id']}/reschedule?view=gantt", headers={"X-CSRF-Token": csrf(page.text)},
                           content=json.dumps({"group": crews[0].id, "version": 1}))
        assert refused.status_code == 400
