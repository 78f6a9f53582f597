"""Inbound webhooks (POST /hooks/<connector>) with real Standard Webhooks signatures: a verified call
finds its record and sets fields and fires a transition as the connector's actor, in one transaction;
a bad signature, an old timestamp, a huge body are refused; a replayed message id has no second
effect; a call that fails leaves nothing, so the sender's retry can succeed; every call is logged."""
import base64
import datetime as dt
import json

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from starlette.testclient import TestClient

from engine.core.actor import SYSTEM
from engine.server import create_app
from tests.apps import write_app
from tests.connectors.shop import APP

SECRET = "whsec_" + base64.b64encode(b"the payment provider's secret!!").decode()
PAYMENTS = """
    name: payments
    type: webhook
    secret: ${TEST_PAYMENTS_SECRET}
    actor: payment_gateway
    max_body: 2000
    actions:
      - match: {type: payment.received}
        entity: order
        find: {number: "{{ data.order }}"}
        set: {erp_number: "PAY-{{ data.payment }}"}
        fire: approve
"""


@pytest.fixture
def shop(dbs, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_PAYMENTS_SECRET", SECRET)
    files = {**{k: v for k, v in APP.items() if not k.startswith("connectors/")}, "connectors/payments.yaml": PAYMENTS}
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield rt, client


def signed(payload, msg_id="msg_1", secret=SECRET, at=None) -> tuple[bytes, dict]:
    body = json.dumps(payload)
    at = at or dt.datetime.now(dt.timezone.utc)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, at, body), "content-type": "application/json"}
    return body.encode(), headers


def new_order(rt):
    c = rt.records.create(SYSTEM, "customer", {"name": "Acme"})
    return rt.records.create(SYSTEM, "order", {"customer": c["id"], "amount": "120.00"})


def calls(rt):
    w = rt.schema.webhook_call
    with rt.db.read() as conn:
        return [(r.outcome, r.http_status) for r in conn.execute(select(w).order_by(w.c.id))]


def test_a_verified_call_finds_the_record_sets_and_fires_as_the_connectors_actor(shop):
    rt, client = shop
    order = new_order(rt)
    body, headers = signed({"type": "payment.received", "data": {"order": order["number"], "payment": 981}})
    r = client.post("/hooks/payments", content=body, headers=headers)
    assert r.status_code == 200 and r.json() == {"status": "applied", "entity": "order", "id": order["id"], "done": "set erp_number; fired approve"}
    after = rt.records.get(SYSTEM, "order", order["id"])
    assert (after["erp_number"], after["status"]) == ("PAY-981", "approved")
    with rt.db.read() as conn:
        a = rt.schema.audit
        assert conn.execute(select(a.c.actor, a.c.action).where(a.c.entity == "order", a.c.record_id == order["id"])
                            .order_by(a.c.id)).all()[1:] == [("payment_gateway", "update"), ("payment_gateway", "transition")]
    r = client.post("/hooks/payments", content=body, headers=headers)  # the same message again (a sender's retry, or a replay)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert rt.records.get(SYSTEM, "order", order["id"])["version"] == after["version"]  # no second effect
    assert calls(rt) == [("applied", 200), ("duplicate", 200)]


@pytest.mark.parametrize("tamper, status, detail", [
    (lambda b, h: (b.replace(b"981", b"982"), h), 401, "not verified: No matching signature found"),
    (lambda b, h: (b, {**h, "webhook-signature": "v1,bm90IGl0"}), 401, "not verified: No matching signature found"),
    (lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-id"}), 401, "not verified: Missing required headers"),
    (lambda b, h: (b, {**h, "webhook-signature": "garbage"}), 401, "not verified: the signature headers or the body are malformed"),
    (lambda b, h: (b"\xff" + b, h), 401, "not verified: the signature headers or the body are malformed"),
    (lambda b, h: (b + b" " * 3000, h), 413, "the body is larger than 2000 bytes"),
])
def test_what_cannot_be_verified_is_refused_and_changes_nothing(shop, tamper, status, detail):
    rt, client = shop
    order = new_order(rt)
    body, headers = tamper(*signed({"type": "payment.received", "data": {"order": order["number"], "payment": 981}}))
    r = client.post("/hooks/payments", content=body, headers=headers)
    assert (r.status_code, r.json()) == (status, {"status": "refused", "detail": detail})
    assert rt.records.get(SYSTEM, "order", order["id"])["status"] == "draft"
    assert calls(rt) == [("refused", status)]


def test_an_old_message_is_refused(shop):
    rt, client = shop
    order = new_order(rt)
    body, headers = signed({"type": "payment.received", "data": {"order": order["number"], "payment": 1}},
                           at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=6))
    r = client.post("/hooks/payments", content=body, headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "not verified: Message timestamp too old"


def test_a_call_that_fails_leaves_nothing_and_its_retry_succeeds(shop):
    rt, client = shop
    order = new_order(rt)
    rt.records.update(SYSTEM, "order", order["id"], {"amount": None}, version=order["version"])
    body, headers = signed({"type": "payment.received", "data": {"order": order["number"], "payment": 5}}, msg_id="msg_9")
    transitions_before = rt.records.get(SYSTEM, "order", order["id"])
    # the transition fails (the order is already approved by hand): the update made before it is rolled back too
    from engine.workflow import transitions
    transitions.fire(rt.records, SYSTEM, "order", order["id"], "approve")
    r = client.post("/hooks/payments", content=body, headers=headers)
    assert r.status_code == 409 and r.json()["status"] == "failed"
    assert rt.records.get(SYSTEM, "order", order["id"])["erp_number"] is None  # the set was undone with the failed transition
    assert transitions_before["erp_number"] is None


def test_unknown_records_payloads_and_connectors(shop):
    rt, client = shop
    body, headers = signed({"type": "payment.received", "data": {"order": "PO-99999", "payment": 5}}, msg_id="a")
    r = client.post("/hooks/payments", content=body, headers=headers)
    assert r.status_code == 404 and r.json() == {"status": "failed", "detail": "no order has number PO-99999"}
    body, headers = signed({"type": "refund.created"}, msg_id="b")
    r = client.post("/hooks/payments", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    body, headers = signed([1, 2], msg_id="c")
    assert client.post("/hooks/payments", content=body, headers=headers).status_code == 400
    r = client.post("/hooks/nothing", content=body, headers=headers)
    assert r.status_code == 404 and r.json()["status"] == "refused"
    assert client.get("/hooks/payments").status_code == 405
    assert calls(rt) == [("failed", 404), ("ignored", 200), ("refused", 400)]


def test_a_webhook_without_its_secret_is_off(dbs, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_PAYMENTS_SECRET", raising=False)
    files = {**{k: v for k, v in APP.items() if not k.startswith("connectors/")}, "connectors/payments.yaml": PAYMENTS}
    rt = dbs.runtime(write_app(tmp_path / "app", files))
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        body, headers = signed({"type": "payment.received"})
        r = client.post("/hooks/payments", content=body, headers=headers)
    assert r.status_code == 503 and r.json()["detail"] == "the connector is off: set TEST_PAYMENTS_SECRET where the app runs"


def test_administrators_read_the_calls(shop):
    from tests.conftest import make_user
    from tests.html import texts_of
    from tests.web.test_connectors import signed_in
    rt, client = shop
    order = new_order(rt)
    body, headers = signed({"type": "payment.received", "data": {"order": order["number"], "payment": 7}}, msg_id="pay_7")
    client.post("/hooks/payments", content=body, headers=headers)
    client.post("/hooks/payments", content=body + b" ", headers=headers)
    make_user(rt, "boss", roles=("admin",))
    make_user(rt, "clerk", roles=("clerk",))
    token = client.post("/api/v1/auth/token", json={"username": "boss", "password": "demo"}).json()["token"]
    got = client.get("/api/v1/connectors/payments/calls", headers={"Authorization": f"Bearer {token}"}).json()
    assert [(c["outcome"], c["http_status"], c["webhook_id"]) for c in got["items"]] == [("refused", 401, "pay_7"), ("applied", 200, "pay_7")]
    assert got["items"][1]["detail"] == "set erp_number; fired approve" and got["items"][1]["record_id"] == order["id"]
    clerk = client.post("/api/v1/auth/token", json={"username": "clerk", "password": "demo"}).json()["token"]
    assert client.get("/api/v1/connectors/payments/calls", headers={"Authorization": f"Bearer {clerk}"}).status_code == 403
    signed_in(client, "boss")
    rows = texts_of(client.get("/settings/connectors?connector=payments").text, "call-row")
    assert [r.split(" pay_7 ")[1] for r in rows] == ["Refused 401 not verified: No matching signature found",
                                                      f"Applied 200 {order['id']} set erp_number; fired approve"]
