"""What the hardening changed, as users see it in Chromium: the deadline flag as a marker (not as
markup in the text), the bulk bar appearing once a row is ticked and offering only what this user
may do, the line editor on a phone, errors in the page's language, and where one is signed in."""
import datetime as dt
import re

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in
from tests.browser.test_screens import pick

PHONE = {"width": 390, "height": 844}


def test_overdue_orders_show_a_flag_not_markup(browser, live):
    base, rt = live
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=60)  # every open deadline of the demo has passed by then
    before, rt.records.clock = rt.records.clock, (lambda: later)
    try:
        page = sign_in(browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US"), base, "manager")
        page.goto(base + "/sales_order/board")
        flags = page.locator(".kcard .flag")
        expect(flags.first).to_be_visible()
        expect(flags.first).to_have_text("Overdue")
        expect(page.locator("main")).not_to_contain_text("<span")
        card = page.locator(".kcard", has=page.locator(".flag")).first
        card.locator(".kcard-title").click()
        expect(page.locator("h1 .flag, .head .flag").first).to_have_text("Overdue")
        expect(page.locator("main")).not_to_contain_text("class=")
    finally:
        rt.records.clock = before


def test_the_bulk_bar_appears_once_a_row_is_ticked_and_offers_what_the_user_may_do(browser, live):
    base, _ = live
    sup = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "sup_east")
    sup.goto(base + "/sales_order")
    bar = sup.locator("#bulk")
    expect(bar).to_be_hidden()
    sup.locator("input[name=ids]").first.check()
    expect(bar).to_be_visible()
    expect(bar.locator("[data-bulk-count]")).to_have_text("1 selected")
    sup.locator("input[name=ids]").nth(1).check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("2 selected")
    shot(sup, "order-list-bulk")
    sup.locator("input[name=ids]").first.uncheck()
    sup.locator("input[name=ids]").nth(1).uncheck()
    expect(bar).to_be_hidden()
    rep = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "rep_east1")
    rep.goto(base + "/sales_order")
    rep.locator("input[name=ids]").first.check()
    choices = rep.locator("#bulk-transition option").all_inner_texts()
    assert choices and "Approve" not in choices and "Submit for review" in choices, choices


def test_the_line_editor_on_a_phone(browser, live):
    base, _ = live
    page = sign_in(browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True), base, "rep_east1")
    page.goto(base + "/sales_order/new")
    pick(page, "#f-customer", "Sunrise", "Sunrise Valves")  # fills the region: the live form swaps only what the form has
    pick(page, "#f-lines-0-product", "Gear pump", "Gear pump")
    page.fill("#f-lines-0-quantity", "2")
    expect(page.locator("#calc-lines-0-amount")).not_to_have_text("")
    row = page.locator("[data-rows] > [data-row]").first
    buttons = [row.locator(sel).bounding_box() for sel in ("[data-move='-1']", "[data-move='1']", "[data-remove]")]
    assert len({round(b["y"]) for b in buttons}) == 1, buttons  # side by side, on one line
    assert all(b["width"] < 80 for b in buttons), buttons  # buttons, not full-width bars
    assert buttons[0]["x"] < buttons[1]["x"] < buttons[2]["x"]
    price, history = page.locator("#f-lines-0-unit_price").bounding_box(), row.locator(".hist-btn").bounding_box()
    assert abs(price["y"] - history["y"]) < 12 and history["x"] > price["x"] + price["width"] - 2  # the ↺ beside its input
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sticks out sideways
    shot(page, "order-form-phone", full_page=True)


def test_validation_errors_speak_the_pages_language(browser, live):
    base, _ = live
    for locale, lang, required in (("zh-CN", "zh", "必填"), ("ru-RU", "ru", "обязательно")):
        page = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale), base, "rep_east1")
        page.goto(base + "/sales_order/new")
        page.click("button[type=submit]")
        expect(page.locator("#err-customer")).to_have_text(required)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        shot(page, f"order-errors-{lang}", full_page=True)
        page.context.close()


def test_my_account_lists_where_i_am_signed_in(browser, live):
    base, _ = live
    phone = sign_in(browser.new_context(viewport=PHONE, locale="en-US", user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile"),
                    base, "rep_west1")
    for locale, this_device in (("zh-CN", "本设备"), ("ru-RU", "Это устройство")):
        laptop = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale), base, "rep_west1")
        laptop.goto(base + "/account")
        rows = laptop.locator("#sessions tbody tr")
        expect(rows.filter(has_text=this_device)).to_have_count(1)
        expect(rows.filter(has_text="Android")).to_have_count(1)
        shot(laptop, f"account-sessions-{locale[:2]}", full_page=True)
        laptop.context.close()
    laptop = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "rep_west1")
    laptop.goto(base + "/account")
    laptop.locator("#sessions tbody tr", has_text="Android").get_by_role("button").click()
    expect(laptop.locator(".alert.ok")).to_contain_text("The session was ended")
    phone.goto(base + "/sales_order")
    expect(phone).to_have_url(re.compile(r"/login"))  # the phone must sign in again


def test_on_a_phone_the_list_comes_before_its_filters(browser, live):
    base, _ = live
    page = sign_in(browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True), base, "sup_east")
    page.goto(base + "/sales_order")
    box = page.locator("details[data-filters]")
    expect(box.locator("summary")).to_have_text("筛选")
    expect(page.locator("#f-owner")).to_be_hidden()  # folded away: the rows come first
    expect(page.locator("table.list tbody tr").first).to_be_in_viewport()
    shot(page, "phone-list-zh")
    box.locator("summary").click()
    expect(page.locator("#f-owner")).to_be_visible()
    page.fill("#f-owner", "rep_east")
    page.locator("#opts-owner .opt").first.click()
    page.locator(".filters button", has_text="应用").click()
    expect(box.locator("summary")).to_have_text(re.compile(r"筛选 \(1\)"))
    expect(page.locator("#f-owner")).to_be_visible()  # a filter in use stays in view
