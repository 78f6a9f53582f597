"""Settings > Connectors in the browser: the demo's ERP connector pointed at a local ERP that is
down, an administrator reads why the approved orders did not go through, retries one once the ERP
is back, and the order gets the ERP's number - on a laptop and a phone, in English, Chinese and
Russian."""
import os

import pytest
from playwright.sync_api import expect

from engine.app import demo
from engine.connectors import deliveries
from engine.connectors.registry import registry
from tests.browser.conftest import _serve, shot, sign_in
from tests.conftest import DatabaseFactory
from tests.connectors.receiver import Receiver


@pytest.fixture(scope="module")
def live_erp(tmp_path_factory):
    """(base URL, runtime, receiver, send) - the demo with its erp connector on, its ERP answering 503."""
    receiver = Receiver()
    receiver.then = (503, "ERP maintenance until 22:00")
    os.environ["ERP_URL"] = receiver.url
    try:
        dbs = DatabaseFactory(tmp_path_factory.mktemp("browser_erp"))
        rt = dbs.runtime()
        demo.load(rt)  # its made-up history is not sent: the orders approved from here on are
        approve_some(rt)
        adapters = registry(rt.records.plugin_manager)
        deliveries.send_due(rt.records, adapters)

        def send():
            deliveries.send_due(rt.records, adapters)
        for base, _ in _serve(dbs, rt):
            yield base, rt, receiver, send
    finally:
        del os.environ["ERP_URL"]
        receiver.stop()


def approve_some(rt, n: int = 3) -> None:
    """The sales manager approves n of the demo's orders waiting for a decision."""
    from sqlalchemy import select

    from engine.access import users
    from engine.workflow import transitions
    so, u = rt.schema.tables["sales_order"], rt.schema.user
    with rt.db.read() as conn:
        ids = conn.execute(select(so.c.id).where(so.c.status == "decision").order_by(so.c.id).limit(n)).scalars().all()
        manager = users.actor_for_id(conn, rt.schema, conn.execute(select(u.c.id).where(u.c.username == "manager")).scalar_one())
    for i in ids:
        transitions.fire(rt.records, manager, "sales_order", i, "approve")


@pytest.mark.parametrize("locale, lang, size", [("en-US", "en", (1280, 900)), ("zh-CN", "zh", (390, 844)), ("ru-RU", "ru", (1280, 900)),
                                                ("ru-RU", "ru", (390, 844))])
def test_an_administrator_sees_why_the_erp_has_not_got_the_orders(browser, live_erp, locale, lang, size):
    base, rt, receiver, send = live_erp
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    page = sign_in(ctx, base, "admin")
    page.goto(base + "/settings/connectors")
    tiles = page.locator("#connectors .tile")
    expect(tiles).to_have_count(4)
    expect(tiles.nth(1)).to_contain_text("ENGINE_SMTP_URL")  # the workflow's e-mails: off, and what to set
    expect(tiles.nth(2)).to_contain_text("MAIL_REPLIES_SECRET")  # replies by e-mail: off
    expect(tiles.nth(3)).to_contain_text("PAYMENTS_WEBHOOK_SECRET")
    rows = page.locator("tr.delivery-row")
    expect(rows.first).to_contain_text("503")
    shot(page, f"connectors-{lang}-{size[0]}", full_page=size[0] > 600)
    rows.first.locator("a").first.click()
    expect(page.locator("#attempts tr.attempt-row")).to_have_count(1)
    expect(page.locator("#request")).to_contain_text("${ERP_URL}/sales-orders")
    expect(page.locator("#again")).to_be_visible()
    shot(page, f"delivery-{lang}-{size[0]}", full_page=size[0] > 600)
    ctx.close()


def test_once_the_erp_is_back_a_retry_gets_the_order_its_number(browser, live_erp):
    base, rt, receiver, send = live_erp
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "admin")
    page.goto(base + "/settings/connectors?status=pending")
    page.locator("tr.delivery-row a").first.click()
    receiver.then = (201, {"document_number": "ERP-2026-0042"})
    page.click("#again")
    expect(page.locator(".alert.ok")).to_contain_text("fresh series of attempts")
    send()
    page.reload()
    expect(page.locator("#delivery-status")).to_have_text("Delivered")
    page.locator("dl.facts a").first.click()
    expect(page.locator("body")).to_contain_text("ERP-2026-0042")
    shot(page, "order-with-erp-number")
    ctx.close()
