"""Reports at size: each demo report over the orders made by bench/generate.py, for a manager (all),
a supervisor (a team of 10 reps, half the orders) and a rep (own, a twentieth), as declared (its
default period) and over all time; server time per run (the report service in this process, as a
request would run it: the scope and one GROUP BY query, the totals added up from its groups) and CPU
time, medians; then the demo's dashboards of six cards, built for each reader, and a month of the
order calendar (the feed FullCalendar reads) for each.

    python bench/reports.py --db sqlite:///bench/data/orders_1000000.db [--runs 7]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.access import users  # noqa: E402
from engine.app.runtime import Runtime  # noqa: E402

REPORTS = ("orders_by_status", "orders_by_month", "top_customers")
WHO = (("manager", "manager"), ("supervisor (team)", "sup_east"), ("rep (own)", "rep01"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rt = Runtime.open(str(ROOT / "metadata"), args.db)
    with rt.db.read() as conn:
        actors = {name: users.actor_for_id(conn, rt.schema, conn.execute(
            rt.schema.user.select().where(rt.schema.user.c.username == name)).first().id, via="api") for _, name in WHO}
    print(f"database: {args.db.split('://')[0]}; median of {args.runs} runs after one to warm up; ms per run (CPU ms)")
    print(f"{'report':22s} {'reader':20s} {'as declared':>22s} {'all time':>22s} {'groups':>7s}")
    for name in REPORTS:
        for label, who in WHO:
            actor = actors[who]
            if rt.reports.app.reports[name].roles and not any(r for r in actor.roles if r in ("sales_supervisor", "sales_manager")) \
                    and name == "top_customers":
                continue
            cells = []
            for everything in ((), {"order_date"}):
                rt.reports.run(actor, name, without_defaults=everything)
                walls, cpus = [], []
                for _ in range(args.runs):
                    wall, cpu = time.perf_counter(), time.process_time()
                    out = rt.reports.run(actor, name, without_defaults=everything)
                    walls.append((time.perf_counter() - wall) * 1000)
                    cpus.append((time.process_time() - cpu) * 1000)
                cells.append(f"{statistics.median(walls):8.1f} ({statistics.median(cpus):6.1f})")
            print(f"{name:22s} {label:20s} {cells[0]:>22s} {cells[1]:>22s} {len(out['rows']):7d}")
    print(f"{'dashboard (6 cards)':22s} {'reader':20s} {'ms per build (CPU ms)':>22s}")
    for board, label, who in (("sales", "manager", "manager"), ("sales", "supervisor (team)", "sup_east"), ("sales", "rep (own)", "rep01"),
                              ("management", "manager", "manager")):
        actor = actors[who]
        rt.dashboards.build(actor, board, "en")
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.process_time()
            rt.dashboards.build(actor, board, "en")
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        print(f"{board:22s} {label:20s} {statistics.median(walls):8.1f} ({statistics.median(cpus):6.1f})")
    calendar(rt, args.runs)
    rt.close()


def calendar(rt, runs: int) -> None:
    """A month of the order calendar (its events feed), through the app in this process, for each reader."""
    import re

    from starlette.testclient import TestClient

    from engine.server import create_app
    print(f"{'calendar month (feed)':22s} {'reader':20s} {'ms per request (CPU ms)':>24s} {'events':>7s}")
    with TestClient(create_app(rt, secret_key="bench-" + "x" * 40)) as web:
        for label, who in WHO:
            login = web.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
            web.post("/login", data={"username": who, "password": "demo", "csrf_token": token, "next": "/"})
            url = "/sales_order/calendar/events?start=2026-03-01&end=2026-04-01"
            events = len(web.get(url).json())
            walls, cpus = [], []
            for _ in range(runs):
                wall, cpu = time.perf_counter(), time.process_time()
                assert web.get(url).status_code == 200
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            print(f"{'March 2026':22s} {label:20s} {statistics.median(walls):8.1f} ({statistics.median(cpus):6.1f}) {events:7d}")


if __name__ == "__main__":
    main()
