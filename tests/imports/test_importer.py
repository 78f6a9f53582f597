"""Imports through the record service, as the user: customers upserted by code, orders with lines
grouped by a ref column, links matched by name or code within the importer's scope, values written
the way a Russian or Chinese user writes them, a dry run that writes nothing, one error that writes
nothing unless skip_errors, errors as {row, field, message} in the user's language."""
import json
import subprocess
import sys

from sqlalchemy import func, select

from engine.core.actor import SYSTEM
from engine.imports.importer import cell_text, run_import
from engine.imports.sheets import read
from tests.access.test_permissions import who
from tests.conftest import DEMO_APP, ROOT, make_user

CUSTOMERS = "code;name;Регион;Кредитный лимит\nC901;ООО Ромашка;east;1 234,50\nC902;北京机械;west;2000\n"


def count(rt, entity) -> int:
    t = rt.schema.tables[entity] if entity in rt.schema.tables else rt.schema.event
    with rt.db.read() as conn:
        return conn.execute(select(func.count()).select_from(t)).scalar()


def test_customers_are_created_then_updated_by_their_code_and_audited_as_an_import(rt, clerk):
    before = count(rt, "customer")
    r = run_import(rt.records, clerk, "customer", read(CUSTOMERS.encode(), "c.csv"), key="code", lang="ru")
    assert (r["created"], r["updated"], r["unchanged"], r["errors"]) == (2, 0, 0, [])
    assert count(rt, "customer") == before + 2
    [c] = rt.records.list(SYSTEM, "customer", _q("code", "C901"))["items"]
    assert (c["name"], str(c["credit_limit"]), c["region"]) == ("ООО Ромашка", "1234.50", "east")
    again = run_import(rt.records, clerk, "customer", read(CUSTOMERS.replace("2000", "2500").encode(), "c.csv"), key="code")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 1)
    assert again["changes"] == [{"row": 3, "id": again["changes"][0]["id"], "fields": {"credit_limit": ["2000.00", "2500.00"]}}]
    a = rt.schema.audit
    with rt.db.read() as conn:
        vias = conn.execute(select(a.c.via).where(a.c.entity == "customer", a.c.record_id == c["id"])).scalars().all()
    assert vias == ["import"]


def test_a_dry_run_says_what_would_happen_and_writes_nothing(rt, clerk):
    before, events = count(rt, "customer"), count(rt, "sys_event")
    r = run_import(rt.records, clerk, "customer", read(CUSTOMERS.encode(), "c.csv"), key="code", dry_run=True)
    assert (r["dry_run"], r["created"], r["errors"]) == (True, 2, [])
    assert (count(rt, "customer"), count(rt, "sys_event")) == (before, events)


def test_one_bad_row_writes_nothing_unless_skip_errors_and_errors_name_row_and_column(rt, clerk):
    text = "code,name,region\nC911,Good One,east\nbad code!,Bad,east\nC913,,mars\n"
    before = count(rt, "customer")
    r = run_import(rt.records, clerk, "customer", read(text.encode(), "c.csv"), lang="zh")
    assert r["created"] == 0 and count(rt, "customer") == before
    assert {(e["row"], e["field"]) for e in r["errors"]} == {(3, "code"), (4, "name"), (4, "region")}
    assert any(e["row"] == 4 and e["field"] == "region" and "“mars”不是可选项" in e["message"] for e in r["errors"])  # in the user's language
    r = run_import(rt.records, clerk, "customer", read(text.encode(), "c.csv"), skip_errors=True)
    assert r["created"] == 1 and count(rt, "customer") == before + 1 and len(r["errors"]) == 3  # mars is said once: not also "required"


def test_unknown_columns_are_reported_not_dropped(rt, clerk):
    r = run_import(rt.records, clerk, "customer", read(b"code,name,region,colour\nC921,X,east,red\n", "c.csv"))
    assert r["created"] == 0 and r["errors"][0]["row"] == 1 and r["errors"][0]["field"] == "colour"
    assert r["errors"][0]["message"] == "this column is not a field of customer; rename it, or leave it out"
    r = run_import(rt.records, clerk, "customer", read(b"code,name,region,colour\nC921,X,east,red\n", "c.csv"), mapping={"colour": ""})
    assert r["created"] == 1


def test_orders_with_lines_grouped_by_ref_and_links_matched_by_name_or_code(rt, clerk, people):
    rep = people["rep"].through("import")
    text = ("order_ref,customer,Дата заказа,lines.product,lines.quantity,lines.unit_price\n"
            "A,East Pumps,31.03.2026,P1,2,\"100,50\"\n"
            "A,East Pumps,31.03.2026,Pump,3,90\n"
            "B,C1,2026/4/1,P1,1,100\n")
    r = run_import(rt.records, rep, "sales_order", read(text.encode(), "o.csv"), lang="ru")
    assert (r["created"], r["errors"]) == (2, [])
    mine = rt.records.list(rep, "sales_order", _q("owner", str(rep.id)))["items"]
    first = rt.records.get(rep, "sales_order", min(o["id"] for o in mine))
    assert str(first["order_date"]) == "2026-03-31" and [(ln["quantity"], str(ln["unit_price"])) for ln in first["lines"]] == [(2, "100.50"), (3, "90.00")]
    assert first["status"] == "draft" and first["owner"] == rep.id  # new records start in the initial state, owned by the importer


def test_links_outside_the_importers_scope_are_unknown_to_them(rt, clerk, people):
    west = rt.records.create(clerk, "customer", {"code": "W1", "name": "West Mills", "region": "west"})
    rep = people["rep"].through("import")  # an east rep: west customers are outside their read scope
    r = run_import(rt.records, rep, "sales_order", read(b"order_ref,customer,lines.product,lines.quantity\nA,West Mills,P1,1\n", "o.csv"))
    assert r["created"] == 0 and r["errors"] == [{"row": 2, "field": "customer", "message": "no customer 'West Mills' that you may see"}]
    assert west["id"]


def test_cells_are_read_as_people_write_them():
    import datetime as dt
    assert cell_text(45747, "date") == "2025-03-31"  # an Excel serial day
    assert cell_text(dt.datetime(2026, 3, 31, 0, 0), "date") == "2026-03-31"
    assert cell_text("31.03.2026", "date", "ru") == "2026-03-31" and cell_text("2026年3月31日", "date", "zh") == "2026-03-31"
    assert cell_text("3/31/2026", "date", "en") == "2026-03-31" and cell_text("31/03/2026", "date", "ru") == "2026-03-31"
    assert cell_text("1 234,50", "decimal", "ru") == "1234.50" and cell_text("1,234.50", "decimal") == "1234.50"
    assert cell_text(3.0, "integer") == "3" and cell_text(12.5, "decimal") == "12.5" and cell_text(True, "boolean") == "true"
    assert cell_text("   ", "string") is None


def test_the_command_line_imports_as_a_user_and_says_what_happened(dbs, tmp_path):
    url, schema = dbs.new()
    rt = dbs.runtime(DEMO_APP, url, schema)
    make_user(rt, "importer", roles=("admin",))
    f = tmp_path / "customers.csv"
    f.write_text(CUSTOMERS, encoding="utf-8")
    db = dbs.url_with_schema(url, schema)
    run = lambda *a: subprocess.run([sys.executable, str(ROOT / "run.py"), "import", *a, "--db", db, "--app", DEMO_APP],  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    r = run("customer", str(f), "--dry-run", "--key", "code", "--json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "customer: 2 would be created, 0 updated, 0 unchanged (a dry run: nothing was written)"
    assert json.loads(r.stdout.splitlines()[1])["created"] == 2
    r = run("customer", str(f), "--key", "code", "--as", "importer")
    assert r.returncode == 0 and r.stdout.strip() == "customer: 2 were created, 0 updated, 0 unchanged"
    a = rt.schema.audit
    with rt.db.read() as conn:
        assert set(conn.execute(select(a.c.actor).where(a.c.entity == "customer")).scalars()) == {"importer"}
    r = run("customer", str(tmp_path / "nowhere.csv"))
    assert r.returncode == 1 and "there is no file" in r.stderr
    assert who(rt, "importer") is not None


def _q(field, value):
    from engine.records.listing import ListQuery
    return ListQuery(filters=[(field, "eq", value)], limit=50)


def test_the_api_imports_a_file_as_the_tokens_user(rt, clerk, api, client, people):
    files = {"file": ("customers.csv", CUSTOMERS.encode("utf-8"), "text/csv")}
    r = api.post("/api/v1/customer/import?dry_run=true&key=code", files=files)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("dry_run", "created", "updated", "unchanged", "errors")} == \
        {"dry_run": True, "created": 2, "updated": 0, "unchanged": 0, "errors": []}
    r = api.post("/api/v1/customer/import?key=code", files=files)
    assert (r.status_code, r.json()["created"]) == (200, 2)
    bad = api.post("/api/v1/customer/import", files={"file": ("c.csv", b"code,name,region\nbad!,X,mars\n", "text/csv")},
                   headers={"Accept-Language": "ru"})
    assert bad.status_code == 200 and bad.json()["created"] == 0
    assert {e["field"] for e in bad.json()["errors"]} == {"code", "region"} and any("«mars»" in e["message"] for e in bad.json()["errors"])
    assert api.post("/api/v1/customer/import", files={"file": ("x.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "x")}).status_code == 400
    assert api.post("/api/v1/customer/import", data={"nofile": "1"}).status_code == 422
    assert api.post("/api/v1/customer/import?dry_run=perhaps", files=files).json()["errors"][0]["field"] == "dry_run"
    assert client.post("/api/v1/customer/import", files=files).status_code == 401
    assert api.post("/api/v1/no_such_thing/import", files=files).status_code == 404
    assert api.post("/api/v1/customer/import?key=name", files=files).json()["errors"][0]["field"] == "key"
    rep_token = client.post("/api/v1/auth/token", json={"username": "rep", "password": "demo"}).json()["token"]
    r = client.post("/api/v1/customer/import", files=files, headers={"Authorization": f"Bearer {rep_token}"})
    assert r.status_code == 403  # reps may import orders, not customers


def test_a_user_field_is_matched_by_username(dbs, tmp_path):
    from tests.apps import write_app
    app = write_app(tmp_path / "app", {"entities/visit.yaml": """
        name: visit
        title_field: place
        fields:
          place: {type: string, required: true}
          specialist: {type: user}
    """})
    rt = dbs.runtime(app)
    measurer = make_user(rt, "measurer1", roles=("admin",))
    r = run_import(rt.records, SYSTEM, "visit", read(b"place,specialist\nKitchen,measurer1\nHall,measurer1\nAttic,nobody\n", "v.csv"),
                   skip_errors=True)
    assert r["created"] == 2 and r["errors"] == [{"row": 4, "field": "specialist", "message": "no user 'nobody'"}]
    assert {v["specialist"] for v in rt.records.list(SYSTEM, "visit", _q("place", "Kitchen"))["items"]} == {measurer.id}


def test_what_an_import_remembers_is_forgotten_when_it_is_written(rt, clerk, people):
    """An import reads a customer or a product once per file (engine.storage.memo); a write of that
    entity in the meantime - by this file's own records, or by anyone through the record service -
    makes the next row read it again."""
    from engine.storage import memo
    rep = people["rep"].through("import")
    product = rt.records.get(clerk, "product", people["product"])
    # C takes the price the customer last paid, which row B of the same file set; A looked for it before B was written
    text = ("order_ref,customer,order_date,lines.product,lines.quantity,lines.unit_price\n"
            f"A,East Pumps,2026-03-01,{product['code']},1,\n"
            f"B,East Pumps,2026-03-02,{product['code']},1,123.45\n"
            f"C,East Pumps,2026-03-03,{product['code']},1,\n")
    r = run_import(rt.records, rep, "sales_order", read(text.encode(), "o.csv"))
    assert r["created"] == 3, r["errors"]
    latest = max(rt.records.list(rep, "sales_order", _q("owner", str(rep.id)))["items"], key=lambda o: o["id"])
    assert str(rt.records.get(rep, "sales_order", latest["id"])["lines"][0]["unit_price"]) == "123.45"
    # a product's list price changed through the record service while remembering: the next read sees it
    with rt.db.write(), memo.remembering():
        new = rt.records.create(clerk, "customer", {"code": "C8", "name": "Eight", "region": "east"})
        first = rt.records.create(clerk, "sales_order", {"customer": new["id"], "lines": [{"product": product["id"], "quantity": 1}]})
        fresh = rt.records.get(clerk, "product", product["id"])
        rt.records.update(clerk, "product", product["id"], {"list_price": "777.00"}, version=fresh["version"])
        other = rt.records.create(clerk, "customer", {"code": "C9", "name": "Nine", "region": "east"})
        second = rt.records.create(clerk, "sales_order", {"customer": other["id"], "lines": [{"product": product["id"], "quantity": 1}]})
    assert str(second["lines"][0]["unit_price"]) == "777.00" and str(first["lines"][0]["unit_price"]) != "777.00"


def test_a_row_the_database_refuses_is_an_error_and_on_postgresql_stops_the_check(dbs, tmp_path):
    """An import's records share its transaction without a savepoint each (unless skip_errors).
    A statement the database refuses is that row's error; PostgreSQL cannot go on in that
    transaction, so the rows after it are said to be unchecked. Nothing is written either way."""
    from tests.apps import write_app
    app = write_app(tmp_path / "app", {
        "app.yaml": "name: things\nlabel: Things\nlanguages: [en]\nplugins_dir: plugins\n",
        "entities/thing.yaml": "name: thing\ntitle_field: name\nfields:\n  name: {type: string, required: true}\n",
        "plugins/boom.py": """
            from sqlalchemy import text

            from engine.events.hooks import hookimpl


            @hookimpl
            def before_create(entity, values, actor, conn):
                if values.get("name", "").startswith("boom"):  # a statement the database refuses the second time: the key is taken
                    conn.execute(text("INSERT INTO sys_series (key, last) VALUES ('boom', 1)"))
        """})
    rt = dbs.runtime(app)
    sheet = read(b"name\nalpha\nboom one\nboom two\ngamma\n", "t.csv")
    r = run_import(rt.records, SYSTEM, "thing", sheet)
    assert r["created"] == 0 and r["errors"][0]["row"] == 4 and r["errors"][0]["message"].startswith("the database refused this row")
    if dbs.dialect == "postgresql":
        assert [e["message"] for e in r["errors"][1:]] == ["the rows after this one were not checked: fix this row and import the file again"]
    else:
        assert len(r["errors"]) == 1  # SQLite goes on: gamma was checked
    assert count(rt, "thing") == 0
    kept = run_import(rt.records, SYSTEM, "thing", sheet, skip_errors=True)  # each record a savepoint: only boom two is left out
    assert kept["created"] == 3 and [e["row"] for e in kept["errors"]] == [4] and count(rt, "thing") == 3
