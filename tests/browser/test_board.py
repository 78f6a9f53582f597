"""The kanban board in Chromium: a drag that the workflow allows fires the transition; a drag it
refuses snaps back with the reason; the keyboard menu moves a card too."""
import re

from playwright.sync_api import expect

from tests.access.test_permissions import all_rows, who
from tests.browser.conftest import shot, sign_in


def _draft_of(rt, username):
    rep = who(rt, username)
    drafts = [o for o in all_rows(rt, rep, "sales_order", sort="-updated_at")["items"] if o["status"] == "draft"]
    return drafts[0]


def test_dragging_a_card_fires_the_transition_or_snaps_back(browser, live):
    base, rt = live
    order = _draft_of(rt, "rep_west2")
    page = sign_in(browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US"), base, "rep_west2")
    page.goto(base + "/sales_order")
    page.click("a.button:has-text('Board')")
    page.wait_for_url(base + "/sales_order/board")
    card = page.locator(f".kcard[data-id='{order['id']}']")
    expect(card).to_have_attribute("data-state", "draft")
    # draft -> approved: no such transition for a rep; the card goes back and the page says why
    card.drag_to(page.locator(".board-col[data-state=approved]"))
    expect(page.locator("#board-message")).to_contain_text("You cannot move it from Draft to Approved")
    expect(page.locator(f".board-col[data-state=draft] .kcard[data-id='{order['id']}']")).to_have_count(1)
    # draft -> department review: submit fires
    with page.expect_navigation():  # the board reloads once the server has fired the transition
        card.drag_to(page.locator(".board-col[data-state=in_review]"))
    expect(page.locator(f".board-col[data-state=in_review] .kcard[data-id='{order['id']}']")).to_have_count(1)
    assert rt.records.get(who(rt, "rep_west2"), "sales_order", order["id"])["status"] == "in_review"
    shot(page, "order-board")
    page.context.close()


def test_the_move_menu_works_from_the_keyboard(browser, live):
    base, rt = live
    order = _draft_of(rt, "rep_east1")
    page = sign_in(browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US"), base, "rep_east1")
    page.goto(base + "/sales_order/board")
    menu = page.locator(f"#mv-{order['id']}")
    menu.focus()
    menu.select_option("submit")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/sales_order/board")
    expect(page.locator(f".board-col[data-state=in_review] .kcard[data-id='{order['id']}']")).to_have_count(1)
    # cancelling needs a reason: the move opens the record's cancel form instead of firing blind
    page.locator(f"#mv-{order['id']}").select_option("cancel")
    page.locator(f".kcard[data-id='{order['id']}'] .kcard-move button").click()
    page.wait_for_url(re.compile(rf"/sales_order/{order['id']}#step-cancel$"))
    expect(page.locator("details#step-cancel[open] #in-cancel-reason")).to_be_visible()
    page.context.close()
