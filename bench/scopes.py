"""List speed with data scopes on: the same first page of orders for a manager (all), a
supervisor (team of 10 reps, half the orders), a rep (own, 1/20 of the orders), a small team
that owns few orders, and a rep's customers (a region condition), through the JSON API.

    python bench/scopes.py --db sqlite:///bench/data/orders_1000000.db

Needs a database made by bench/generate.py. Users the case needs and generate.py does not make
(a supervisor of one rep with a handful of orders) are created here, once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.access import users  # noqa: E402
from engine.app.runtime import Runtime  # noqa: E402


def prepare(db_url: str) -> dict:
    """Regions for the reps (their customer scope), and a small team: sup_small over rep_small,
    who owns 20 orders taken from rep19."""
    rt = Runtime.open(str(ROOT / "metadata"), db_url)
    s = rt.schema
    u, so = s.user, s.tables["sales_order"]
    with rt.db.write() as conn:
        ids = dict(conn.execute(select(u.c.username, u.c.id)).all())
        for name, uid in ids.items():
            if name.startswith("rep") and name[3:].isdigit():
                conn.execute(update(u).where(u.c.id == uid).values(attributes={"region": "east" if int(name[3:]) < 10 else "west"}))
        if "sup_small" not in ids:
            users.create_user(conn, s, "sup_small", "demo", ["sales_supervisor"], manager="manager", attributes={"region": "east"})
            rid = users.create_user(conn, s, "rep_small", "demo", ["sales_rep"], manager="sup_small", attributes={"region": "east"})
            few = [r for (r,) in conn.execute(select(so.c.id).where(so.c.owner == ids["rep19"]).order_by(so.c.id).limit(20))]
            conn.execute(update(so).where(so.c.id.in_(few)).values(owner=rid))
        total = conn.execute(select(func.count()).select_from(so)).scalar()
    rt.close()
    return {"orders": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--port", type=int, default=8125)
    args = ap.parse_args()
    info = prepare(args.db)
    env = {**os.environ, "ENGINE_DATABASE_URL": args.db}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--no-demo", "--port", str(args.port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(ROOT))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60) as c:
            for _ in range(600):
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            print(f"database: {args.db.split('://')[0]}, {info['orders']:,} orders, {args.requests} requests per case, first page of 50")
            print(f"{'case':58s} {'p50 ms':>8s} {'p95 ms':>8s} {'items':>6s} {'count':>7s}")
            cases = [
                ("manager, all orders", "manager", "/api/v1/sales_order?limit=50"),
                ("supervisor, team scope (10 reps, ~50% of orders)", "sup_east", "/api/v1/sales_order?limit=50"),
                ("rep, own scope (~5% of orders)", "rep01", "/api/v1/sales_order?limit=50"),
                ("rep, own scope, sorted by total", "rep01", "/api/v1/sales_order?limit=50&sort=-total"),
                ("small team (1 rep, 20 orders)", "sup_small", "/api/v1/sales_order?limit=50"),
                ("rep, customers of their region (condition)", "rep01", "/api/v1/customer?limit=50"),
            ]
            tokens = {}
            for label, who, url in cases:
                if who not in tokens:
                    r = c.post("/api/v1/auth/token", json={"username": who, "password": "demo"})
                    assert r.status_code == 200, r.text
                    tokens[who] = {"Authorization": f"Bearer {r.json()['token']}"}
                r = c.get(url, headers=tokens[who])
                assert r.status_code == 200, r.text
                body = r.json()
                times = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    assert c.get(url, headers=tokens[who]).status_code == 200
                    times.append((time.perf_counter() - t) * 1000)
                times.sort()
                count = f"{body['count']:,}" + ("+" if not body["count_exact"] else "")
                print(f"{label:58s} {statistics.median(times):8.2f} {times[int(0.95 * (len(times) - 1))]:8.2f} {len(body['items']):6d} {count:>7s}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
