"""The demo app's data: users with their reporting lines, and records loaded through the service."""
from sqlalchemy import func, select

from engine.app import demo
from engine.records.listing import ListQuery
from engine.storage import audit


def test_demo_loads_once_with_reporting_lines(rt):
    assert demo.is_empty(rt)
    counts = demo.load(rt)
    assert {k: v for k, v in counts.items() if k != "stock"} == {"user": 14, "warehouse": 3, "customer": 20, "product": 50, "sales_order": 220,
                                                                  "transition": 190, "review": 225}
    assert counts["stock"] > 50
    assert not demo.is_empty(rt)
    u = rt.schema.user
    with rt.db.read() as conn:
        managers = dict(conn.execute(select(u.c.username, u.c.manager_id)).all())
        ids = dict(conn.execute(select(u.c.username, u.c.id)).all())
        owners = dict(conn.execute(select(rt.schema.tables["sales_order"].c.owner, func.count()).group_by(rt.schema.tables["sales_order"].c.owner)).all())
        assert audit.verify(conn, rt.schema).ok
    assert managers["rep_east1"] == ids["sup_east"] and managers["rep_west2"] == ids["sup_west"]
    assert managers["sup_east"] == ids["manager"] and managers["manager"] is None
    assert {**{ids[r]: 50 for r in ("rep_east1", "rep_east2", "rep_west1", "rep_west2")}, ids["manager"]: 20} == owners
    from engine.core.actor import SYSTEM
    page = rt.records.list(SYSTEM, "sales_order", ListQuery(limit=5, exact_count=True))
    assert page["count"] == 220 and all(o["total"] > 0 for o in page["items"])


def test_demo_orders_are_spread_over_the_workflow(rt):
    demo.load(rt)
    so = rt.schema.tables["sales_order"]
    with rt.db.read() as conn:
        by_state = dict(conn.execute(select(so.c.status, func.count()).group_by(so.c.status)).all())
    assert by_state == {"draft": 150, "in_review": 10, "decision": 5, "rejected": 10, "approved": 10, "technical_check": 5, "in_production": 5,
                        "ready": 5, "partially_shipped": 5, "shipped": 5, "closed": 5, "cancelled": 5}
