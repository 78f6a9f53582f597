"""Time `run.py verify-audit` - the signed chain, then every record reconciled with its trail - at size.

    python bench/verify_audit.py --db sqlite:///bench/data/audit_1m.db --orders 1000000 [--tamper]

An empty database is filled first by `generate.py --audit` (orders with 1-4 lines, each record
with the create entry the record service would have written, 10% of the orders with a later
update). Then `run.py verify-audit` runs as a user runs it, in its own process; the script prints
the chain's and the reconciliation's times as the command reports them, the wall time and the
command's peak memory (which stays flat with size: records are read in batches). With
--tamper, one order's note is then changed behind the engine's back, the command must find
it (exit 1), and the note is put back.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, update  # noqa: E402

from engine.app.tables import schema_for  # noqa: E402
from engine.metadata.loader import load_app  # noqa: E402
from engine.storage.db import Database  # noqa: E402


def _counts(url: str) -> tuple[int, int]:
    """(orders, audit entries) in the database; (0, 0) when it has no tables yet."""
    db = Database(url)
    schema = schema_for(load_app(ROOT / "metadata"))
    try:
        with db.read() as conn:
            return (conn.execute(select(func.count()).select_from(schema.tables["sales_order"])).scalar_one(),
                    conn.execute(select(func.count()).select_from(schema.audit)).scalar_one())
    except Exception:
        return 0, 0
    finally:
        db.dispose()


def _run(args: list[str]) -> tuple[int, str, str, float, float]:
    """Run a command; (exit code, stdout, stderr, seconds, peak memory in MB)."""
    out, err = ROOT / "bench" / "data" / ".verify.out", ROOT / "bench" / "data" / ".verify.err"
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen([sys.executable, *args], stdout=o, stderr=e, cwd=str(ROOT))
        _, status, usage = os.wait4(p.pid, 0)
    took = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    return code, out.read_text(), err.read_text(), took, usage.ru_maxrss / 1024


def _seconds(text: str, starts: str) -> str:
    for line in text.splitlines():
        if line.startswith(starts):
            m = re.search(r"\(([\d.]+) s\)\s*$", line)
            return m.group(1) if m else "?"
    return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--tamper", action="store_true", help="then change one order behind the engine's back and check it is found")
    args = ap.parse_args()
    os.chdir(ROOT)  # a relative sqlite:/// path means the same file here as in the commands below
    orders, entries = _counts(args.db)
    if orders == 0:
        print(f"filling the database with {args.orders:,} orders and their audit entries ...", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--db", args.db, "--orders", str(args.orders), "--audit"],
                           cwd=str(ROOT))
        if r.returncode:
            sys.exit("generate.py failed")
        print(f"generated in {time.perf_counter() - t0:.0f} s", flush=True)
        orders, entries = _counts(args.db)
    elif entries < orders:
        sys.exit("this database has orders without audit entries (generate.py without --audit); give an empty one")
    print(f"database: {args.db}: {orders:,} orders, {entries:,} audit entries", flush=True)
    code, out, err, took, peak = _run([str(ROOT / "run.py"), "verify-audit", "--db", args.db])
    if code != 0:
        sys.exit(f"verify-audit failed (exit {code}):\n{out[-2000:]}\n{err[-2000:]}")
    print(f"verify-audit: chain {_seconds(out, 'audit chain intact')} s, reconciliation {_seconds(out, 'the data matches')} s, "
          f"wall {took:.1f} s, peak memory {peak:.0f} MB")
    if args.tamper:
        from engine.app.runtime import Runtime
        rt = Runtime.open(str(ROOT / "metadata"), args.db, migrate_now=False)
        so = rt.schema.tables["sales_order"]
        victim = orders // 2
        with rt.db.write() as conn:
            before = conn.execute(select(so.c.notes).where(so.c.id == victim)).scalar()
            conn.execute(update(so).where(so.c.id == victim).values(notes="changed behind the engine's back"))
        try:
            code, out, err, took, peak = _run([str(ROOT / "run.py"), "verify-audit", "--db", args.db, "--entity", "sales_order"])
        finally:
            with rt.db.write() as conn:
                conn.execute(update(so).where(so.c.id == victim).values(notes=before))
            rt.close()
        found = [line for line in out.splitlines() if line.startswith(f"sales_order {victim}: notes")]
        print(f"tampered order {victim}: {'found' if code == 1 and found else 'NOT FOUND'} in {took:.1f} s (orders only)"
              + (f": {found[0]}" if found else ""))


if __name__ == "__main__":
    main()
