"""The portal without a browser: a customer's contact sees their own company's orders and nobody else's, places an
order that lands with the customer's rep, cannot reach the back office, and is shut out when the customer is
deactivated; the API answers them with the same scope."""
import re

import pytest
from sqlalchemy import select

from tests.conftest import _who
from tests.html import visible_text
from tests.web.test_pages import csrf, sign_in


def orders_of(rt, username):
    from engine.records.listing import ListQuery
    return rt.records.list(_who(rt, username), "sales_order", ListQuery(limit=500))["items"]


def test_a_contact_sees_only_their_companys_orders(site, web):
    east, west = _who(site, "client_east"), _who(site, "client_west")
    assert east.party != west.party
    mine = orders_of(site, "client_east")
    assert mine and {o["customer"] for o in mine} == {east.party}
    assert "credit_limit" not in mine[0] and "erp_number" not in mine[0]  # internal fields never reach them
    assert sign_in(web, "client_east").headers["location"] == "/"
    home = web.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/portal"  # the back office sends them to the portal
    page = web.get("/portal?lang=en")
    shown = visible_text(page.text)
    assert page.status_code == 200 and "Sunrise Valves" in shown
    numbers = set(re.findall(r"SO-\d{4}-\d{5}", shown))
    assert numbers == {o["number"] for o in mine}
    theirs = orders_of(site, "client_west")[0]
    missing = web.get(f"/portal/sales_order/{theirs['id']}")
    assert missing.status_code == 404  # another company's order: not there
    assert "/notifications/bell" not in missing.text and 'href="/customer"' not in missing.text and 'href="/portal"' in missing.text
    one = web.get(f"/portal/sales_order/{mine[0]['id']}?lang=en")
    assert one.status_code == 200 and mine[0]["number"] in visible_text(one.text) and "Credit limit" not in visible_text(one.text)
    assert re.search(r"<title>(.*?)</title>", one.text, re.S).group(1).strip() == f"{mine[0]['number']} · Sales orders"
    for path in ("/sales_order", f"/sales_order/{mine[0]['id']}", "/customer", "/reports", "/dashboard", "/settings/users",
                 "/notifications", "/account", f"/sales_order/{mine[0]['id']}/document/confirmation.pdf"):
        r = web.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/portal", path
    refused = web.post(f"/sales_order/{mine[0]['id']}/comments", data={"csrf_token": csrf(page.text), "body": "hi"}, follow_redirects=False)
    assert refused.status_code == 403


def test_a_contact_places_an_order_that_lands_with_their_rep(site, web):
    sign_in(web, "client_east")
    form = web.get("/portal/sales_order/new?lang=en")
    assert form.status_code == 200
    shown = visible_text(form.text)
    assert "Unit price" not in shown and "Customer" not in re.sub(r"your last order", "", shown)  # the price is filled; the customer is theirs
    products = re.findall(r'<option value="(\d+)"', form.text.split('name="lines-0-product"')[1].split("</select>")[0])
    assert len(products) == 50
    west = _who(site, "client_west")
    sent = web.post("/portal/sales_order/new", data={"csrf_token": csrf(form.text), "requested_delivery_date": "2027-02-15",
                                                     "customer": str(west.party),  # a forged party is ignored: it is always theirs
                                                     "lines-0-product": products[0], "lines-0-quantity": "3",
                                                     "lines-0-unit_price": "0.01"}, follow_redirects=False)
    assert sent.status_code == 303, visible_text(sent.text)
    rid = int(sent.headers["location"].rsplit("/", 1)[1])
    order = site.records.get(_who(site, "rep_east1"), "sales_order", rid)  # the customer's rep owns it and sees it
    east = _who(site, "client_east")
    assert order["customer"] == east.party and order["owner"] == _who(site, "rep_east1").id and order["created_by"] == east.id
    assert order["lines"][0]["unit_price"] > 1  # the catalogue's price, not what the page sent
    n = site.schema.notification
    with site.db.read() as conn:
        told = [m for (m,) in conn.execute(select(n.c.message).where(n.c.user_id == order["owner"], n.c.record_id == rid))]
    assert any(f"Li Wei of Sunrise Valves placed sales order {order['number']} on the portal" in m for m in told)  # the rep hears of it
    page = web.get(sent.headers["location"] + "?lang=en")
    assert "Your sales rep is completing the order" in visible_text(page.text)
    bad = web.post("/portal/sales_order/new", data={"csrf_token": csrf(form.text), "lines-0-product": products[0], "lines-0-quantity": "-2"})
    assert bad.status_code == 422 and "Lines 1: Quantity" in visible_text(bad.text)


def test_a_contact_of_a_deactivated_customer_is_shut_out(site, web):
    rep = _who(site, "rep_west1")
    west = _who(site, "client_west")
    cust = site.records.get(rep, "customer", west.party)
    sign_in(web, "client_west")
    assert web.get("/portal").status_code == 200
    token = web.post("/api/v1/auth/token", json={"username": "client_west", "password": "demo"}).json()["token"]
    api = {"Authorization": f"Bearer {token}"}
    listed = web.get("/api/v1/sales_order?limit=200", headers=api).json()["items"]
    assert listed and {o["customer"] for o in listed} == {west.party}  # the API: the same scope
    assert web.get("/api/v1/events", headers=api).status_code == 403
    site.records.update(_who(site, "manager"), "customer", cust["id"], {"active": False}, version=cust["version"])
    try:
        assert web.get("/portal", follow_redirects=False).headers["location"].startswith("/login")
        assert web.get("/api/v1/sales_order", headers=api).status_code == 401
    finally:
        now = site.records.get(rep, "customer", west.party)
        site.records.update(_who(site, "manager"), "customer", cust["id"], {"active": True}, version=now["version"])


def test_staff_on_the_portal_go_back_to_the_back_office(web):
    sign_in(web, "rep_east1")
    assert web.get("/portal", follow_redirects=False).headers["location"] == "/"


def test_a_contact_withdraws_a_draft_and_the_rep_hears_of_it(site, web):
    from sqlalchemy import select
    sign_in(web, "client_east")
    draft = next(o for o in orders_of(site, "client_east") if o["status"] == "draft")
    page = web.get(f"/portal/sales_order/{draft['id']}?lang=en")
    shown = visible_text(page.text)
    assert "Withdraw the order" in shown and "Submit for review" not in shown  # only what the workflow gives their role
    empty = web.post(f"/portal/sales_order/{draft['id']}/transitions/withdraw", data={"csrf_token": csrf(page.text), "_version": draft["version"]})
    assert empty.status_code == 422 and "Why" in visible_text(empty.text)  # the reason is required: said on the page
    done = web.post(f"/portal/sales_order/{draft['id']}/transitions/withdraw",
                    data={"csrf_token": csrf(page.text), "_version": draft["version"], "input_reason": "We ordered twice"}, follow_redirects=False)
    assert done.status_code == 303
    after = site.records.get(_who(site, "rep_east1"), "sales_order", draft["id"])
    assert after["status"] == "cancelled" and after["cancel_reason"] == "We ordered twice"
    n = site.schema.notification
    with site.db.read() as conn:
        told = conn.execute(select(n.c.user_id, n.c.message).where(n.c.record_id == draft["id"])).all()
    assert any(uid == after["owner"] and "We ordered twice" in str(msg) for uid, msg in told)
    refused = web.post(f"/portal/sales_order/{draft['id']}/transitions/submit", data={"csrf_token": csrf(page.text)})
    assert refused.status_code in (403, 409) and site.records.get(_who(site, "rep_east1"), "sales_order", draft["id"])["status"] == "cancelled"


def test_who_may_be_a_contact_of_a_party(site):
    from engine.core.actor import SYSTEM
    from engine.core.errors import ValidationFailed
    east = _who(site, "client_east")

    def refused(**kw):
        with pytest.raises(ValidationFailed) as exc:
            site.accounts.create(SYSTEM, kw.pop("username", "someone"), "demo-pass", **kw)
        return " ".join(f"{e.field}: {e.message}" for e in exc.value.errors)
    assert "needs their party" in refused(roles=["client"])
    assert "no customer with id 999999" in refused(roles=["client"], party=999999)
    assert "back-office roles" in refused(roles=["client", "sales_rep"], party=east.party)
    assert "only a portal user" in refused(roles=["sales_rep"], party=east.party)
    uid = site.accounts.create(SYSTEM, "buyer_two", "demo-pass", ["client"], party=east.party)  # a second contact of the same customer
    assert site.accounts.get(SYSTEM, uid)["party"] == east.party
    with pytest.raises(ValidationFailed):
        site.accounts.update(SYSTEM, uid, roles=["sales_rep"])  # no back-office role for a contact while they keep their party


def test_a_contact_keeps_their_own_account(site, web):
    sign_in(web, "client_east")
    page = web.get("/portal/account?lang=en")
    assert page.status_code == 200 and "buyer@sunrise-valves.example.com" in visible_text(page.text)
    saved = web.post("/portal/account", data={"csrf_token": csrf(page.text), "what": "settings", "language": "zh"}, follow_redirects=False)
    assert saved.status_code == 303 and _who(site, "client_east").language == "zh"
    with site.db.read() as conn:
        u = site.schema.user
        assert conn.execute(select(u.c.channels).where(u.c.username == "client_east")).scalar() == {"email": False}  # box left unticked
    wrong = web.post("/portal/account", data={"csrf_token": csrf(page.text), "what": "password", "current_password": "nope",
                                              "password": "new-pass-1", "again": "new-pass-1"})
    assert wrong.status_code == 422
    ok = web.post("/portal/account", data={"csrf_token": csrf(page.text), "what": "password", "current_password": "demo",
                                           "password": "new-pass-1", "again": "new-pass-1"}, follow_redirects=False)
    assert ok.status_code == 303 and web.get("/portal").status_code == 200  # this device stays signed in
    from engine.core.actor import SYSTEM
    site.accounts.reset_password(SYSTEM, _who(site, "client_east").id, "demo-demo")
    site.accounts.set_notice_settings(_who(site, "client_east"), "buyer@sunrise-valves.example.com", "", {"email": True})
    site.accounts.set_language(_who(site, "client_east"), "")


def test_a_contact_cannot_set_their_own_price_through_the_api(site, web):
    east = _who(site, "client_east")
    token = web.post("/api/v1/auth/token", json={"username": "client_east", "password": "demo-demo"}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    product = web.get("/api/v1/product?limit=1", headers=h).json()["items"][0]
    cheap = web.post("/api/v1/sales_order", headers=h, json={"customer": east.party, "lines": [
        {"product": product["id"], "quantity": "1", "unit_price": "0.01"}]})
    assert cheap.status_code == 422 and cheap.json()["errors"][0]["field"] == "lines[0].unit_price"  # a read-only line field
    fair = web.post("/api/v1/sales_order", headers=h, json={"customer": east.party, "lines": [{"product": product["id"], "quantity": "1"}]})
    assert fair.status_code == 201 and float(fair.json()["lines"][0]["unit_price"]) == float(product["list_price"])


def test_an_administrator_makes_a_contact_in_settings(site, web):
    sign_in(web, "admin")
    page = web.get("/settings/users/new?lang=en")
    assert "Party (portal users only)" in visible_text(page.text)
    east = _who(site, "client_east")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    missing = web.post("/settings/users/new", data={"csrf_token": token, "username": "li.na", "password": "li-na-2027", "roles": "client"})
    assert missing.status_code == 422 and "needs their party" in visible_text(missing.text)
    made = web.post("/settings/users/new", data={"csrf_token": token, "username": "li.na", "password": "li-na-2027", "roles": "client",
                                                 "party": str(east.party)}, follow_redirects=False)
    assert made.status_code == 303 and _who(site, "li.na").party == east.party
