"""Comments on the record page in the browser: a rep writes a note and mentions their supervisor,
picking them from the list that @ opens (only people who may read the order are offered), sees
the note with its formatting, the supervisor finds it in the bell and answers; a mention of a
colleague who cannot see the order is refused with the reason and the text kept. On a laptop in
English and on a phone in Chinese."""
from playwright.sync_api import expect

from engine.records.listing import ListQuery
from tests.browser.conftest import shot, sign_in
from tests.conftest import _who


def an_order_of(rt, username: str) -> dict:
    rep = _who(rt, username)
    orders = rt.records.list(rep, "sales_order", ListQuery(limit=50))["items"]
    return [o for o in orders if o["status"] == "draft" and o["owner"] == rep.id][-1]


def test_a_rep_mentions_their_supervisor_who_answers(browser, live):
    base, rt = live
    rt.records.mark_read(_who(rt, "sup_east"))  # what the demo data told the supervisor is read: the bell starts at nothing
    order = an_order_of(rt, "rep_east2")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "rep_east2")
    page.goto(f"{base}/sales_order/{order['id']}")
    box = page.locator("#new-comment")
    box.fill("The customer wants **express delivery**; ")
    box.press("End")
    box.type("@sup")
    offered = page.locator(".mention-list button")
    expect(offered).to_have_count(1)  # sup_west cannot read this order: only sup_east is offered
    expect(offered.first).to_contain_text("Supervisor East")
    offered.first.click()
    expect(box).to_have_value("The customer wants **express delivery**; @sup_east ")
    box.press("End")
    box.type("can we promise it?")
    page.click("#comments button.primary")
    note = page.locator("#activity li.act-comments").first  # the newest is on top
    expect(note).to_contain_text("Rep East 2")
    expect(note.locator("strong", has_text="express delivery")).to_be_visible()
    expect(note.locator(".mention")).to_have_text("@sup_east")
    expect(page.locator("#activity .chips a", has_text="Comments")).to_have_text("Comments 1")
    expect(page.locator("#activity li").nth(1)).to_contain_text("created this record")  # the order's own history below it
    # a colleague outside the order's reach cannot be mentioned; the text stays to be corrected
    box = page.locator("#new-comment")
    box.fill("@rep_east1 please help")
    page.click("#comments button.primary")
    expect(page.locator("#comment-error")).to_have_text("@rep_east1 cannot see this sales order: mention only people who can")
    expect(page.locator("#new-comment")).to_have_value("@rep_east1 please help")
    shot(page, "record-comments", full_page=True)
    ctx.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    page = sign_in(phone, base, "sup_east")
    page.goto(f"{base}/?lang=zh")
    # the bell says one unread, and says it in the reader's language, though the rep wrote in English
    expect(page.locator(".bell-count")).to_have_text("1")
    page.click(".bell-menu summary")
    note = page.locator(".bell-list li.unread a")
    expect(note).to_have_text("Rep East 2 提到了您：“The customer wants **express delivery**; @sup_east can we promise it?”")
    shot(page, "bell-zh-phone")
    note.click()
    page.wait_for_url(f"{base}/sales_order/{order['id']}")
    expect(page.locator(".bell-menu summary")).to_be_visible()
    expect(page.locator(".bell-count")).to_have_count(0)  # opened: read
    page.goto(f"{base}/sales_order/{order['id']}?lang=zh")
    expect(page.locator("#activity .chips a", has_text="评论")).to_have_text("评论 1")
    page.locator("#new-comment").fill("可以，@rep_east2 请确认交货日期。")
    page.click("#comments button.primary")
    expect(page.locator("#activity li.act-comments")).to_have_count(2)
    expect(page.locator("#activity li.act-comments").first.locator(".mention")).to_have_text("@rep_east2")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    page.locator("#activity").scroll_into_view_if_needed()
    shot(page, "record-comments-zh-phone")
    phone.close()
    # the supervisor heard of the mention in the bell
    from sqlalchemy import select
    n = rt.schema.notification
    with rt.db.read() as conn:
        told = conn.execute(select(n.c.message).where(n.c.user_id == _who(rt, "sup_east").id, n.c.kind == "mention")).scalars().all()
    assert told == ["Rep East 2 mentioned you: “The customer wants **express delivery**; @sup_east can we promise it?”"]
