"""The record service: the only writer. Runs against the real database of the test run."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.core.errors import Conflict, NotFound, ValidationFailed
from engine.records.listing import ListQuery
from engine.storage import audit
from tests.conftest import make_user, seed_basics


def order(ids, **extra):
    data = {"customer": ids["customer"], "lines": [
        {"product": ids["p1"], "quantity": "2", "unit_price": "99.50"},
        {"product": ids["p2"], "quantity": "3", "unit_price": "12.50"},
    ]}
    data.update(extra)
    return data


def test_create_computes_lines_total_defaults_and_number(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    assert [line["amount"] for line in rec["lines"]] == [Decimal("199.00"), Decimal("37.50")]
    assert rec["total"] == Decimal("236.50")
    assert rec["status"] == "draft" and rec["category"] == "standard" and rec["tax_rate"] == Decimal("13.00")
    assert rec["number"].startswith("SO-") and rec["number"].endswith("-00001")
    assert rec["owner"] == clerk.id and rec["created_by"] == clerk.id and rec["version"] == 1
    assert rec["order_date"] is not None  # default_expr today()


def test_every_field_error_is_reported_at_once(rt, clerk):
    seed_basics(rt, clerk)
    with pytest.raises(ValidationFailed) as exc:
        rt.records.create(clerk, "sales_order", {"customer": 999, "order_date": "2026-13-01", "tax_rate": "150",
                                               "nope": 1, "lines": [{"quantity": "-1", "unit_price": "x"}]})
    fields = {e.field for e in exc.value.errors}
    assert {"customer", "order_date", "tax_rate", "nope", "lines[0].quantity", "lines[0].unit_price"} <= fields


def test_nothing_is_written_when_validation_fails(rt, clerk):
    ids = seed_basics(rt, clerk)
    with pytest.raises(ValidationFailed):
        rt.records.create(clerk, "sales_order", order(ids, customer=12345))
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(rt.schema.tables["sales_order"])).scalar() == 0
        assert conn.execute(select(func.count()).select_from(rt.schema.tables["sales_order_line"])).scalar() == 0
    # the failed create did not consume a number: the next order gets 00001
    assert rt.records.create(clerk, "sales_order", order(ids))["number"].endswith("-00001")


def test_update_lines_add_change_remove_and_audit(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    first, second = rec["lines"]
    new = rt.records.update(clerk, "sales_order", rec["id"], {
        "lines": [{"id": second["id"], "quantity": "4"}, {"description": "Custom flange", "tech_spec": "DN50 PN16", "quantity": "1", "unit_price": "80"}],
    }, version=1)
    assert new["version"] == 2
    assert [line["id"] for line in new["lines"]][0] == second["id"]
    assert new["total"] == Decimal("4") * Decimal("12.50") + Decimal("80")
    hist = rt.records.history(clerk, "sales_order", rec["id"])
    assert [h["action"] for h in hist] == ["create", "update"]
    lines = hist[1]["changes"]["lines"]["lines"]
    assert lines["removed"][0]["id"] == first["id"]
    assert lines["changed"][0]["fields"]["quantity"] == ["3.000", "4.000"]
    assert lines["added"][0]["description"] == "Custom flange"
    assert hist[1]["changes"]["fields"]["total"] == ["236.50", "130.00"]
    assert hist[1]["via"] == "api" and hist[1]["actor"] == clerk.username


def test_stale_version_is_a_conflict_and_overwrites_nothing(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    rt.records.update(clerk, "sales_order", rec["id"], {"notes": "first"}, version=1)
    with pytest.raises(Conflict):
        rt.records.update(clerk, "sales_order", rec["id"], {"notes": "second"}, version=1)
    assert rt.records.get(clerk, "sales_order", rec["id"])["notes"] == "first"


def test_update_without_changes_keeps_version(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    same = rt.records.update(clerk, "sales_order", rec["id"], {"notes": None}, version=1)
    assert same["version"] == 1
    assert len(rt.records.history(clerk, "sales_order", rec["id"])) == 1


def test_read_only_and_computed_fields_cannot_be_changed(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    with pytest.raises(ValidationFailed) as exc:
        rt.records.update(clerk, "sales_order", rec["id"], {"status": "approved", "total": "1", "number": "X"}, version=1)
    assert {e.field for e in exc.value.errors} == {"status", "total", "number"}
    # sending back what was read is fine
    ok = rt.records.update(clerk, "sales_order", rec["id"], {"status": "draft", "total": "236.50", "number": rec["number"], "notes": "n"}, version=1)
    assert ok["notes"] == "n"


def test_unique_field(rt, clerk):
    seed_basics(rt, clerk)
    with pytest.raises(ValidationFailed) as exc:
        rt.records.create(clerk, "customer", {"code": "C001", "name": "Again", "region": "west"})
    assert exc.value.errors[0].field == "code" and "unique" in exc.value.errors[0].message


def test_delete_refused_while_referenced_then_allowed(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    with pytest.raises(Conflict) as exc:
        rt.records.delete(clerk, "product", ids["p1"])
    assert "Order line" in exc.value.detail
    rt.records.delete(clerk, "sales_order", rec["id"], version=1)
    with pytest.raises(NotFound):
        rt.records.get(clerk, "sales_order", rec["id"])
    rt.records.delete(clerk, "product", ids["p1"])
    assert [h["action"] for h in rt.records.history(clerk, "sales_order", rec["id"])] == ["create", "delete"]


def test_entity_rule_and_pattern(rt, clerk):
    with pytest.raises(ValidationFailed) as exc:
        rt.records.create(clerk, "product", {"code": "P9", "name": "X", "list_price": "10", "minimum_price": "20", "category": "machine"})
    assert exc.value.errors[0].field == "minimum_price"
    with pytest.raises(ValidationFailed) as exc:
        rt.records.create(clerk, "customer", {"code": "lower case", "name": "X", "region": "east"})
    assert "format" in exc.value.errors[0].message


def test_unicode_round_trip(rt, clerk):
    name = "上海恒力泵业 — Северсталь 🚀 <script>alert(1)</script> ' OR 1=1 --"
    rec = rt.records.create(clerk, "customer", {"code": "C-UNI", "name": name, "region": "east"})
    assert rt.records.get(clerk, "customer", rec["id"])["name"] == name


def test_audit_chain_verifies_and_detects_tampering(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    rt.records.update(clerk, "sales_order", rec["id"], {"notes": "x"}, version=1)
    with rt.db.read() as conn:
        result = audit.verify(conn, rt.schema)
    assert result.ok and result.checked == 6
    a = rt.schema.audit
    with rt.db.write() as conn:
        conn.execute(a.update().where(a.c.id == 3).values(changes='{"fields":{}}'))
    with rt.db.read() as conn:
        result = audit.verify(conn, rt.schema)
    assert not result.ok and "entry 3" in result.message


def test_audit_detects_removed_last_entry(rt, clerk):
    seed_basics(rt, clerk)
    a = rt.schema.audit
    with rt.db.write() as conn:
        last = conn.execute(select(func.max(a.c.id))).scalar()
        conn.execute(a.delete().where(a.c.id == last))
    with rt.db.read() as conn:
        assert not audit.verify(conn, rt.schema).ok


def test_paths_are_recorded(rt, clerk):
    rec = rt.records.create(clerk.through("import"), "warehouse", {"code": "W1", "name": "W", "region": "east"})
    assert rt.records.history(clerk, "warehouse", rec["id"])[0]["via"] == "import"


def test_user_field_and_link_existence(dbs, tmp_path):
    app = tmp_path / "app"
    (app / "entities").mkdir(parents=True)
    (app / "entities" / "task.yaml").write_text(
        "name: task\nfields:\n  title: {type: string, required: true}\n  assignee: {type: user}\n"
        "  due: {type: datetime}\n  data: {type: json}\n  site: {type: url}\n", encoding="utf-8")
    rt = dbs.runtime(str(app))
    actor = make_user(rt, "alice")
    with pytest.raises(ValidationFailed) as exc:
        rt.records.create(actor, "task", {"title": "t", "assignee": 999, "due": "2026-01-01T10:00", "site": "javascript:alert(1)"})
    assert {e.field for e in exc.value.errors} == {"assignee", "due", "site"}
    rec = rt.records.create(actor, "task", {"title": "t", "assignee": actor.id, "due": "2026-01-01T10:00:00+08:00", "data": {"a": [1, "二"]}})
    assert rec["due"].isoformat() == "2026-01-01T02:00:00+00:00"
    assert rec["data"] == {"a": [1, "二"]}


def test_demo_plugin_fills_the_regions_warehouse(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", order(ids))
    assert rec["delivery_warehouse"] == ids["warehouse"]  # customer and warehouse are both "east"
    west = rt.records.create(clerk, "warehouse", {"code": "WH-W", "name": "West", "region": "west"})
    chosen = rt.records.create(clerk, "sales_order", order(ids, delivery_warehouse=west["id"]))
    assert chosen["delivery_warehouse"] == west["id"]  # an explicit choice is kept


def test_quick_search_index_follows_writes(rt, clerk):
    def found(q):
        return [r["code"] for r in rt.records.list(clerk, "customer", ListQuery(q=q))["items"]]
    a = rt.records.create(clerk, "customer", {"code": "Q1", "name": 'Ural "Metall" Werk', "region": "east"})
    rt.records.create(clerk, "customer", {"code": "Q2", "name": "Уральский завод", "region": "west"})
    assert found('"metall"') == ["Q1"] and found("урал") == ["Q2"] and found("ur") == ["Q1"]
    rt.records.update(clerk, "customer", a["id"], {"name": "Baltic Works"}, version=1)
    assert found("metall") == [] and found("baltic") == ["Q1"]
    rt.records.delete(clerk, "customer", a["id"])
    assert found("baltic") == []


def test_immutable_once_set_keeps_its_first_value(dbs, tmp_path):
    from engine.core.actor import SYSTEM
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "contract.yaml").write_text(
        "name: contract\nfields:\n  title: {type: string}\n  signed_at: {type: datetime, immutable_once_set: true}\n", encoding="utf-8")
    rt = dbs.runtime(str(tmp_path))
    c = rt.records.create(SYSTEM, "contract", {"title": "Frame agreement"})
    c = rt.records.update(SYSTEM, "contract", c["id"], {"signed_at": "2026-11-02T10:15:00+08:00"}, version=c["version"])
    assert c["signed_at"] is not None
    c = rt.records.update(SYSTEM, "contract", c["id"], {"title": "Frame agreement 2027"}, version=c["version"])  # other fields still change
    with pytest.raises(ValidationFailed) as exc:
        rt.records.update(SYSTEM, "contract", c["id"], {"signed_at": "2026-11-03T10:15:00+08:00"}, version=c["version"])
    assert exc.value.errors[0].field == "signed_at" and "can never change" in exc.value.errors[0].message
