"""Reconciling the data with its audit trail: everything the engine writes - creates, updates with
lines, workflow steps, review completions, SLA escalations (reassignment and automatic steps),
deletes - folds back into exactly the rows and lines in the database; whatever was changed
behind the engine's back is reported with entity, id and fields."""
import datetime as dt
from decimal import Decimal

from sqlalchemy import delete, insert, select, update

from engine.app import demo
from engine.core.actor import SYSTEM
from engine.records import reconcile
from engine.workflow import escalations, reviews, transitions
from tests.orders import new_order, to_decision
from tests.workflow.test_sla import waiting_ticket


def differences(rt, **kw) -> list[reconcile.Difference]:
    with rt.db.snapshot() as conn:
        return list(reconcile.reconcile(conn, rt.app, rt.schema, **kw))


def by_record(diffs) -> dict:
    return {(d.entity, d.record_id): d.fields for d in diffs}


def test_everything_the_engine_writes_matches_its_trail(rt, people):
    rep, sup = people["rep"], people["sup"]
    order = new_order(rt, people)
    line = order["lines"][0]
    order = rt.records.update(rep, "sales_order", order["id"], {"notes": "gate 3", "lines": [
        {"id": line["id"], "quantity": 3}, {"product": people["product"], "quantity": 1, "unit_price": "9.90"}]}, version=order["version"])
    order = rt.records.update(rep, "sales_order", order["id"], {"lines": [order["lines"][1]]}, version=order["version"])  # one removed
    approved = transitions.fire(rt.records, sup, "sales_order", to_decision(rt, people)["id"], "approve")  # reviews end in an automatic step
    rt.records.update(rep, "sales_order", approved["id"], {"lines": [{"id": approved["lines"][0]["id"], "quantity": 7}]},
                      version=approved["version"])  # a key change after approval: back to review in the same write
    transitions.fire(rt.records, rep, "sales_order", order["id"], "submit")
    reviews.decide(rt.records, people["purchasing"], "sales_order", order["id"], "reject", "no stock")
    gone = rt.records.create(SYSTEM, "customer", {"code": "GONE", "name": "Gone", "region": "east"})
    rt.records.delete(SYSTEM, "customer", gone["id"])
    assert differences(rt) == []


def test_escalations_that_reassign_and_fire_match_their_trail(dbs, tmp_path):
    rt, clock, _, agent, ticket = waiting_ticket(dbs, tmp_path)
    clock.now += dt.timedelta(minutes=40)
    assert len(escalations.run_due(rt.records)) == 2  # reassigned to the lead, then expired by the workflow
    assert differences(rt) == []
    t = rt.schema.tables["ticket"]
    with rt.db.write() as conn:  # handing the ticket back to the agent without the engine
        conn.execute(update(t).where(t.c.id == ticket["id"]).values(owner=agent.id))
    assert by_record(differences(rt)) == {("ticket", ticket["id"]): ["owner"]}


def test_the_demo_data_matches_its_trail(rt):
    demo.load(rt)  # creates, transitions, department reviews and the automatic steps they fire
    assert differences(rt) == []


def test_changes_made_behind_the_engines_back_are_reported(rt, people):
    orders = [new_order(rt, people) for _ in range(4)]
    extra = rt.records.create(SYSTEM, "customer", {"code": "C2", "name": "West Pumps", "region": "west"})
    so, line, cust = (rt.schema.tables[n] for n in ("sales_order", "sales_order_line", "customer"))
    now = dt.datetime.now(dt.timezone.utc)
    with rt.db.write() as conn:
        conn.execute(update(so).where(so.c.id == orders[0]["id"]).values(total=Decimal("1.00"), notes="hidden"))
        conn.execute(update(line).where(line.c.id == orders[1]["lines"][0]["id"]).values(quantity=Decimal(99)))
        conn.execute(update(so).where(so.c.id == orders[2]["id"]).values(owner=people["other"].id, version=5, updated_at=now))
        conn.execute(insert(line).values(parent_id=orders[3]["id"], idx=1, product=people["product"], quantity=1, unit_price=1, amount=1))
        new_line = conn.execute(select(line.c.id).where(line.c.parent_id == orders[3]["id"], line.c.idx == 1)).scalar()
        conn.execute(delete(cust).where(cust.c.id == extra["id"]))
        conn.execute(insert(cust).values(id=1000, code="C3", name="Sneaky", region="east", owner=None, created_at=now, updated_at=now, version=1))
    found = by_record(differences(rt))
    assert found == {
        ("sales_order", orders[0]["id"]): ["total", "notes"],
        ("sales_order", orders[1]["id"]): [f"lines[{orders[1]['lines'][0]['id']}].quantity"],
        ("sales_order", orders[2]["id"]): ["owner"],  # version and updated_at are bookkeeping, not compared
        ("sales_order", orders[3]["id"]): [f"lines[{new_line}]"],
        ("customer", extra["id"]): ["(record)"],
        ("customer", 1000): ["(record)"],
    }
    d = next(d for d in differences(rt) if d.record_id == orders[0]["id"])
    assert d.format() == f"sales_order {orders[0]['id']}: total: audit trail 200.00, database 1.00; notes: audit trail empty, database 'hidden'"


def test_a_change_a_later_write_covered_is_still_reported(rt, people):
    order = new_order(rt, people)
    so = rt.schema.tables["sales_order"]
    with rt.db.write() as conn:
        conn.execute(update(so).where(so.c.id == order["id"]).values(notes="slipped in"))
    rt.records.update(people["rep"], "sales_order", order["id"], {"notes": "official"}, version=order["version"])  # row and trail agree now
    [d] = differences(rt)
    assert d.fields == ["notes"] and "changed behind the engine's back before entry" in d.details[0] and "'slipped in'" in d.details[0]


def test_entity_and_since_narrow_the_check_and_batches_cover_everything(rt, people):
    orders = [new_order(rt, people) for _ in range(7)]
    rt.records.delete(SYSTEM, "sales_order", orders[-1]["id"])  # a deleted record past the last row still folds
    so = rt.schema.tables["sales_order"]
    with rt.db.write() as conn:
        conn.execute(update(so).where(so.c.id.in_([orders[1]["id"], orders[4]["id"]])).values(notes="x"))
    stats = reconcile.Stats()
    with rt.db.snapshot() as conn:
        small = list(reconcile.reconcile(conn, rt.app, rt.schema, batch=2, stats=stats))
    assert [d.record_id for d in small] == [orders[1]["id"], orders[4]["id"]] and stats.records == 2 + 7
    assert differences(rt, entities=["customer"]) == []
    later = dt.datetime.now(dt.timezone.utc)
    rt.records.update(SYSTEM, "sales_order", orders[0]["id"], {"notes": "after"}, version=orders[0]["version"])
    with rt.db.write() as conn:  # touched since, behind the back: found through its updated_at
        conn.execute(update(so).where(so.c.id == orders[2]["id"]).values(notes="y", updated_at=dt.datetime.now(dt.timezone.utc)))
    stats = reconcile.Stats()
    with rt.db.snapshot() as conn:
        recent = list(reconcile.reconcile(conn, rt.app, rt.schema, since=later, batch=2, stats=stats))
    assert [d.record_id for d in recent] == [orders[2]["id"]] and stats.records == 2  # orders[1] and [4] changed before `later`
