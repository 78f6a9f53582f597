"""The `sms` connector: a text in the record's language to a local HTTP gateway, as the gateway's
body template says, retried like any rest delivery; a record without a phone number makes a dead
delivery that says why."""
import json

from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.core.actor import SYSTEM
from engine.workflow import transitions
from tests.apps import write_app
from tests.connectors.receiver import Receiver
from tests.connectors.shop import APP, Clock, rows

SMS = """
    name: sms
    type: sms
    on: [{entity: order, event: transitioned, to: approved}]
    to: "{{ record.phone }}"
    language: "{{ record.language }}"
    text:
      en: "Order {{ record.number }} is approved."
      ru: "Заказ {{ record.number }} одобрен."
    base_url: ${TEST_SMS_URL}
    path: /send
    headers: {Authorization: "Key ${TEST_SMS_KEY}"}
    body: {recipient: "{{ sms.to }}", message: "{{ sms.text }}", sender: Shop}
    retry: {first_delay: 5, factor: 1, max_attempts: 3}
"""


def test_a_text_reaches_the_gateway_in_the_records_language(dbs, tmp_path, monkeypatch):
    gateway = Receiver()
    gateway.script = [(502, "upstream operator down")]
    try:
        monkeypatch.setenv("TEST_SMS_URL", gateway.url)
        monkeypatch.setenv("TEST_SMS_KEY", "k-123")
        files = {**{k: v for k, v in APP.items() if not k.startswith("connectors/")}, "connectors/sms.yaml": SMS}
        rt = dbs.runtime(write_app(tmp_path / "app", files))
        rt.records.clock = clock = Clock()
        adapters = registry(rt.records.plugin_manager)
        c = rt.records.create(SYSTEM, "customer", {"name": "Acme"})
        o = rt.records.create(SYSTEM, "order", {"customer": c["id"], "amount": "120.00", "phone": "+7 912 345-67-89", "language": "ru"})
        transitions.fire(rt.records, SYSTEM, "order", o["id"], "approve")
        bare = rt.records.create(SYSTEM, "order", {"customer": c["id"], "amount": "120.00"})
        transitions.fire(rt.records, SYSTEM, "order", bare["id"], "approve")
        deliveries.send_due(rt.records, adapters)
        clock.wait(10)
        deliveries.send_due(rt.records, adapters)
        sent = [json.loads(r["body"]) for r in gateway.got]
        assert sent == [{"recipient": "+7 912 345-67-89", "message": f"Заказ {o['number']} одобрен.", "sender": "Shop"}] * 2  # 502, then 200
        assert gateway.got[0]["headers"]["authorization"] == "Key k-123" and gateway.got[0]["path"] == "/send"
        first, second = rows(rt, rt.schema.delivery)
        assert (first["status"], first["attempts"]) == ("delivered", 2)
        assert second["status"] == "dead" and second["last_error"] == "the request could not be built: ValueError: no phone number to send to for this record"
    finally:
        gateway.stop()
