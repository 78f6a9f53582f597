"""CSV exports through the API and the list screen: text cells that a spreadsheet would run as a
formula are neutralised (OWASP: a leading =, +, -, @, tab or carriage return, also after
leading spaces or a line break, gets a quote in front) while numbers stay numbers; column
headers are the labels in force, an administrator's relabel in the form designer included."""
import copy
import csv
import io
import re

import pytest
from starlette.testclient import TestClient

from engine.core.actor import SYSTEM
from engine.forms import designer
from engine.metadata import overlay as ov
from engine.server import create_app
from tests.apps import write_app
from tests.conftest import make_user
from tests.web.test_pages import SECRET, sign_in

HOSTILE = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\t=tab", "\r=carriage return", "   =after spaces", "\n=after a line break",
           " \n @after both", "＝full width"]
HARMLESS = ["plain text", "a=b", "2+3", "  spaced", "'quoted"]


def _app(tmp_path) -> str:
    return write_app(tmp_path, {
        "entities/party.yaml": """
        name: party
        title_field: name
        fields:
          name: {type: string, required: true}
        """,
        "entities/note.yaml": """
        name: note
        title_field: title
        fields:
          title: {type: string, required: true}
          body: {type: text}
          amount: {type: decimal, scale: 2}
          pieces: {type: integer}
          kind: {type: select, options: [{value: risky, label: "=HYPERLINK(1)"}, {value: fine, label: Fine}]}
          party: {type: link, entity: party}
        """,
    })


def rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


@pytest.fixture
def hostile(dbs, tmp_path):
    rt = dbs.runtime(_app(tmp_path))
    make_user(rt, "clerk", roles=("admin",))
    party = rt.records.create(SYSTEM, "party", {"name": '=HYPERLINK("http://evil.example","click")'})
    stored = []
    for i, text in enumerate(HOSTILE + HARMLESS):
        rec = rt.records.create(SYSTEM, "note", {"title": f"n{i:02d}", "body": text, "amount": "-5.50", "pieces": -3,
                                                 "kind": "risky", "party": party["id"]})
        stored.append(rec["body"])
    return rt, stored


def _check(text: str, stored: list[str]) -> None:
    header, *body = rows(text)
    assert header == ["id", "Title", "Body", "Amount", "Pieces", "Kind", "Party"]
    assert len(body) == len(stored)
    cells = {r[1]: r for r in body}
    for i, value in enumerate(stored):
        row = cells[f"n{i:02d}"]
        expected = "'" + value if i < len(HOSTILE) else value
        assert row[2] == expected, (i, value, row[2])
        assert row[3:5] == ["-5.50", "-3"]  # numbers stay numbers, minus sign and all
        assert row[5] == "'=HYPERLINK(1)"  # an option label is text too
        assert row[6] == '\'=HYPERLINK("http://evil.example","click")'  # and so is a link's title


def test_formula_like_text_is_neutralised_in_the_api_export(hostile):
    rt, stored = hostile
    assert all(s.lstrip()[:1] in "=+-@＝" or s[:1] in "\t\r" for s in stored[:len(HOSTILE)])  # stored as typed
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as c:
        token = c.post("/api/v1/auth/token", json={"username": "clerk", "password": "demo"}).json()["token"]
        r = c.get("/api/v1/note/export.csv?sort=title", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    _check(r.text, stored)


def test_formula_like_text_is_neutralised_in_the_screen_export(hostile):
    rt, stored = hostile
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        assert sign_in(web, "clerk").status_code == 303
        r = web.get("/note/export.csv?sort=title")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    _check(r.text, stored)


def _relabel(rt, field: str, label: dict) -> None:
    """Relabel a field of the sales order form through the designer service, as the admin's screen does."""
    ed = designer.editor(rt, SYSTEM, "sales_order")
    doc = copy.deepcopy(ed.doc)
    for tab in doc["tabs"]:
        for section in tab["sections"]:
            for i, item in enumerate(section["fields"]):
                if ov.field_name(item) == field:
                    section["fields"][i] = {**(item if isinstance(item, dict) else {"field": item}), "label": label}
    assert designer.save(rt, SYSTEM, "sales_order", doc, copy.deepcopy(ed.custom), ed.number) == 1


def test_headers_follow_the_labels_in_force(rt, api, clerk):
    before = rows(api.get("/api/v1/sales_order/export.csv").text)[0]
    assert "Notes" in before and "Remarks" not in before
    _relabel(rt, "notes", {"en": "Remarks", "zh": "备注说明", "ru": "Примечания"})
    assert rows(api.get("/api/v1/sales_order/export.csv").text)[0] == [("Remarks" if h == "Notes" else h) for h in before]
    assert "备注说明" in rows(api.get("/api/v1/sales_order/export.csv?lang=zh").text)[0]
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        sign_in(web, "clerk")
        header = rows(web.get("/sales_order/export.csv", headers={"Accept-Language": "ru"}).text)[0]
    assert "Примечания" in header


def test_the_xlsx_export_has_real_types_only_the_readers_rows_and_no_hidden_columns(rt, clerk, client):
    """GET /api/v1/{entity}/export.xlsx: the rows and columns of the CSV export, as Excel types."""
    import datetime as dt
    import json

    from python_calamine import CalamineWorkbook
    from sqlalchemy import select

    from tests.access.test_permissions import who
    from tests.conftest import seed_basics
    seed = seed_basics(rt, clerk)
    rep = make_user(rt, "rep_xlsx", roles=("sales_rep",))
    rt.accounts.update(clerk, rep.id, attributes={"region": "east"})
    rep = who(rt, "rep_xlsx")
    mine = rt.records.create(rep, "sales_order", {"customer": seed["customer"], "lines": [{"product": seed["p1"], "quantity": 2}],
                                                  "notes": "=HYPERLINK(\"http://evil\")"})
    rt.records.create(clerk, "sales_order", {"customer": seed["customer"], "lines": [{"product": seed["p1"], "quantity": 3}]})
    token = client.post("/api/v1/auth/token", json={"username": "rep_xlsx", "password": "demo"}).json()["token"]
    r = client.get("/api/v1/sales_order/export.xlsx?lang=zh", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert r.headers["content-disposition"].startswith("attachment") and "sales_order.xlsx" in r.headers["content-disposition"]
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0)
    rows = list(sheet.iter_rows())
    header, [row] = rows[0], rows[1:]  # the rep's own order only
    assert header[:3] == ["id", "单号", "客户"] and "成本" not in header
    cell = dict(zip(header, row))
    assert cell["id"] == mine["id"] and cell["客户"] == "Acme Pumps" and isinstance(cell["订单日期"], dt.date)
    assert isinstance(cell["合计"], float) and cell["合计"] == float(mine["total"])
    assert cell["备注"] == "'=HYPERLINK(\"http://evil\")"  # text that looks like a formula stays text
    products = client.get("/api/v1/product/export.xlsx", headers={"Authorization": f"Bearer {token}"})
    assert products.status_code == 403 and products.json()["status"] == 403
    a = rt.schema.audit
    with rt.db.read() as conn:
        entry = conn.execute(select(a.c.changes).where(a.c.action == "export", a.c.actor == "rep_xlsx")).scalar_one()
    assert json.loads(entry)["format"] == "xlsx" and json.loads(entry)["rows"] == 1


def test_the_list_screen_exports_to_excel(rt, clerk):
    from python_calamine import CalamineWorkbook

    from tests.conftest import seed_basics
    seed_basics(rt, clerk)
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        assert sign_in(web).status_code == 303
        page = web.get("/customer?q=Acme")
        form = re.search(r'<form method="get" action="/customer/export.xlsx".*?</form>', page.text, re.S).group(0)
        assert '<input type="hidden" name="q" value="Acme">' in form  # the Export menu keeps the list's filters
        ticked = re.findall(r'name="columns" value="(\w+)" checked', form)
        assert ticked[:3] == ["id", "code", "name"]
        r = web.get("/customer/export.xlsx", params=[("q", "Acme")] + [("columns", c) for c in ticked])
        assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
        rows = list(CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).iter_rows())
        assert rows[0][:3] == ["id", "Code", "Name"] and [row[2] for row in rows[1:]] == ["Acme Pumps"]


def test_chosen_columns_and_one_row_per_line_within_what_the_user_may_see(rt, people, client):
    from python_calamine import CalamineWorkbook

    from tests.orders import new_order
    rep = people["rep"]
    first = new_order(rt, people)
    rt.records.update(rep, "sales_order", first["id"], {"lines": [*first["lines"], {"product": people["product"], "quantity": 5,
                                                                                      "unit_price": "7.50"}]}, version=first["version"])
    new_order(rt, people)
    token = client.post("/api/v1/auth/token", json={"username": "rep", "password": "demo"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/sales_order/export.xlsx?columns=number,customer,lines.product,lines.quantity&per_line=true&sort=id", headers=auth)
    assert r.status_code == 200, r.text
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).to_python()
    assert sheet[0] == ["Number", "Customer", "Lines.Product", "Lines.Quantity"]
    assert [(row[1], row[3]) for row in sheet[1:]] == [("East Pumps", 2), ("East Pumps", 5), ("East Pumps", 2)]  # a row per line, the order's values on each
    assert sheet[1][0] == sheet[2][0] != sheet[3][0]
    csv_text = client.get("/api/v1/sales_order/export.csv?columns=number,total", headers=auth).text
    assert rows(csv_text)[0] == ["Number", "Total"] and len(rows(csv_text)) == 3
    bad = client.get("/api/v1/sales_order/export.csv?columns=number,colour", headers=auth)
    assert bad.status_code == 422 and "colour" in bad.json()["errors"][0]["message"]
    hidden = client.get("/api/v1/product/export.csv?columns=code,cost", headers=auth)  # cost is hidden from reps: as unknown as a made-up name
    assert hidden.status_code in (403, 422) and "cost:" not in hidden.text.split("columns:")[-1]
    assert client.get("/api/v1/sales_order/export.csv?per_line=maybe", headers=auth).status_code == 422
