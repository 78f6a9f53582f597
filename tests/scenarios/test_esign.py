"""DOMAIN D, electronic contract signing, with the example app examples/esign and real peers: a
local e-signing service that is down for a while and then answers, and signed callbacks. A rep
sends a contract; it reaches the service (retried while it is down) and gets the service's document
id; the service reports the signature: the contract takes the service's signing time - not the
server's clock - and moves to signed, the planner and the rep are told; a replayed callback and a
badly signed one change nothing; nobody can alter the signing time afterwards, through any path;
the planner sees signed contracts only and schedules them; incentive staff export times and amounts."""
import base64
import csv
import datetime as dt
import io
import json

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.testclient import TestClient

from engine.app import demo
from engine.connectors import deliveries
from engine.connectors.registry import registry
from engine.core.actor import SYSTEM
from engine.core.errors import ValidationFailed
from engine.records.listing import ListQuery
from engine.server import create_app
from engine.workflow import transitions
from tests.conftest import ROOT
from tests.connectors.receiver import Receiver
from tests.connectors.shop import Clock

APP = str(ROOT / "examples" / "esign")
SECRET = "whsec_" + base64.b64encode(b"the e-signing service secret 32b").decode()


@pytest.fixture
def esign(dbs, monkeypatch):
    service = Receiver()
    service.then = (503, "maintenance")
    monkeypatch.setenv("ESIGN_URL", service.url)
    monkeypatch.setenv("ESIGN_TOKEN", "esign-token")
    monkeypatch.setenv("ESIGN_WEBHOOK_SECRET", SECRET)
    rt = dbs.runtime(APP)
    rt.records.clock = Clock()
    demo.load(rt)
    adapters = registry(rt.records.plugin_manager)
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield rt, service, client, lambda: deliveries.send_due(rt.records, adapters)
    service.stop()


def actor(rt, username):
    from sqlalchemy import select

    from engine.access import users
    with rt.db.read() as conn:
        uid = conn.execute(select(rt.schema.user.c.id).where(rt.schema.user.c.username == username)).scalar_one()
        return users.actor_for_id(conn, rt.schema, uid, via="api")


def callback(client, payload, msg_id, secret=SECRET):
    body = json.dumps(payload)
    now = dt.datetime.now(dt.timezone.utc)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, now, body), "content-type": "application/json"}
    return client.post("/hooks/esign", content=body, headers=headers)


def test_the_whole_loop(esign):
    rt, service, client, send = esign
    rep1, planner = actor(rt, "rep1"), actor(rt, "planner")
    c = rt.records.create(rep1, "contract", {"dealer": 1, "amount": "75000.00", "order_ref": "SO-2026-00042"})
    transitions.fire(rt.records, rep1, "contract", c["id"], "send")
    send()  # the service is down: every sent contract waits and is retried
    assert {r["status"] for r in _deliveries(rt)} == {"pending"}
    service.then = (201, {"envelope_id": "ENV-775"})
    rt.records.clock.wait(60)
    send()
    assert {r["status"] for r in _deliveries(rt)} == {"delivered"}
    sent = [json.loads(r["body"]) for r in service.got if r["body"] and json.loads(r["body"])["contract"] == c["number"]]
    assert sent[-1] == {"contract": c["number"], "dealer": "Shanghai Home Center", "amount": "75000.00", "order": "SO-2026-00042"}
    assert service.got[-1]["headers"]["authorization"] == "Bearer esign-token"
    assert rt.records.get(rep1, "contract", c["id"])["signing_document"] == "ENV-775"

    # the planner does not see a contract before it is signed
    assert c["id"] not in [r["id"] for r in rt.records.list(planner, "contract", ListQuery(limit=100))["items"]]
    signed_at = "2026-11-29T10:15:00+08:00"  # the service's time of the signature
    r = callback(client, {"type": "contract.signed", "data": {"contract": c["number"], "signed_at": signed_at, "signed_by": "Li Na"}}, "evt_1")
    assert r.status_code == 200 and r.json()["status"] == "applied"
    signed = rt.records.get(planner, "contract", c["id"])  # now the planner sees it
    assert (signed["status"], signed["signed_by"]) == ("signed", "Li Na")
    assert signed["signed_at"] == dt.datetime(2026, 11, 29, 2, 15, tzinfo=dt.timezone.utc)  # the provider's time, in UTC
    told = {n["message"] for n in rt.records.notifications(planner)[0]}
    assert f"Contract {c['number']} was signed (75000.00): it can be scheduled." in told
    assert f"Contract {c['number']} was signed by the dealer." in {n["message"] for n in rt.records.notifications(rep1)[0]}

    # a replayed callback, and a second report with another time: nothing changes
    assert callback(client, {"type": "contract.signed", "data": {"contract": c["number"], "signed_at": signed_at}}, "evt_1").json()["status"] == "duplicate"
    r = callback(client, {"type": "contract.signed", "data": {"contract": c["number"], "signed_at": "2026-11-30T09:00:00Z"}}, "evt_2")
    assert r.status_code == 409 and r.json()["status"] == "failed"
    # a badly signed callback: refused
    bad = callback(client, {"type": "contract.signed", "data": {"contract": c["number"], "signed_at": "2026-12-01T00:00:00Z"}}, "evt_3",
                   secret="whsec_" + base64.b64encode(b"x" * 32).decode())
    assert bad.status_code == 401
    # nobody alters the signing time: not the rep, not an administrator, not through the API
    admin = actor(rt, "admin")
    for who in (rep1, admin):
        with pytest.raises(ValidationFailed):
            rt.records.update(who, "contract", c["id"], {"signed_at": "2026-01-01T00:00:00Z"}, version=signed["version"])
    token = client.post("/api/v1/auth/token", json={"username": "admin", "password": "demo"}).json()["token"]
    r = client.patch(f"/api/v1/contract/{c['id']}", json={"signed_at": "2026-01-01T00:00:00Z", "version": signed["version"]},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422
    # a person cannot fire the service's transition
    c2 = rt.records.create(rep1, "contract", {"dealer": 2, "amount": "100.00"})
    transitions.fire(rt.records, rep1, "contract", c2["id"], "send")
    from engine.core.errors import Forbidden
    with pytest.raises(Forbidden):
        transitions.fire(rt.records, admin.through("api"), "contract", c2["id"], "sign", fields={"signed_at": "2026-11-29T00:00:00Z"})
    assert rt.records.get(SYSTEM, "contract", c["id"])["signed_at"] == dt.datetime(2026, 11, 29, 2, 15, tzinfo=dt.timezone.utc)

    # the planner schedules it; incentive staff export signing times and amounts
    transitions.fire(rt.records, planner, "contract", c["id"], "schedule", fields={"slot": "2026-12-14"})
    assert rt.records.get(planner, "contract", c["id"])["status"] == "scheduled"
    token = client.post("/api/v1/auth/token", json={"username": "incentives", "password": "demo"}).json()["token"]
    r = client.get("/api/v1/contract/export.csv?status=scheduled", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    [row] = [x for x in rows if x.get("number", x.get("Number")) == c["number"]]
    assert "2026-11-29T02:15:00Z" in row.values() and "75000.00" in row.values()
    rep_token = client.post("/api/v1/auth/token", json={"username": "rep2", "password": "demo"}).json()["token"]
    mine = client.get("/api/v1/contract?limit=100", headers={"Authorization": f"Bearer {rep_token}"}).json()["items"]
    assert c["id"] not in [x["id"] for x in mine] and mine  # rep2 sees their own contracts only


def _deliveries(rt):
    from sqlalchemy import select
    d = rt.schema.delivery
    with rt.db.read() as conn:
        return [dict(r) for r in conn.execute(select(d).order_by(d.c.id)).mappings()]
