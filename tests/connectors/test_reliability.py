"""The reliability goals, with the real worker (`python run.py worker`) and a real receiver that honours
the idempotency key: the receiver down for a while, then back - every event delivered, each applied
once, in order per record; the worker killed (-9) in the middle of its deliveries, then restarted -
nothing lost, nothing applied twice."""
import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from engine.connectors import deliveries
from engine.core.actor import SYSTEM
from engine.workflow import transitions
from tests.apps import write_app
from tests.conftest import ROOT
from tests.connectors.receiver import Receiver
from tests.connectors.shop import APP

CONNECTOR = """
    name: erp
    type: rest
    on:
      - {entity: order, event: created}
      - {entity: order, event: transitioned, to: approved}
    base_url: ${TEST_ERP_URL}
    body: {number: "{{ record.number }}", event: "{{ event.type }}"}
    timeout: 3
    retry: {first_delay: 0.3, factor: 1.5, max_delay: 2, max_attempts: 100}
"""


def applied(receiver: Receiver) -> dict[str, list[str]]:
    """What a receiver that honours Idempotency-Key applied: each key once, per order in the order it came."""
    seen, out = set(), {}
    for r in receiver.got:
        key = r["headers"]["idempotency-key"]
        if key in seen:
            continue
        seen.add(key)
        body = json.loads(r["body"])
        out.setdefault(body["number"], []).append(body["event"])
    return out


def make_orders(rt, n: int) -> list[str]:
    c = rt.records.create(SYSTEM, "customer", {"name": "Ivanov"})
    numbers = []
    for _ in range(n):
        o = rt.records.create(SYSTEM, "order", {"customer": c["id"], "amount": "500.00"})
        transitions.fire(rt.records, SYSTEM, "order", o["id"], "approve")
        numbers.append(o["number"])
    return numbers


def delivered(rt) -> int:
    d = rt.schema.delivery
    with rt.db.read() as conn:
        return conn.execute(select(func.count()).select_from(d).where(d.c.status == "delivered")).scalar()


def most_attempts(rt) -> int:
    d = rt.schema.delivery
    with rt.db.read() as conn:
        return conn.execute(select(func.coalesce(func.max(d.c.attempts), 0))).scalar()


def start_worker(dbs, app, url, schema, env):
    args = [sys.executable, str(ROOT / "run.py"), "worker", "--app", app, "--db", dbs.url_with_schema(url, schema)]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_for(condition, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def setup(dbs, tmp_path, receiver_url):
    files = {**APP, "connectors/erp.yaml": CONNECTOR}
    app = write_app(tmp_path / "app", files)
    url, schema = dbs.new()
    env = {**os.environ, "TEST_ERP_URL": receiver_url, "ENGINE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
    os.environ["TEST_ERP_URL"] = receiver_url
    try:
        rt = dbs.runtime(app, url, schema)
    finally:
        del os.environ["TEST_ERP_URL"]
    return rt, app, url, schema, env


def test_a_receiver_down_for_a_while_gets_everything_once_in_order(dbs, tmp_path):
    receiver = Receiver()
    receiver.stop()  # down: connections refused
    rt, app, url, schema, env = setup(dbs, tmp_path, receiver.url)
    numbers = make_orders(rt, 5)
    worker = start_worker(dbs, app, url, schema, env)
    try:
        wait_for(lambda: most_attempts(rt) >= 3)  # tried, and tried again
        back = Receiver(port=receiver.port)  # the same address, answering again
        try:
            wait_for(lambda: delivered(rt) == 10)
            assert applied(back) == {n: ["created", "transitioned"] for n in numbers}
        finally:
            back.stop()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)


def test_a_worker_killed_mid_delivery_loses_nothing_and_applies_nothing_twice(dbs, tmp_path):
    receiver = Receiver()
    receiver.delay = 0.8  # each answer takes a while: the kill lands in the middle of the first round of deliveries
    try:
        rt, app, url, schema, env = setup(dbs, tmp_path, receiver.url)
        numbers = make_orders(rt, 8)
        first = start_worker(dbs, app, url, schema, env)
        try:
            wait_for(lambda: len(receiver.got) >= 4)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        assert delivered(rt) < 16
        second = start_worker(dbs, app, url, schema, env)
        try:
            wait_for(lambda: delivered(rt) == 16)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(20)
        assert applied(receiver) == {n: ["created", "transitioned"] for n in numbers}
        keys = [r["headers"]["idempotency-key"] for r in receiver.got]
        assert len(set(keys)) == 16 and len(keys) - len(set(keys)) <= 2 * deliveries.ROUND  # at most the two rounds in flight when it died come twice
    finally:
        receiver.stop()
