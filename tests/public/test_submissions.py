"""Public forms without an account: a company registers as a customer at /forms/customer_registration; the record
is saved through the record service inactive, for the region's rep to review; the same name or tax number again is
refused with a clear message and no second record; a bot's trap field saves nothing; one address may send five a
day; fields not on the form are ignored."""
import pytest
from starlette.testclient import TestClient

from engine.core.errors import ValidationFailed
from engine.records.listing import ListQuery
from engine.server import create_app
from tests.conftest import _who
from tests.html import visible_text
from tests.web.test_pages import SECRET, csrf


def customers_named(site, name):
    return site.records.list(_who(site, "manager"), "customer", ListQuery(filters=[("name", "eq", name)]))["items"]


def test_a_company_registers_and_the_regions_rep_sees_it_to_review(site):
    with TestClient(create_app(site, secret_key=SECRET), raise_server_exceptions=False) as anon:
        page = anon.get("/forms/customer_registration?lang=en")
        shown = visible_text(page.text)
        assert page.status_code == 200 and "Become our customer" in shown and "within two working days" in shown
        assert "Tax number" in shown and "Contacts" in shown and "Credit limit" not in shown and "Active" not in shown
        sent = anon.post("/forms/customer_registration", data={
            "csrf_token": csrf(page.text), "name": "Kazan Valve Works", "tax_number": "1655000111", "region": "east",
            "contacts-0-name": "Olga Ivanova", "contacts-0-email": "olga@kazan-valves.example.com",
            "credit_limit": "999999", "active": "true"})  # fields not on the form are ignored
        assert sent.status_code == 200 and "Your registration is with us" in visible_text(sent.text)
        made = customers_named(site, "Kazan Valve Works")
        assert len(made) == 1 and made[0]["active"] is False and str(made[0]["credit_limit"]) in ("0", "0.00") and made[0]["owner"] is None
        assert made[0]["code"] is None  # given when someone activates it
        manager = _who(site, "manager")
        with pytest.raises(ValidationFailed) as exc:
            site.records.update(manager, "customer", made[0]["id"], {"active": True}, version=made[0]["version"])
        assert str(exc.value.errors[0].message) == "An active customer needs a code."
        site.records.update(manager, "customer", made[0]["id"], {"active": True, "code": "C021"}, version=made[0]["version"])
        rep = _who(site, "rep_east1")
        assert site.records.get(rep, "customer", made[0]["id"])["contacts"][0]["email"] == "olga@kazan-valves.example.com"
        again = anon.post("/forms/customer_registration", data={"csrf_token": csrf(page.text), "name": "kazan valve works ",
                                                                "region": "east"})
        assert again.status_code == 422 and "a customer with this name is already registered" in visible_text(again.text)
        taxed = anon.post("/forms/customer_registration", data={"csrf_token": csrf(page.text), "name": "Other Name Ltd",
                                                                "tax_number": "1655000111", "region": "west"})
        assert taxed.status_code == 422 and "a customer with this tax number is already registered" in visible_text(taxed.text)
        assert customers_named(site, "Other Name Ltd") == []
        bot = anon.post("/forms/customer_registration", data={"csrf_token": csrf(page.text), "name": "Spam Inc", "region": "east",
                                                              "website": "http://spam.example.com"})
        assert bot.status_code == 200 and customers_named(site, "Spam Inc") == []  # told it worked; nothing saved
        assert anon.get("/forms/sales_order").status_code == 404 and anon.get("/forms/nothing").status_code == 404
        ru = anon.get("/forms/customer_registration?lang=ru")
        assert "Стать нашим клиентом" in visible_text(ru.text)


def test_one_address_sends_five_a_day(site):
    with TestClient(create_app(site, secret_key=SECRET), raise_server_exceptions=False) as anon:
        page = anon.get("/forms/customer_registration?lang=en")
        codes = [anon.post("/forms/customer_registration", data={"csrf_token": csrf(page.text), "name": f"Daily Co {i}", "region": "west"}).status_code
                 for i in range(6)]
        assert codes[-1] == 429 and codes.count(200) == 4  # one accepted in the test before, four now, then refused
        assert "too many requests" in visible_text(anon.post("/forms/customer_registration", data={
            "csrf_token": csrf(page.text), "name": "Daily Co 9", "region": "west"}).text)
        assert customers_named(site, "Daily Co 5") == []
