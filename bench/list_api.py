"""List-API latency and create throughput against a real server on a filled database.

    python bench/list_api.py --db sqlite:///bench/data/1m.db [--requests 200]

Starts `run.py serve` in a subprocess (one process, as a user would), signs in over HTTP
and prints p50/p95 per case: first page, a deep keyset page (~90% through), filtered,
sorted by total (first and deep), quick search; then orders created per second through
POST /api/v1/sales_order with three lines each.
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
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.app.runtime import Runtime  # noqa: E402
from engine.records.listing import SortSpec, encode_cursor  # noqa: E402


def deep_cursor(rt: Runtime, sort: str) -> str:
    """The cursor of the row ~90% down the list: found once with OFFSET, which the API never uses."""
    t = rt.schema.tables["sales_order"]
    name, desc = sort.lstrip("-"), sort.startswith("-")
    with rt.db.read() as conn:
        n = conn.execute(select(func.count()).select_from(t)).scalar()
        order = [t.c[name].desc(), t.c.id.desc()] if desc else [t.c[name], t.c.id]
        row = conn.execute(select(t.c[name], t.c.id).order_by(*order).offset(int(n * 0.9)).limit(1)).first()
    return encode_cursor(SortSpec(name, desc, True), row[0], row[1])


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--create-seconds", type=float, default=5.0)
    args = ap.parse_args()
    rt = Runtime.open(str(ROOT / "metadata"), args.db)
    with rt.db.read() as conn:
        total_orders = conn.execute(select(func.count()).select_from(rt.schema.tables["sales_order"])).scalar()
    cursors = {s: deep_cursor(rt, s) for s in ("-order_date", "-total")}
    rt.close()
    env = {**os.environ, "ENGINE_DATABASE_URL": args.db}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--no-demo", "--port", str(args.port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(ROOT))
    base = f"http://127.0.0.1:{args.port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            for _ in range(200):
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            tok = c.post("/api/v1/auth/token", json={"username": "manager", "password": "demo"}).json()["token"]
            c.headers["Authorization"] = f"Bearer {tok}"
            cases = [
                ("first page (default sort -order_date)", "/api/v1/sales_order?limit=50"),
                ("deep keyset page (90%)", f"/api/v1/sales_order?limit=50&cursor={cursors['-order_date']}"),
                ("filtered (status=approved, order_date>=2025-06-01)", "/api/v1/sales_order?limit=50&status=approved&order_date__gte=2025-06-01"),
                ("filtered by customer", "/api/v1/sales_order?limit=50&customer=42"),
                ("sorted by total, first page", "/api/v1/sales_order?limit=50&sort=-total"),
                ("sorted by total, deep page (90%)", f"/api/v1/sales_order?limit=50&sort=-total&cursor={cursors['-total']}"),
            ]
            # quick search scans search_text (no full-text index yet): fewer samples keep the run short
            slow_cases = [("quick search q=SO-2026-00012 (20 requests)", "/api/v1/sales_order?limit=50&q=SO-2026-00012")]
            print(f"database: {args.db.split('://')[0]}, {total_orders:,} orders, {args.requests} requests per case")
            print(f"{'case':55s} {'p50 ms':>8s} {'p95 ms':>8s} {'items':>6s}")
            for label, url, n in [(a, b, args.requests) for a, b in cases] + [(a, b, 20) for a, b in slow_cases]:
                r = c.get(url)
                assert r.status_code == 200, r.text
                items = len(r.json()["items"])
                times = []
                for _ in range(n):
                    t = time.perf_counter()
                    r = c.get(url)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200
                print(f"{label:55s} {statistics.median(times):8.2f} {percentile(times, 95):8.2f} {items:6d}")
            body = {"customer": 7, "lines": [{"product": p, "quantity": 2, "unit_price": "10.00"} for p in (1, 2, 3)]}
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < args.create_seconds:
                r = c.post("/api/v1/sales_order", json=body)
                assert r.status_code == 201, r.text
                n += 1
            elapsed = time.perf_counter() - t0
            print(f"{'create (POST, 3 lines, audit, series number)':55s} {n / elapsed:8.1f} orders/s (sequential, one client)")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
