"""Workflow notifications on channels: a `notify` entry names in_app, email and sms; each person the
entry names hears of the record only if they may read it, in their own language, without the fields
hidden from them, on the channels they have not turned off and have an address for - through the
connectors carrying the email and sms channels (a real SMTP server and a local HTTP gateway)."""
import email
import json
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from engine.access import users
from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.core.actor import Actor
from engine.core.errors import ValidationFailed
from engine.workflow import transitions
from tests.apps import write_app
from tests.connectors.receiver import Receiver
from tests.connectors.shop import Clock, rows
from tests.connectors.test_email import Inbox, free_port

FLOW = """
    name: order_flow
    entity: order
    state_field: status
    initial: draft
    states:
      draft: {}
      approved: {category: done}
    transitions:
      approve:
        from: [draft]
        to: approved
        roles: [boss]
        notify:
          - to: [owner, clerk, stranger]
            channels: [%s]
            subject: {en: "Order {{ number }} approved", zh: "订单 {{ number }} 已批准", ru: "Заказ {{ number }} утверждён"}
            message:
              en: "Order {{ number }} for {{ amount }} is approved."
              zh: "订单 {{ number }}（金额 {{ amount }}）已批准。"
              ru: "Заказ {{ number }} на сумму {{ amount }} утверждён."
"""

APP = {
    "app.yaml": "name: shop\nlabel: Shop\nlanguages: [en, zh, ru]\n",
    "entities/order.yaml": """
        name: order
        label: {en: Order, zh: 订单, ru: Заказ}
        title_field: number
        fields:
          number: {type: string, series: "PO-{#####}", unique: true}
          amount: {type: decimal, precision: 12, scale: 2}
          status: {type: select, options: [draft, approved], default: draft}
    """,
    "roles.yaml": """
        roles:
          admin: {label: Admin, admin: true}
          rep:
            permissions:
              order: {read: own, create: all, update: own}
          boss:
            permissions:
              order: {read: all, update: all}
          clerk:
            permissions:
              order: {read: all}
            fields:
              order: {amount: hidden}
          stranger:
            permissions:
              order: {read: own}
    """,
    "connectors/mail.yaml": "name: mail\ntype: email\nchannel: true\n",
    "connectors/texts.yaml": """
        name: texts
        type: sms
        channel: true
        base_url: ${TEST_SMS_URL}
        path: /send
        body: {phone: "{{ sms.to }}", message: "{{ sms.text }}"}
    """,
}


class Picky(Inbox):
    """A mail server that knows no one at nowhere.invalid."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@nowhere.invalid"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def shop(dbs, tmp_path, monkeypatch):
    """(runtime, people by username, send: deliver what is due and return (mails, texts) received)"""
    port = free_port()
    gateway = Receiver()
    monkeypatch.setenv("ENGINE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("ENGINE_SMTP_FROM", "orders@shop.example.com")
    monkeypatch.setenv("TEST_SMS_URL", gateway.url)
    inbox = Picky()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()

    def make(channels="in_app, email, sms"):
        rt = dbs.runtime(write_app(tmp_path / "app", {**APP, "workflows/order_flow.yaml": FLOW % channels}))
        rt.records.clock = Clock()
        people = {}
        with rt.db.write() as conn:
            for name, role, lang, mail, phone in [("li", "rep", "zh", "li.wei@shop.example.cn", "+86 138 0000 0001"),
                                                  ("ivan", "rep", "ru", "ivan@shop.example.ru", None),
                                                  ("ann", "clerk", None, "ann@shop.example.com", "+1 555 0100"),
                                                  ("sam", "stranger", "en", "sam@shop.example.com", "+1 555 0199"),
                                                  ("bo", "boss", "en", "bo@shop.example.com", "+1 555 0142")]:
                uid = users.create_user(conn, rt.schema, name, "demo", [role], language=lang, email=mail, phone=phone)
                people[name] = Actor(uid, name, frozenset({role}), via="api", full_name=name)
        adapters = registry(rt.records.plugin_manager)

        def send():
            inbox.got.clear()
            gateway.got.clear()
            deliveries.send_due(rt.records, adapters)
            mails = {tuple(e.rcpt_tos): email.message_from_bytes(e.content, policy=policy.default) for e in inbox.got}
            return mails, gateway.got
        return rt, people, send
    yield make
    server.stop()
    gateway.stop()


def approve(rt, people, owner="li", amount="120.00"):
    order = rt.records.create(people[owner], "order", {"amount": amount})
    transitions.fire(rt.records, people["bo"], "order", order["id"], "approve")
    return order


def bell(rt, actor) -> list[str]:
    return [n["message"] for n in rt.records.notifications(actor)[0]]


def test_each_reader_hears_in_their_language_on_every_channel_and_only_what_they_may_see(shop):
    rt, people, send = shop()
    order = approve(rt, people)
    number = order["number"]
    mails, texts = send()
    assert set(mails) == {("li.wei@shop.example.cn",), ("ann@shop.example.com",)}  # sam may not read it; bo approved it himself
    li = mails[("li.wei@shop.example.cn",)]
    assert li["Subject"] == f"订单 {number} 已批准"
    assert li.get_content().strip() == f"订单 {number}（金额 120.00）已批准。"
    assert li["From"] == "orders@shop.example.com"
    ann = mails[("ann@shop.example.com",)]  # no language of her own: the app's; the amount is hidden from clerks
    assert (ann["Subject"], ann.get_content().strip()) == (f"Order {number} approved", f"Order {number} for  is approved.")
    assert sorted((t["body"], t["headers"]["idempotency-key"]) for t in texts) == sorted([
        (f'{{"phone": "+86 138 0000 0001", "message": "订单 {number}（金额 120.00）已批准。"}}', f"{li['X-Engine-Event'].split('.')[0]}.{people['li'].id}"),
        (f'{{"phone": "+1 555 0100", "message": "Order {number} for is approved."}}', f"{li['X-Engine-Event'].split('.')[0]}.{people['ann'].id}"),
    ])
    assert li["X-Engine-Event"] == f"{li['X-Engine-Event'].split('.')[0]}.{people['li'].id}"  # one key per person: the event and the user
    assert bell(rt, people["li"]) == [f"订单 {number}（金额 120.00）已批准。"]
    assert bell(rt, people["ann"]) == [f"Order {number} for  is approved."]
    assert bell(rt, people["sam"]) == [] and bell(rt, people["bo"]) == []
    assert send() == ({}, [])  # delivered once: nothing is sent again


def test_a_channel_turned_off_or_without_an_address_is_left_out(shop):
    rt, people, send = shop()
    rt.accounts.set_notice_settings(people["li"], "li.wei@shop.example.cn", "+86 138 0000 0001", {"email": False})
    rt.accounts.set_notice_settings(people["ann"], "", "+1 555 0100", {"email": True, "sms": False})
    approve(rt, people)
    mails, texts = send()
    assert mails == {}  # li turned e-mail off; ann has no address now
    assert [t["body"].split('"')[3] for t in texts] == ["+86 138 0000 0001"]  # ann turned texts off
    order_of_ivan = approve(rt, people, owner="ivan", amount="7.00")  # ivan has no phone number: an e-mail only
    mails, texts = send()
    assert [m.get_content().strip() for m in mails.values()] == [f"Заказ {order_of_ivan['number']} на сумму 7.00 утверждён."]
    assert texts == []
    assert len(bell(rt, people["li"])) == 1 and len(bell(rt, people["ann"])) == 2  # the bell has everything


def test_whom_no_other_channel_reaches_still_finds_it_in_the_bell(shop, monkeypatch):
    rt, people, send = shop(channels="email")
    rt.accounts.set_notice_settings(people["ann"], "ann@shop.example.com", "", {"email": False})
    order = approve(rt, people)
    mails, _ = send()
    assert list(mails) == [("li.wei@shop.example.cn",)]
    assert bell(rt, people["li"]) == []  # told by e-mail, as the entry says
    assert bell(rt, people["ann"]) == [f"Order {order['number']} for  is approved."]  # e-mail off: the bell keeps it
    monkeypatch.delenv("ENGINE_SMTP_URL")  # the mail connector off: no one is left untold
    rt2, people2, _ = shop(channels="email")
    assert not rt2.app.connectors["mail"].enabled
    order = approve(rt2, people2)
    assert bell(rt2, people2["li"]) == [f"订单 {order['number']}（金额 120.00）已批准。"]
    assert rows(rt2, rt2.schema.delivery) == []


def test_a_delivery_per_person_in_the_log_and_a_bad_address_fails_alone(shop):
    rt, people, send = shop(channels="email")
    with rt.db.write() as conn:
        conn.execute(rt.schema.user.update().where(rt.schema.user.c.id == people["ann"].id).values(email="ann@nowhere.invalid"))
    approve(rt, people)
    d = rt.schema.delivery
    with rt.db.read() as conn:
        made = conn.execute(select(d.c.connector, d.c.recipient_id, d.c.event_type).order_by(d.c.recipient_id)).all()
    assert sorted(made) == sorted([("mail", people["li"].id, "transition"), ("mail", people["ann"].id, "transition")])
    mails, _ = send()
    assert list(mails) == [("li.wei@shop.example.cn",)]
    assert {r["recipient_id"]: (r["status"], r["last_status"]) for r in rows(rt, d)} == {people["li"].id: ("delivered", 250),
                                                                                       people["ann"].id: ("dead", 550)}


def test_my_own_notification_settings_are_checked_and_audited(shop):
    rt, people, _ = shop()
    with pytest.raises(ValidationFailed) as err:
        rt.accounts.set_notice_settings(people["li"], "not an address", "call me", {"email": True})
    assert sorted(e.field for e in err.value.errors) == ["email", "phone"]
    with pytest.raises(ValidationFailed) as err:
        rt.accounts.set_notice_settings(people["li"], "", "", {"pigeon": True})
    assert [e.field for e in err.value.errors] == ["channels"]
    assert rt.accounts.notice_settings(people["li"]) == {"email": "li.wei@shop.example.cn", "phone": "+86 138 0000 0001",
                                                         "channels": {"email": True, "sms": True}}
    rt.accounts.set_notice_settings(people["li"], "li@new.example.cn", "", {"sms": False})
    assert rt.accounts.notice_settings(people["li"]) == {"email": "li@new.example.cn", "phone": None, "channels": {"email": True, "sms": False}}
    a = rt.schema.audit
    with rt.db.read() as conn:
        entry = conn.execute(select(a.c.action, a.c.changes).where(a.c.entity == "sys_user", a.c.record_id == people["li"].id)
                             .order_by(a.c.id.desc())).first()
    assert entry.action == "user_changed"
    assert json.loads(entry.changes)["fields"] == {"email": ["li.wei@shop.example.cn", "li@new.example.cn"], "phone": ["+86 138 0000 0001", None],
                                       "channels": [None, {"sms": False}]}


@pytest.fixture
def smtp(monkeypatch):
    """A mail server for the demo app, and ENGINE_SMTP_URL pointing at it (before the app is loaded)."""
    port = free_port()
    monkeypatch.setenv("ENGINE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield inbox
    server.stop()


def test_the_demo_emails_the_owner_when_an_order_is_approved_or_returned(smtp, rt, people):
    from tests.orders import to_decision
    rt.accounts.set_notice_settings(people["rep"], "rep@example.com", "", {})
    adapters = registry(rt.records.plugin_manager)
    approved = to_decision(rt, people)
    transitions.fire(rt.records, people["sup"], "sales_order", approved["id"], "approve")
    returned = to_decision(rt, people)
    transitions.fire(rt.records, people["sup"], "sales_order", returned["id"], "reject", fields={"reason": "check the price"})
    deliveries.send_due(rt.records, adapters)
    got = [(e.rcpt_tos, email.message_from_bytes(e.content, policy=policy.default)) for e in smtp.got]
    assert sorted((to, m["Subject"], m.get_content().strip()) for to, m in got) == [  # sent side by side: in either order
        (["rep@example.com"], f"Order {approved['number']} is approved", f"Order {approved['number']} is approved."),
        (["rep@example.com"], f"Order {returned['number']} was returned to you", f"Order {returned['number']} was returned to you: check the price"),
    ]
    assert [n["message"] for n in rt.records.notifications(people["rep"])[0]][:2] == [
        f"Order {returned['number']} was returned to you: check the price", f"Order {approved['number']} is approved."]


def test_the_delivery_log_says_whom_each_notification_is_for(shop):
    from starlette.testclient import TestClient

    from engine.server import create_app
    from tests.html import text_by_id, texts_of, visible_text
    from tests.web.test_pages import SECRET, sign_in
    rt, people, send = shop(channels="email")
    with rt.db.write() as conn:
        users.create_user(conn, rt.schema, "root", "demo", ["admin"])
        conn.execute(rt.schema.user.update().where(rt.schema.user.c.id == people["li"].id).values(full_name="Li Wei"))
    order = approve(rt, people)
    send()
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        assert sign_in(web, "root").status_code == 303
        page = web.get("/settings/connectors?connector=mail")
        assert "Carries the workflow's notifications by e-mail to each person told." in visible_text(page.text)
        rows = sorted(" ".join(r.split()) for r in texts_of(page.text, "delivery-row"))
        assert [r.split(" Nov 30")[0].split(" ", 1)[1] for r in rows] == [
            f"Order {order['id']} Li Wei transition Delivered 1 250", f"Order {order['id']} ann transition Delivered 1 250"]  # no title: admins here may not read orders
        first = page.text.split('href="/settings/connectors/mail/deliveries/')[1].split('"')[0]
        detail = web.get(f"/settings/connectors/mail/deliveries/{first}")
        assert detail.status_code == 200
        shown = text_by_id(detail.text, "request")
        assert "Subject: Order " in shown and "To: " in shown and f"Order {order['number']} for" in shown


def test_the_demos_made_up_history_is_not_mailed(smtp, rt):
    from engine.app import demo
    demo.load(rt)  # its history approves and returns orders, which would e-mail their owners
    deliveries.send_due(rt.records, registry(rt.records.plugin_manager))
    assert smtp.got == [] and rows(rt, rt.schema.delivery) == []
    t = rt.schema.event
    with rt.db.read() as conn:  # the history's events are there, as for any write
        assert conn.execute(select(func.count()).select_from(t).where(t.c.type == "transitioned")).scalar() > 20
