"""`python run.py connectors test NAME`, as an implementer runs it: one sample request to the target,
the exchange printed, nothing written."""
import os
import subprocess
import sys

from sqlalchemy import func, select

from engine.core.actor import SYSTEM
from tests.apps import write_app
from tests.conftest import ROOT
from tests.connectors.receiver import Receiver
from tests.connectors.shop import APP, SECRET, approved_order


def run(*args, env):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_a_sample_request_is_sent_and_printed_and_nothing_is_written(dbs, tmp_path, monkeypatch):
    receiver = Receiver()
    receiver.then = (201, {"document_number": "ERP-9"})
    try:
        env = {**os.environ, "TEST_ERP_URL": receiver.url, "TEST_ERP_TOKEN": "tok", "TEST_ERP_SECRET": SECRET}
        for k in ("TEST_ERP_URL", "TEST_ERP_TOKEN", "TEST_ERP_SECRET"):
            monkeypatch.setenv(k, env[k])
        app = write_app(tmp_path / "app", APP)
        url, schema = dbs.new()
        rt = dbs.runtime(app, url, schema)
        order = approved_order(rt)
        with rt.db.write() as conn:
            conn.execute(rt.schema.delivery.delete())  # the approval's own delivery: not what this test is about
        db = dbs.url_with_schema(url, schema)
        r = run("connectors", "test", "erp", "--app", app, "--db", db, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == f"connector erp (rest); sample: order {order['id']} ({order['number']}), the newest; nothing is written (a test)"
        assert lines[1] == "> POST ${TEST_ERP_URL}/sales-orders" and "> Authorization: Bearer ${TEST_ERP_TOKEN}" in lines
        assert any(line.startswith("< 201 (") for line in lines) and lines[-1] == "delivered"
        [got] = receiver.got
        assert got["headers"]["idempotency-key"].startswith("test-") and got["headers"]["authorization"] == "Bearer tok"
        with rt.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(rt.schema.delivery)).scalar() == 0
        assert rt.records.get(SYSTEM, "order", order["id"])["erp_number"] is None
        listed = run("connectors", "list", "--app", app, "--db", db, env=env)
        assert listed.stdout.split() == ["erp", "rest", "on"]
        off = run("connectors", "test", "erp", "--app", app, "--db", db, env={k: v for k, v in env.items() if k != "TEST_ERP_URL"})
        assert off.returncode == 1 and "connector erp is off: set TEST_ERP_URL where the app runs" in off.stderr + off.stdout
        receiver.then = (422, {"error": "no"})
        refused = run("connectors", "test", "erp", "--app", app, "--db", db, env=env)
        assert refused.returncode == 1 and refused.stdout.splitlines()[-1] == (
            "not delivered: the receiver answered 422 Unprocessable Entity (final: the worker would not retry)")
    finally:
        receiver.stop()


def test_a_channel_connector_sends_a_test_notification_to_the_address_given(dbs, tmp_path):
    from aiosmtpd.controller import Controller

    from tests.connectors.test_email import Inbox, free_port
    port = free_port()
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        env = {**os.environ, "ENGINE_SMTP_URL": f"smtp://127.0.0.1:{port}"}
        app = write_app(tmp_path / "app", {**{k: v for k, v in APP.items() if not k.startswith("connectors/")},
                                           "connectors/mail.yaml": "name: mail\ntype: email\nchannel: true\n"})
        url, schema = dbs.new()
        dbs.runtime(app, url, schema)
        db = dbs.url_with_schema(url, schema)
        r = run("connectors", "test", "mail", "--app", app, "--db", db, env=env)
        assert r.returncode == 2 and "say where the sample goes" in r.stderr and "--to you@example.com" in r.stderr
        r = run("connectors", "test", "mail", "--to", "ops@shop.example.com", "--app", app, "--db", db, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines()[0] == "connector mail (email); sample: a test notification to ops@shop.example.com; nothing is written (a test)"
    finally:
        server.stop()
    [mail] = inbox.got
    assert mail.rcpt_tos == ["ops@shop.example.com"] and b"Subject: Shop: a test notification" in mail.content
