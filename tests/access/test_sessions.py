"""Server-side sessions: signing out, password changes, resets and deactivation end sessions on
every process; idle and old sessions expire; users see and end their sessions; API tokens are
revoked with a password change; X-Forwarded-For is believed only from trusted proxies."""
import datetime as dt
import json

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from engine.access import sessions as user_sessions
from engine.server import create_app
from engine.web.proxies import parse_trusted
from tests.access.test_permissions import who
from tests.conftest import make_user
from tests.web.test_pages import SECRET, csrf, sign_in


def browser(rt, **kw):
    return TestClient(create_app(rt, secret_key=SECRET, **kw), raise_server_exceptions=False)


def signed_in(page) -> bool:
    """Does this client reach a screen (rather than being sent to the sign-in page)?"""
    return page.get("/sales_order", follow_redirects=False).status_code == 200


def copy_cookie(src: TestClient, dst: TestClient) -> None:
    dst.cookies.set("engine_session", src.cookies.get("engine_session"))


def sessions_of(rt, username):
    s = rt.schema.session
    with rt.db.read() as conn:
        return conn.execute(select(s).where(s.c.user_id == who(rt, username).id).order_by(s.c.id)).mappings().all()


def test_sign_out_ends_the_session_for_a_copied_cookie_on_every_process(rt, dbs, clerk):
    make_user(rt, "rep_copy")
    other_process = dbs.runtime(url=rt.db.url, schema=_schema(rt))
    with browser(rt) as laptop, browser(rt) as thief, browser(other_process) as elsewhere:
        assert sign_in(laptop, "rep_copy").status_code == 303
        copy_cookie(laptop, thief)
        copy_cookie(laptop, elsewhere)
        assert signed_in(thief) and signed_in(elsewhere)
        page = laptop.get("/")
        assert laptop.post("/logout", data={"csrf_token": csrf(page.text)}, follow_redirects=False).status_code == 303
        assert not signed_in(laptop)
        assert not signed_in(thief), "a copied cookie must stop working once its session is signed out"
        assert not signed_in(elsewhere), "another app process must see the sign-out at once"
    row = sessions_of(rt, "rep_copy")[-1]
    assert row["ended_reason"] == "signed_out" and row["ended_at"] is not None
    a = rt.schema.audit
    with rt.db.read() as conn:
        assert conn.execute(select(a.c.action).where(a.c.actor == "rep_copy").order_by(a.c.id)).scalars().all()[-1] == "logout"


def _schema(rt):
    """The PostgreSQL schema this runtime's test database lives in (None on SQLite)."""
    if rt.db.dialect != "postgresql":
        return None
    with rt.db.read() as conn:
        return conn.exec_driver_sql("SELECT current_schema()").scalar()


@pytest.mark.parametrize("column, age", [("last_seen_at", dt.timedelta(hours=12, minutes=1)),
                                         ("created_at", dt.timedelta(days=14, minutes=1))])
def test_idle_and_old_sessions_expire(rt, clerk, column, age):
    make_user(rt, "rep_idle")
    with browser(rt) as page:
        assert sign_in(page, "rep_idle").status_code == 303 and signed_in(page)
        s = rt.schema.session
        then = dt.datetime.now(dt.timezone.utc) - age
        values = {column: then} if column == "last_seen_at" else {"created_at": then}  # the absolute limit counts from sign-in
        with rt.db.write() as conn:
            conn.execute(s.update().where(s.c.user_id == who(rt, "rep_idle").id).values(**values))
        redirect = page.get("/sales_order", follow_redirects=False)
        assert redirect.status_code == 303 and redirect.headers["location"].startswith("/login")


def test_last_seen_is_written_at_most_once_a_minute(rt, clerk):
    make_user(rt, "rep_seen")
    with browser(rt) as page:
        sign_in(page, "rep_seen")
        first = sessions_of(rt, "rep_seen")[-1]["last_seen_at"]
        page.get("/sales_order")
        assert sessions_of(rt, "rep_seen")[-1]["last_seen_at"] == first  # within a minute: no write
        s = rt.schema.session
        earlier = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
        with rt.db.write() as conn:
            conn.execute(s.update().where(s.c.user_id == who(rt, "rep_seen").id).values(last_seen_at=earlier))
        page.get("/sales_order")
        assert sessions_of(rt, "rep_seen")[-1]["last_seen_at"] > earlier + dt.timedelta(minutes=4)


def test_session_limits_come_from_the_environment():
    p = user_sessions.Policy.from_env({"ENGINE_SESSION_IDLE_HOURS": "0.5", "ENGINE_SESSION_MAX_DAYS": "2"})
    assert p.idle == dt.timedelta(minutes=30) and p.absolute == dt.timedelta(days=2)
    assert user_sessions.Policy.from_env({}) == user_sessions.Policy(dt.timedelta(hours=12), dt.timedelta(days=14))
    with pytest.raises(ValueError, match="ENGINE_SESSION_IDLE_HOURS must be a positive number"):
        user_sessions.Policy.from_env({"ENGINE_SESSION_IDLE_HOURS": "twelve"})


def test_users_see_their_sessions_and_end_the_others(rt, clerk):
    make_user(rt, "rep_devices")
    phone_ua = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"}
    with browser(rt) as laptop, browser(rt) as phone, browser(rt) as tablet:
        sign_in(laptop, "rep_devices")
        phone.headers.update(phone_ua)
        sign_in(phone, "rep_devices")
        sign_in(tablet, "rep_devices")
        page = laptop.get("/account")
        rows = _session_rows(page.text)
        assert len(rows) == 3 and sum("This device" in r for r in rows) == 1
        assert any("Chrome · Android" in r for r in rows)
        phone_id = sessions_of(rt, "rep_devices")[1]["id"]
        r = laptop.post(f"/account/sessions/{phone_id}/end", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
        assert r.status_code == 303
        assert not signed_in(phone) and signed_in(tablet) and signed_in(laptop)
        page = laptop.get(r.headers["location"])
        assert "The session was ended" in page.text and len(_session_rows(page.text)) == 2
        # someone else's session id is not yours to end
        other = make_user(rt, "rep_else")
        with browser(rt) as theirs:
            sign_in(theirs, "rep_else")
            their_id = sessions_of(rt, "rep_else")[-1]["id"]
            assert laptop.post(f"/account/sessions/{their_id}/end", data={"csrf_token": csrf(page.text)}).status_code == 404
            assert signed_in(theirs) and other.id
        r = laptop.post("/account/sessions/end-others", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
        assert r.status_code == 303 and not signed_in(tablet) and signed_in(laptop)
        assert len(_session_rows(laptop.get("/account").text)) == 1


def _session_rows(html: str) -> list[str]:
    section = html.split('id="sessions"')[1].split("</section>")[0]
    return section.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]


def test_password_change_ends_every_other_session_and_revokes_tokens(rt, clerk):
    make_user(rt, "rep_pw")
    with browser(rt) as laptop, browser(rt) as phone:
        sign_in(laptop, "rep_pw")
        sign_in(phone, "rep_pw")
        token = laptop.post("/api/v1/auth/token", json={"username": "rep_pw", "password": "demo"}).json()["token"]
        page = laptop.get("/account")
        assert "revokes your API tokens (1)" in page.text  # said before the change
        r = laptop.post("/account/password", data={"csrf_token": csrf(page.text), "current_password": "demo", "password": "new-secret-9"},
                        follow_redirects=False)
        assert r.status_code == 303
        assert signed_in(laptop) and not signed_in(phone)
        assert laptop.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    reasons = [s["ended_reason"] for s in sessions_of(rt, "rep_pw")]
    assert reasons.count("password_changed") == 2 and reasons[-1] is None  # both old sessions ended; this device has a new one


def test_admin_reset_and_deactivation_end_sessions_and_tokens(rt, clerk):
    make_user(rt, "rep_reset")
    target = who(rt, "rep_reset")
    with browser(rt) as rep, browser(rt) as admin:
        sign_in(rep, "rep_reset")
        token = rep.post("/api/v1/auth/token", json={"username": "rep_reset", "password": "demo"}).json()["token"]
        sign_in(admin, "clerk")
        page = admin.get(f"/settings/users/{target.id}")
        assert "revokes all their API tokens" in page.text
        admin.post(f"/settings/users/{target.id}/password", data={"csrf_token": csrf(page.text), "new_password": "reset-pw-123"})
        assert not signed_in(rep)
        assert rep.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        # deactivation: sessions end and stay ended when the user is let back in
        sign_in(rep, "rep_reset", "reset-pw-123")
        assert signed_in(rep)
        rt.accounts.update(clerk, target.id, active=False)
        rt.accounts.update(clerk, target.id, active=True)
        assert not signed_in(rep)
    reasons = [s["ended_reason"] for s in sessions_of(rt, "rep_reset")]
    assert reasons == ["password_reset", "deactivated"]
    a = rt.schema.audit
    with rt.db.read() as conn:
        entry = conn.execute(select(a.c.changes).where(a.c.action == "password_reset", a.c.record_id == target.id)).scalar_one()
    assert json.loads(entry) == {"sessions_ended": 1, "tokens_revoked": 1}


def test_forwarded_for_is_believed_only_from_trusted_proxies(rt, clerk):
    def attempts(client, n, rotate):
        codes = []
        for i in range(n):
            headers = {"X-Forwarded-For": f"203.0.113.{i}"} if rotate else {}
            codes.append(client.post("/api/v1/auth/token", json={"username": f"nobody{i}", "password": "x"}, headers=headers).status_code)
        return codes

    # no proxy named: rotating the header does not give a client new addresses, so the address lock holds
    with TestClient(create_app(rt, secret_key=SECRET, trusted_proxies=""), client=("198.51.100.7", 5000)) as direct:
        codes = attempts(direct, 31, rotate=True)
        assert codes[:30] == [401] * 30 and codes[30] == 429
    a = rt.schema.audit
    with rt.db.read() as conn:
        addresses = {json.loads(c)["address"] for c in conn.execute(select(a.c.changes).where(a.c.action == "login_failed")).scalars()}
    assert addresses == {"198.51.100.7"}
    # behind a named proxy: the address the proxy saw is the client's
    with TestClient(create_app(rt, secret_key=SECRET, trusted_proxies="10.0.0.0/8"), client=("10.0.0.2", 5000)) as proxied:
        page = proxied.get("/login", headers={"X-Forwarded-For": "192.0.2.44, 10.0.0.9", "X-Forwarded-Proto": "https"})
        assert "max-age" in page.headers["strict-transport-security"]  # the proxy said the client came over HTTPS
        proxied.post("/api/v1/auth/token", json={"username": "clerk", "password": "demo"}, headers={"X-Forwarded-For": "spoofed, 192.0.2.44"})
    with rt.db.read() as conn:
        last = conn.execute(select(a.c.changes).where(a.c.action == "login").order_by(a.c.id.desc()).limit(1)).scalar_one()
    assert json.loads(last)["address"] == "192.0.2.44"
    with pytest.raises(ValueError, match="'proxy.local' is not an IP address"):
        parse_trusted("10.0.0.1, proxy.local")
