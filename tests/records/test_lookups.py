"""Fill and show (engine.records.lookups): values and rows looked up in other entities as the
metadata declares them, newest first, and only from rows the reader may read."""
from decimal import Decimal

import pytest

from engine.core.errors import ValidationFailed
from tests.conftest import seed_basics


def test_fill_takes_the_customers_last_price_else_the_list_price(rt, clerk):
    ids = seed_basics(rt, clerk)
    first = rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "order_date": "2026-01-10",
                                                   "lines": [{"product": ids["p1"], "quantity": 1}]})
    assert first["lines"][0]["unit_price"] == Decimal("100.00")  # no history yet: the product's list price
    rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "order_date": "2026-02-01",
                                           "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "91.00"}]})
    rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "order_date": "2025-12-01",
                                           "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "80.00"}]})
    other = rt.records.create(clerk, "customer", {"code": "C009", "name": "Other", "region": "west"})
    rt.records.create(clerk, "sales_order", {"customer": other["id"], "order_date": "2026-03-01",
                                           "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "70.00"}]})
    history = rt.records.fill_history(clerk, rt.app.entity("sales_order_line").field("unit_price"),
                                      {"product": ids["p1"], "customer": ids["customer"]})
    assert [h["value"] for h in history] == [Decimal("91.00"), Decimal("100.00"), Decimal("80.00")]  # newest first
    new = rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "lines": [
        {"product": ids["p1"], "quantity": 2}, {"product": ids["p2"], "quantity": 1}, {"product": ids["p1"], "quantity": 1, "unit_price": "5"}]})
    assert [line["unit_price"] for line in new["lines"]] == [Decimal("91.00"), Decimal("12.50"), Decimal("5.00")]
    assert new["total"] == Decimal("199.50")


def test_show_rows_beside_a_link(rt, clerk):
    ids = seed_basics(rt, clerk)
    rt.records.create(clerk, "stock", {"product": ids["p1"], "warehouse": ids["warehouse"], "on_hand": "7"})
    show = rt.app.entity("sales_order_line").field("product").show
    rows = rt.records.shown(clerk, show, {"product": ids["p1"]})
    assert [(r["warehouse"], r["on_hand"]) for r in rows] == [(ids["warehouse"], Decimal("7.000"))]
    assert rt.records.shown(clerk, show, {"product": None}) == []


def test_a_fill_uses_only_prices_the_reader_may_read(rt, clerk, people):
    """A rep's order is filled from their own earlier orders, never from a colleague's (whose
    price they may not see); the supervisor above both sees the colleague's."""
    rep, other, sup = people["rep"], people["other"], people["sup"]
    line = {"product": people["product"], "quantity": 1}
    rt.records.create(other, "sales_order", {"customer": people["customer"], "order_date": "2026-03-01",
                                             "lines": [{**line, "unit_price": "55.00"}]})
    mine = rt.records.create(rep, "sales_order", {"customer": people["customer"], "order_date": "2026-03-02", "lines": [line]})
    assert mine["lines"][0]["unit_price"] == Decimal("100.00")  # the list price, not the colleague's 55
    unit_price = rt.app.entity("sales_order_line").field("unit_price")
    context = {"product": people["product"], "customer": people["customer"]}
    assert [h["value"] for h in rt.records.fill_history(rep, unit_price, context)] == [Decimal("100.00")]
    assert Decimal("55.00") in [h["value"] for h in rt.records.fill_history(sup, unit_price, context)]
    theirs = rt.records.create(sup, "sales_order", {"customer": people["customer"], "order_date": "2026-03-03", "lines": [line]})
    assert theirs["lines"][0]["unit_price"] == Decimal("100.00")  # the newest the supervisor may read: the rep's of 03-02


def test_a_fill_with_nothing_to_match_on_does_not_apply(rt, clerk):
    ids = seed_basics(rt, clerk)
    unit_price = rt.app.entity("sales_order_line").field("unit_price")
    assert rt.records.fill_history(clerk, unit_price, {"product": ids["p1"], "customer": None}) == []
    with pytest.raises(ValidationFailed) as e:  # no product on the line: no price to look up, so none is made up
        rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "lines": [{"quantity": 1}]})
    assert ("lines[0].unit_price", "required") in [(x.field, str(x.message)) for x in e.value.errors]
