"""Concurrent writers: numbers stay unique and gap-free, a stale version never wins."""
import threading

from engine.core.errors import Conflict
from tests.conftest import seed_basics


def run_threads(n, target):
    errors, results = [], []
    barrier = threading.Barrier(n)

    def work(i):
        barrier.wait()
        try:
            results.append(target(i))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_naming_series_unique_and_gap_free_under_concurrency(rt, clerk):
    ids = seed_basics(rt, clerk)
    data = {"customer": ids["customer"], "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "1"}]}
    results, errors = run_threads(8, lambda i: [rt.records.create(clerk, "sales_order", data)["number"] for _ in range(5)])
    assert errors == []
    numbers = sorted(n for batch in results for n in batch)
    assert len(numbers) == 40 and len(set(numbers)) == 40
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 41))


def test_concurrent_updates_with_same_version_one_wins(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", {"customer": ids["customer"]})
    results, errors = run_threads(6, lambda i: rt.records.update(clerk, "sales_order", rec["id"], {"notes": f"writer {i}"}, version=1))
    assert len(results) == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors)
    final = rt.records.get(clerk, "sales_order", rec["id"])
    assert final["version"] == 2 and final["notes"] == results[0]["notes"]
    from engine.storage import audit
    with rt.db.read() as conn:
        assert audit.verify(conn, rt.schema).ok
