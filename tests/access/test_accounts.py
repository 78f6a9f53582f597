"""User administration, sign-in throttling, security headers, explanations and exports."""
import json
import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from engine.core.errors import Forbidden, ValidationFailed
from engine.server import create_app
from tests.access.test_permissions import who
from tests.conftest import make_user, seed_basics
from tests.html import text_by_id, visible_text
from tests.web.test_pages import SECRET, csrf, sign_in


@pytest.fixture
def web(rt):
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as c:
        yield c


def audit_actions(rt, record_id=None):
    a = rt.schema.audit
    stmt = select(a.c.action, a.c.actor, a.c.changes).where(a.c.entity == "sys_user").order_by(a.c.id)
    if record_id is not None:
        stmt = stmt.where(a.c.record_id == record_id)
    with rt.db.read() as conn:
        return [(r.action, r.actor, json.loads(r.changes)) for r in conn.execute(stmt)]


def test_repeated_failures_lock_the_username_for_a_while(rt, web, clerk):
    for _ in range(5):
        assert sign_in(web, "clerk", "wrong").status_code == 401
    locked = sign_in(web, "clerk", "demo")  # even the right password, while locked
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text and int(locked.headers["retry-after"]) > 60
    api = web.post("/api/v1/auth/token", json={"username": "clerk", "password": "demo"})
    assert api.status_code == 429 and api.headers["content-type"].startswith("application/problem+json")
    actions = [a for a, _, _ in audit_actions(rt, clerk.id)]
    assert actions.count("login_failed") == 5 and "login" not in actions
    # another user is not affected
    make_user(rt, "other")
    assert sign_in(web, "other", "demo").status_code == 303
    assert ("login", "other") in [(a, who) for a, who, _ in audit_actions(rt)]


def test_security_headers_and_cookie_flags(rt, web, clerk):
    r = web.get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in r.headers
    with TestClient(create_app(rt, secret_key=SECRET), base_url="https://testserver") as secure:
        page = secure.get("/login")
        assert "max-age" in page.headers["strict-transport-security"]
        ok = secure.post("/login", data={"username": "clerk", "password": "demo", "csrf_token": csrf(page.text), "next": "/"},
                         follow_redirects=False)
        assert "secure" in ok.headers["set-cookie"].lower()


def test_admin_creates_changes_and_deactivates_users(rt, web, clerk):
    assert sign_in(web).status_code == 303
    page = web.get("/settings/users/new")
    assert page.status_code == 200 and 'name="roles"' in page.text and 'name="attr_region"' in page.text
    r = web.post("/settings/users/new", data={"csrf_token": csrf(page.text), "username": "rep_new", "password": "secret-123",
                                              "full_name": "New Rep", "roles": ["sales_rep"], "attr_region": "west"},
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    uid = int(r.headers["location"].split("/")[-1].split("?")[0])
    listing = web.get("/settings/users")
    assert "rep_new" in listing.text and "west" in listing.text
    # bad input keeps what was typed and names the field
    bad = web.post(f"/settings/users/{uid}", data={"csrf_token": csrf(page.text), "full_name": "Typed name", "roles": ["no_such_role"],
                                                   "manager": "", "active": "on"})
    assert bad.status_code == 422 and "there is no role" in bad.text and "Typed name" in bad.text
    # a token of the new user works until they are deactivated
    token = web.post("/api/v1/auth/token", json={"username": "rep_new", "password": "secret-123"}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    assert web.get("/api/v1/auth/me", headers=h).status_code == 200
    r = web.post(f"/settings/users/{uid}", data={"csrf_token": csrf(page.text), "full_name": "New Rep", "roles": ["sales_supervisor"],
                                                 "manager": "clerk", "attr_region": "west"}, follow_redirects=False)
    assert r.status_code == 303
    assert web.get("/api/v1/auth/me", headers=h).status_code == 401
    changed = [c for a, _, c in audit_actions(rt, uid) if a == "permissions_changed"][-1]["fields"]
    assert changed["roles"] == [["sales_rep"], ["sales_supervisor"]] and changed["active"] == [True, False]
    assert changed["manager"] == [None, "clerk"]


def test_reporting_lines_cannot_loop_and_only_admins_administer(rt, clerk):
    boss = make_user(rt, "boss", roles=("sales_manager",))
    make_user(rt, "mid", roles=("sales_supervisor",), manager="boss")
    with pytest.raises(ValidationFailed) as exc:
        rt.accounts.update(clerk, boss.id, manager="mid")
    assert exc.value.errors[0].field == "manager" and "circle" in exc.value.errors[0].message
    with pytest.raises(Forbidden):
        rt.accounts.list(boss)
    with pytest.raises(Forbidden):
        rt.accounts.reset_password(boss, clerk.id, "long-enough-1")


def test_users_change_their_own_password_and_language(rt, web, clerk):
    make_user(rt, "self_service", roles=("sales_rep",))
    assert sign_in(web, "self_service").status_code == 303
    page = web.get("/account")
    assert re.search(r"<title>My account · [^<]+</title>", page.text) and page.text.count("<h2>API tokens</h2>") == 1
    wrong = web.post("/account/password", data={"csrf_token": csrf(page.text), "current_password": "nope", "password": "new-password-1"})
    assert wrong.status_code == 422 and "not your current password" in wrong.text
    ok = web.post("/account/password", data={"csrf_token": csrf(page.text), "current_password": "demo", "password": "new-password-1"},
                  follow_redirects=False)
    assert ok.status_code == 303
    page = web.get("/account")  # signing the session again gave it a new CSRF token
    web.post("/account/language", data={"csrf_token": csrf(page.text), "language": "ru"})
    assert "Заказы клиентов" in web.get("/sales_order").text
    assert ("password_changed", "self_service") in [(a, who) for a, who, _ in audit_actions(rt)]
    assert ("user_changed", "self_service", {"fields": {"language": [None, "ru"]}}) in audit_actions(rt)  # one's own settings are audited too


def test_users_choose_the_time_zone_the_screens_show_times_in(rt, web, clerk):
    import datetime as dt

    from engine.access.accounts import time_zones
    from engine.web.i18n import Formatter
    make_user(rt, "zoned", roles=("sales_rep",))
    assert sign_in(web, "zoned").status_code == 303
    page = web.get("/account")
    wrong = web.post("/account/language", data={"csrf_token": csrf(page.text), "language": "", "time_zone": "Mars/Olympus"})
    assert wrong.status_code == 422 and "choose a time zone from the list" in wrong.text
    assert web.post("/account/language", data={"csrf_token": csrf(page.text), "language": "", "time_zone": "Asia/Shanghai"},
                    follow_redirects=False).status_code == 303
    assert 'value="Asia/Shanghai" selected' in web.get("/account").text
    assert ("user_changed", "zoned", {"fields": {"time_zone": [None, "Asia/Shanghai"]}}) in audit_actions(rt)
    noon = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.timezone.utc)
    assert Formatter("en", "Asia/Shanghai").datetime(noon) == "Dec 7, 2026, 12:00:00\u202fPM"  # 04:00 UTC is noon in Shanghai
    assert Formatter("ru", "Europe/Moscow").datetime(noon).endswith("07:00:00")
    assert "Asia/Shanghai" in time_zones() and "Etc/GMT+3" not in time_zones()


def test_users_say_where_and_how_they_are_told(rt, web, clerk):
    me = make_user(rt, "told", roles=("sales_rep",))
    assert sign_in(web, "told").status_code == 303
    page = web.get("/account")
    card = text_by_id(page.text, "notifications")
    assert "E-mail address" in card and "Mobile phone number" in card
    assert "Also tell me by E-mail" in " ".join(card.split())  # the demo's mail connector carries e-mail; nothing carries texts
    assert 'name="channel_email" checked' in page.text and 'name="channel_sms"' not in page.text
    assert "(give an address above, or nothing can reach you this way)" in card
    bad = web.post("/account/notifications", data={"csrf_token": csrf(page.text), "email": "told at example", "phone": "+7 (495) 123-45-67",
                                                   "shown_channel": "email", "channel_email": "on"})
    assert bad.status_code == 422
    assert text_by_id(bad.text, "err-email") == "not an e-mail address, expected name@example.com"
    assert 'value="told at example"' in bad.text and 'value="+7 (495) 123-45-67"' in bad.text  # what was typed stays
    ok = web.post("/account/notifications", data={"csrf_token": csrf(page.text), "email": "told@example.com", "phone": "+7 (495) 123-45-67",
                                                  "shown_channel": "email"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/account?saved=notices"
    page = web.get("/account?saved=notices")
    assert "Your notification settings were saved." in visible_text(page.text)
    assert 'name="channel_email" checked' not in page.text
    assert rt.accounts.notice_settings(me) == {"email": "told@example.com", "phone": "+7 (495) 123-45-67", "channels": {"email": False, "sms": True}}
    assert ("user_changed", "told", {"fields": {"email": [None, "told@example.com"], "phone": [None, "+7 (495) 123-45-67"],
                                                "channels": [None, {"email": False}]}}) in audit_actions(rt, me.id)


def test_admins_set_a_users_email_and_phone(rt, web, clerk):
    assert sign_in(web).status_code == 303
    page = web.get("/settings/users/new")
    r = web.post("/settings/users/new", data={"csrf_token": csrf(page.text), "username": "rep_mail", "password": "secret-123", "roles": ["sales_rep"],
                                              "email": "rep.mail@example.com", "phone": "+86 10 1234 5678"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    uid = int(r.headers["location"].split("/")[-1].split("?")[0])
    assert rt.accounts.get(clerk, uid)["email"] == "rep.mail@example.com"
    bad = web.post(f"/settings/users/{uid}", data={"csrf_token": csrf(page.text), "roles": ["sales_rep"], "email": "x@", "phone": "", "active": "on"})
    assert bad.status_code == 422 and text_by_id(bad.text, "err-email") == "not an e-mail address, expected name@example.com"
    ok = web.post(f"/settings/users/{uid}", data={"csrf_token": csrf(page.text), "roles": ["sales_rep"], "email": "", "phone": "", "active": "on"},
                  follow_redirects=False)
    assert ok.status_code == 303
    row = rt.accounts.get(clerk, uid)
    assert (row["email"], row["phone"]) == (None, None)
    changed = [c for a, _, c in audit_actions(rt, uid) if a == "user_changed"][-1]["fields"]
    assert changed == {"email": ["rep.mail@example.com", None], "phone": ["+86 10 1234 5678", None]}


def test_explain_says_which_rule_decided(rt, clerk, client):
    rep = make_user(rt, "rep_x", roles=("sales_rep",))
    other = make_user(rt, "rep_y", roles=("sales_rep",))
    seed = seed_basics(rt, clerk)
    rt.accounts.update(clerk, other.id, attributes={"region": "east"})
    other = who(rt, "rep_y")
    order = rt.records.create(other, "sales_order", {"customer": seed["customer"], "lines": [{"product": seed["p1"], "quantity": 1}]})
    token = client.post("/api/v1/auth/token", json={"username": "clerk", "password": "demo"}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    no = client.get(f"/api/v1/permissions/explain?user=rep_x&entity=sales_order&action=update&record={order['id']}", headers=h).json()
    assert no["allowed"] is False and "outside every scope" in no["reason"] and no["rules"][0]["rule"] == "sales_rep: sales_order.update = own"
    yes = client.get(f"/api/v1/permissions/explain?user=rep_y&entity=sales_order&action=update&record={order['id']}", headers=h).json()
    assert yes["allowed"] is True and yes["rule"] == "sales_rep: sales_order.update = own" and yes["where"].endswith("roles.yaml:13")
    assert client.get("/api/v1/permissions/explain?user=rep_x&entity=sales_order&action=delete", headers=h).json()["allowed"] is False
    hidden = client.get("/api/v1/permissions/explain?user=rep_x&entity=product&action=read", headers=h).json()
    assert hidden["allowed"] is True and hidden["hidden_fields"] == ["cost"]
    table = client.get("/api/v1/permissions/roles/sales_supervisor", headers=h).json()
    row = next(r for r in table["entities"] if r["entity"] == "sales_order")
    assert row["read"] == "team or own" and row["delete"] == "none" and table["inherits"] == ["sales_rep"]
    sign_in(client)  # the screen: a bad record id is said, not raised
    page = client.get("/settings/explain", params={"user": "rep_x", "entity": "sales_order", "action": "update", "record": "12a"})
    assert page.status_code == 200 and "a record id is a whole number" in page.text
    rep_token = client.post("/api/v1/auth/token", json={"username": "rep_x", "password": "demo"}).json()["token"]
    assert client.get("/api/v1/permissions/roles/sales_rep", headers={"Authorization": f"Bearer {rep_token}"}).status_code == 403
    assert rep.id != other.id


def test_export_follows_the_export_scope_hides_fields_and_is_audited(rt, clerk, client):
    seed = seed_basics(rt, clerk)
    rep = make_user(rt, "rep_csv", roles=("sales_rep",))
    rt.accounts.update(clerk, rep.id, attributes={"region": "east"})  # reps see (and may link) their region's customers
    rep = who(rt, "rep_csv")
    rt.records.create(rep, "sales_order", {"customer": seed["customer"], "lines": [{"product": seed["p1"], "quantity": 2}]})
    rt.records.create(clerk, "sales_order", {"customer": seed["customer"], "lines": [{"product": seed["p1"], "quantity": 3}]})
    token = client.post("/api/v1/auth/token", json={"username": "rep_csv", "password": "demo"}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/sales_order/export.csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("id,Number,Customer")  # the header and the rep's one order
    products = client.get("/api/v1/product/export.csv", headers=h)
    assert products.status_code == 403  # reps may read products but not export them
    a = rt.schema.audit
    with rt.db.read() as conn:
        entry = conn.execute(select(a.c.changes).where(a.c.action == "export", a.c.actor == "rep_csv")).scalar_one()
    assert json.loads(entry)["rows"] == 1


def test_password_changes_end_other_sessions_and_tokens_can_be_revoked(rt, clerk):
    make_user(rt, "two_devices", roles=("sales_rep",))
    with TestClient(create_app(rt, secret_key=SECRET)) as laptop, TestClient(create_app(rt, secret_key=SECRET)) as phone:
        assert sign_in(laptop, "two_devices").status_code == 303 and sign_in(phone, "two_devices").status_code == 303
        page = laptop.get("/account")
        r = laptop.post("/account/password", data={"csrf_token": csrf(page.text), "current_password": "demo", "password": "brand-new-pw"},
                        follow_redirects=False)
        assert r.status_code == 303
        assert laptop.get("/sales_order", follow_redirects=False).status_code == 200  # this device stays signed in
        assert phone.get("/sales_order", follow_redirects=False).status_code == 303  # the other must sign in again
        # tokens: created on the account page, shown once, listed by label, revoked there or through the API
        page = laptop.get("/account")
        made = laptop.post("/account/tokens", data={"csrf_token": csrf(page.text), "label": "spreadsheet sync"})
        token = made.text.split('id="new-token" readonly value="')[1].split('"')[0]
        assert token.startswith("eng_") and "spreadsheet sync" in made.text
        h = {"Authorization": f"Bearer {token}"}
        assert laptop.get("/api/v1/auth/me", headers=h).status_code == 200
        assert laptop.delete("/api/v1/auth/token", headers=h).status_code == 204
        assert laptop.get("/api/v1/auth/me", headers=h).status_code == 401
        assert "spreadsheet sync" not in laptop.get("/account").text
    with TestClient(create_app(rt, secret_key=SECRET)) as admin_web:
        sign_in(admin_web)
        target = who(rt, "two_devices")
        page = admin_web.get(f"/settings/users/{target.id}")
        r = admin_web.post(f"/settings/users/{target.id}/password", data={"csrf_token": csrf(page.text), "new_password": "short"})
        assert r.status_code == 422 and "at least 8 characters" in r.text
        assert ("token_revoked", "two_devices") in [(a, u) for a, u, _ in audit_actions(rt)]
