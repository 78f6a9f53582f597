"""The generated screens through the ASGI client: sign-in, CSRF, lists, records, forms, errors,
languages. Browser behaviour (typing, htmx, two windows) is in tests/browser/."""
import re

import pytest
from starlette.testclient import TestClient

from engine.server import create_app
from tests.conftest import make_user, seed_basics

SECRET = "test-secret-" + "x" * 32


@pytest.fixture
def web(rt):
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as c:
        yield c


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(web, username="clerk", password="demo"):
    page = web.get("/login")
    return web.post("/login", data={"username": username, "password": password, "csrf_token": csrf(page.text), "next": "/"},
                    follow_redirects=False)


@pytest.fixture
def signed_in(web, rt, clerk):
    r = sign_in(web)
    assert r.status_code == 303
    return web


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(web, clerk):
    assert web.get("/sales_order", follow_redirects=False).headers["location"] == "/login?next=/sales_order"
    bad = sign_in(web, password="nope")
    assert bad.status_code == 401 and "Wrong username or password." in bad.text
    ok = sign_in(web)
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert web.get("/").status_code == 200
    home = web.get("/")
    assert "set-cookie" not in home.headers  # an unchanged session is not signed and sent again
    out = web.post("/logout", data={"csrf_token": csrf(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert web.get("/", follow_redirects=False).status_code == 303


def test_open_redirect_after_sign_in_is_refused(web, clerk):
    page = web.get("/login")
    r = web.post("/login", data={"username": "clerk", "password": "demo", "csrf_token": csrf(page.text),
                                 "next": "//evil.example.com/"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_csrf_is_required_on_every_post(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    for url, data in (("/sales_order/new", {"_fields": "customer", "customer": str(ids["customer"])}),
                      ("/logout", {}), ("/sales_order/preview", {"_fields": "customer"})):
        r = signed_in.post(url, data=data)
        assert r.status_code == 403 and "expired" in r.text, url
    page = signed_in.get("/sales_order")
    assert signed_in.post("/sales_order/new", data={"csrf_token": "forged" + csrf(page.text)}).status_code == 403


def test_list_shows_titles_not_ids_and_sorts_and_filters(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    for qty in (1, 5, 3):
        rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "lines": [{"product": ids["p1"], "quantity": qty, "unit_price": "10"}]})
    page = signed_in.get("/sales_order?sort=-total")
    assert page.status_code == 200
    assert page.text.count("Acme Pumps") == 3 and ">East<" not in page.text  # a customer's title, never a warehouse's
    totals = re.findall(r'<span class="num">([\d.,]+)</span>', page.text)
    assert totals[:3] == ["50.00", "30.00", "10.00"]
    filtered = signed_in.get("/sales_order?total__gte=25&status=draft")
    assert filtered.text.count("Acme Pumps") == 2
    bad = signed_in.get("/sales_order?total__gte=lots")
    assert bad.status_code == 200 and "could not be used" in bad.text


def test_create_through_the_form_with_lines(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    form = signed_in.get("/sales_order/new")
    assert 'name="lines-0-quantity"' in form.text and "assigned when saved" in form.text
    fields = re.search(r'name="_fields" value="([^"]+)"', form.text).group(1)
    data = {"csrf_token": csrf(form.text), "_fields": fields, "customer": str(ids["customer"]), "order_date": "2026-05-04",
            "category": "standard", "currency": "CNY", "tax_rate": "13", "payment_terms": "net30",
            "lines-0-product": str(ids["p1"]), "lines-0-quantity": "2", "lines-0-unit_price": "99.50",
            "lines-1-product": "", "lines-1-description": "Special flange", "lines-1-tech_spec": "DN80", "lines-1-quantity": "1", "lines-1-unit_price": "10",
            "lines-2-product": "", "lines-2-quantity": "", "lines-2-unit_price": ""}
    r = signed_in.post("/sales_order/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    rec = signed_in.get(r.headers["location"])
    assert "209.00" in rec.text and "Special flange" in rec.text and "Gear pump" in rec.text
    assert "created this record" in rec.text


def test_validation_errors_show_beside_fields_and_keep_input(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    form = signed_in.get("/sales_order/new")
    fields = re.search(r'name="_fields" value="([^"]+)"', form.text).group(1)
    r = signed_in.post("/sales_order/new", data={
        "csrf_token": csrf(form.text), "_fields": fields, "customer": "", "order_date": "2026-05-04", "category": "standard",
        "currency": "CNY", "tax_rate": "13", "notes": "keep this text 保留",
        "lines-0-product": str(ids["p1"]), "lines-0-quantity": "-3", "lines-0-unit_price": "10"})
    assert r.status_code == 422
    assert 'id="err-customer"' in r.text and "required" in r.text
    assert 'id="err-lines-0-quantity"' in r.text and "must be at least 0.001" in r.text
    assert "keep this text 保留" in r.text and 'value="-3"' in r.text


def test_stale_edit_shows_the_conflict_and_keeps_the_users_values(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "notes": "original"})
    form = signed_in.get(f"/sales_order/{rec['id']}/edit")
    rt.records.update(clerk, "sales_order", rec["id"], {"notes": "changed by someone else"}, version=1)
    fields = re.search(r'name="_fields" value="([^"]+)"', form.text).group(1)
    data = {"csrf_token": csrf(form.text), "_fields": fields, "_version": "1", "_id": str(rec["id"]),
            "customer": str(ids["customer"]), "order_date": rec["order_date"].isoformat(), "category": "standard",
            "currency": "CNY", "tax_rate": "13", "notes": "my edit"}
    r = signed_in.post(f"/sales_order/{rec['id']}/edit", data=data)
    assert r.status_code == 409
    assert "Someone else changed this record" in r.text and "changed by someone else" in r.text and "my edit" in r.text
    assert rt.records.get(clerk, "sales_order", rec["id"])["notes"] == "changed by someone else"
    again = dict(data, _version=re.search(r'name="_version" value="(\d+)"', r.text).group(1))
    assert signed_in.post(f"/sales_order/{rec['id']}/edit", data=again, follow_redirects=False).status_code == 303
    assert rt.records.get(clerk, "sales_order", rec["id"])["notes"] == "my edit"


def test_preview_recomputes_with_the_save_rules(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    page = signed_in.get("/sales_order/new")
    r = signed_in.post("/sales_order/preview", headers={"X-CSRF-Token": csrf(page.text)}, data={
        "_fields": "customer,lines,total", "lines-0-product": str(ids["p1"]), "lines-0-quantity": "3", "lines-0-unit_price": "2.50",
        "lines-1-quantity": "", "lines-1-unit_price": "", "lines-2-quantity": "1", "lines-2-unit_price": "1"})
    assert 'id="calc-total"' in r.text and "8.50" in r.text
    assert re.search(r'id="calc-lines-0-amount"[^>]*>7.50<', r.text)
    assert re.search(r'id="calc-lines-2-amount"[^>]*>1.00<', r.text)


def test_copy_prefills_a_new_order(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "notes": "copy me",
                                                 "lines": [{"product": ids["p2"], "quantity": 4, "unit_price": "12.50"}]})
    page = signed_in.get(f"/sales_order/new?copy={rec['id']}")
    assert "copy me" in page.text and 'value="4.000"' in page.text and "Seal kit" in page.text
    assert rec["number"] not in page.text


def test_link_options_search(signed_in, rt, clerk):
    seed_basics(rt, clerk)
    rt.records.create(clerk, "customer", {"code": "C002", "name": "Северсталь", "region": "west"})
    r = signed_in.get("/sales_order/options/customer?customer__title=север&for=f-customer")
    assert "Северсталь" in r.text and "Acme" not in r.text


def test_languages_from_browser_and_choice(signed_in, rt, clerk):
    zh = signed_in.get("/sales_order", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "销售订单" in zh.text and "搜索" in zh.text and 'lang="zh"' in zh.text
    ru = signed_in.get("/sales_order?lang=ru")
    assert "Заказы клиентов" in ru.text and "Применить" in ru.text
    assert signed_in.get("/sales_order").text.count("Заказы клиентов") >= 1  # the choice is remembered


def test_error_pages_are_friendly(signed_in):
    for url, status in (("/sales_order/999999", 404), ("/no_such_entity", 404), ("/sales_order/abc", 404)):
        r = signed_in.get(url)
        assert r.status_code == status and "<html" in r.text and "Traceback" not in r.text, url
        assert "Back to the start page" in r.text


def test_record_page_shows_history_as_sentences(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "5"}]})
    rt.records.update(clerk, "sales_order", rec["id"], {"notes": "rush", "lines": [{"id": rec["lines"][0]["id"], "quantity": 2}]}, version=1)
    page = signed_in.get(f"/sales_order/{rec['id']}")
    assert "changed Notes from “—” to “rush”" in page.text
    assert "changed Quantity on a line from “1.000” to “2.000”" in page.text
    assert "added a line: Product Gear pump" in page.text
    customer = signed_in.get(f"/customer/{ids['customer']}")
    assert rec["number"] in customer.text  # related orders on the customer


def test_hostile_text_is_escaped(signed_in, rt, clerk):
    rt.records.create(clerk, "customer", {"code": "X1", "name": "<script>alert(1)</script>", "region": "east"})
    page = signed_in.get("/customer")
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_changing_the_product_refills_the_price_and_shows_stock(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    rt.records.create(clerk, "stock", {"product": ids["p2"], "warehouse": ids["warehouse"], "on_hand": "12"})
    page = signed_in.get("/sales_order/new")
    r = signed_in.post("/sales_order/preview", headers={"X-CSRF-Token": csrf(page.text)}, data={
        "_fields": "customer,lines,total", "_changed": "lines-0-product", "customer": str(ids["customer"]),
        "lines-0-product": str(ids["p2"]), "lines-0-quantity": "2", "lines-0-unit_price": "999"})
    assert re.search(r'id="w-lines-0-unit_price"[^>]*hx-swap-oob="true"', r.text)
    assert 'value="12.50"' in r.text  # the list price replaced the old product's price
    assert re.search(r'id="calc-total"[^>]*>25.00<', r.text)
    assert re.search(r'id="show-lines-0-product"[^>]*hx-swap-oob="true"', r.text) and "12.000" in r.text and "East" in r.text
    typing = signed_in.post("/sales_order/preview", headers={"X-CSRF-Token": csrf(page.text)}, data={
        "_fields": "customer,lines,total", "_changed": "", "customer": str(ids["customer"]),
        "lines-0-product": str(ids["p2"]), "lines-0-quantity": "2", "lines-0-unit_price": "999"})
    assert "w-lines-0-unit_price" not in typing.text  # a price the user typed is kept while typing elsewhere


def test_price_history_one_click_away(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    old = rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "order_date": "2026-01-05",
                                                 "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "88.00"}]})
    r = signed_in.get("/sales_order/fill-history", params={"field": "lines-0-unit_price", "customer": str(ids["customer"]),
                                                           "_fields": "customer,lines", "lines-0-product": str(ids["p1"])})
    assert r.status_code == 200 and "88.00" in r.text and old["number"] in r.text and "Jan 5, 2026" in r.text
    assert signed_in.get("/sales_order/fill-history", params={"field": "lines-0-quantity"}).status_code == 404


def test_saved_filters_belong_to_their_user(signed_in, rt, clerk, web):
    page = signed_in.get("/sales_order?status=draft&sort=-total&count=exact")
    assert 'name="query" value="status=draft&amp;sort=-total"' in page.text  # paging and counting are not part of a filter
    r = signed_in.post("/sales_order/filters", data={"csrf_token": csrf(page.text), "name": "My drafts 草稿",
                                                     "query": "status=draft&sort=-total"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sales_order?status=draft&sort=-total"
    listed = signed_in.get("/sales_order")
    assert "My drafts 草稿" in listed.text and 'href="/sales_order?status=draft&amp;sort=-total"' in listed.text
    dup = signed_in.post("/sales_order/filters", data={"csrf_token": csrf(listed.text), "name": "My drafts 草稿", "query": "status=approved"})
    assert dup.status_code == 422 and "already have a filter" in dup.text
    filter_id = re.search(r'/sales_order/filters/(\d+)/delete', listed.text).group(1)
    # another user sees none of it and cannot delete it
    make_user(rt, "rep_other")
    signed_in.post("/logout", data={"csrf_token": csrf(listed.text)})
    sign_in(web, "rep_other")
    other = web.get("/sales_order")
    assert "My drafts" not in other.text
    assert web.post(f"/sales_order/filters/{filter_id}/delete", data={"csrf_token": csrf(other.text)}).status_code == 404
    web.post("/logout", data={"csrf_token": csrf(other.text)})
    sign_in(web)
    mine = web.get("/sales_order")
    assert web.post(f"/sales_order/filters/{filter_id}/delete", data={"csrf_token": csrf(mine.text)}, follow_redirects=False).status_code == 303
    assert "My drafts" not in web.get("/sales_order").text


def test_text_filter_in_the_filter_bar(signed_in, rt, clerk):
    seed_basics(rt, clerk)
    rt.records.create(clerk, "customer", {"code": "C2", "name": "Volga Engineering", "region": "west"})
    page = signed_in.get("/customer")
    assert 'name="name__contains"' in page.text
    found = signed_in.get("/customer?name__contains=volga")
    assert "Volga Engineering" in found.text and "Acme Pumps" not in found.text


def test_navigation_follows_the_menu(signed_in):
    home = signed_in.get("/")
    assert home.text.index("Sales orders") < home.text.index("Customers") < home.text.index("Products")
    assert 'class="module-title"' in home.text and "<svg" in home.text and "Catalogue" in home.text
    zh = signed_in.get("/?lang=zh")
    assert "产品与库存" in zh.text


def test_form_tabs_widgets_and_placeholders(signed_in, rt, clerk):
    ids = seed_basics(rt, clerk)
    form = signed_in.get("/sales_order/new")
    assert 'role="tablist"' in form.text and re.search(r'id="tab-1"[^>]*hidden', form.text)
    assert 'type="radio" name="category" value="standard"' in form.text  # widget: radio
    assert 'placeholder="Anything the reviewers should know"' in form.text
    fields = re.search(r'name="_fields" value="([^"]+)"', form.text).group(1)
    r = signed_in.post("/sales_order/new", data={"csrf_token": csrf(form.text), "_fields": fields, "customer": str(ids["customer"]),
                                                 "order_date": "2026-05-04", "category": "standard", "currency": "CNY", "tax_rate": "150"})
    assert r.status_code == 422
    assert re.search(r'id="tab-0"[^>]*hidden', r.text) and not re.search(r'id="tab-1"[^>]*hidden', r.text)  # the tab with the error opens


def test_a_widget_must_fit_its_field(tmp_path):
    from engine.metadata.codes import MetadataInvalid
    from engine.metadata.loader import load_app
    (tmp_path / "entities").mkdir()
    (tmp_path / "forms").mkdir()
    (tmp_path / "entities" / "t.yaml").write_text("name: t\nfields:\n  n: {type: integer}\n")
    (tmp_path / "forms" / "t.yaml").write_text("entity: t\nsections:\n  - fields:\n      - field: n\n        widget: radio\n")
    with pytest.raises(MetadataInvalid) as exc:
        load_app(tmp_path)
    assert [(p.code, p.line) for p in exc.value.problems] == [("E014", 5)]


def test_a_users_own_language_wins_over_the_browser(web, rt):
    with rt.db.write() as conn:
        from engine.access import users
        users.create_user(conn, rt.schema, "ivan", "demo", ["sales_rep"], language="ru")
    sign_in(web, "ivan")
    page = web.get("/sales_order", headers={"Accept-Language": "zh-CN,zh"})
    assert "Заказы клиентов" in page.text
    assert "销售订单" in web.get("/sales_order?lang=zh").text  # an explicit choice on the page still wins
