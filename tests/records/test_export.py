"""CSV exports through the API and the list screen: text cells that a spreadsheet would run as a
formula are neutralised (OWASP: a leading =, +, -, @, tab or carriage return, also after
leading spaces or a line break, gets a quote in front) while numbers stay numbers; column
headers are the labels in force, an administrator's relabel in the form designer included."""
import copy
import csv
import io

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
