"""The `rest` connector against a real local HTTP server that fails on purpose: deliveries made in
the change's transaction, the same request and idempotency key on every attempt, retries with backoff on
5xx, 429, timeouts and a receiver that is gone, no retry on other 4xx, dead after the last attempt,
one record's deliveries in order, conditions, the response written back through the record
service, Standard Webhooks signatures, and a connector whose variables are unset staying off."""
import json

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.core.actor import SYSTEM
from engine.core.errors import FieldError, ValidationFailed
from engine.events.hooks import hookimpl
from tests.apps import write_app
from tests.connectors.receiver import Receiver
from tests.connectors.shop import APP, SECRET, Clock, approved_order, rows


def test_a_failing_receiver_gets_the_same_request_until_it_answers_and_the_answer_is_written_back(erp):
    rt, receiver, clock, run = erp
    receiver.script = [(503, "busy"), (429, "slow down")]
    receiver.then = (201, {"document_number": "ERP-77"})
    order = approved_order(rt)
    assert run()[0] == 1 and len(receiver.got) == 1  # the first attempt at once
    [d] = rows(rt, rt.schema.delivery)
    assert (d["status"], d["attempts"], d["last_status"]) == ("pending", 1, 503)
    assert 10 <= (d["next_at"] - clock.now).total_seconds() <= 12  # first_delay with up to 20 % jitter
    run()
    assert len(receiver.got) == 1  # not due yet
    clock.wait(12)
    run()
    clock.wait(25)
    run()
    assert [r["headers"]["idempotency-key"] for r in receiver.got] == [str(d["event_id"])] * 3
    assert len({r["body"] for r in receiver.got}) == 1  # every attempt sends the same
    sent = receiver.bodies()[0]
    assert sent == {"number": order["number"], "customer": "Ivanov & Sons", "amount": "250.00",
                    "lines": [{"id": sent["lines"][0]["id"], "item": "pump", "quantity": 2}], "event": d["event_id"]}
    first = receiver.got[0]
    assert first["path"] == "/sales-orders" and first["headers"]["authorization"] == "Bearer t0ken"
    assert first["headers"]["content-type"] == "application/json"
    [d] = rows(rt, rt.schema.delivery)
    assert (d["status"], d["attempts"], d["last_status"]) == ("delivered", 3, 201)
    assert "t0ken" not in json.dumps(d["request"])  # the stored request keeps the reference, not the secret
    attempts = rows(rt, rt.schema.delivery_attempt)
    assert [a["status_code"] for a in attempts] == [503, 429, 201] and attempts[-1]["next_at"] is None
    stored = rt.records.get(SYSTEM, "order", order["id"])
    assert stored["erp_number"] == "ERP-77"
    with rt.db.read() as conn:
        a = rt.schema.audit
        by = conn.execute(select(a.c.actor, a.c.action).where(a.c.entity == "order").order_by(a.c.id.desc()).limit(1)).one()
    assert tuple(by) == ("connector:erp", "update")


def test_the_signature_is_standard_webhooks(erp):
    rt, receiver, clock, run = erp
    approved_order(rt)
    run()
    [r] = receiver.got
    headers = {k: r["headers"][k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert Webhook(SECRET).verify(r["body"], headers) == json.loads(r["body"])
    assert headers["webhook-id"] == r["headers"]["idempotency-key"]


def test_an_answer_that_will_not_change_is_final(erp):
    rt, receiver, clock, run = erp
    receiver.script = [(422, {"error": "unknown customer"})]
    approved_order(rt)
    run()
    clock.wait(3600)
    run()
    [d] = rows(rt, rt.schema.delivery)
    assert (d["status"], d["attempts"], d["last_status"]) == ("dead", 1, 422)
    assert d["last_error"] == "the receiver answered 422 Unprocessable Entity" and "unknown customer" in d["response"]
    assert len(receiver.got) == 1


def test_after_the_last_attempt_the_delivery_is_dead(erp):
    rt, receiver, clock, run = erp
    receiver.then = (500, "broken")
    approved_order(rt)
    for _ in range(6):
        run()
        clock.wait(3600)
    [d] = rows(rt, rt.schema.delivery)
    assert (d["status"], d["attempts"]) == ("dead", 4) and len(receiver.got) == 4


def test_a_receiver_that_is_gone_or_slow_is_tried_again(erp):
    rt, receiver, clock, run = erp
    receiver.delay = 1.5  # longer than the connector's timeout of 1 s
    approved_order(rt)
    run()
    [d] = rows(rt, rt.schema.delivery)
    assert d["status"] == "pending" and d["last_error"] == "no answer within 1 s"
    receiver.stop()
    clock.wait(60)
    run()
    [d] = rows(rt, rt.schema.delivery)
    assert d["status"] == "pending" and d["last_error"].startswith("could not connect: ConnectError")


def crm_shop(dbs, tmp_path, monkeypatch, receiver):
    """The shop with a `crm` connector instead of the erp one: every customer created or changed is sent to `receiver`."""
    monkeypatch.setenv("TEST_CRM_URL", receiver.url)
    files = {**APP, "connectors/crm.yaml": """
        name: crm
        type: rest
        on: [{entity: customer, event: created}, {entity: customer, event: updated}]
        base_url: ${TEST_CRM_URL}
        body: {name: "{{ record.name }}", event: "{{ event.type }}"}
        retry: {first_delay: 5, factor: 1, max_attempts: 5}
    """}
    del files["connectors/erp.yaml"]
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    rt.records.clock = Clock()
    return rt


def test_one_records_deliveries_go_in_order(dbs, tmp_path, monkeypatch):
    """A later event of a record waits while an earlier delivery of the same record is not through;
    other records' deliveries go on."""
    receiver = Receiver()
    try:
        rt = crm_shop(dbs, tmp_path, monkeypatch, receiver)
        clock = rt.records.clock
        adapters = registry(rt.records.plugin_manager)

        def run():
            deliveries.send_due(rt.records, adapters)
        failed = []

        def a_is_busy_once(body):  # the first delivery of A fails, whatever else is sent beside it
            if '"name": "A"' in body and not failed:
                failed.append(body)
                return 503, "busy"
            return None
        receiver.refuse = a_is_busy_once
        a = rt.records.create(SYSTEM, "customer", {"name": "A"})
        rt.records.update(SYSTEM, "customer", a["id"], {"name": "A2"}, version=a["version"])
        rt.records.create(SYSTEM, "customer", {"name": "B"})
        run()
        assert sorted((b["name"], b["event"]) for b in receiver.bodies()) == [("A", "created"), ("B", "created")]  # A2 waits for A
        assert [d["status"] for d in rows(rt, rt.schema.delivery)] == ["pending", "pending", "delivered"]
        clock.wait(6)
        run()
        assert [b["name"] for b in receiver.bodies()][2:] == ["A", "A2"]
        assert {d["status"] for d in rows(rt, rt.schema.delivery)} == {"delivered"}
    finally:
        receiver.stop()


def test_a_write_back_is_not_sent_again(erp):
    """The connector's own write-back is an update like any other, but never an event for the same connector."""
    rt, receiver, clock, run = erp
    receiver.then = (200, {"document_number": "ERP-1"})
    approved_order(rt)
    run()
    run()
    assert len(receiver.got) == 1 and len(rows(rt, rt.schema.delivery)) == 1


def test_a_condition_that_is_false_sends_nothing(erp):
    rt, receiver, clock, run = erp
    approved_order(rt, amount="50.00")
    run()
    assert receiver.got == [] and rows(rt, rt.schema.delivery) == []


def test_a_connector_whose_variables_are_unset_is_off_and_says_so(dbs, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("TEST_ERP_URL", raising=False)
    monkeypatch.setenv("TEST_ERP_TOKEN", "t")
    monkeypatch.setenv("TEST_ERP_SECRET", SECRET)
    with caplog.at_level("WARNING", logger="engine"):
        rt = dbs.runtime(write_app(tmp_path / "app", APP))
    assert "connector erp is off: set TEST_ERP_URL where the app runs" in caplog.text
    assert not rt.app.connectors["erp"].enabled and rt.app.connectors["erp"].missing == ("TEST_ERP_URL",)
    approved_order(rt)  # the app works; the connector sends nothing
    assert rows(rt, rt.schema.delivery) == []


class Refuse:
    """A plugin that refuses every approval, after the connector has made its delivery."""

    @hookimpl(trylast=True)
    def on_event(self, event, tx):
        if event.type == "transitioned":
            raise ValidationFailed([FieldError("status", "not today")])


def test_a_rolled_back_change_makes_no_delivery(erp):
    rt, receiver, clock, run = erp
    rt.hooks.register(Refuse(), name="refuse")
    with pytest.raises(ValidationFailed):
        approved_order(rt)
    assert rows(rt, rt.schema.delivery) == [] and run()[0] == 0 and receiver.got == []


def test_a_long_queue_of_one_record_holds_back_no_other_record(dbs, tmp_path, monkeypatch):
    """Many waiting deliveries of one record ahead of another record's: the other is found beyond
    them and sent in the same run; the long queue goes in order."""
    receiver = Receiver()
    try:
        rt = crm_shop(dbs, tmp_path, monkeypatch, receiver)
        a = rt.records.create(SYSTEM, "customer", {"name": "A0"})
        for i in range(1, 80):
            a = rt.records.update(SYSTEM, "customer", a["id"], {"name": f"A{i}"}, version=a["version"])
        rt.records.create(SYSTEM, "customer", {"name": "B"})
        deliveries.send_due(rt.records, registry(rt.records.plugin_manager), limit=4, parallel=2)
        names = [b["name"] for b in receiver.bodies()]
        assert [n for n in names if n != "B"] == [f"A{i}" for i in range(80)] and "B" in names
        assert names.index("B") < 10  # not behind A's whole queue
    finally:
        receiver.stop()
