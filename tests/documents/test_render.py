"""Printed documents: the demo's order confirmation and its contract (domestic or export, chosen by
a condition) come out as PDFs whose text is the order as its reader may see it, in the reader's
language - a hidden field never prints; a record out of scope is a 404; each print is audited;
a template loads nothing from the network or from elsewhere on disk; a missing template stops the
metadata from loading with file and line."""
import shutil
import subprocess

import pytest
from sqlalchemy import select

from engine.metadata.codes import MetadataInvalid
from engine.metadata.loader import load_app
from tests.apps import write_app
from tests.conftest import api_as, make_user
from tests.orders import new_order

assert shutil.which("pdftotext"), "the document tests read PDFs with pdftotext: apt-get install -y poppler-utils (.ci/run does)"


def text_of(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode("utf-8")
    return " ".join(out.split())



def test_the_order_confirmation_prints_the_order_in_the_readers_language(rt, people, client):
    order = new_order(rt, people, price="1234.50")
    rep = api_as(client, "rep")
    r = rep.get(f"/api/v1/sales_order/{order['id']}/document/confirmation.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert r.headers["content-disposition"].startswith("inline;") and f"{order['number']}%20Order%20confirmation.pdf" in r.headers["content-disposition"]
    text = text_of(r.content)
    assert f"Order confirmation {order['number']}" in text and "East Pumps" in text and "Pump" in text and "2,469.00" in text
    assert text.endswith("1/1")  # page numbers
    zh = text_of(rep.get(f"/api/v1/sales_order/{order['id']}/document/confirmation.pdf?lang=zh").content)
    assert f"订单确认书 {order['number']}" in zh and "客户" in zh
    ru = text_of(rep.get(f"/api/v1/sales_order/{order['id']}/document/confirmation.pdf", headers={"Accept-Language": "ru"}).content)
    assert f"Подтверждение заказа {order['number']}" in ru and "2 469,00" in ru
    a = rt.schema.audit
    with rt.db.read() as conn:
        printed = conn.execute(select(a.c.action, a.c.actor).where(a.c.entity == "sales_order", a.c.record_id == order["id"], a.c.action == "print")).all()
    assert [tuple(p) for p in printed] == [("print", "rep")] * 3


def test_the_contract_template_is_chosen_by_the_order(rt, people, client, clerk):
    domestic = new_order(rt, people)
    rep = api_as(client, "rep")
    text = text_of(rep.get(f"/api/v1/sales_order/{domestic['id']}/document/contract.pdf").content)
    assert "Domestic sales contract" in text and "Export sales contract" not in text
    export = rt.records.create(people["rep"], "sales_order", {"customer": people["customer"], "category": "export", "customs_declaration_no": "CD-77", "incoterms": "FOB",
                                                              "lines": [{"product": people["product"], "quantity": 1, "unit_price": "10.00"}]})
    text = text_of(rep.get(f"/api/v1/sales_order/{export['id']}/document/contract.pdf").content)
    assert "Export sales contract" in text and "CD-77" in text and "FOB" in text
    zh = text_of(rep.get(f"/api/v1/sales_order/{domestic['id']}/document/contract.pdf?lang=zh").content)
    assert "购销合同" in zh and "需方" in zh


def test_scope_and_bad_names_are_answered_like_any_read(rt, people, client):
    order = new_order(rt, people)
    other = api_as(client, "other")
    assert other.get(f"/api/v1/sales_order/{order['id']}/document/confirmation.pdf").status_code == 404
    rep = api_as(client, "rep")
    r = rep.get(f"/api/v1/sales_order/{order['id']}/document/invoice.pdf")
    assert r.status_code == 404 and "documents: confirmation, contract" in r.json()["detail"]


SHOP = {
    "app.yaml": "name: shop\nlabel: Shop\nlanguages: [en]\n",
    "entities/offer.yaml": """\
        name: offer
        documents:
          - name: sheet
            label: Offer sheet
            template: documents/sheet.html
        fields:
          title: {type: string, required: true}
          margin: {type: decimal, scale: 2}
        """,
    "roles.yaml": """\
        roles:
          boss:
            admin: true
            permissions:
              "*": all
          seller:
            permissions:
              offer: {read: own, create: own, update: own}
            fields:
              offer: {margin: hidden}
        """,
    "documents/sheet.html": """\
        <html><body><h1>{{ record.title }}</h1><p>Margin: {{ value("margin") }}|{{ record.margin }}</p>
        <img src="https://example.com/track.png"><img src="file:///etc/hostname"></body></html>
        """,
}


def test_a_hidden_field_never_prints_and_a_template_reaches_nothing_outside(dbs, tmp_path):
    from engine.core.formats import Formatter
    from engine.documents.render import render
    rt = dbs.runtime(write_app(tmp_path / "shop", SHOP))
    seller = make_user(rt, "seller", roles=("seller",))
    boss = make_user(rt, "boss", roles=("boss",))
    offer = rt.records.create(boss, "offer", {"title": "Pumps for Kazan", "margin": "18.50"})
    with rt.db.write() as conn:
        conn.execute(rt.schema.tables["offer"].update().values(owner=seller.id))
    seen = text_of(render(rt.records, seller, "offer", offer["id"], "sheet", "en", Formatter("en"))[0])
    assert "Pumps for Kazan" in seen and "18.50" not in seen and "Margin: |" in seen
    assert "18.50" in text_of(render(rt.records, boss, "offer", offer["id"], "sheet", "en", Formatter("en"))[0])


def test_a_missing_template_stops_the_metadata_with_file_and_line(tmp_path):
    files = {k: v for k, v in SHOP.items() if k != "documents/sheet.html"}
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "broken", files))
    said = "\n".join(p.format() for p in e.value.problems)
    assert "entities/offer.yaml:5" in said and "E051" in said and "documents/sheet.html" in said
    files["entities/offer.yaml"] = files["entities/offer.yaml"].replace("documents/sheet.html", "../../etc/passwd")
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "escape", files))
    assert "E051" in "\n".join(p.format() for p in e.value.problems)


def test_a_template_that_does_not_compile_stops_the_metadata_not_the_print(tmp_path):
    files = dict(SHOP)
    files["documents/sheet.html"] = "<h1>{{ record.title }}</h1>\n<p>{% if record.margin %}{{ record.margin }}</p>\n"
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "broken", files))
    said = "\n".join(p.format() for p in e.value.problems)
    assert "entities/offer.yaml:5" in said and "E052" in said
    assert "documents/sheet.html:2: Unexpected end of template" in said and "endif" in said  # the template's own line, and what is missing
