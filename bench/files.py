"""Files and comments on a record, measured through `run.py serve` in its own process (the demo app,
loaded into an empty database): a 20 MB file attached, set as a line's drawing, and downloaded,
each several times with new content - MB per second, the server's CPU per MB, and its memory
(resident now, and its peak) before and after, to show the bytes stream through rather than sit
in memory; then the record page of an order with 30 comments and 30 files, and its activity
feed: the server's CPU per request.

    python bench/files.py --db sqlite:////tmp/files.db [--size-mb 20] [--times 5]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from list_page import wait_up  # bench/ is on the path when a script of it runs
from request_cpu import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    now = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return now, peak


def pdf_of(size: int, seed: int) -> bytes:
    """A file that sniffs as a PDF, `size` bytes, different for each seed (no two are the same blob)."""
    head = b"%PDF-1.4\n% bench " + str(seed).encode() + b"\n"
    return head + os.urandom(size - len(head))


def sign_in(base: str, username: str) -> tuple[httpx.Client, httpx.Client]:
    """(API client with a token, screen client with a session) for a demo user."""
    token = httpx.post(base + "/api/v1/auth/token", json={"username": username, "password": "demo"}).json()["token"]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    web = httpx.Client(base_url=base, timeout=120)
    login = web.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    web.post("/login", data={"username": username, "password": "demo", "csrf_token": csrf, "next": "/"})
    return api, web


def timed(pid: int, work) -> tuple[float, float]:
    """(wall seconds, server CPU seconds) of `work()`."""
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    work()
    return time.perf_counter() - wall, cpu_seconds(pid) - cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="an empty database (the demo is loaded into it)")
    ap.add_argument("--size-mb", type=float, default=20)
    ap.add_argument("--times", type=int, default=5)
    ap.add_argument("--port", type=int, default=8791)
    args = ap.parse_args()
    size = int(args.size_mb * 1048576)
    base = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "ENGINE_ATTACHMENT_MAX_MB": str(int(args.size_mb) + 5)}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--db", args.db, "--port", str(args.port), "--no-worker"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(base + "/login", server, tries=1800)  # loading the demo into an empty database takes a while
        api, web = sign_in(base, "rep_east1")
        order = next(o for o in api.get("/api/v1/sales_order?limit=50").json()["items"] if o["status"] == "draft")
        full = api.get(f"/api/v1/sales_order/{order['id']}").json()
        line = full["lines"][0]["id"]
        oid = order["id"]
        api.post(f"/api/v1/sales_order/{oid}/attachments", files={"file": ("warm.pdf", pdf_of(4096, -1))})
        print(f"{args.size_mb:g} MB files, {args.times} times each, database {args.db.split(':')[0]}")
        print(f"server memory at start: {memory_mb(server.pid)[0]:.0f} MB resident")
        rows = []
        urls = []
        for label, send in (
                ("attach (POST .../attachments)", lambda data, i: urls.append(api.post(
                    f"/api/v1/sales_order/{oid}/attachments", files={"file": (f"big-{i}.pdf", data)}).json()["url"])),
                ("line drawing (PUT .../files/lines/{line}/drawing)", lambda data, i: api.put(
                    f"/api/v1/sales_order/{oid}/files/lines/{line}/drawing", files={"file": (f"drawing-{i}.pdf", data)}).raise_for_status())):
            walls, cpus = [], []
            for i in range(args.times):
                data = pdf_of(size, i + (1000 if "drawing" in label else 0))
                wall, cpu = timed(server.pid, lambda: send(data, i))
                walls.append(wall)
                cpus.append(cpu)
            rows.append((label, walls, cpus, memory_mb(server.pid)))
        walls, cpus = [], []
        for url in urls:
            def download():
                got = 0
                with api.stream("GET", url) as r:
                    for chunk in r.iter_bytes():
                        got += len(chunk)
                assert got == size, got
            wall, cpu = timed(server.pid, download)
            walls.append(wall)
            cpus.append(cpu)
        rows.append(("download (GET /api/v1/attachments/{id})", walls, cpus, memory_mb(server.pid)))
        for label, walls, cpus, mem in rows:
            mb = args.size_mb
            print(f"  {label:52} {mb / statistics.median(walls):7.1f} MB/s   server CPU {1000 * statistics.median(cpus) / mb:6.1f} ms per MB"
                  f"   resident after: {mem[0]:.0f} MB (peak {mem[1]:.0f} MB)")
        print(f"(a file is {args.size_mb:g} MB; {args.times} of each kind went through)")

        for i in range(30):
            api.post(f"/api/v1/sales_order/{oid}/comments", json={"text": f"note {i}: **checked** the drawing, see @rep_east1"})
        for i in range(30 - len(urls) - 1):
            api.post(f"/api/v1/sales_order/{oid}/attachments", files={"file": (f"small-{i}.pdf", pdf_of(20000, 5000 + i))})
        for path, label in ((f"/sales_order/{oid}", "record page, 30 comments and 30 files"),
                            (f"/sales_order/{oid}?activity=comments", "record page, comments only")):
            for _ in range(3):
                assert web.get(path).status_code == 200
            n = 20
            wall, cpu = timed(server.pid, lambda: [web.get(path) for _ in range(n)])
            print(f"  {label:52} {1000 * wall / n:7.1f} ms wall   server CPU {1000 * cpu / n:6.1f} ms per request")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
