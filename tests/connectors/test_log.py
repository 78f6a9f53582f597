"""The delivery log through the API: administrators see each connector and its deliveries with
every attempt, retry a dead delivery or replay a delivered one (audited, same idempotency key);
everyone else gets 403, whatever they may do with the records."""
from sqlalchemy import select
from starlette.testclient import TestClient

from engine.server import create_app
from tests.conftest import make_user
from tests.connectors.shop import approved_order


def token(client, username):
    r = client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_admins_read_the_log_and_retry_or_replay(erp):
    rt, receiver, clock, run = erp
    make_user(rt, "boss", roles=("admin",))
    make_user(rt, "clerk", roles=("clerk",))
    receiver.script = [(400, {"error": "missing customer code"})]
    approved_order(rt)
    run()
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        admin, clerk = token(client, "boss"), token(client, "clerk")
        for url in ("/api/v1/connectors", "/api/v1/connectors/erp/deliveries", "/api/v1/connectors/erp/deliveries/1"):
            r = client.get(url, headers=clerk)
            assert r.status_code == 403 and "for administrators" in r.json()["detail"], url
        assert client.post("/api/v1/connectors/erp/deliveries/1/retry", headers=clerk).status_code == 403
        [c] = client.get("/api/v1/connectors", headers=admin).json()["items"]
        assert (c["name"], c["type"], c["enabled"], c["deliveries"]) == ("erp", "rest", True, {"pending": 0, "sending": 0, "delivered": 0, "dead": 1})
        assert c["events"] == [{"entity": "order", "event": "transitioned", "to": "approved", "when": "amount > 100"}]
        page = client.get("/api/v1/connectors/erp/deliveries?status=dead", headers=admin).json()
        [d] = page["items"]
        assert (d["status"], d["attempts"], d["last_status"]) == ("dead", 1, 400) and page["next_before"] is None
        assert client.get("/api/v1/connectors/erp/deliveries?status=delivered", headers=admin).json()["items"] == []
        r = client.get("/api/v1/connectors/erp/deliveries?status=lost&limit=0", headers=admin)
        assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"status", "limit"}
        assert client.get("/api/v1/connectors/nope/deliveries", headers=admin).status_code == 404
        one = client.get(f"/api/v1/connectors/erp/deliveries/{d['id']}", headers=admin).json()
        assert one["request"]["headers"]["Authorization"] == "Bearer ${TEST_ERP_TOKEN}"  # the reference, never the secret
        assert [a["status_code"] for a in one["attempts"]] == [400] and "missing customer code" in one["response"]

        r = client.post(f"/api/v1/connectors/erp/deliveries/{d['id']}/retry", headers=admin)  # the receiver was fixed
        assert r.status_code == 200 and r.json() == {"id": d["id"], "status": "pending", "action": "retry"}
        run()
        assert client.get(f"/api/v1/connectors/erp/deliveries/{d['id']}", headers=admin).json()["status"] == "delivered"
        r = client.post(f"/api/v1/connectors/erp/deliveries/{d['id']}/retry", headers=admin)
        assert r.json()["action"] == "replay"
        run()
        keys = [g["headers"]["idempotency-key"] for g in receiver.got]
        assert len(keys) == 3 and len(set(keys)) == 1  # the same event, the same key: the receiver can tell
        attempts = client.get(f"/api/v1/connectors/erp/deliveries/{d['id']}", headers=admin).json()["attempts"]
        assert [(a["status_code"], a["by"]) for a in attempts] == [(400, None), (None, "boss"), (200, None), (None, "boss"), (200, None)]
        assert client.post("/api/v1/connectors/erp/deliveries/999/retry", headers=admin).status_code == 404
    with rt.db.read() as conn:
        a = rt.schema.audit
        assert conn.execute(select(a.c.action, a.c.actor).where(a.c.entity == "sys_delivery").order_by(a.c.id)).all() == [
            ("retry", "boss"), ("replay", "boss")]
