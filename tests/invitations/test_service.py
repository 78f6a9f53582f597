"""Invitations and password resets against a real SMTP server (aiosmtpd): a rep invites a customer's contact from the
customer's page, the e-mail carries a single-use link, the contact sets a password and lands on the portal; a
forgotten password gets a reset link the same way. Used, expired and unknown links say so; asking too often is
refused; the answer never tells whether a user exists."""
import datetime as dt
import email
import re

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from starlette.testclient import TestClient

from engine.app import demo
from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.server import create_app
from tests.conftest import DatabaseFactory, _who
from tests.connectors.test_email import Inbox, free_port
from tests.html import visible_text
from tests.web.test_pages import SECRET, csrf, sign_in


@pytest.fixture(scope="module")
def mailed(tmp_path_factory):
    """(runtime, inbox, send): the demo with its mail connector pointed at a local SMTP server."""
    port = free_port()
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENGINE_SMTP_URL", f"smtp://127.0.0.1:{port}")
        mp.setenv("ENGINE_SMTP_FROM", "portal@example.com")
        f = DatabaseFactory(tmp_path_factory.mktemp("invitations"))
        rt = f.runtime()
        demo.load(rt)
        adapters = registry(rt.records.plugin_manager)
        yield rt, inbox, lambda: deliveries.send_due(rt.records, adapters)
        f.close()
    server.stop()


def body_of(envelope) -> str:
    msg = email.message_from_bytes(envelope.content)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def link_in(text: str) -> str:
    return re.search(r"http://testserver(/(?:welcome|password/reset)/[A-Za-z0-9_-]+)", text).group(1)


def test_a_rep_invites_a_contact_who_sets_a_password_and_lands_on_the_portal(mailed):
    rt, inbox, send = mailed
    east = _who(rt, "client_east")
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        sign_in(web, "rep_east1")
        page = web.get(f"/customer/{east.party}?lang=en")
        shown = visible_text(page.text)
        assert "Portal access" in shown and "client_east" in shown  # the customer's contacts, on its page
        sent = web.post(f"/customer/{east.party}/contacts", data={"csrf_token": csrf(page.text), "full_name": "Wang Fang",
                                                                  "email": "wang.fang@sunrise-valves.example.com", "language": "zh"},
                        follow_redirects=False)
        assert sent.status_code == 303 and "invited=wang.fang" in sent.headers["location"]
        again = web.post(f"/customer/{east.party}/contacts", data={"csrf_token": csrf(page.text), "full_name": "Wang Fang",
                                                                   "email": "Wang.Fang@sunrise-valves.example.com"})
        assert again.status_code == 422 and "is a contact of this customer already" in visible_text(again.text)
        west = _who(rt, "client_west")
        foreign = web.post(f"/customer/{west.party}/contacts", data={"csrf_token": csrf(page.text), "full_name": "X", "email": "x@example.com"})
        assert foreign.status_code == 404  # another region's customer is not theirs to invite to
        send()
        mail = next(m for m in inbox.got if "wang.fang@sunrise-valves.example.com" in m.rcpt_tos)
        text = body_of(mail)
        assert "wang.fang" in text and "7 天内有效" in text and "您好" in text  # in the contact's language, with their user name
        path = link_in(text)
        web.post("/logout", data={"csrf_token": csrf(web.get("/").text)})
        welcome = web.get(path + "?lang=en")
        assert welcome.status_code == 200 and "Your user name is wang.fang" in visible_text(welcome.text)
        short = web.post(path, data={"csrf_token": csrf(welcome.text), "password": "short", "again": "short"})
        assert short.status_code == 422 and "at least 8 characters" in visible_text(short.text)
        done = web.post(path, data={"csrf_token": csrf(welcome.text), "password": "sunrise-2027", "again": "sunrise-2027"}, follow_redirects=True)
        assert done.url.path == "/portal" and "Sunrise Valves" in visible_text(done.text)
        used = web.get(path + "?lang=en")
        assert used.status_code == 410 and "was used already" in visible_text(used.text)
        assert web.post("/api/v1/auth/token", json={"username": "wang.fang", "password": "sunrise-2027"}).status_code == 200


def test_a_forgotten_password_is_reset_by_a_link_that_works_once_and_not_for_long(mailed):
    rt, inbox, send = mailed
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        login = web.get("/login?lang=en")
        assert "Forgot your password?" in visible_text(login.text)
        form = web.get("/password/forgot?lang=en")
        before = len(inbox.got)
        nobody = web.post("/password/forgot", data={"csrf_token": csrf(form.text), "who": "nobody-here"})
        known = web.post("/password/forgot", data={"csrf_token": csrf(form.text), "who": "buyer@lotus-automation.example.com"})
        assert visible_text(nobody.text) == visible_text(known.text)  # the same answer: nobody learns who has an account
        send()
        got = [m for m in inbox.got[before:]]
        assert [m.rcpt_tos for m in got] == [["buyer@lotus-automation.example.com"]]
        path = link_in(body_of(got[0]))
        assert "/password/reset/" in path
        page = web.get(path + "?lang=en")
        assert "Your user name is client_west" in visible_text(page.text)
        differ = web.post(path, data={"csrf_token": csrf(page.text), "password": "lotus-2027!", "again": "lotus-2028!"})
        assert differ.status_code == 422 and "the two passwords differ" in visible_text(differ.text)
        web.post(path, data={"csrf_token": csrf(page.text), "password": "lotus-2027!", "again": "lotus-2027!"})
        assert web.post("/api/v1/auth/token", json={"username": "client_west", "password": "lotus-2027!"}).status_code == 200
        assert web.post("/api/v1/auth/token", json={"username": "client_west", "password": "demo"}).status_code == 401
        assert web.get(path).status_code == 410
        rt.invitations.request_reset("client_west", None, "http://testserver")  # another link, then let it age
        send()
        late = link_in(body_of(inbox.got[-1]))
        link = rt.schema.account_link
        with rt.db.write() as conn:
            conn.execute(update(link).where(link.c.used_at.is_(None)).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)))
        expired = web.get(late + "?lang=en")
        assert expired.status_code == 410 and "has expired" in visible_text(expired.text)
        assert web.get("/password/reset/" + "x" * 43).status_code == 410
        form = web.get("/password/forgot?lang=en")  # signed in by the reset: a new session, a new CSRF token
        for _ in range(5):
            last = web.post("/password/forgot", data={"csrf_token": csrf(form.text), "who": "someone"})
        assert last.status_code == 429 and "too many requests" in visible_text(last.text)


def test_a_contact_hears_of_a_shared_message_by_e_mail_in_their_language(mailed):
    rt, inbox, send = mailed
    west = _who(rt, "client_west")
    rt.accounts.set_language(west, "ru")
    from engine.records.listing import ListQuery
    order = rt.records.list(_who(rt, "manager"), "sales_order", ListQuery(filters=[("customer", "eq", str(west.party))], limit=1))["items"][0]
    before = len(inbox.got)
    rt.comments.add(_who(rt, "rep_west1"), "sales_order", order["id"], "Your order ships on Friday.", shared=True)
    rt.comments.add(_who(rt, "rep_west1"), "sales_order", order["id"], "Internal: check the margin.")
    send()
    mails = [m for m in inbox.got[before:] if "buyer@lotus-automation.example.com" in m.rcpt_tos]
    assert len(mails) == 1  # the shared message only
    text = body_of(mails[0])
    assert "написал(а) вам по" in text and "Your order ships on Friday." in text and "margin" not in text
    rt.accounts.set_notice_settings(_who(rt, "client_west"), "buyer@lotus-automation.example.com", "", {"email": False})
    rt.comments.add(_who(rt, "rep_west1"), "sales_order", order["id"], "Second note.", shared=True)
    send()
    assert not [m for m in inbox.got[before + 1:] if "buyer@lotus-automation.example.com" in m.rcpt_tos and "Second note" in body_of(m)]
