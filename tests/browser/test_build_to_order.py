"""The build-to-order workflow (tests/scenarios/build_to_order) in Chromium: an order created on its form, accepted, a measurement
assigned to a specialist at a time, measured, routed by payment type through the bank, and a
cancel that is offered only where the workflow allows it."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in
from tests.conftest import _who, make_user


def fire_as(browser, base, username, url, button, state):
    """Sign in as `username`, open the record, fire `button`'s transition and see the new state."""
    page = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, username)
    page.goto(url)
    page.click(f"summary:has-text('{button}')")
    page.click("details[open] form button.primary")
    expect(page.locator("h1 .badge")).to_have_text(state)
    page.context.close()


def test_a_credit_order_through_measurement_and_the_bank(browser, live_build_to_order):
    base, rt = live_build_to_order
    people = {name: make_user(rt, name, roles=(role,)) for name, role in [
        ("mgr", "manager"), ("disp", "dispatcher"), ("spec", "specialist"), ("fin", "finance")]}
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    mgr = sign_in(ctx, base, "mgr")
    mgr.goto(base + "/fitting_order/new")
    mgr.fill("#f-customer_name", "Ivanova")
    mgr.select_option("#f-payment_type", "credit")
    mgr.click("button[type=submit]")
    mgr.wait_for_url(re.compile(r"/fitting_order/\d+$"))
    order_url = mgr.url
    expect(mgr.locator("h1 .badge")).to_have_text("New order")
    expect(mgr.locator("summary:has-text('Cancel')")).to_have_count(1)  # cancelling a new order is allowed
    ctx.close()
    disp = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "disp")
    disp.goto(order_url)
    disp.click("summary:has-text('Accept the order')")
    disp.click("details[open] form button.primary")
    expect(disp.locator("h1 .badge")).to_have_text("Measurement planning")
    disp.click("summary:has-text('Assign the measurement')")
    disp.select_option("#in-schedule_measurement-specialist", value=str(people["spec"].id))
    disp.fill("#in-schedule_measurement-visit_at", "2026-11-24T10:00")
    shot(disp, "fitting-measurement")
    disp.click("details[open] form button.primary")
    expect(disp.locator("h1 .badge")).to_have_text("Measurement")
    disp.context.close()
    fire_as(browser, base, "spec", order_url, "Measurement done", "Contract preparation")  # the specialist reads the visits assigned to them
    mgr = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "mgr")
    mgr.goto(order_url)
    expect(mgr.locator(".flow-off", has_text="Ready for payment")).to_contain_text("Credit orders wait for the bank")  # the payment-type branch
    mgr.click("summary:has-text('Apply for bank credit')")
    mgr.click("details[open] form button.primary")
    expect(mgr.locator("h1 .badge")).to_have_text("Awaiting bank decision")
    mgr.context.close()
    fire_as(browser, base, "fin", order_url, "Bank approved", "Payment")
    mgr = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "mgr")
    mgr.goto(order_url)
    expect(mgr.locator("summary:has-text('Cancel')")).to_have_count(0)  # not in Payment
    expect(mgr.locator(".steps li")).to_have_count(5)
    mgr.context.close()


def test_the_dispatcher_moves_a_delivery_to_another_crew_on_the_gantt_chart(browser, live_build_to_order):
    """A bar dragged down onto the other crew's row: the order's crew changes through the record service, the bar joins
    that crew's rows; the table below does the same with a choice, and the arrow shows the order a fitting follows."""
    from tests.scenarios.test_build_to_order import fire, new, to_contract
    base, rt = live_build_to_order
    people = (("mgr", "manager"), ("disp", "dispatcher"), ("spec", "specialist"), ("fin", "finance"), ("prod", "production"),
              ("crew_north", "production"), ("crew_south", "production"))
    known = _existing(rt)  # the module's other test may have made some of them on this server
    p = {name: make_user(rt, name, roles=(role,)) if name not in known else _who(rt, name) for name, role in people}
    planned = []
    for crew, start, end in (("crew_north", "2027-01-11", "2027-01-13"), ("crew_north", "2027-01-18", "2027-01-19"),
                             ("crew_south", "2027-01-12", "2027-01-12")):
        order = new(rt, p)
        to_contract(rt, p, order)
        fire(rt, p["mgr"], order, "to_payment")
        fire(rt, p["fin"], order, "paid")
        done = fire(rt, p["prod"], order, "produced")
        planned.append(rt.records.update(p["disp"], "fitting_order", order["id"], {"crew": p[crew].id, "delivery_from": start,
                                                                                    "delivery_to": end}, version=done["version"]))
    rt.records.update(p["disp"], "fitting_order", planned[1]["id"], {"after": planned[0]["id"]}, version=planned[1]["version"])
    page = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US"), base, "disp")
    page.goto(base + "/fitting_order/gantt?lang=en&from=2027-01-01&to=2027-01-31")
    bar = page.locator(f"#gantt .bar-wrapper[data-id='{planned[0]['id']}']")
    expect(bar).to_be_visible()
    expect(page.locator("#gantt .arrow")).to_have_count(1)  # from the order the second north fitting follows
    assert page.evaluate("document.getElementById('gantt').parentElement.scrollLeft") > 0  # opened at the window's start, not the library's
    page.evaluate("document.getElementById('gantt').setCurrentTime(5)")  # the bars' growing animation over: at their full length
    south = page.locator(f"#gantt .bar-wrapper[data-id='{planned[2]['id']}'] .bar")
    box, target = bar.locator(".bar").bounding_box(), south.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, target["y"] + target["height"] / 2, steps=8)
    expect(page.locator("#gantt .grid-row.gantt-drop")).to_have_count(1)  # the south crew's row lights up while the bar is over it
    shot(page, "gantt-crews-drag")
    page.mouse.up()
    expect(page.locator("[data-view-status]")).to_contain_text("Moved.")
    assert rt.records.get(p["disp"], "fitting_order", planned[0]["id"])["crew"] == p["crew_south"].id
    expect(page.locator(f"#gantt .bar-wrapper[data-id='{planned[0]['id']}'] .bar-label")).to_contain_text("crew_south · ")
    expect(page.locator(f"[data-gantt-row='{planned[0]['id']}']")).to_have_value(str(p["crew_south"].id))
    with page.expect_response(lambda r: "/reschedule" in r.url) as answer:
        page.select_option(f"[data-gantt-row='{planned[2]['id']}']", str(p["crew_north"].id))  # the table's way, on any screen
    assert answer.value.ok
    expect(page.locator("[data-view-status]")).to_contain_text("Moved. crew_north · ")
    assert rt.records.get(p["disp"], "fitting_order", planned[2]["id"])["crew"] == p["crew_north"].id
    shot(page, "gantt-crews", full_page=True)
    page.context.close()
    phone = sign_in(browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU", is_mobile=True, has_touch=True), base, "disp")
    phone.goto(base + "/fitting_order/gantt?lang=ru&from=2027-01-01&to=2027-01-31")
    expect(phone.locator(f"[data-gantt-row='{planned[1]['id']}']")).to_be_visible()  # on a phone the table is the way to move a delivery
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.select_option(f"[data-gantt-row='{planned[1]['id']}']", str(p["crew_south"].id))
    expect(phone.locator("[data-view-status]")).to_contain_text("Перенесено.")
    assert rt.records.get(p["disp"], "fitting_order", planned[1]["id"])["crew"] == p["crew_south"].id
    shot(phone, "gantt-crews-ru-phone", full_page=True)
    phone.context.close()


def _existing(rt) -> set:
    with rt.db.read() as conn:
        return {r.username for r in conn.execute(rt.schema.user.select())}
