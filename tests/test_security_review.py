"""What a security review of the hardened engine found, each closed: HEAD never writes; a password
change or reset that lands between a sign-in's password check and its session or token leaves
neither behind; the current password on the account page is throttled like a sign-in; parallel
failures all count; a transition's input that fills a hidden field stays hidden with it; forwarded
headers from a trusted proxy are read strictly; signing in as someone else ends the last session;
a screen's error page speaks the page's language."""
import json
import threading

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from engine.access import logins, users
from engine.server import create_app
from engine.web.proxies import _forwarded, parse_trusted
from engine.workflow import transitions
from tests.access.test_permissions import who
from tests.apps import write_app
from tests.conftest import make_user
from tests.html import visible_text
from tests.records.test_notifications import APP as VISITS
from tests.web.test_pages import SECRET, csrf, sign_in


def browser(rt):
    return TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False)


def test_head_reads_and_never_writes(rt, people, clerk, api):
    order = rt.records.create(clerk, "sales_order", {"customer": people["customer"],
                                                     "lines": [{"product": people["product"], "quantity": 1, "unit_price": "5.00"}]})
    assert api.head(f"/api/v1/sales_order/{order['id']}").status_code == 200
    assert api.get(f"/api/v1/sales_order/{order['id']}").status_code == 200  # still there
    before = api.get("/api/v1/customer").json()["count"]
    assert api.client.request("HEAD", "/api/v1/customer", content=json.dumps({"code": "HX", "name": "Head Co", "region": "east"}),
                              headers={**api.headers, "content-type": "application/json"}).status_code == 200
    assert api.get("/api/v1/customer").json()["count"] == before
    rt.records.notifications(clerk)
    n = rt.schema.notification
    with rt.db.write() as conn:
        conn.execute(n.insert().values(user_id=clerk.id, entity=None, record_id=None, kind="note", message="hello",
                                       created_at=rt.records.clock()))
    assert api.head("/api/v1/notifications").status_code == 200
    assert api.get("/api/v1/notifications").json()["unread"] == 1


def test_a_password_reset_between_check_and_session_leaves_nothing_behind(rt, clerk, monkeypatch):
    """The reset commits while the sign-in's slow password check runs: the sign-in must fail."""
    victim = make_user(rt, "victim")
    real = users.password_matches

    def check_then_reset(row, password):
        ok = real(row, password)
        rt.accounts.reset_password(clerk, victim.id, "brand-new-password")  # lands between the check and the write
        return ok
    monkeypatch.setattr(logins.users, "password_matches", check_then_reset)
    made = []
    with pytest.raises(Exception) as exc:
        logins.sign_in(rt.db, rt.schema, "victim", "demo", "198.51.100.9", "api",
                       lambda conn, a: made.append(users.create_token(conn, rt.schema, a.username)))
    assert type(exc.value).__name__ == "Unauthenticated" and made == []
    with rt.db.read() as conn:
        live = conn.execute(select(func.count()).select_from(rt.schema.token)
                            .where(rt.schema.token.c.user_id == victim.id, rt.schema.token.c.revoked_at.is_(None))).scalar()
    assert live == 0


def test_guessing_the_current_password_on_the_account_page_is_throttled(rt, clerk):
    make_user(rt, "guessed")
    with browser(rt) as thief:
        sign_in(thief, "guessed")
        page = thief.get("/account")
        codes = [thief.post("/account/password", data={"csrf_token": csrf(page.text), "current_password": f"guess{i}",
                                                      "password": "new-password-1"}).status_code for i in range(6)]
        assert codes[:5] == [422] * 5 and codes[5] == 429
        assert "Too many" in thief.post("/account/password", data={"csrf_token": csrf(page.text), "current_password": "demo",
                                                                  "password": "new-password-1"}).text  # even the right one, while locked
    a = rt.schema.audit
    with rt.db.read() as conn:
        failed = [json.loads(c) for c in conn.execute(select(a.c.changes).where(a.c.action == "login_failed", a.c.actor == "guessed")).scalars()]
    assert len(failed) == 5 and all(f["purpose"] == "password change" for f in failed)


def test_parallel_failed_sign_ins_all_count(rt, clerk):
    make_user(rt, "target")

    def fail():
        try:
            logins.sign_in(rt.db, rt.schema, "target", "wrong", None, "api")
        except Exception as exc:  # noqa: BLE001 - each must be a refusal, never an error
            results.append(type(exc).__name__)
    results: list[str] = []
    threads = [threading.Thread(target=fail) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(results)) == ["Unauthenticated"], results
    t = rt.schema.login_attempt
    with rt.db.read() as conn:
        assert conn.execute(select(t.c.failures).where(t.c.key == "user:target")).scalar() == 4


def test_an_input_that_fills_a_hidden_field_is_hidden_with_it(dbs, tmp_path):
    files = dict(VISITS)
    files["workflows/visit_flow.yaml"] = VISITS["workflows/visit_flow.yaml"].replace(
        "            set: {specialist: inputs.specialist}",
        "              new_phone: {type: string}\n            set: {specialist: inputs.specialist, phone: inputs.new_phone}").replace(
        "message: \"A visit was planned: {{ customer }}, {{ address }}, phone {{ phone }}\"",
        "message: \"A visit was planned: {{ customer }}, phone {{ phone }} {{ inputs.new_phone }}\"").replace(
        "- to: [specialist]", "- to: [clerk]")
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    disp, carl = make_user(rt, "disp", roles=("dispatcher",)), make_user(rt, "carl", roles=("clerk",))
    v = rt.records.create(disp, "visit", {"customer": "Ivanov"})
    spec = make_user(rt, "anna", roles=("measurer",))
    transitions.fire(rt.records, disp, "visit", v["id"], "plan", fields={"specialist": spec.id, "new_phone": "+7 900 555 1234"})
    notices = [m["message"] for m in rt.records.notifications(carl)[0]]
    assert notices and not any("555" in m for m in notices), notices
    steps = transitions.timeline(rt.records, carl, "visit", v["id"])
    assert "new_phone" not in steps[-1]["inputs"] and steps[-1]["inputs"]["specialist"] == spec.id
    history = rt.records.history(carl, "visit", v["id"])
    assert "555" not in json.dumps(history)
    assert "555" in json.dumps(rt.records.history(disp, "visit", v["id"]))  # who may read the phone still sees it


@pytest.mark.parametrize("headers, client, proto", [
    ([(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"203.0.113.7")], "203.0.113.7", None),  # two lines: one list
    ([(b"x-forwarded-for", b"203.0.113.7:51234")], "203.0.113.7", None),  # a port after the address is dropped
    ([(b"x-forwarded-for", b"[2001:db8::7]:443")], "2001:db8::7", None),
    ([(b"x-forwarded-for", b"203.0.113.7, not-an-address")], None, None),  # not an address: nothing believed
    ([(b"x-forwarded-proto", b"http, https")], None, "https"),  # the nearest proxy's word
])
def test_forwarded_headers_from_a_trusted_proxy_are_read_strictly(headers, client, proto):
    assert _forwarded(headers, parse_trusted("10.0.0.0/8")) == (client, proto)


def test_an_ipv6_client_is_locked_by_its_64(rt, clerk):
    assert logins._keys("x", "2001:db8:1:2::5")[1][0] == logins._keys("x", "2001:db8:1:2:ffff::9")[1][0] == "addr:2001:db8:1:2::/64"


def test_signing_in_as_someone_else_ends_the_last_session(rt, clerk):
    make_user(rt, "first")
    make_user(rt, "second")
    with browser(rt) as shared, browser(rt) as copy:
        sign_in(shared, "first")
        copy.cookies.set("engine_session", shared.cookies.get("engine_session"))
        assert copy.get("/sales_order", follow_redirects=False).status_code == 200
        sign_in(shared, "second")
        assert copy.get("/sales_order", follow_redirects=False).status_code == 303  # first's session is over


def test_a_screens_error_page_speaks_the_pages_language(rt, clerk):
    with TestClient(create_app(rt, secret_key=SECRET), headers={"Accept-Language": "ru"}, raise_server_exceptions=False) as web:
        sign_in(web)
        r = web.get("/sales_order/count?status=zz")
        assert r.status_code == 422 and "нужно исправить" in visible_text(r.text).lower()
        assert "Такой страницы нет." in visible_text(web.get("/nowhere/at/all").text)
    assert who(rt, "clerk") is not None
