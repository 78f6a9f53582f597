"""The `email` connector against a real SMTP server on 127.0.0.1 (aiosmtpd): the message built from
the template of the record's language, to the addresses the templates give, with the event id in a
header; a mail server that is down is tried again; without ENGINE_SMTP_URL the connector is off."""
import socket

import pytest
from aiosmtpd.controller import Controller

from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.core.actor import SYSTEM
from engine.workflow import transitions
from tests.apps import write_app
from tests.connectors.shop import APP, Clock, rows

MAIL = """
    name: mail
    type: email
    on: [{entity: order, event: transitioned, to: approved}]
    to: ["{{ record.contact }}", "sales@shop.example.com"]
    language: "{{ record.language }}"
    subject: {en: "Order {{ record.number }} is approved", zh: "订单 {{ record.number }} 已批准", ru: "Заказ {{ record.number }} одобрен"}
    text:
      en: "Your order {{ record.number }} for {{ record.amount }} is approved."
      zh: "您的订单 {{ record.number }}（金额 {{ record.amount }}）已批准。"
      ru: "Ваш заказ {{ record.number }} на сумму {{ record.amount }} одобрен."
    html: {en: "<p>Your order <b>{{ record.number }}</b> is approved.</p>"}
    timeout: 2
    retry: {first_delay: 5, factor: 1, max_attempts: 3}
"""


class Inbox:
    def __init__(self):
        self.got = []

    async def handle_DATA(self, server, session, envelope):
        self.got.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def shop(dbs, tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("ENGINE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("ENGINE_SMTP_FROM", "orders@shop.example.com")
    files = {**{k: v for k, v in APP.items() if not k.startswith("connectors/")}, "connectors/mail.yaml": MAIL}
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    rt.records.clock = Clock()
    adapters = registry(rt.records.plugin_manager)
    yield rt, port, lambda: deliveries.send_due(rt.records, adapters)


def approve(rt, **values):
    c = rt.records.create(SYSTEM, "customer", {"name": "Acme"})
    o = rt.records.create(SYSTEM, "order", {"customer": c["id"], "amount": "120.00", **values})
    transitions.fire(rt.records, SYSTEM, "order", o["id"], "approve")
    return o


def test_the_message_in_the_records_language_reaches_the_mail_server(shop):
    import email
    from email import policy
    rt, port, send = shop
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        order = approve(rt, contact="li.wei@acme.example.cn", language="zh")
        send()
    finally:
        server.stop()
    [envelope] = inbox.got
    assert envelope.mail_from == "orders@shop.example.com"
    assert envelope.rcpt_tos == ["li.wei@acme.example.cn", "sales@shop.example.com"]
    msg = email.message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == f"订单 {order['number']} 已批准"
    assert msg.get_body(("plain",)).get_content().strip() == f"您的订单 {order['number']}（金额 120.00）已批准。"
    assert "<b>" in msg.get_body(("html",)).get_content()  # no Chinese HTML given: the default language's
    [d] = rows(rt, rt.schema.delivery)
    assert msg["X-Engine-Event"] == str(d["event_id"]) and d["status"] == "delivered"


def test_a_mail_server_that_is_down_is_tried_again(shop):
    rt, port, send = shop
    approve(rt, contact="anna@example.ru", language="ru")
    send()
    [d] = rows(rt, rt.schema.delivery)
    assert d["status"] == "pending" and d["last_error"].startswith("could not reach the mail server")
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        rt.records.clock.wait(10)
        send()
    finally:
        server.stop()
    import email
    from email import policy
    assert rows(rt, rt.schema.delivery)[0]["status"] == "delivered" and len(inbox.got) == 1
    assert email.message_from_bytes(inbox.got[0].content, policy=policy.default)["Subject"].startswith("Заказ ")


def test_a_record_without_an_address_still_mails_the_others_in_the_apps_language(shop):
    rt, port, send = shop
    approve(rt)  # no contact: sales@ still gets it
    [d] = rows(rt, rt.schema.delivery)
    assert d["request"]["to"] == ["sales@shop.example.com"] and d["request"]["language"] == "en"


def test_without_a_mail_server_the_connector_is_off(dbs, tmp_path, monkeypatch):
    monkeypatch.delenv("ENGINE_SMTP_URL", raising=False)
    files = {**{k: v for k, v in APP.items() if not k.startswith("connectors/")}, "connectors/mail.yaml": MAIL}
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    assert rt.app.connectors["mail"].missing == ("ENGINE_SMTP_URL",)
    approve(rt, contact="x@example.com")
    assert rows(rt, rt.schema.delivery) == []


def _certificates(folder) -> tuple[str, str, str]:
    """A CA, and a certificate it signed for 127.0.0.1: (CA file, certificate file, key file), made with openssl."""
    import subprocess
    run = lambda *args: subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test mail CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2",
        "-extfile", "san.cnf")
    return str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server.key")


def test_starttls_is_used_when_offered_and_the_servers_certificate_is_verified(shop, tmp_path, monkeypatch):
    import ssl
    rt, port, send = shop
    ca, cert, key = _certificates(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True)  # refuses mail sent in the clear
    server.start()
    try:
        approve(rt, contact="olga@pumps.example.ru", language="ru")
        send()  # the server's certificate is signed by a CA nobody trusts yet: not sent, tried again later
        [d] = rows(rt, rt.schema.delivery)
        assert (d["status"], inbox.got) == ("pending", [])
        assert d["last_error"].startswith("the mail server's certificate is not trusted: ") and "SSL_CERT_FILE" in d["last_error"]
        monkeypatch.setenv("SSL_CERT_FILE", ca)  # now it is trusted
        rt.records.clock.wait(10)
        send()
    finally:
        server.stop()
    [envelope] = inbox.got
    assert envelope.rcpt_tos == ["olga@pumps.example.ru", "sales@shop.example.com"]
    assert rows(rt, rt.schema.delivery)[0]["status"] == "delivered"
