"""Workflow transitions per second through the record service, with history and audit: the
demo order workflow's submit -> approve -> ship on fresh orders, in one process.

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

from engine import users  # noqa: E402
from engine.actor import SYSTEM  # noqa: E402
from engine.records import transitions  # noqa: E402
from engine.runtime import Runtime  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--orders", type=int, default=300)
    args = ap.parse_args()
    rt = Runtime.open(str(ROOT / "metadata"), args.db)
    with rt.db.write() as conn:
        users.create_user(conn, rt.schema, "bench_boss", "demo", ["sales_manager"])
        sup = users.create_user(conn, rt.schema, "bench_sup", "demo", ["sales_supervisor"], manager="bench_boss", attributes={"region": "east"})
        rep = users.create_user(conn, rt.schema, "bench_rep", "demo", ["sales_rep"], manager="bench_sup", attributes={"region": "east"})
        actors = {n: users.actor_for_id(conn, rt.schema, i, via="api") for n, i in (("sup", sup), ("rep", rep))}
    c = rt.records.create(SYSTEM, "customer", {"code": "BT1", "name": "Bench Customer", "region": "east"})
    p = rt.records.create(SYSTEM, "product", {"code": "BT1", "name": "Bench Product", "list_price": "10.00", "category": "machine"})
    lines = [{"product": p["id"], "quantity": 2, "unit_price": "10.00"} for _ in range(3)]
    ids = [rt.records.create(actors["rep"], "sales_order", {"customer": c["id"], "lines": lines})["id"] for _ in range(args.orders)]
    steps = [("rep", "submit"), ("sup", "approve"), ("rep", "ship")]
    t0 = time.perf_counter()
    for who, name in steps:
        for rid in ids:
            transitions.fire(rt.records, actors[who], "sales_order", rid, name)
    elapsed = time.perf_counter() - t0
    n = len(ids) * len(steps)
    print(f"database: {args.db.split('://')[0]}; {n} transitions (submit, approve, ship on {len(ids)} orders with 3 lines), "
          f"each with its history row and audit entry")
    print(f"{n / elapsed:.0f} transitions per second, {elapsed / n * 1000:.2f} ms each (one process, sequential)")
    rt.close()


if __name__ == "__main__":
    main()
