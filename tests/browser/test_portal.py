"""The portal in Chromium, on a phone: a customer's contact places an order, follows it and downloads its
confirmation; the other customer's contact sees none of it. In English, Chinese and Russian."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in
from tests.conftest import _who

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_a_customer_places_and_follows_an_order_on_a_phone(browser, live):
    base, rt = live
    ctx = browser.new_context(locale="en-US", **PHONE)
    page = sign_in(ctx, base, "client_east")
    expect(page).to_have_url(base + "/portal")
    expect(page.locator(".party")).to_have_text("Sunrise Valves")
    before = page.locator(".portal-card").count()
    assert before > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "portal-home-phone", full_page=True)
    page.get_by_role("link", name="New Sales order").click()
    page.fill("#f-requested_delivery_date", "2027-03-15")
    page.select_option("#f-lines-0-product", index=2)
    page.fill("#f-lines-0-quantity", "4")
    page.get_by_role("button", name="+ Add line").click()
    page.select_option("#f-lines-1-product", index=5)
    page.fill("#f-lines-1-quantity", "1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "portal-new-order-phone", full_page=True)
    page.get_by_role("button", name="Place the sales order").click()
    page.wait_for_url(re.compile(r"/portal/sales_order/\d+$"))
    number = page.locator("h1").inner_text().split()[-2]
    assert re.fullmatch(r"SO-\d{4}-\d{5}", number)
    expect(page.locator(".portal-next")).to_contain_text("Your sales rep is completing the order")
    expect(page.locator("table.lines tbody tr")).to_have_count(2)
    rid = int(page.url.rsplit("/", 1)[1])
    order = rt.records.get(_who(rt, "rep_east1"), "sales_order", rid)  # with the customer's rep, at catalogue prices
    assert order["owner"] == _who(rt, "rep_east1").id and all(line["unit_price"] > 0 for line in order["lines"])
    shot(page, "portal-order-phone", full_page=True)
    with page.expect_download() as got:
        page.get_by_role("link", name="Order confirmation (PDF)").click()
    pdf = got.value
    assert pdf.suggested_filename.endswith(".pdf") and open(pdf.path(), "rb").read(5) == b"%PDF-"
    page.fill("#message-text", "Please deliver to gate 3, we unload until 16:00.")  # a message to the company about the order
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.mine")).to_contain_text("gate 3")
    shot(page, "portal-message-phone")
    assert any("gate 3" in c["text"] for c in rt.comments.list(_who(rt, "rep_east1"), "sales_order", rid))  # the rep reads it
    page.goto(base + "/portal")
    expect(page.locator(".portal-card")).to_have_count(before + 1)
    expect(page.get_by_role("link", name=number)).to_be_visible()
    page.goto(base + f"/portal/sales_order/{rid}?lang=zh")  # the same order in Chinese
    expect(page.locator(".portal-next")).to_contain_text("销售代表正在完善订单")
    shot(page, "portal-order-zh-phone", full_page=True)
    ctx.close()
    other = browser.new_context(locale="ru-RU", **PHONE)
    page = sign_in(other, base, "client_west")
    page.goto(base + "/portal?lang=ru")
    expect(page.locator(".party")).to_have_text("Lotus Automation")
    assert number not in page.locator("main").inner_text()
    shot(page, "portal-home-ru-phone", full_page=True)
    assert page.request.get(base + f"/portal/sales_order/{rid}").status == 404  # another company's order is not there for them
    other.close()
    laptop = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "client_east")
    laptop.goto(base + f"/portal/sales_order/{rid}?lang=en")
    expect(laptop.locator(".message.mine")).to_contain_text("gate 3")
    shot(laptop, "portal-order-laptop", full_page=True)
    laptop.context.close()


def test_a_company_registers_on_the_public_form_and_the_rep_sees_who_uses_the_portal(browser, live):
    base, rt = live
    ctx = browser.new_context(locale="zh-CN", **PHONE)
    page = ctx.new_page()
    page.goto(base + "/forms/customer_registration?lang=zh")
    expect(page.locator("h1")).to_have_text("成为我们的客户")
    page.fill("#f-name", "苏州精密阀门")
    page.fill("#f-tax_number", "91320500123456789X")
    page.select_option("#f-region", "east")
    page.fill("#f-contacts-0-name", "陈静")
    page.fill("#f-contacts-0-email", "chen.jing@suzhou-valves.example.com")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "portal-public-form-zh-phone", full_page=True)
    page.get_by_role("button", name="发送").click()
    expect(page.locator("[role=status]")).to_contain_text("我们已收到您的注册")
    ctx.close()
    east = _who(rt, "client_east")
    rep = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "rep_east1")
    rep.goto(base + f"/customer/{east.party}?lang=en")
    card = rep.locator("#contacts")
    expect(card).to_contain_text("client_east")
    card.get_by_text("Invite a contact to the portal").click()
    expect(rep.locator("#inv-email")).to_be_visible()
    shot(rep, "record-portal-access", full_page=True)
    rep.context.close()
