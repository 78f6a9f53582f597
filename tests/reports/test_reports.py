"""Reports add up exactly what each reader's lists show: every demo report, for a rep (own orders),
a supervisor (the team's) and a manager (all), against the same filters through the list; a report
the reader's roles do not run, or over a field hidden from them, does not exist for them; filters
and their defaults; the metadata checks, with file and line."""
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from starlette.testclient import TestClient

from engine.app import demo
from engine.metadata.codes import MetadataInvalid
from engine.metadata.loader import load_app
from engine.records.listing import ListQuery
from engine.server import create_app
from tests.apps import write_app
from tests.conftest import DatabaseFactory, _who, api_as, make_user


@pytest.fixture(scope="module")
def demo_rt(tmp_path_factory):
    f = DatabaseFactory(tmp_path_factory.mktemp("reports"))
    rt = f.runtime()
    demo.load(rt)
    yield rt
    f.close()


def listed(rt, actor, filters) -> list[dict]:
    """Every order the actor's list shows with these filters, page by page."""
    out, cursor = [], None
    while True:
        page = rt.records.list(actor, "sales_order", ListQuery(filters=list(filters), limit=500, cursor=cursor))
        out += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def this_year(today: dt.date) -> list[tuple]:
    return [("order_date", "gte", f"{today.year}-01-01"), ("order_date", "lt", f"{today.year + 1}-01-01")]


@pytest.mark.parametrize("username", ["rep_east1", "sup_east", "manager"])
def test_orders_by_status_adds_up_to_the_readers_own_list(demo_rt, username):
    rt = demo_rt
    actor = _who(rt, username)
    today = dt.date(2026, 12, 7)
    got = rt.reports.run(actor, "orders_by_status", today=today)
    orders = listed(rt, actor, this_year(today))
    assert orders, "the demo gives every reader some orders this year"
    assert sum(r["orders"] for r in got["rows"]) == got["totals"]["orders"] == len(orders)
    assert Decimal(got["totals"]["total"]) == sum(o["total"] for o in orders)
    for row in got["rows"]:  # and state by state
        mine = [o for o in orders if o["status"] == row["status__value"]]
        assert row["orders"] == len(mine) and Decimal(row["total"]) == sum(o["total"] for o in mine)
        assert Decimal(row["average"]) == (sum(o["total"] for o in mine) / len(mine)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert got["defaults"] == [{"field": "order_date", "default": "this_year", "from": "2026-01-01", "to": "2027-01-01"}]


@pytest.mark.parametrize("username", ["rep_east1", "sup_east", "manager"])
def test_orders_by_month_and_category_adds_up_to_the_list(demo_rt, username):
    rt = demo_rt
    actor = _who(rt, username)
    today = dt.date(2026, 12, 7)
    got = rt.reports.run(actor, "orders_by_month", today=today)
    orders = listed(rt, actor, [("order_date", "gte", "2026-01-01"), ("order_date", "lt", "2027-01-01")])
    for row in got["rows"]:
        mine = [o for o in orders if o["order_date"].strftime("%Y-%m") == row["order_date_month"] and o["category"] == row["category__value"]]
        assert row["orders"] == len(mine) > 0 and Decimal(row["total"]) == sum(o["total"] for o in mine)
    assert sum(r["orders"] for r in got["rows"]) == len(orders)
    months = [r["order_date_month"] for r in got["rows"]]
    assert months == sorted(months)  # in the order of the months


@pytest.mark.parametrize("username", ["sup_east", "manager"])
def test_top_customers_is_the_list_grouped_by_customer(demo_rt, username):
    rt = demo_rt
    actor = _who(rt, username)
    today = dt.date(2026, 12, 7)
    got = rt.reports.run(actor, "top_customers", today=today)
    orders = listed(rt, actor, this_year(today))
    by_customer: dict = {}
    for o in orders:
        by_customer.setdefault(o["customer"], []).append(o)
    expected = sorted(((sum(o["total"] for o in os), c) for c, os in by_customer.items()), reverse=True)[:10]
    assert [(Decimal(r["total"]), r["customer__value"]) for r in got["rows"]] == expected
    for row in got["rows"]:
        mine = by_customer[row["customer__value"]]
        export = sum(1 for o in mine if o["category"] == "export")
        assert (row["orders"], row["export_orders"]) == (len(mine), export)
        assert Decimal(row["export_share"]) == (Decimal(export * 100) / len(mine)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        assert row["customer"] == rt.records.titles(actor, "customer", [row["customer__value"]])[row["customer__value"]]


def test_the_api_lists_and_runs_what_the_reader_may_run(demo_rt):
    with TestClient(create_app(demo_rt), raise_server_exceptions=False) as client:
        rep, sup = api_as(client, "rep_east1"), api_as(client, "sup_east")
        names = [r["name"] for r in rep.get("/api/v1/reports").json()["items"]]
        assert names == ["orders_by_month", "orders_by_status", "sales_by_product"]  # top customers is for supervisors and above
        assert rep.get("/api/v1/reports/top_customers").status_code == 404
        assert "top_customers" in [r["name"] for r in sup.get("/api/v1/reports").json()["items"]]
        r = rep.get("/api/v1/reports/orders_by_status?order_date__gte=2026-01-01&category=export&lang=zh")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["label"] == "各状态订单" and [c["name"] for c in body["columns"]] == ["status", "orders", "total", "average"]
        assert body["defaults"] == []  # the order date was given: no default for it
        assert rep.get("/api/v1/reports/orders_by_status?nothing=1").status_code == 422
        assert client.get("/api/v1/reports").status_code == 401


SHOP = {
    "app.yaml": "name: shop\nlanguages: [en]\n",
    "entities/deal.yaml": """\
        name: deal
        label: Deal
        fields:
          title: {type: string, required: true}
          stage: {type: select, options: [open, won, lost]}
          amount: {type: decimal}
          margin: {type: decimal}
          closed_on: {type: date}
        """,
    "roles.yaml": """\
        roles:
          seller:
            permissions:
              deal: {read: own, create: all}
            fields:
              deal: {margin: hidden}
          boss:
            permissions:
              deal: {read: all, update: all}
        """,
    "reports/margins.yaml": """\
        name: margins
        label: Margins by stage
        source: deal
        group_by: [stage]
        measures:
          - {name: deals, count: true}
          - {name: margin, sum: margin}
        """,
    "reports/won.yaml": """\
        name: won
        label: Won by quarter
        source: deal
        filters: [{field: stage, default: won}]
        group_by: [{field: closed_on, by: quarter}]
        measures:
          - {name: deals, count: true}
          - {name: amount, sum: amount}
          - {name: largest, max: amount}
        """,
}


def test_a_report_over_a_hidden_field_is_refused_and_dates_bucket_on_both_databases(dbs, tmp_path):
    rt = dbs.runtime(write_app(tmp_path / "shop", SHOP))
    seller, boss = make_user(rt, "seller", roles=("seller",)), make_user(rt, "boss", roles=("boss",))
    for title, stage, amount, day in [("a", "won", "100", "2026-01-15"), ("b", "won", "250.50", "2026-03-31"), ("c", "won", "40", "2026-04-01"),
                                      ("d", "lost", "70", "2026-05-02"), ("e", "won", "5", None)]:
        made = rt.records.create(seller, "deal", {"title": title, "stage": stage, "amount": amount, "closed_on": day})
        rt.records.update(boss, "deal", made["id"], {"margin": "1"}, made["version"])
    assert [r.name for r in rt.reports.available(seller)] == ["won"]  # the margin is hidden from sellers
    with pytest.raises(Exception) as refused:
        rt.reports.run(seller, "margins")
    assert refused.value.status == 404
    assert rt.reports.run(boss, "margins")["totals"] == {"deals": 5, "margin": "5.00"}
    won = rt.reports.run(boss, "won")
    assert [(r["closed_on_quarter"], r["deals"], r["amount"], r["largest"]) for r in won["rows"]] == [
        ("2026-Q1", 2, "350.50", "250.50"), ("2026-Q2", 1, "40.00", "40.00"), ("—", 1, "5.00", "5.00")]  # no date: last
    assert won["totals"] == {"deals": 4, "amount": "395.50", "largest": "250.50"}
    lost = rt.reports.run(boss, "won", [("stage", "lost")])  # a filter given replaces the default
    assert lost["totals"]["deals"] == 1


def test_report_problems_are_reported_with_file_and_line(tmp_path):
    bad = dict(SHOP)
    bad["reports/won.yaml"] = """\
        name: won
        label: Won
        source: deal
        roles: [nobody]
        filters: [{field: closed_on, default: yesterday}]
        group_by: [{field: amount, by: month}, title]
        measures:
          - {name: deals, count: true}
          - {name: total, sum: title}
          - {name: share, ratio: [deals, missing]}
          - {name: odd, count: true, where: "stage == "}
        sort: -nothing
        """
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "bad", bad))
    found = {(p.code, p.line) for p in e.value.problems}
    assert {("E053", 4), ("E053", 5), ("E053", 6), ("E053", 9), ("E053", 10), ("E053", 12)} <= found, found
    assert any(p.code == "E020" or p.line == 11 for p in e.value.problems)


def rows_of(rt, table, ids, **where):
    from sqlalchemy import select
    t = getattr(rt.schema, table)
    with rt.db.read() as conn:
        stmt = select(t).where(t.c.entity == "sales_order", t.c.record_id.in_(ids))
        for k, v in where.items():
            stmt = stmt.where(t.c[k] == v)
        return [dict(r) for r in conn.execute(stmt).mappings()]


@pytest.mark.parametrize("username", ["sup_east", "manager"])
def test_workflow_facts_add_up_to_the_readers_own_orders(demo_rt, username):
    rt = demo_rt
    actor = _who(rt, username)
    ids = [o["id"] for o in listed(rt, actor, [])]
    everything = {"due_at", "decided_at", "moved_at"}
    # deadlines: met (left in time), missed, still running - per state
    timers = rows_of(rt, "timer", ids, kind="deadline")
    now = rt.records.clock()

    def outcome(t):
        if t["status"] == "cancelled" and t["fired_at"] <= t["due_at"]:
            return "met"
        return "open" if t["status"] == "pending" and t["due_at"] > now else "missed"
    got = rt.reports.run(actor, "on_time_by_state", without_defaults=everything)
    assert timers and sum(r["deadlines"] for r in got["rows"]) == sum(1 for t in timers if outcome(t) != "open")
    for row in got["rows"]:
        mine = [t for t in timers if t["state"] == row["state__value"]]
        assert (row["met"], row["missed"]) == (sum(outcome(t) == "met" for t in mine), sum(outcome(t) == "missed" for t in mine))
    # review opinions per department and decision
    tasks = rows_of(rt, "review_task", ids)
    got = rt.reports.run(actor, "opinions_by_department", without_defaults=everything)
    assert sum(r["opinions"] for r in got["rows"]) == len(tasks) > 0
    for row in got["rows"]:
        assert row["opinions"] == sum(1 for t in tasks if t["role"] == row["department__value"] and t["status"] == row["decision__value"])
    assert {r["department"] for r in got["rows"]} <= {"Purchasing reviewer", "Technical reviewer", "Production planner", "Finance reviewer",
                                                      *(rt.app.roles[r].label.get("en") for r in rt.app.roles)}
    # time in each state, from the timeline
    moves = rows_of(rt, "workflow_history", ids)
    got = rt.reports.run(actor, "time_in_state", without_defaults=everything)
    assert sum(r["moves"] for r in got["rows"]) == len(moves) > 0
    for row in got["rows"]:
        mine = [m["seconds_in_state"] for m in moves if m["from_state"] == row["from_state__value"] and m["seconds_in_state"] is not None]
        if mine:
            assert Decimal(row["average_hours"]) == (Decimal(sum(mine)) / 3600 / len(mine)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def test_facts_need_a_workflow_and_filter_by_their_time_only(tmp_path):
    bad = dict(SHOP)
    bad["reports/won.yaml"] = """\
        name: won
        label: Won
        source: deal
        facts: history
        measures: [{name: moves, count: true}]
        """
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "bad", bad))
    said = "\n".join(p.format() for p in e.value.problems)
    assert "reports/won.yaml:4" in said and "has no workflow" in said
    demo = load_app(str(__import__("pathlib").Path(__file__).resolve().parents[2] / "metadata"))
    assert demo.reports["time_in_state"].facts == "history"


def test_orders_by_team_groups_by_the_owners_manager(demo_rt):
    from sqlalchemy import select
    rt = demo_rt
    boss = _who(rt, "manager")
    got = rt.reports.run(boss, "orders_by_team", today=dt.date(2026, 12, 7))
    u = rt.schema.user
    with rt.db.read() as conn:
        manager_of = dict(conn.execute(select(u.c.id, u.c.manager_id)).all())
        names = dict(conn.execute(select(u.c.id, u.c.full_name)).all())
    orders = listed(rt, boss, this_year(dt.date(2026, 12, 7)))
    expected: dict = {}
    for o in orders:
        expected[manager_of.get(o["owner"])] = expected.get(manager_of.get(o["owner"]), 0) + 1
    assert {r["owner_team__value"]: r["orders"] for r in got["rows"]} == expected
    assert {r["owner_team"] for r in got["rows"] if r["owner_team__value"]} == {names[m] for m in expected if m}
    assert [r.name for r in rt.reports.available(_who(rt, "sup_east"))].count("orders_by_team") == 0  # for the manager only


@pytest.mark.parametrize("username", ["rep_east1", "sup_east", "manager"])
def test_sales_by_product_adds_up_the_lines_of_the_readers_own_orders(demo_rt, username):
    rt = demo_rt
    actor = _who(rt, username)
    today = dt.date(2026, 12, 7)
    got = rt.reports.run(actor, "sales_by_product", today=today)
    ids = [o["id"] for o in listed(rt, actor, this_year(today))]
    lines = [line for group in rt.records.lines_of(actor, "sales_order", "lines", ids).values() for line in group]
    by_product: dict = {}
    for line in lines:
        q, a, n = by_product.get(line["product"], (Decimal(0), Decimal(0), 0))
        by_product[line["product"]] = (q + line["quantity"], a + line["amount"], n + 1)
    expected = sorted(((a, p) for p, (_, a, _) in by_product.items()), reverse=True)[:20]
    assert [(Decimal(r["amount"]), r["product__value"]) for r in got["rows"]] == expected
    for row in got["rows"]:
        q, a, n = by_product[row["product__value"]]
        assert (Decimal(row["quantity"]), row["order_lines"]) == (q, n)
        prices = [line["amount"] / line["quantity"] for line in lines if line["product"] == row["product__value"]]
        assert abs(Decimal(row["average_price"]) - sum(prices) / len(prices)) <= Decimal("0.01")  # an expression added up
    assert got["totals"]["order_lines"] == len(lines)
    narrowed = rt.reports.run(actor, "sales_by_product", [("quantity__gte", "5")], today=today)  # a filter on the lines' own field
    assert narrowed["totals"]["order_lines"] == sum(1 for line in lines if line["quantity"] >= 5)


def test_an_expression_measure_is_checked_like_any_expression(tmp_path):
    bad = dict(SHOP)
    bad["reports/won.yaml"] = """\
        name: won
        label: Won
        source: deal
        measures:
          - {name: margin_share, avg: "margin / "}
          - {name: sneaky, sum: "amount.__class__"}
        """
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "bad", bad))
    found = {(p.code, p.line) for p in e.value.problems}
    assert ("E020", 5) in found and any(code == "E021" and line == 6 for code, line in found), found


def test_the_workflows_rows_are_filtered_by_their_time_only(demo_rt):
    from engine.core.errors import ValidationFailed
    rt = demo_rt
    with pytest.raises(ValidationFailed) as refused:
        rt.reports.run(_who(rt, "manager"), "time_in_state", [("from_state", "draft")])
    assert refused.value.errors[0].message == "a report filters the workflow's rows by their time only"
    narrowed = rt.reports.run(_who(rt, "manager"), "time_in_state", [("moved_at__gte", "2026-01-01"), ("moved_at__lt", "2027-01-01")])
    assert narrowed["defaults"] == []  # the time given replaces the default period
