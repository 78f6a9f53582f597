"""The tables built from the metadata (engine.storage.schema): exact decimals and UTC times on
both databases, one column per stored field, and the indexes that lists and keyset pagination need."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import String, Text, insert, select
from sqlalchemy.exc import StatementError

from engine.storage.schema import Money, UtcDateTime


def _index_columns(table) -> dict[str, tuple]:
    return {ix.name: tuple(c.name for c in ix.columns) for ix in table.indexes}


def test_an_entity_table_has_its_fields_and_the_engines_columns(rt):
    t = rt.schema.tables["sales_order"]
    cols = set(t.c.keys())
    assert {"id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version"} <= cols
    assert {"number", "customer", "order_date", "total", "status", "search_text"} <= cols
    assert "lines" not in cols  # a table field is a child table, not a column
    line = rt.schema.tables["sales_order_line"]
    assert {"parent_id", "idx"} <= set(line.c.keys()) and "owner" not in line.c
    assert isinstance(t.c.total.type, Money) and (t.c.total.type.precision, t.c.total.type.scale) == (16, 2)
    assert isinstance(t.c.created_at.type, UtcDateTime)
    status_len = t.c.status.type.length  # a select is as long as its longest option, at least 32
    assert isinstance(t.c.status.type, String) and status_len >= 32
    assert isinstance(t.c.notes.type, Text)


def test_indexes_follow_the_metadata_and_end_in_id(rt):
    order = _index_columns(rt.schema.tables["sales_order"])
    assert order["ix_sales_order_owner_order_date"] == ("owner", "order_date", "id")  # an `own` list walks it in the default order
    assert order["ix_sales_order_status_order_date"] == ("status", "order_date", "id")  # declared under indexes:
    assert order["ix_sales_order_customer"] == ("customer", "id")  # a link
    assert order["ix_sales_order_total"] == ("total", "id")  # indexed: true
    assert order["ux_sales_order_number"] == ("number",)
    assert rt.schema.tables["sales_order"].indexes and all(  # every index a list may walk (a report's answers its query alone)
        ix.unique or cols[-1] == "id" or ix.name.startswith("ix_sales_order_report_")
        for ix, cols in ((ix, tuple(c.name for c in ix.columns)) for ix in rt.schema.tables["sales_order"].indexes))
    # derived from reports/ and dashboards/: each report answered from one index, a dashboard's short list walks its own
    assert order["ix_sales_order_report_orders_by_status"] == ("status", "order_date", "owner", "total")
    assert order["ix_sales_order_report_orders_by_month"] == ("order_date", "category", "owner", "total")
    assert order["ix_sales_order_board_sales_4"] == ("status", "total", "id")
    assert _index_columns(rt.schema.tables["customer"])["ux_customer_code"] == ("code",)


def test_the_engines_own_tables_are_part_of_the_schema(rt):
    names = set(rt.schema.metadata.tables)
    for attr in ("user", "session", "event", "audit", "series", "workflow_history", "notification", "timer"):
        assert getattr(rt.schema, attr).name in names
    assert set(rt.schema.entity_table_names()) == set(rt.app.entities)


@pytest.mark.parametrize("value", ["0.10", "12345678901234.99", "-0.01", "99999999999999.99"])
def test_decimals_come_back_exactly_as_written(rt, value):
    t = rt.schema.tables["sales_order"]  # total: NUMERIC(16, 2)
    now = dt.datetime.now(dt.timezone.utc)
    with rt.db.write() as conn:
        pid = conn.execute(insert(t).values(total=Decimal(value), created_at=now, updated_at=now, version=1)).inserted_primary_key[0]
    with rt.db.read() as conn:
        back = conn.execute(select(t.c.total).where(t.c.id == pid)).scalar_one()
    assert back == Decimal(value) and str(back) == str(Decimal(value).quantize(Decimal("0.01")))


def test_times_are_stored_in_utc_and_a_naive_time_is_refused(rt):
    t = rt.schema.tables["customer"]
    shanghai = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with rt.db.write() as conn:
        cid = conn.execute(insert(t).values(code="T1", name="t", created_at=shanghai, updated_at=shanghai, version=1)).inserted_primary_key[0]
    with rt.db.read() as conn:
        back = conn.execute(select(t.c.created_at).where(t.c.id == cid)).scalar_one()
    assert back == shanghai and back.tzinfo == dt.timezone.utc and back.hour == 1
    with pytest.raises(StatementError, match="naive datetime"):
        with rt.db.write() as conn:
            conn.execute(insert(t).values(code="T2", name="t", created_at=dt.datetime(2026, 3, 1), updated_at=shanghai, version=1))
    with rt.db.read() as conn:
        assert conn.execute(select(t.c.id).where(t.c.code == "T2")).first() is None
