"""What a sales rep does all day, in a real browser."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in, watch


def pick(page, input_selector: str, text: str, option_text: str) -> None:
    """Type into a link field and choose the matching option."""
    page.fill(input_selector, text)
    combo = page.locator(input_selector).locator("xpath=..")
    option = combo.locator(".opt", has_text=option_text).first
    option.wait_for()
    option.click()


def test_sign_in_page(browser, live):
    base, _ = live
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    watch(pg)
    pg.goto(base + "/sales_order")
    expect(pg).to_have_url(re.compile(r"/login\?next=/sales_order"))
    pg.fill("#username", "rep_east1")
    pg.fill("#password", "wrong")
    pg.click("button.primary")
    expect(pg.locator(".alert.error")).to_contain_text("Wrong username or password")
    shot(pg, "login")
    ctx.close()


def test_create_an_order_with_two_lines_typing_product_names(page, live):
    base, rt = live
    page.goto(base + "/sales_order/new")
    pick(page, "#f-customer", "Sunrise", "Sunrise Valves")
    pick(page, "#f-lines-0-product", "Gear pump", "Gear pump")
    # the price fills in (this customer's last price, else the list price) and stock shows beside the line
    expect(page.locator("#f-lines-0-unit_price")).to_have_value(re.compile(r"^\d[\d.]*$"))
    expect(page.locator("#show-lines-0-product table")).to_contain_text("warehouse")
    page.click("#w-lines-0-unit_price ~ .hist-btn")
    expect(page.locator("#hist-lines-0-unit_price .popover")).to_be_visible()
    page.click("#hist-lines-0-unit_price [data-close]")
    page.fill("#f-lines-0-quantity", "2")
    page.fill("#f-lines-0-unit_price", "100")
    expect(page.locator("#calc-lines-0-amount")).to_have_text("200.00")
    expect(page.locator("#calc-total")).to_have_text("200.00")
    page.click("[data-add-line]")
    pick(page, "#f-lines-1-product", "Mechanical seal", "Mechanical seal")
    page.fill("#f-lines-1-quantity", "3")
    page.fill("#f-lines-1-unit_price", "10.50")
    expect(page.locator("#calc-total")).to_have_text("231.50")
    shot(page, "order-form", full_page=True)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sales_order/\d+$"))
    expect(page.locator("h1")).to_contain_text("SO-")
    expect(page.locator("#details")).to_contain_text("231.50")
    expect(page.locator("#details")).to_contain_text("Sunrise Valves")
    shot(page, "order-record", full_page=True)


def test_edit_with_a_validation_error_then_fix_it(page, live):
    # rep_east1 owns orders 1-50; the demo moved 1-14 along the workflow, so 21 and 24 are drafts
    base, _ = live
    page.goto(base + "/sales_order/21/edit")
    page.fill("#f-lines-0-quantity", "-1")
    page.click("[role=tab]:has-text('Terms')")
    page.fill("#f-notes", "typed before the error")
    page.click("button[type=submit]")
    expect(page.locator("#err-lines-0-quantity")).to_contain_text("at least 0.001")  # its tab is open again
    page.click("[role=tab]:has-text('Terms')")
    expect(page.locator("#f-notes")).to_have_value("typed before the error")
    expect(page.locator("#f-lines-0-quantity")).to_have_attribute("aria-invalid", "true")
    page.click("[role=tab]:has-text('Order')")
    shot(page, "order-validation", full_page=True)
    page.fill("#f-lines-0-quantity", "1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sales_order/21$"))
    expect(page.locator("#activity")).to_contain_text("typed before the error")


def test_version_conflict_between_two_windows(browser, live):
    base, _ = live
    one = sign_in(browser.new_context(), base)
    two = sign_in(browser.new_context(), base, "sup_east")
    for pg in (one, two):
        pg.goto(base + "/sales_order/24/edit")
        pg.keyboard.press("Tab")
        pg.click("[role=tab]:has-text('Terms')")
    one.fill("#f-notes", "first writer")
    one.click("button[type=submit]")
    one.wait_for_url(re.compile(r"/sales_order/24$"))
    two.fill("#f-notes", "second writer")
    two.click("button[type=submit]")
    expect(two.locator("#conflict")).to_contain_text("Someone else changed this record")
    expect(two.locator("#conflict")).to_contain_text("first writer")
    two.click("[role=tab]:has-text('Terms')")
    expect(two.locator("#f-notes")).to_have_value("second writer")
    shot(two, "order-conflict")
    two.click("button[type=submit]")  # knowingly apply mine on top of theirs
    two.wait_for_url(re.compile(r"/sales_order/24$"))
    expect(two.locator("#details")).to_contain_text("second writer")
    one.context.close()
    two.context.close()


def test_filter_sort_and_page_a_list(browser, live):
    base, _ = live
    page = sign_in(browser.new_context(), base, "manager")  # a rep sees only their own 50; the manager sees all 220
    page.goto(base + "/sales_order")
    expect(page.locator("tbody#rows tr:not(.more)")).to_have_count(50)
    page.select_option("#flt-category", "export")
    page.click(".filters button")
    expect(page).to_have_url(re.compile(r"category=export"))
    cats = page.locator("tbody#rows td[data-label=Category]").all_inner_texts()
    assert cats and set(cats) == {"Export"}
    page.click("th a:has-text('Total')")
    expect(page).to_have_url(re.compile(r"sort=-total"))
    totals = [float(t.replace(",", "")) for t in page.locator("tbody#rows td[data-label=Total]").all_inner_texts()]
    assert totals == sorted(totals, reverse=True)
    page.goto(base + "/sales_order")
    shot(page, "order-list")
    page.click("tr.more button")
    expect(page.locator("tbody#rows tr:not(.more)")).to_have_count(100)
    page.context.close()


def test_switch_language(page, live):
    base, _ = live
    page.goto(base + "/sales_order")
    page.select_option("#lang-select", "zh")
    expect(page.locator("h1")).to_have_text("销售订单")
    expect(page.locator(".filters button")).to_have_text("应用")
    shot(page, "order-list-zh")
    page.select_option("#lang-select", "ru")
    expect(page.locator("h1")).to_have_text("Заказы клиентов")
    page.select_option("#lang-select", "en")
    expect(page.locator("h1")).to_have_text("Sales orders")


def test_phone_width(browser, live):
    base, _ = live
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = sign_in(ctx, base)
    pg.goto(base + "/sales_order")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    shot(pg, "phone-list")
    pg.goto(base + "/sales_order/new")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    shot(pg, "phone-form", full_page=True)
    ctx.close()


def test_keyboard_only_sign_in_and_navigation(browser, live):
    base, _ = live
    ctx = browser.new_context()
    pg = ctx.new_page()
    watch(pg)
    pg.goto(base + "/login")
    expect(pg.locator("#username")).to_be_focused()  # the form starts where the keyboard user types (waits for the page's focus)
    pg.keyboard.type("rep_east1")
    pg.keyboard.press("Tab")
    pg.keyboard.type("demo")
    pg.keyboard.press("Enter")
    pg.wait_for_url(base + "/")
    ctx.close()


def test_submit_review_and_return_an_order_through_its_workflow(browser, live):
    base, rt = live
    from engine.workflow import reviews
    from tests.access.test_permissions import all_rows, who
    rep = who(rt, "rep_east2")
    order = next(o for o in all_rows(rt, rep, "sales_order")["items"] if o["status"] == "draft")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "rep_east2")
    page.goto(f"{base}/sales_order/{order['id']}")
    page.click("summary:has-text('Submit for review')")
    page.fill("#in-submit-comment", "please check the delivery date")
    page.click("details[open] form button.primary")
    expect(page.locator("h1 .badge")).to_have_text("Department review")
    expect(page.locator(".steps")).to_contain_text("please check the delivery date")
    expect(page.locator(".review-tasks tbody tr")).to_have_count(4)
    expect(page.locator(".review-form")).to_have_count(0)  # the rep gives no opinion
    ctx.close()
    # finance finds the order on their home page and rejects it with a reason
    fin = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "finance")
    expect(fin.locator("#pending-title")).to_be_visible()
    fin.click(f"section.inbox a[href='/sales_order/{order['id']}']")
    fin.fill("#opinion-finance", "Net 60 is too long for this customer's credit.")
    shot(fin, "order-review")
    fin.click(".review-form button[value=reject]")
    expect(fin.locator(".review-tasks")).to_contain_text("Net 60 is too long")
    expect(fin.locator(".review-form")).to_have_count(0)
    fin.context.close()
    for dept in ("purchasing", "technical", "production"):
        reviews.decide(rt.records, who(rt, dept), "sales_order", order["id"], "approve", "fine")
    sup = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "sup_east")
    sup.goto(f"{base}/sales_order/{order['id']}")
    expect(sup.locator("h1 .badge")).to_have_text("Supervisor decision")
    expect(sup.locator(".flow-off")).to_contain_text("A department rejected this order")  # approve is disabled, with the reason
    sup.click("summary:has-text('Return to the owner')")
    expect(sup.locator("#in-reject-reason")).to_be_visible()
    shot(sup, "order-workflow")
    sup.fill("#in-reject-reason", "See finance: ask for prepayment.")
    sup.click("details[open] form button.primary")
    expect(sup.locator("h1 .badge")).to_have_text("Returned")
    expect(sup.locator(".steps")).to_contain_text("ask for prepayment")
    expect(sup.locator("#activity")).to_contain_text("Return to the owner: Supervisor decision → Returned")
    expect(sup.locator("#activity")).to_contain_text("gave the Finance reviewer opinion: rejected")
    sup.context.close()


def test_an_order_in_review_shows_only_its_notes_as_editable(browser, live):
    base, rt = live
    from engine.workflow import transitions
    from tests.access.test_permissions import all_rows, who
    rep = who(rt, "rep_west1")
    order = next(o for o in all_rows(rt, rep, "sales_order")["items"] if o["status"] == "draft")
    transitions.fire(rt.records, rep, "sales_order", order["id"], "submit")
    before = rt.records.get(rep, "sales_order", order["id"])["lines"]
    page = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "rep_west1")
    page.goto(f"{base}/sales_order/{order['id']}/edit")
    expect(page.locator(".lines-fixed")).to_contain_text("These lines cannot be changed now.")
    expect(page.locator("span.readonly#f-customer")).to_have_count(1)  # shown as text, not as an input
    expect(page.locator("input[name=customer]")).to_have_count(0)
    page.click("[role=tab]:has-text('Terms')")
    page.fill("#f-notes", "deliver to gate 3")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"/sales_order/{order['id']}$"))
    expect(page.locator("#details")).to_contain_text("deliver to gate 3")
    assert [line["id"] for line in rt.records.get(rep, "sales_order", order["id"])["lines"]] == [line["id"] for line in before]
    page.context.close()


def test_an_export_order_asks_for_its_customs_documents_as_you_type(page, live):
    base, _ = live
    page.goto(base + "/sales_order/new")
    pick(page, "#f-customer", "Sunrise", "Sunrise Valves")
    pick(page, "#f-lines-0-product", "Gear pump", "Gear pump")
    page.fill("#f-lines-0-quantity", "1")
    page.click("[role=tab]:has-text('Terms')")
    expect(page.locator("legend:has-text('Export documents')")).to_be_hidden()
    expect(page.locator("legend:has-text('Invoicing')")).to_be_visible()
    page.click("[role=tab]:has-text('Order')")
    page.check("input[name=category][value=export]")
    page.click("[role=tab]:has-text('Terms')")
    expect(page.locator("legend:has-text('Export documents')")).to_be_visible()  # shown once the order is an export order
    expect(page.locator("#ff-customs_declaration_no [data-cond-req]")).to_be_visible()  # and marked required
    page.fill("#f-tax_rate", "0")
    expect(page.locator("legend:has-text('Invoicing')")).to_be_hidden()  # no tax: never invoiced
    shot(page, "order-form-export", full_page=True)
    page.click("button[type=submit]")  # the server holds the same rule
    expect(page.locator("#err-customs_declaration_no")).to_contain_text("customs declaration number")
    page.fill("#f-customs_declaration_no", "223320260001")
    page.select_option("#f-incoterms", "FOB")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sales_order/\d+$"))
    expect(page.locator("#details")).to_contain_text("223320260001")
