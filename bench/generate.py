"""Fill a database with the demo app's schema and N generated orders, fast.

    python bench/generate.py --db sqlite:///bench/data/1m.db --orders 1000000 [--audit [--updates 0.1]]

This is a benchmark fixture, not a data path: it inserts in bulk straight into the tables
(no hooks), which is what makes 1,000,000 orders take minutes. Users are created normally: a
manager, 2 supervisors and 20 reps (10 per supervisor), password "demo". Without --audit no
audit entries are written; with it, every record gets the signed create entry the record
service would have written for it (its owner as the actor), and a share of the orders
(--updates) a later update entry - a note and a line's quantity - with the rows as it left them,
so `run.py verify-audit` finds the data and the trail in agreement.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from engine.access import users  # noqa: E402
from engine.app.runtime import Runtime  # noqa: E402
from engine.core.actor import Actor  # noqa: E402
from engine.storage import audit

APP = str(Path(__file__).resolve().parent.parent / "metadata")
STATUSES = ["draft", "in_review", "approved", "rejected", "shipped", "cancelled"]
BATCH = 20_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--products", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--audit", action="store_true", help="also write each record's audit entries (create, and some updates)")
    ap.add_argument("--updates", type=float, default=0.1, help="with --audit: the share of orders that get a later update (default 0.1)")
    args = ap.parse_args()
    urng = random.Random(args.seed + 1)  # the updates draw apart, so --audit leaves the generated orders as they are
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    rt = Runtime.open(APP, args.db)
    s = rt.schema
    so, line, cust, prod, wh = (s.tables[n] for n in ("sales_order", "sales_order_line", "customer", "product", "warehouse"))
    with rt.db.read() as conn:
        if conn.execute(select(func.count()).select_from(so)).scalar():
            sys.exit("the database already has orders; give an empty one")
    now = dt.datetime.now(dt.timezone.utc)
    with rt.db.write() as conn:
        users.create_user(conn, s, "manager", "demo", ["sales_manager"])
        for sup in ("sup_east", "sup_west"):
            users.create_user(conn, s, sup, "demo", ["sales_supervisor"], manager="manager")
        rep_ids = []
        for i in range(20):
            rep_ids.append(users.create_user(conn, s, f"rep{i:02d}", "demo", ["sales_rep"], manager="sup_east" if i < 10 else "sup_west"))
        conn.execute(wh.insert(), [{"id": i + 1, "code": f"WH{i}", "name": f"Warehouse {i}", "region": r, "owner": rep_ids[0],
                                    "created_at": now, "updated_at": now, "version": 1, "search_text": f"wh{i}"}
                                   for i, r in enumerate(["east", "west", "export"])])
        conn.execute(cust.insert(), [{"id": i, "code": f"C{i:05d}", "name": f"Customer {i}", "region": ["east", "west", "export"][i % 3],
                                      "credit_limit": Decimal(100000), "payment_terms": "net30", "owner": rep_ids[i % 20],
                                      "created_at": now, "updated_at": now, "version": 1, "search_text": f"c{i:05d}\ncustomer {i}"}
                                     for i in range(1, args.customers + 1)])
        prices = {}
        rows = []
        for i in range(1, args.products + 1):
            p = Decimal(rng.randrange(100, 500000)) / 100
            prices[i] = p
            rows.append({"id": i, "code": f"P{i:05d}", "name": f"Product {i}", "unit": "pcs", "list_price": p, "category": "spare_part",
                         "owner": rep_ids[0], "created_at": now, "updated_at": now, "version": 1, "search_text": f"p{i:05d}\nproduct {i}"})
        conn.execute(prod.insert(), rows)
        if args.audit:  # the create entries the record service would have written for them
            actors = {uid: Actor(uid, name, via="import") for uid, name in
                      conn.execute(select(s.user.c.id, s.user.c.username)).all()}
            made = [(n, r) for n, t in (("warehouse", wh), ("customer", cust), ("product", prod))
                    for r in conn.execute(select(t)).mappings().all()]
            audit.append_many(conn, s, [(actors.get(r["owner"], Actor(None, "system", via="system")), n, r["id"], "create",
                                         rt.records._changes(rt.app.entity(n), {}, dict(r)), r["created_at"]) for n, r in made])
    so_ent = rt.app.entity("sales_order")
    start = dt.date(2024, 1, 1)
    line_id = 1
    done = 0
    while done < args.orders:
        n = min(BATCH, args.orders - done)
        orders, lines, entries = [], [], []
        for k in range(n):
            oid = done + k + 1
            total = Decimal(0)
            first = len(lines)
            for idx in range(rng.randrange(1, 5)):
                pid = rng.randrange(1, args.products + 1)
                qty = Decimal(rng.randrange(1, 20))
                price = prices[pid]
                amount = (qty * price).quantize(Decimal("0.01"))
                total += amount
                lines.append({"id": line_id, "parent_id": oid, "idx": idx, "product": pid, "quantity": qty, "unit_price": price, "amount": amount})
                line_id += 1
            day = start + dt.timedelta(days=rng.randrange(0, 1000))
            created = dt.datetime(day.year, day.month, day.day, rng.randrange(8, 18), rng.randrange(60), tzinfo=dt.timezone.utc)
            number = f"SO-2026-{oid:07d}"
            orders.append({"id": oid, "number": number, "customer": rng.randrange(1, args.customers + 1), "order_date": day,
                           "requested_delivery_date": day + dt.timedelta(days=14 + oid % 47), "category": "standard", "currency": "CNY", "tax_rate": Decimal(13), "payment_terms": "net30",
                           "delivery_warehouse": rng.randrange(1, 4), "total": total, "status": rng.choice(STATUSES),
                           "owner": rng.choice(rep_ids), "created_at": created, "created_by": None, "updated_at": created,
                           "version": 1, "search_text": number.casefold(), "notes": None})
            if args.audit:
                entries += _order_entries(rt, so_ent, orders[-1], lines[first:], actors, urng, args.updates)
        with rt.db.write() as conn:
            conn.execute(so.insert(), orders)
            conn.execute(line.insert(), lines)
            if entries:
                audit.append_many(conn, s, entries)
        done += n
        print(f"\r{done:,} orders, {line_id - 1:,} lines, {time.perf_counter() - t0:.0f} s", end="", flush=True)
    with rt.db.write() as conn:
        conn.execute(s.series.insert().values(key="sales_order.number:SO-2026-{#####}", last=args.orders))
        if rt.db.dialect == "postgresql":
            for t in (so, line, cust, prod, wh):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), (SELECT max(id) FROM {t.name}))")
        else:
            conn.exec_driver_sql("ANALYZE")
    if rt.db.dialect == "postgresql":  # what autovacuum does to a table that grew: statistics, and the visibility map that
        with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # lets a report read its index only
            conn.exec_driver_sql("VACUUM (ANALYZE)")
    print(f"\ngenerated {args.orders:,} orders in {time.perf_counter() - t0:.1f} s")


def _order_entries(rt, ent, order: dict, lines: list[dict], actors: dict, urng: random.Random, share: float) -> list[tuple]:
    """The order's create entry, and for a share of orders an update a day later (a note, one more
    of the first line) - applied to `order` and `lines`, which are written as the update left them."""
    actor = actors[order["owner"]]
    before = {**order, "lines": [dict(ln) for ln in lines]}
    out = [(actor, "sales_order", order["id"], "create", rt.records._changes(ent, {}, before), order["created_at"])]
    if urng.random() < share:
        order["notes"] = "deliver before noon"
        lines[0]["quantity"] += 1
        later = order["created_at"] + dt.timedelta(days=1)
        order["updated_at"], order["version"] = later, 2
        out.append((actor, "sales_order", order["id"], "update", rt.records._changes(ent, before, {**order, "lines": lines}), later))
    return out


if __name__ == "__main__":
    main()
