"""Settings > Connectors as an administrator sees it: each connector on or off, its deliveries by
status, a delivery's attempts and request (references, never secrets), and Retry / Replay that put
it back in line (with CSRF); closed to everyone else."""
import re

from starlette.testclient import TestClient

from engine.server import create_app
from tests.conftest import make_user
from tests.connectors.conftest import erp  # noqa: F401 - the fixture
from tests.connectors.shop import approved_order
from tests.html import text_by_id, texts_of, visible_text


def signed_in(client, username):
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": "demo", "csrf_token": csrf, "next": "/"})
    assert r.status_code in (200, 303), r.text


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_an_administrator_reads_the_log_and_retries(erp):  # noqa: F811
    rt, receiver, clock, run = erp
    make_user(rt, "boss", roles=("admin",))
    make_user(rt, "clerk", roles=("clerk",))
    receiver.script = [(500, "the ERP is down")]
    receiver.then = (500, "the ERP is down")
    order = approved_order(rt)
    for _ in range(4):
        run()
        clock.wait(3600)
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        signed_in(client, "clerk")
        assert client.get("/settings/connectors").status_code == 403
        client.cookies.clear()
        signed_in(client, "boss")
        page = client.get("/settings/connectors")
        assert page.status_code == 200
        text = visible_text(page.text)
        assert "erp Sends · rest On 0 delivered, 1 given up" in text
        assert "order: transitioned → approved (amount > 100)" in text
        [row] = texts_of(page.text, "delivery-row")
        assert row.startswith(f"1 Order {order['id']} transitioned Given up 4 the receiver answered 500 Internal Server Error ")  # this admin may not read orders: no title
        detail = client.get("/settings/connectors/erp/deliveries/1")
        assert "Bearer ${TEST_ERP_TOKEN}" in text_by_id(detail.text, "request") and "t0ken" not in detail.text
        assert len(texts_of(detail.text, "attempt-row")) == 4
        refused = client.post("/settings/connectors/erp/deliveries/1/retry", data={"csrf_token": "forged"})
        assert refused.status_code == 403
        receiver.then = (200, {"document_number": "ERP-5"})
        r = client.post("/settings/connectors/erp/deliveries/1/retry", data={"csrf_token": csrf_of(detail.text)}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/settings/connectors/erp/deliveries/1?done=retry"
        run()
        after = client.get("/settings/connectors/erp/deliveries/1?done=retry")
        assert text_by_id(after.text, "delivery-status") == "Delivered"
        assert "It will be sent again now, with a fresh series of attempts." in visible_text(after.text)
        assert text_by_id(after.text, "again") == "Replay"
