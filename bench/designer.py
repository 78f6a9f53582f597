"""What admin form changes cost: saving one in the designer (checked by the loader, migrated,
stored, audited, put in force), another process noticing and loading it, and the look for a
newer version that every process makes at most once a second while serving.

    python bench/designer.py --db sqlite:///bench/data/designer.db
    python bench/designer.py --db postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_designer

The database must be empty (the script saves versions of the demo's order form).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.app.runtime import Runtime  # noqa: E402
from engine.core.actor import SYSTEM  # noqa: E402
from engine.forms import designer  # noqa: E402
from engine.metadata.loader import load_app  # noqa: E402


def ms(values) -> str:
    return f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    app_dir = str(ROOT / "metadata")
    rt = Runtime.open(app_dir, args.db)
    other = Runtime.open(app_dir, args.db)
    other.refresh_every = 0

    loads = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        load_app(app_dir)
        loads.append(time.perf_counter() - t0)

    saves, fields, reloads = [], [], []
    for i in range(args.rounds):
        ed = designer.editor(rt, SYSTEM, "sales_order")
        doc = copy.deepcopy(ed.doc)
        order = next(s for t in doc["tabs"] for s in t["sections"] if s["name"] == "order")
        order["label"] = {"en": f"Order {i}", "zh": f"订单 {i}", "ru": f"Заказ {i}"}
        t0 = time.perf_counter()
        designer.save(rt, SYSTEM, "sales_order", doc, ed.custom, ed.number)
        saves.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert other.refresh()
        reloads.append(time.perf_counter() - t0)
        ed = designer.editor(rt, SYSTEM, "sales_order")
        doc = copy.deepcopy(ed.doc)
        order = next(s for t in doc["tabs"] for s in t["sections"] if s["name"] == "order")
        order["fields"].append(f"extra_{i}")
        custom = {**ed.custom, f"extra_{i}": {"type": "string", "label": {"en": f"Extra {i}"}}}
        t0 = time.perf_counter()
        designer.save(rt, SYSTEM, "sales_order", doc, custom, ed.number)
        fields.append(time.perf_counter() - t0)
        other.refresh()

    looks = []
    for _ in range(2000):
        other.checked_at = 0
        t0 = time.perf_counter()
        other.refresh()
        looks.append(time.perf_counter() - t0)
    print(f"database: {args.db.split('://')[0]}; the demo app ({len(rt.app.entities)} entities, {sum(len(e.fields) for e in rt.app.entities.values())} fields)")
    print(f"  loading and checking the metadata (base only):          {ms(loads)}")
    print(f"  saving a relabel (check, store, audit, in force here):  {ms(saves)}")
    print(f"  saving a new custom field (the same + its column):      {ms(fields)}")
    print(f"  another process loading the new version:                {ms(reloads)}")
    print(f"  the look for a newer version (once a second at most):   p50 {statistics.median(looks) * 1e6:.0f} µs")
    print(f"  after the run: version {rt.stored.numbers['sales_order']}, {len(rt.app.entities['sales_order'].fields)} order fields")
    rt.close()
    other.close()


if __name__ == "__main__":
    main()
