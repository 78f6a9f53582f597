"""The calendar and the Gantt chart in the browser: a supervisor sees the team's orders by requested
delivery date (only theirs: the same scoped feed as the list), drags one to another day - saved
through the record service, in the record's history - and a refused move goes back with the reason;
the Gantt chart draws the orders from approval to delivery. On a laptop, in Chinese and on a phone."""
import datetime as dt
import re

from playwright.sync_api import expect

from engine.records.listing import ListQuery
from tests.browser.conftest import shot, sign_in
from tests.conftest import _who


def team_orders(rt, username: str, month: dt.date) -> list[dict]:
    actor = _who(rt, username)
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return rt.records.list(actor, "sales_order", ListQuery(filters=[("requested_delivery_date", "gte", month.isoformat()),
                                                                     ("requested_delivery_date", "lt", end.isoformat())], limit=500))["items"]


def test_a_supervisor_moves_a_delivery_on_the_calendar(browser, live):
    base, rt = live
    month = dt.date(2026, 11, 1)
    mine = [o for o in team_orders(rt, "sup_east", month) if o["status"] == "draft"]
    assert mine, "the demo has team orders due in November 2026"
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
    page = sign_in(ctx, base, "sup_east")
    page.goto(base + "/sales_order?lang=en")
    page.get_by_role("link", name="Calendar").click()
    page.wait_for_url(re.compile(r"/sales_order/calendar"))
    page.locator("#calendar .fc-toolbar-title").wait_for()
    while "November 2026" not in page.locator(".fc-toolbar-title").inner_text():  # to the month of the demo's deliveries
        page.locator(".fc-prev-button" if "2027" in page.locator(".fc-toolbar-title").inner_text() or "December 2026" in page.locator(
            ".fc-toolbar-title").inner_text() else ".fc-next-button").click()
    events = page.locator(".fc-daygrid-event")
    expect(events.first).to_be_visible()
    feed = page.request.get(f"{base}/sales_order/calendar/events?start=2026-11-01&end=2026-12-01").json()
    assert sorted(int(e["id"]) for e in feed) == sorted(o["id"] for o in team_orders(rt, "sup_east", month))  # the team's, no one else's
    order = mine[0]
    event = page.locator(f".fc-daygrid-event[href='/sales_order/{order['id']}']")
    target = order["requested_delivery_date"] + dt.timedelta(days=1 if order["requested_delivery_date"].day < 28 else -1)
    shot(page, "calendar-orders", full_page=True)
    event.drag_to(page.locator(f"td.fc-day[data-date='{target.isoformat()}']"))
    expect(page.locator("[data-view-status]")).to_contain_text("Moved.")
    assert rt.records.get(_who(rt, "sup_east"), "sales_order", order["id"])["requested_delivery_date"] == target
    # a move the record service refuses: the version is stale, so nothing is overwritten
    token = page.evaluate("document.querySelector('meta[name=csrf-token]').content")
    refused = page.request.post(f"{base}/sales_order/{order['id']}/reschedule?view=calendar", headers={"X-CSRF-Token": token},
                                data={"start": "2026-11-20", "version": 1})
    assert refused.status == 409 and "changed by someone else" in refused.json()["error"]
    assert page.request.post(f"{base}/sales_order/{order['id']}/reschedule?view=calendar", data={"start": "2026-11-20", "version": 9}).status == 403
    ctx.close()


def test_the_gantt_chart_and_the_calendar_in_chinese_and_on_a_phone(browser, live):
    base, rt = live
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = sign_in(ctx, base, "manager")
    page.goto(base + "/sales_order/gantt?lang=zh&from=2026-07-01&to=2027-01-31")
    expect(page.locator("#gantt .bar-wrapper").first).to_be_visible()
    rows = page.locator("table.list tbody tr")
    assert page.locator("#gantt .bar-wrapper").count() == rows.count() > 0  # the chart and its table: the same orders
    page.locator("[data-gantt-mode=Month]").click()
    expect(page.locator("[data-gantt-mode=Month]")).to_have_attribute("aria-pressed", "true")
    shot(page, "gantt-orders-zh", full_page=True)
    ctx.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU", is_mobile=True, has_touch=True)
    page = sign_in(phone, base, "sup_east")
    page.goto(base + "/sales_order/calendar?lang=ru")
    expect(page.locator(".fc-list, .fc-list-empty").first).to_be_visible()  # a list of the month on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "calendar-orders-ru-phone")
    phone.close()
