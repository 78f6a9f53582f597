"""Connectors at speed: outbound deliveries a worker sends per second, and inbound webhooks verified
and applied per second.

    python bench/connectors.py --db sqlite:///bench/data/connectors.db
    python bench/connectors.py --db postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_conn

Outbound: the demo's `erp` connector pointed at a receiver in its own process that answers 201 at
once; N orders approved (each makes one delivery in its transaction), then the worker's send loop
(engine.connectors.deliveries.send_due, as the queue runs it) sends them all: deliveries per
second, one process - first with the connector's response mapping (each answer written back to
its order through the record service), then the same deliveries replayed without it (the delivery
path alone: claim, send, record). Inbound: the demo served by uvicorn in its own process with its
`payments` webhook; signed calls (Standard Webhooks) from 4 client threads, each finding an order by
number and setting its paid amount in one transaction with its replay note and log row: calls per
second, and the server's CPU per call. The database must be empty.
Goals (issue 14): at least 500 deliveries/s on one worker; at least 300 webhook calls/s.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402
from transitions import DEPARTMENTS, bench_people  # noqa: E402 - bench/transitions.py: the same people and order lines

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # the answer in one write: no wait for a delayed ACK between its headers and its body
    disable_nagle_algorithm = True
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"document_number": "ERP-1"}'
        self.send_response(201); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
"""
SECRET = "whsec_" + base64.b64encode(b"bench-payments-secret-32-bytes!!").decode()
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)], stdout=subprocess.PIPE, text=True)
    receiver.stdout.readline()
    os.environ["ERP_URL"] = f"http://127.0.0.1:{port}"
    os.environ["PAYMENTS_WEBHOOK_SECRET"] = SECRET
    from engine.app.runtime import Runtime
    from engine.connectors import deliveries
    from engine.connectors.registry import registry
    from engine.workflow import reviews, transitions
    rt = Runtime.open(str(ROOT / "metadata"), args.db)
    actors, customer, lines = bench_people(rt)
    depts = DEPARTMENTS
    numbers = []
    t0 = time.perf_counter()
    for _ in range(args.orders):  # each order to the supervisor's decision, the way the demo's workflow goes
        o = rt.records.create(actors["rep"], "sales_order", {"customer": customer, "lines": lines})
        transitions.fire(rt.records, actors["rep"], "sales_order", o["id"], "submit")
        for d in depts:
            reviews.decide(rt.records, actors[d], "sales_order", o["id"], "approve", "ok")
        numbers.append(o)
    t1 = time.perf_counter()
    for o in numbers:
        transitions.fire(rt.records, actors["sup"], "sales_order", o["id"], "approve")
    approving = time.perf_counter() - t1
    adapters = registry(rt.records.plugin_manager)
    t2 = time.perf_counter()
    cpu0 = time.process_time()
    sent, _ = deliveries.send_due(rt.records, adapters)
    took = time.perf_counter() - t2
    cpu = time.process_time() - cpu0
    d = rt.schema.delivery
    from sqlalchemy import func, select
    with rt.db.read() as conn:
        delivered = conn.execute(select(func.count()).select_from(d).where(d.c.status == "delivered")).scalar()
    print(f"database: {args.db.split('://')[0]}; set-up {t1 - t0:.1f} s")
    print(f"approvals with the erp connector on: {len(numbers) / approving:.0f}/s (each makes its delivery in its transaction)")
    print(f"outbound, each answer written back to its order: {sent} deliveries sent, {delivered} delivered, {sent / took:.0f} deliveries/s "
          f"on one worker ({cpu / max(sent, 1) * 1000:.2f} ms CPU each in the worker, the HTTP threads included; the receiver in its own process)")
    # the same deliveries replayed (as an admin's Replay does) by a connector without a response mapping: the delivery path alone
    from dataclasses import replace
    from types import MappingProxyType
    erp = rt.app.connectors["erp"]
    plain = replace(erp, settings=MappingProxyType({k: v for k, v in erp.settings.items() if k != "response"}))
    rt.records.app = replace(rt.records.app, connectors=MappingProxyType({**rt.records.app.connectors, "erp": plain}))
    with rt.db.write() as conn:
        conn.execute(d.update().values(status="pending", attempts=0, next_at=rt.records.clock()))
    t2, cpu0 = time.perf_counter(), time.process_time()
    sent, _ = deliveries.send_due(rt.records, adapters)
    took, cpu = time.perf_counter() - t2, time.process_time() - cpu0
    print(f"outbound, nothing written back: {sent} deliveries, {sent / took:.0f} deliveries/s on one worker "
          f"({cpu / max(sent, 1) * 1000:.2f} ms CPU each in the worker)")
    receiver.terminate()

    # inbound: the demo served in its own process
    port = free_port()
    env = {**os.environ}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--db", args.db, "--port", str(port), "--no-demo", "--no-worker"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/healthz", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    hook = Webhook(SECRET)
    requests = []
    for i in range(args.calls + 200):
        body = json.dumps({"type": "payment.received", "data": {"order": numbers[i % len(numbers)]["number"], "amount": f"{i * 37 % 9000 + 1}.00"}})  # a new amount each time: every call changes its order
        now = dt.datetime.now(dt.timezone.utc)
        mid = f"bench_{i}"
        requests.append((body, {"webhook-id": mid, "webhook-timestamp": str(int(now.timestamp())),
                                "webhook-signature": hook.sign(mid, now, body), "content-type": "application/json"}))
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client(part):
        with httpx.Client(base_url=base, timeout=30) as cl:
            for body, headers in part:
                s = cl.post("/hooks/payments", content=body, headers=headers).status_code
                with lock:
                    statuses[s] = statuses.get(s, 0) + 1
    warm, requests = requests[:200], requests[200:]  # the server's first calls compile its statements and warm its caches: not counted
    client(warm)
    statuses.clear()
    parts = [requests[i::4] for i in range(4)]
    cpu_before = cpu_seconds(server.pid)
    t3 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(part,)) for part in parts]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t3
    server_cpu = cpu_seconds(server.pid) - cpu_before
    server.terminate()
    server.wait(20)
    print(f"inbound: {len(requests)} signed webhook calls from 4 clients (after 200 to warm up): {len(requests) / took:.0f} calls/s, answers {statuses}, "
          f"server CPU {server_cpu / len(requests) * 1000:.2f} ms per call (verify, find the order, set its paid amount, the replay note, the log row)")
    rt.close()


if __name__ == "__main__":
    main()
