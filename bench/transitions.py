"""Workflow transitions per second through the record service, with history, audit, review
tasks and SLA timers: the demo order workflow on fresh orders, in one process - submit (opens four
department review tasks and the review deadline's timers), the four departments' opinions (the
last one fires the automatic step to the supervisor's decision), approve, ship from stock, ship.

    python bench/transitions.py --db sqlite:///bench/data/transitions.db
    python bench/transitions.py --db postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_tr

The database must be empty (the script creates its users and a customer and product).
Goal (issue 5): at least 300 transitions per second on SQLite in one process.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.access import users  # noqa: E402
from engine.app.runtime import Runtime  # noqa: E402
from engine.core.actor import SYSTEM  # noqa: E402
from engine.workflow import reviews, transitions  # noqa: E402

DEPARTMENTS = ("purchasing", "technical", "production", "finance")


def bench_people(rt) -> tuple[dict, int, list[dict]]:
    """The users an order meets on its way (a rep under a supervisor under a manager, the four reviewing
    departments) as actors by role name, a customer's id, and three order lines of one product."""
    with rt.db.write() as conn:
        users.create_user(conn, rt.schema, "bench_boss", "demo", ["sales_manager"])
        sup = users.create_user(conn, rt.schema, "bench_sup", "demo", ["sales_supervisor"], manager="bench_boss", attributes={"region": "east"})
        rep = users.create_user(conn, rt.schema, "bench_rep", "demo", ["sales_rep"], manager="bench_sup", attributes={"region": "east"})
        depts = {d: users.create_user(conn, rt.schema, f"bench_{d}", "demo", [d]) for d in DEPARTMENTS}
        actors = {n: users.actor_for_id(conn, rt.schema, i, via="api") for n, i in (("sup", sup), ("rep", rep), *depts.items())}
    c = rt.records.create(SYSTEM, "customer", {"code": "BT1", "name": "Bench Customer", "region": "east"})
    p = rt.records.create(SYSTEM, "product", {"code": "BT1", "name": "Bench Product", "list_price": "10.00", "category": "machine"})
    return actors, c["id"], [{"product": p["id"], "quantity": 2, "unit_price": "10.00"} for _ in range(3)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--orders", type=int, default=300)
    args = ap.parse_args()
    rt = Runtime.open(str(ROOT / "metadata"), args.db)
    actors, customer, lines = bench_people(rt)
    ids = [rt.records.create(actors["rep"], "sales_order", {"customer": customer, "lines": lines})["id"] for _ in range(args.orders)]
    timings = {}

    def timed(label, work):
        t0 = time.perf_counter()
        for rid in ids:
            work(rid)
        timings[label] = time.perf_counter() - t0

    timed("submit", lambda rid: transitions.fire(rt.records, actors["rep"], "sales_order", rid, "submit"))
    timed("opinions", lambda rid: [reviews.decide(rt.records, actors[d], "sales_order", rid, "approve", "ok")
                                   for d in ("purchasing", "technical", "production", "finance")])
    for who, name in (("sup", "approve"), ("rep", "from_stock"), ("rep", "ship")):
        timed(name, lambda rid, who=who, name=name: transitions.fire(rt.records, actors[who], "sales_order", rid, name))
    fired = [k for k in timings if k != "opinions"]
    n = len(ids) * len(fired)
    elapsed = sum(timings[k] for k in fired)
    print(f"database: {args.db.split('://')[0]}; {len(ids)} orders with 3 lines; every step writes its history row and audit entry")
    for k, v in timings.items():
        per = len(ids) * (4 if k == "opinions" else 1)
        print(f"  {k:<10} {per / v:7.0f} per second ({v / per * 1000:.2f} ms each)")
    print(f"{n / elapsed:.0f} transitions per second over submit, approve, from_stock and ship (submit opens 4 review tasks "
          f"and 4 SLA timers); {len(ids) * 4 / timings['opinions']:.0f} review opinions per second, the last of each order "
          f"firing the automatic step to the supervisor's decision")
    rt.close()


if __name__ == "__main__":
    main()
