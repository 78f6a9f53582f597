"""The build-to-order workflow (tests/scenarios/build_to_order) in Chromium: an order created on its form, accepted, a measurement
assigned to a specialist at a time, measured, routed by payment type through the bank, and a
cancel that is offered only where the workflow allows it."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in
from tests.conftest import make_user


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
