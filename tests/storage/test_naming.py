"""Naming series (engine.storage.naming): human numbers such as SO-2026-00001, one counter per
rendered prefix, gap-free because the counter moves inside the record's own transaction."""
import datetime as dt

import pytest

from engine.metadata.model import Series
from engine.storage import naming
from tests.conftest import seed_basics


class Stop(Exception):
    pass


def test_numbers_count_up_per_prefix_and_restart_with_a_new_year(rt):
    s = Series("SO-{YYYY}-{#####}", 5)
    with rt.db.write() as conn:
        a = naming.next_value(conn, rt.schema, "t.number", s, dt.date(2026, 12, 31))
        b = naming.next_value(conn, rt.schema, "t.number", s, dt.date(2026, 12, 31))
        c = naming.next_value(conn, rt.schema, "t.number", s, dt.date(2027, 1, 1))
        other = naming.next_value(conn, rt.schema, "u.number", s, dt.date(2026, 12, 31))
    assert (a, b, c, other) == ("SO-2026-00001", "SO-2026-00002", "SO-2027-00001", "SO-2026-00001")
    with rt.db.read() as conn:
        assert naming.current(conn, rt.schema, "t.number") == {"t.number:SO-2026-{#####}": 2, "t.number:SO-2027-{#####}": 1}


def test_date_tokens_and_a_counter_wider_than_its_digits():
    assert naming._prefix(Series("PO{YY}{MM}{DD}-{###}", 3), dt.date(2026, 3, 7)) == "PO260307-{###}"


def test_a_counter_that_outgrows_its_digits_keeps_counting(rt):
    s = Series("N-{##}", 2)
    with rt.db.write() as conn:
        got = [naming.next_value(conn, rt.schema, "w.n", s, dt.date(2026, 1, 1)) for _ in range(100)]
    assert got[0] == "N-01" and got[98] == "N-99" and got[99] == "N-100"


def test_a_rolled_back_create_gives_its_number_back(rt):
    s = Series("SO-{YYYY}-{#####}", 5)
    with rt.db.write() as conn:
        assert naming.next_value(conn, rt.schema, "r.number", s, dt.date(2026, 5, 1)) == "SO-2026-00001"
    with pytest.raises(Stop):
        with rt.db.write() as conn:
            assert naming.next_value(conn, rt.schema, "r.number", s, dt.date(2026, 5, 1)) == "SO-2026-00002"
            raise Stop
    with rt.db.write() as conn:
        assert naming.next_value(conn, rt.schema, "r.number", s, dt.date(2026, 5, 1)) == "SO-2026-00002"


def test_orders_get_consecutive_numbers_through_the_record_service(rt, clerk):
    ids = seed_basics(rt, clerk)
    made = [rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "order_date": "2026-04-01",
                                                     "lines": [{"product": ids["p1"], "quantity": 1}]}) for _ in range(3)]
    year = dt.datetime.now(dt.timezone.utc).year
    assert [m["number"] for m in made] == [f"SO-{year}-00001", f"SO-{year}-00002", f"SO-{year}-00003"]


def test_many_numbers_in_one_transaction_write_the_counter_once_and_a_rolled_back_savepoint_gives_its_back(rt):
    """An import takes thousands of numbers in one transaction: the counter row is locked once,
    counted on in the transaction and written before the commit; a savepoint that rolls back (a
    row that failed) gives its numbers back, so the numbers stay gap-free."""
    from sqlalchemy import event
    s = Series("IM-{####}", 4)
    day = dt.date(2026, 6, 1)
    updates = []
    event.listen(rt.db.engine, "before_cursor_execute", lambda c, cur, sql, *a: updates.append(sql) if sql.startswith("UPDATE sys_series") else None)
    with rt.db.write() as conn:
        got = [naming.next_value(conn, rt.schema, "i.n", s, day)]
        with pytest.raises(Stop):
            with rt.db.write():  # a savepoint: its number goes back
                got.append(naming.next_value(conn, rt.schema, "i.n", s, day))
                raise Stop
        got += [naming.next_value(conn, rt.schema, "i.n", s, day) for _ in range(50)]
        with rt.db.read() as same:
            assert naming.current(same, rt.schema, "i.n") == {"i.n:IM-{####}": 1}  # not written yet
    assert got[:3] == ["IM-0001", "IM-0002", "IM-0002"] and got[-1] == "IM-0051"
    assert len(updates) == 2  # the first number, and the counter once before the commit
    with rt.db.read() as conn:
        assert naming.current(conn, rt.schema, "i.n") == {"i.n:IM-{####}": 51}
    with rt.db.write() as conn:  # the next transaction goes on from there
        assert naming.next_value(conn, rt.schema, "i.n", s, day) == "IM-0052"
