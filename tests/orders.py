"""Helpers for tests of the demo order workflow: an order, and the department review that moves it on."""
from engine.workflow import reviews, transitions

DEPARTMENTS = ("purchasing", "technical", "production", "finance")


def reviewed(rt, people, order_id, reject_by=None):
    """Every department gives its opinion (one may reject); the order moves on to the supervisor's decision."""
    for dept in DEPARTMENTS:
        if dept == reject_by:
            reviews.decide(rt.records, people[dept], "sales_order", order_id, "reject", "cannot deliver on time")
        else:
            reviews.decide(rt.records, people[dept], "sales_order", order_id, "approve", f"{dept}: fine")
    return rt.records.get(people["boss"], "sales_order", order_id)


def to_decision(rt, people, price="100.00"):
    order = transitions.fire(rt.records, people["rep"], "sales_order", new_order(rt, people, price)["id"], "submit")
    return reviewed(rt, people, order["id"])


def new_order(rt, people, price="100.00"):
    return rt.records.create(people["rep"], "sales_order", {"customer": people["customer"],
                                                            "lines": [{"product": people["product"], "quantity": 2, "unit_price": price}]})
