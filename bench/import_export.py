"""Import and export at size: N orders of 4 lines written to an .xlsx file, imported through the
record service (dry run, then for real), then exported to .xlsx.

    python bench/import_export.py --db sqlite:///bench/data/import.db --orders 25000 --export-orders 100000
    python bench/import_export.py --db postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_imp --orders 25000

Prints the time of reading the file, of the dry run and of the import (order lines per second),
of the export, and the process's peak memory. With --export-orders M, orders of one line are
imported (untimed) until the rep has M, before the export is timed, and the export's growth of
the process's memory is printed beside its time. The database must be empty.
Goals (issue 15): 100,000 order lines (25,000 orders x 4) imported in at most 30 s on SQLite and
60 s on PostgreSQL, memory under 300 MB; 100,000 orders exported to xlsx in at most 15 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import xlsxwriter  # noqa: E402
from transitions import bench_people  # noqa: E402 - bench/transitions.py: the same people, customer and product

from engine.app.runtime import Runtime  # noqa: E402
from engine.imports import importer, sheets  # noqa: E402
from engine.records.export import export_xlsx  # noqa: E402
from engine.records.listing import ListQuery  # noqa: E402


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def rss_mb() -> int:
    """The process's memory now (resident set), in MB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--orders", type=int, default=2500)
    ap.add_argument("--export-orders", type=int, default=0, help="orders to export (topped up with orders of one line, untimed)")
    args = ap.parse_args()
    rt = Runtime.open(str(ROOT / "metadata"), args.db)
    actors, customer, _ = bench_people(rt)
    rep = actors["rep"].through("import")
    customer_name = rt.records.get(rep, "customer", customer)["name"]
    product_code = rt.records.list(rep, "product", ListQuery(limit=1))["items"][0]["code"]
    path = Path(tempfile.mkdtemp()) / "orders.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["order_ref", "customer", "order_date", "lines.product", "lines.quantity", "lines.unit_price"])
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    row = 1
    for i in range(args.orders):
        for q in range(1, 5):
            sheet.write_string(row, 0, f"B{i:06d}")
            sheet.write_string(row, 1, customer_name)
            sheet.write_datetime(row, 2, dt.datetime(2026, 3, 1) + dt.timedelta(days=i % 28), day)
            sheet.write_string(row, 3, product_code)
            sheet.write_number(row, 4, q)
            sheet.write_number(row, 5, 99.5)
            row += 1
    book.close()
    lines = row - 1
    print(f"database: {args.db.split('://')[0]}; {args.orders} orders, {lines} order lines, file {path.stat().st_size / 1048576:.1f} MB")
    t = time.perf_counter()
    data = sheets.read(path.read_bytes(), path.name)
    print(f"read: {time.perf_counter() - t:.1f} s")
    for dry in (True, False):
        t = time.perf_counter()
        result = importer.run_import(rt.records, rep, "sales_order", data, dry_run=dry)
        took = time.perf_counter() - t
        print(f"{'dry run' if dry else 'import'}: {result['created']} orders {'would be ' if dry else ''}created, {len(result['errors'])} errors, "
              f"{took:.1f} s ({lines / took:.0f} order lines/s); peak memory {peak_mb()} MB")
    more = args.export_orders - args.orders
    for start in range(0, max(0, more), 10000):  # untimed: enough orders for the export
        rows = [(f"X{start + i:07d}", customer_name, dt.date(2026, 3, 1), product_code, 1, 99.5) for i in range(min(10000, more - start))]
        importer.run_import(rt.records, rep, "sales_order", sheets.Sheet(data.header, [(i + 2, list(r)) for i, r in enumerate(rows)]))
    before = rss_mb()
    t = time.perf_counter()
    out, n = export_xlsx(rt.records, actors["rep"], "sales_order", ListQuery())
    took = time.perf_counter() - t
    print(f"export: {n} orders to xlsx in {took:.1f} s ({n / took:.0f} orders/s, {os.path.getsize(out) / 1048576:.1f} MB); "
          f"memory {before} MB before, {rss_mb()} MB after")
    os.unlink(out)
    rt.close()


if __name__ == "__main__":
    main()
