"""The form designer in Chromium: an administrator drags a field into another section, moves a
section with the keyboard, makes a field required under a condition (with the names helper),
adds a field, previews the form as a sales rep and saves; a rep's form shows the change at once
and the server holds it on the screen and through the API; a wrong condition is refused; a
version is restored in one click."""
import re

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in
from tests.browser.test_screens import pick


def order_of(page, selector):
    return page.locator(selector).evaluate_all("els => els.map(e => e.dataset.name || e.dataset.section)")


def test_an_admin_changes_the_order_form_and_everyone_gets_it(browser, live_designer):
    base, rt = live_designer
    # a tall window: Playwright drags between two places on the screen (people's browsers scroll while dragging)
    ctx = browser.new_context(viewport={"width": 1280, "height": 2600}, locale="en-US")
    admin = sign_in(ctx, base, "admin")
    admin.click(".tools a[href='/settings/users']")
    admin.click(".tabs-nav a[href='/settings/forms']")
    admin.click("a[href='/settings/forms/sales_order']")
    expect(admin.locator("h1")).to_contain_text("Form: Sales order")

    admin.locator("#df-notes .grip").drag_to(admin.locator("#df-category"))  # by mouse, into another section
    assert order_of(admin, "#ds-order .d-field")[:4] == ["number", "customer", "order_date", "notes"]
    admin.locator("#ds-lines [data-smove='-1']").focus()  # by keyboard: the lines above the order's head
    admin.keyboard.press("Enter")
    assert order_of(admin, "[data-tab=order] .d-section") == ["lines", "order"]
    expect(admin.locator("#designer-live")).to_have_text("Lines")

    admin.locator("#df-notes summary").click()
    admin.fill("input[name='field.notes.label.zh']", "促销说明")
    cond = admin.locator("input[name='field.notes.required_when']")
    cond.click()
    admin.click("#names-help [data-insert=category]")  # the helper puts the name where the cursor is
    cond.press("End")
    cond.type(" == 'promotion'")
    expect(admin.locator("#df-notes .d-check").nth(1)).to_contain_text("This condition can be used.")
    admin.fill("input[name='field.notes.required_message.en']", "Say what the promotion is.")

    admin.fill("input[name='add.label.en']", "Sales channel")
    admin.fill("input[name='add.label.zh']", "销售渠道")
    admin.fill("input[name='add.label.ru']", "Канал продаж")
    admin.select_option("select[name='add.type']", "select")
    admin.fill("textarea[name='add.options']", "Online shop\nDealer\nTrade fair")
    admin.click("#add-field-button")
    expect(admin.locator("#df-sales_channel")).to_be_visible()
    assert admin.locator("#df-sales_channel").evaluate("e => e.closest('.d-section').dataset.section") == "lines"
    admin.locator("#df-sales_channel summary").click()  # from the keyboard too: "Move to" another section
    admin.select_option("#df-sales_channel select[data-moveto]", label="Order")
    assert order_of(admin, "#ds-order .d-field")[-1] == "sales_channel"
    admin.check("#df-sales_channel input[name='field.sales_channel.required']")

    admin.select_option("#preview-role", "sales_rep")
    admin.click("#preview-button")
    expect(admin.locator("#preview-body")).to_contain_text("Sales channel")
    expect(admin.locator("#preview-body")).not_to_contain_text("Customer credit limit")  # the credit section is for finance
    admin.set_viewport_size({"width": 1280, "height": 900})
    admin.locator("#df-notes").scroll_into_view_if_needed()
    shot(admin, "designer-field")
    admin.locator("#preview-card").scroll_into_view_if_needed()
    shot(admin, "designer-preview")
    admin.click("#designer-save")
    admin.wait_for_url(re.compile(r"\?saved=1$"))
    expect(admin.locator("#designer-notice")).to_contain_text("Saved as version 1")
    admin.evaluate("window.scrollTo(0, 0)")
    shot(admin, "designer")

    # a sales rep's form, without a restart
    rep_ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
    rep = sign_in(rep_ctx, base, "rep_east1")
    rep.goto(base + "/sales_order/new")
    legends = rep.locator("#tab-0 legend").all_inner_texts()
    assert legends[:2] == ["Lines", "Order"]
    expect(rep.locator("#f-sales_channel option")).to_have_text(["—", "Online shop", "Dealer", "Trade fair"])
    pick(rep, "#f-customer", "Sunrise", "Sunrise Valves")
    pick(rep, "#f-lines-0-product", "Gear pump", "Gear pump")
    rep.fill("#f-lines-0-quantity", "1")
    rep.check("input[name=category][value=promotion]")
    expect(rep.locator("#ff-notes [data-cond-req]")).to_be_visible()  # marked required as soon as it is a promotion
    rep.click("button[type=submit]")
    expect(rep.locator("#err-notes")).to_contain_text("Say what the promotion is.")
    expect(rep.locator("#err-sales_channel")).to_be_visible()
    rep.fill("#f-notes", "Spring offer: 5% off")
    rep.select_option("#f-sales_channel", "dealer")
    rep.click("button[type=submit]")
    rep.wait_for_url(re.compile(r"/sales_order/\d+$"))
    expect(rep.locator("#details")).to_contain_text("Dealer")

    # the API holds the same rules
    token = httpx.post(base + "/api/v1/auth/token", json={"username": "rep_east1", "password": "demo"}).json()["token"]
    cust_id = next(c["id"] for c in httpx.get(base + "/api/v1/customer?limit=50", headers={"Authorization": f"Bearer {token}"}).json()["items"])
    prod_id = httpx.get(base + "/api/v1/product?limit=1", headers={"Authorization": f"Bearer {token}"}).json()["items"][0]["id"]
    body = {"customer": cust_id, "category": "promotion", "sales_channel": "online_shop",
            "lines": [{"product": prod_id, "quantity": 1, "unit_price": "10"}]}
    r = httpx.post(base + "/api/v1/sales_order", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "notes", "message": "Say what the promotion is."}]

    # a wrong condition is refused, shown where it was typed, and nothing changes
    admin.goto(base + "/settings/forms/sales_order")
    admin.locator("#df-incoterms summary").click()
    admin.fill("input[name='field.incoterms.visible_when']", "customer.region == 'export'")
    expect(admin.locator("#df-incoterms .d-check").first).to_contain_text("E02")
    admin.click("#designer-save")
    expect(admin.locator("#designer-errors")).to_contain_text("Nothing was changed")
    expect(admin.locator("#df-incoterms .field-error")).to_be_visible()
    expect(admin.locator("input[name='field.incoterms.visible_when']")).to_have_value("customer.region == 'export'")
    assert rt.stored.numbers["sales_order"] == 1

    # version 1 undone in one click: the rep's form is the implementer's again
    admin.goto(base + "/settings/forms/sales_order/history")
    expect(admin.locator("#v-1")).to_contain_text("Added the field “Sales channel” (select).")
    shot(admin, "designer-history")
    admin.click("#v-0 button")
    admin.wait_for_url(re.compile(r"\?restored=2$"))
    rep.goto(base + "/sales_order/new")
    expect(rep.locator("#f-sales_channel")).to_have_count(0)
    assert rep.locator("#tab-0 legend").all_inner_texts()[:2] == ["Order", "Lines"]
    admin.goto(base + "/settings/forms/sales_order/history")
    admin.click("#v-1 button")  # and back again: the order keeps its channel
    admin.wait_for_url(re.compile(r"\?restored=3$"))
    admin.goto(base + "/settings/forms/sales_order/compare")
    expect(admin.locator("#compare-changes")).to_contain_text("Sales channel")
    expect(admin.locator("#compare-diff")).to_contain_text("sales_channel")
    shot(admin, "designer-compare")
    rep_ctx.close()
    ctx.close()
