"""Administrators in the browser: create a user, ask why a permission is allowed or denied,
read a role's permissions; a rep does not see the settings at all."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import CSP_VIOLATIONS, shot, sign_in


def test_admin_creates_a_user_who_can_then_sign_in(browser, live):
    base, _ = live
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "admin")
    page.click("text=Settings")
    expect(page.locator("h1")).to_have_text("Users")
    expect(page.locator("table.list")).to_contain_text("rep_east1")
    shot(page, "settings-users")
    page.click("text=New user")
    page.fill("#f-username", "rep_east3")
    page.fill("#f-password", "long-password-1")
    page.fill("#f-full_name", "Rep East 3")
    page.select_option("#f-manager", "sup_east")
    page.select_option("#f-attr-region", "east")
    page.check("input[name=roles][value=sales_rep]")
    page.click("button.primary")
    expect(page.locator(".alert.ok")).to_contain_text("Saved")
    expect(page.locator("#f-manager")).to_have_value("sup_east")
    ctx.close()
    other = browser.new_context()
    newcomer = other.new_page()
    newcomer.goto(base + "/login")
    newcomer.fill("#username", "rep_east3")
    newcomer.fill("#password", "long-password-1")
    newcomer.click("button.primary")
    newcomer.wait_for_url(base + "/")
    newcomer.goto(base + "/sales_order")
    expect(newcomer.locator(".empty")).to_be_visible()  # a new rep owns no orders yet
    expect(newcomer.locator("a:has-text('Settings')")).to_have_count(0)
    other.close()
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS


def test_explain_why_a_rep_may_not_change_a_colleagues_order(browser, live):
    base, rt = live
    from tests.access.test_permissions import all_rows, who
    theirs = all_rows(rt, who(rt, "manager"), "sales_order", filters=[("owner", "eq", str(who(rt, "rep_east2").id))])["items"][0]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "admin")
    page.goto(base + "/settings/explain")
    page.select_option("#x-user", "rep_east1")
    page.select_option("#x-entity", "sales_order")
    page.select_option("#x-action", "update")
    page.fill("#x-record", str(theirs["id"]))
    page.click(".filters button")
    expect(page.locator("section.card")).to_contain_text("Denied")
    expect(page.locator("section.card")).to_contain_text("sales_rep: sales_order.update = own")
    shot(page, "settings-explain")
    page.goto(base + "/settings/roles?role=sales_supervisor")
    expect(page.locator("table.list")).to_contain_text("team")
    shot(page, "settings-roles")
    ctx.close()
    rep = sign_in(browser.new_context(), base, "rep_east1")
    rep.goto(base + "/settings/users")
    expect(rep.locator("h1")).to_have_text("Not allowed")
    rep.context.close()
    assert re.match(r"\d+", str(theirs["id"]))


def test_a_rep_says_where_they_are_told_on_a_phone_in_chinese(browser, live):
    base, rt = live
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    page = sign_in(ctx, base, "rep_west2")
    page.goto(base + "/account")
    card = page.locator("#notifications")
    expect(card.locator("h2")).to_have_text("通知")
    expect(page.locator("#f-email")).to_have_value("rep.west2@example.com")  # the demo's address
    expect(card).to_contain_text("同时通过以下方式通知我")
    page.fill("#f-email", "wang@example.cn")
    page.fill("#f-phone", "找我办公室")
    card.locator("button").click()
    expect(page.locator("#err-phone")).to_have_text("不是电话号码：只能包含数字、空格、()-./，开头可以有 +")
    expect(page.locator("#f-email")).to_have_value("wang@example.cn")  # what was typed stays
    page.fill("#f-phone", "+86 138 0013 8000")
    page.uncheck("input[name=channel_email]")
    shot(page, "account-notifications-phone-zh")
    page.locator("#notifications button").click()
    expect(page.locator(".alert.ok")).to_have_text("您的通知设置已保存。")
    expect(page.locator("input[name=channel_email]")).not_to_be_checked()
    from tests.access.test_permissions import who
    assert rt.accounts.notice_settings(who(rt, "rep_west2")) == {"email": "wang@example.cn", "phone": "+86 138 0013 8000",
                                                                 "channels": {"email": False, "sms": True}}
    ctx.close()
