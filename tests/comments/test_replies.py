"""E-mail replies as comments: a notification e-mail about a record that takes comments carries a
signed reply address; the mail provider posts a reply to the app's webhook (Standard Webhooks), and
what the person wrote above the quoted e-mail becomes their comment on the record - once, from
their own address, only where they may comment. Real SMTP server, real HTTP, nothing mocked."""
import email
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from starlette.testclient import TestClient

from engine.access import users
from engine.comments.replies import reply_text
from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.core import replyto
from engine.core.actor import Actor
from engine.server import create_app
from tests.apps import write_app
from tests.connectors.shop import Clock
from tests.connectors.test_channels import APP, FLOW, approve
from tests.connectors.test_email import Inbox, free_port
from tests.connectors.test_webhooks import SECRET, signed

REPLIES = """
    name: mail_replies
    type: webhook
    secret: ${TEST_REPLIES_SECRET}
    actions:
      - match: {event: inbound}
        reply: {to: "{{ to }}", from: "{{ from }}", text: "{{ text }}"}
"""


@pytest.fixture
def shop(dbs, tmp_path, monkeypatch):
    """(runtime, people by username, send: deliver what is due and return the mails by recipients) - orders take comments"""
    port = free_port()
    monkeypatch.setenv("ENGINE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("ENGINE_SMTP_FROM", "orders@shop.example.com")
    monkeypatch.setenv("ENGINE_REPLY_ADDRESS", "replies@shop.example.com")
    monkeypatch.setenv("ENGINE_REPLY_SECRET", "r" * 40)
    monkeypatch.setenv("TEST_REPLIES_SECRET", SECRET)
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    files = {k: v for k, v in APP.items() if k != "connectors/texts.yaml"}
    files["entities/order.yaml"] = APP["entities/order.yaml"].replace("title_field: number\n", "title_field: number\n        comments: true\n")
    files["connectors/mail_replies.yaml"] = REPLIES
    files["workflows/order_flow.yaml"] = FLOW % "in_app, email"
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    rt.records.clock = Clock()
    people = {}
    with rt.db.write() as conn:
        for name, role, lang, mail in [("li", "rep", "zh", "li.wei@shop.example.cn"), ("sam", "stranger", "en", "sam@shop.example.com"),
                                       ("ann", "clerk", None, "ann@shop.example.com"), ("bo", "boss", "en", "bo@shop.example.com")]:
            uid = users.create_user(conn, rt.schema, name, "demo", [role], language=lang, email=mail)
            people[name] = Actor(uid, name, frozenset({role}), via="api", full_name=name)
    adapters = registry(rt.records.plugin_manager)

    def send():
        inbox.got.clear()
        deliveries.send_due(rt.records, adapters)
        return {tuple(e.rcpt_tos): email.message_from_bytes(e.content, policy=policy.default) for e in inbox.got}
    yield rt, people, send
    server.stop()


def comments(rt):
    c = rt.schema.comment
    with rt.db.read() as conn:
        return [(r.author_id, r.text) for r in conn.execute(select(c).order_by(c.c.id))]


def test_a_reply_to_a_notification_becomes_the_persons_comment_once(shop):
    rt, people, send = shop
    order = approve(rt, people)
    mails = send()
    mail = mails[("li.wei@shop.example.cn",)]
    reply_to = mail["Reply-To"]
    assert reply_to.startswith(f"replies+{people['li'].id}.{order['id']}.order.") and reply_to.endswith("@shop.example.com")
    assert mail.get_content().rstrip().endswith("回复此邮件即可在订单上添加评论。")  # told in Li's language
    text = "好的，周五发货。\n\n2026年12月7日 10:00，Orders <orders@shop.example.com> 写道：\n> 订单 PO-00001 已批准\n"
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        payload = {"event": "inbound", "to": [reply_to], "from": "Li Wei <LI.WEI@shop.example.cn>", "text": text}
        r = client.post("/hooks/mail_replies", content=signed(payload, "mail-1")[0], headers=signed(payload, "mail-1")[1])
        assert r.status_code == 200 and r.json()["status"] == "applied", r.text
        assert comments(rt) == [(people["li"].id, "好的，周五发货。")]
        again = client.post("/hooks/mail_replies", content=signed(payload, "mail-1")[0], headers=signed(payload, "mail-1")[1])
        assert again.json()["status"] == "duplicate" and len(comments(rt)) == 1  # the provider's retry adds nothing
        # from another address: refused, whatever the token says
        forged = {**payload, "from": "mallory@evil.example"}
        r = client.post("/hooks/mail_replies", content=signed(forged, "mail-2")[0], headers=signed(forged, "mail-2")[1])
        assert r.status_code == 409 and "mallory@evil.example" in r.json()["detail"]
        # a reply address changed by hand (another record): its signature fails
        tampered = {**payload, "to": [reply_to.replace(f".{order['id']}.order.", f".{order['id'] + 1}.order.")]}
        r = client.post("/hooks/mail_replies", content=signed(tampered, "mail-3")[0], headers=signed(tampered, "mail-3")[1])
        assert r.status_code == 404
        # a valid address for someone who may not read the record: as if the record did not exist
        stranger = {**payload, "to": [replyto.address(people["sam"].id, "order", order["id"])], "from": "sam@shop.example.com"}
        r = client.post("/hooks/mail_replies", content=signed(stranger, "mail-4")[0], headers=signed(stranger, "mail-4")[1])
        assert r.status_code == 404
        # nothing of their own above the quote
        empty = {**payload, "text": "> quoted only\n"}
        r = client.post("/hooks/mail_replies", content=signed(empty, "mail-5")[0], headers=signed(empty, "mail-5")[1])
        assert r.status_code == 422 and "no text of its own" in r.json()["detail"]
        # unsigned: refused before anything is read
        r = client.post("/hooks/mail_replies", json=payload, headers={"webhook-id": "mail-6"})
        assert r.status_code == 401
    assert len(comments(rt)) == 1


def test_without_a_reply_mailbox_no_mail_offers_replies(shop, monkeypatch):
    rt, people, send = shop
    monkeypatch.delenv("ENGINE_REPLY_SECRET")
    approve(rt, people)
    mails = send()
    mail = mails[("li.wei@shop.example.cn",)]
    assert mail["Reply-To"] is None and "回复此邮件" not in mail.get_content()


@pytest.mark.parametrize("text, said", [
    ("Ship it Friday.\n\nOn Mon, 7 Dec 2026 at 10:00, Orders <orders@x.com> wrote:\n> Order approved\n", "Ship it Friday."),
    ("Ship it Friday.\nOn Mon, 7 Dec 2026 at 10:00 Orders <\norders@x.com> wrote:\n> Order approved", "Ship it Friday."),
    ("Отгрузим в пятницу.\n\n7 дек. 2026 г., в 10:00, Orders <orders@x.com> написал:\n> Заказ утверждён", "Отгрузим в пятницу."),
    ("OK\r\n\r\n-----Original Message-----\r\nFrom: Orders\r\n", "OK"),
    ("Yes, agreed.\n\n-- \nIvan Petrov\nSales", "Yes, agreed."),
    ("First line\n> quoted\nSecond line", "First line\nSecond line"),
])
def test_the_quoted_email_and_the_signature_are_left_out(text, said):
    assert reply_text(text) == said
