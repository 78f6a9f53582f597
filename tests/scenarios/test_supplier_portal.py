"""Supplier management (DOMAIN C, tests/scenarios/supplier_portal): a supplier registers on the public form (once:
the same tax number again is refused), purchasing reviews it twice, and approval creates the supplier's portal
account (`create_portal_user`) and e-mails the invitation in the contact's language; the supplier sets a password,
sees only its own purchase orders - without our target cost - and confirms one with its delivery date. A deactivated
supplier's contact is shut out."""
import re
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.records.listing import ListQuery
from engine.server import create_app
from engine.workflow import transitions
from tests.conftest import _who, make_user
from tests.connectors.test_email import Inbox, free_port
from tests.html import visible_text
from tests.invitations.test_service import body_of
from tests.web.test_pages import SECRET, csrf

APP = str(Path(__file__).parent / "supplier_portal")


@pytest.fixture
def srm(dbs, monkeypatch):
    port = free_port()
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    monkeypatch.setenv("ENGINE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("ENGINE_SMTP_FROM", "purchasing@example.com")
    monkeypatch.setenv("ENGINE_PUBLIC_URL", "http://testserver")
    rt = dbs.runtime(APP)
    adapters = registry(rt.records.plugin_manager)
    yield rt, inbox, lambda: deliveries.send_due(rt.records, adapters)
    server.stop()


def test_a_supplier_registers_is_approved_and_confirms_its_purchase_order(srm):
    rt, inbox, send = srm
    buyer = make_user(rt, "buyer", roles=("purchasing",))
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        page = web.get("/forms/supplier_registration?lang=en")
        form = {"csrf_token": csrf(page.text), "name": "Tula Castings", "tax_number": "7107000123", "contact_name": "Pavel Orlov",
                "contact_email": "pavel@tula-castings.example.com", "language": "ru", "products": "Cast iron housings"}
        pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
        exe = web.post("/forms/supplier_registration", data=form, files={"documents": ("papers.exe", b"MZ\x90\x00", "application/octet-stream")})
        assert exe.status_code == 422 and "Choose the file again" in visible_text(exe.text)  # not a kind of file it takes
        sent = web.post("/forms/supplier_registration", data=form, files={"documents": ("registration.pdf", pdf, "application/pdf")})
        assert sent.status_code == 200 and "Purchasing reviews your registration" in visible_text(sent.text)
        again = web.post("/forms/supplier_registration", data={**form, "name": "Tula Castings Two"})
        assert again.status_code == 422 and "a supplier with this tax number is already registered" in visible_text(again.text)
        supplier = rt.records.list(buyer, "supplier", ListQuery())["items"][0]
        assert supplier["status"] == "registered" and supplier["owner"] is None
        papers = rt.files.get(buyer, supplier["documents"])  # the document came with it, kept as the record's file field
        assert papers["name"] == "registration.pdf" and papers["field"] == "documents"
        other = rt.records.create(buyer, "supplier", {"name": "Other Metals", "tax_number": "7107000999", "contact_name": "Ann",
                                                      "contact_email": "ann@other-metals.example.com"})
        ours = rt.records.create(buyer, "purchase_order", {"supplier": supplier["id"], "item": "Pump housing", "quantity": "40",
                                                           "price": "310.00", "target_cost": "280.00"})
        theirs = rt.records.create(buyer, "purchase_order", {"supplier": other["id"], "item": "Flange", "quantity": "200"})
        transitions.fire(rt.records, buyer, "supplier", supplier["id"], "first_review")
        transitions.fire(rt.records, buyer, "supplier", supplier["id"], "approve")
        contact = _who(rt, "pavel")
        assert contact.party == supplier["id"] and contact.roles == frozenset({"supplier_contact"})
        send()
        mail = next(m for m in inbox.got if m.rcpt_tos == ["pavel@tula-castings.example.com"])
        text = body_of(mail)
        assert "Здравствуйте, Pavel Orlov" in text  # in the contact's language
        link = re.search(r"http://testserver(/welcome/[A-Za-z0-9_-]+)", text).group(1)
        welcome = web.get(link)
        done = web.post(link, data={"csrf_token": csrf(welcome.text), "password": "castings-2027", "again": "castings-2027"}, follow_redirects=True)
        assert done.url.path == "/portal"
        shown = visible_text(web.get("/portal?lang=en").text)
        assert ours["number"] in shown and theirs["number"] not in shown and "Please confirm the order" in shown
        order = web.get(f"/portal/purchase_order/{ours['id']}?lang=en")
        assert "Pump housing" in visible_text(order.text) and "280" not in visible_text(order.text)  # not our target cost
        assert web.get(f"/portal/purchase_order/{theirs['id']}").status_code == 404
        confirmed = web.post(f"/portal/purchase_order/{ours['id']}/transitions/confirm", data={
            "csrf_token": csrf(order.text), "_version": ours["version"], "input_delivery_date": "2027-02-01"}, follow_redirects=False)
        assert confirmed.status_code == 303
        after = rt.records.get(buyer, "purchase_order", ours["id"])
        assert after["status"] == "confirmed" and str(after["delivery_date"]) == "2027-02-01"
        now = rt.records.get(buyer, "supplier", supplier["id"])
        rt.records.update(buyer, "supplier", supplier["id"], {"active": False}, version=now["version"])
        assert web.get("/portal", follow_redirects=False).headers["location"].startswith("/login")  # a deactivated supplier


def test_a_contact_invited_before_approval_is_not_made_twice(srm):
    rt, _, _ = srm
    buyer = make_user(rt, "buyer", roles=("purchasing",))
    s = rt.records.create(buyer, "supplier", {"name": "Kaluga Wire", "tax_number": "4027000111", "contact_name": "Ira",
                                              "contact_email": "ira@kaluga-wire.example.com"})
    assert s["status"] == "potential"  # entered by purchasing: no first review needed
    rt.invitations.invite(buyer, "supplier", s["id"], "IRA@kaluga-wire.example.com", "Ira", "en", "http://testserver")
    transitions.fire(rt.records, buyer, "supplier", s["id"], "approve")  # the contact exists already: no second account
    u = rt.schema.user
    with rt.db.read() as conn:
        assert len(conn.execute(u.select().where(u.c.party == s["id"])).all()) == 1
