"""The demo's sales-order workflow, path by path: department review and the supervisor's
decision, technical confirmation and production, shipping from stock, partial shipments,
closing, return to the owner and withdrawal, cancel before shipping only, re-review on a key
change, and locks once shipped."""
import pytest

from engine.core.errors import Conflict, Forbidden
from engine.workflow import transitions
from tests.orders import new_order, reviewed, to_decision

BEFORE_SHIPPING = ["draft", "in_review", "decision", "rejected", "approved", "technical_check", "in_production", "ready"]


def fire(rt, who, order, name, **inputs):
    return transitions.fire(rt.records, who, "sales_order", order["id"], name, fields=inputs or None)


def path(rt, people, order) -> list[str]:
    return [s["to"] for s in transitions.timeline(rt.records, people["boss"], "sales_order", order["id"])]


def approved(rt, people):
    return fire(rt, people["sup"], to_decision(rt, people), "approve")


def test_made_to_order_with_partial_shipments_and_closing(rt, people):
    rep = people["rep"]
    order = approved(rt, people)
    fire(rt, rep, order, "to_technical")
    with pytest.raises(Forbidden):  # the technical department confirms, not the rep
        fire(rt, rep, order, "confirm_technical")
    fire(rt, people["technical"], order, "confirm_technical")
    fire(rt, people["production"], order, "produced")
    fire(rt, rep, order, "ship_part", shipped="pumps, truck 1")
    fire(rt, rep, order, "ship_part", shipped="seals, truck 2")
    with pytest.raises(Conflict):  # once part of it has left, it can no longer be cancelled
        fire(rt, rep, order, "cancel", reason="too late")
    shipped = fire(rt, rep, order, "ship")
    with pytest.raises(Conflict):
        rt.records.update(people["boss"], "sales_order", order["id"], {"notes": "x"}, version=shipped["version"])
    closed = fire(rt, people["finance"], order, "close")
    assert closed["status"] == "closed"
    assert path(rt, people, order) == ["in_review", "decision", "approved", "technical_check", "in_production", "ready",
                                       "partially_shipped", "partially_shipped", "shipped", "closed"]


def test_from_stock_straight_to_shipping(rt, people):
    order = approved(rt, people)
    fire(rt, people["rep"], order, "from_stock")
    fire(rt, people["rep"], order, "ship")
    assert path(rt, people, order)[-3:] == ["approved", "ready", "shipped"]


def test_returned_to_the_owner_then_resubmitted_or_withdrawn(rt, people):
    rep, sup = people["rep"], people["sup"]
    first = to_decision(rt, people)
    fire(rt, sup, first, "reject", reason="price below the floor")
    fire(rt, rep, first, "submit")
    reviewed(rt, people, first["id"])
    assert fire(rt, sup, first, "approve")["status"] == "approved"
    second = to_decision(rt, people)
    fire(rt, sup, second, "reject", reason="no")
    withdrawn = fire(rt, rep, second, "cancel", reason="the customer bought elsewhere")
    assert withdrawn["status"] == "cancelled"
    # a rejection by a department during review can also return it at once, without waiting for the rest
    third = fire(rt, rep, new_order(rt, people), "submit")
    assert fire(rt, sup, third, "reject", reason="incomplete")["status"] == "rejected"


@pytest.mark.parametrize("state", BEFORE_SHIPPING + ["partially_shipped", "shipped"])
def test_cancel_from_any_state_before_shipping(rt, people, state):
    rep, boss = people["rep"], people["boss"]
    order = new_order(rt, people)
    steps = {
        "in_review": [(rep, "submit")],
        "decision": [(rep, "submit"), "review"],
        "rejected": [(rep, "submit"), "review", (people["sup"], "reject")],
        "approved": [(rep, "submit"), "review", (people["sup"], "approve")],
        "technical_check": [(rep, "submit"), "review", (people["sup"], "approve"), (rep, "to_technical")],
        "in_production": [(rep, "submit"), "review", (people["sup"], "approve"), (rep, "to_technical"), (people["technical"], "confirm_technical")],
        "ready": [(rep, "submit"), "review", (people["sup"], "approve"), (rep, "from_stock")],
        "partially_shipped": [(rep, "submit"), "review", (people["sup"], "approve"), (rep, "from_stock"), (rep, "ship_part")],
        "shipped": [(rep, "submit"), "review", (people["sup"], "approve"), (rep, "from_stock"), (rep, "ship")],
    }.get(state, [])
    for step in steps:
        if step == "review":
            reviewed(rt, people, order["id"])
            continue
        who, name = step
        inputs = {"reason": "r"} if name == "reject" else {"shipped": "half"} if name == "ship_part" else {}
        fire(rt, who, order, name, **inputs)
    assert rt.records.get(boss, "sales_order", order["id"])["status"] == state
    if state in BEFORE_SHIPPING:
        assert fire(rt, boss, order, "cancel", reason="customer withdrew")["status"] == "cancelled"
    else:
        with pytest.raises(Conflict):
            fire(rt, boss, order, "cancel", reason="customer withdrew")


def test_a_key_change_in_production_goes_back_to_review_and_tells_production(rt, people):
    order = approved(rt, people)
    fire(rt, people["rep"], order, "to_technical")
    order = fire(rt, people["technical"], order, "confirm_technical")
    changed = rt.records.update(people["rep"], "sales_order", order["id"], {"lines": []}, version=order["version"])
    assert changed["status"] == "in_review"
    notes = [n["message"] for n in rt.records.notifications(people["production"])[0]]
    assert any("was reduced while in production" in m and "removed" in m for m in notes)
