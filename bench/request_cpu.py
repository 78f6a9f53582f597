"""Server CPU time per request: the order list page and the list API, for one or more source trees
side by side (e.g. this one and a checkout of an earlier commit).

    python bench/request_cpu.py --db sqlite:///bench/data/orders_1000000.db [--tree /tmp/before --tree .]

Starts `run.py serve` from each tree (one uvicorn process each, no worker) on the same database,
signs in as the manager (a session cookie for the page, an API token for the API) and then, in
interleaved rounds, sends each server the same sequential requests and reads the CPU time its
process used (user + system, from /proc) before and after: CPU milliseconds per request is the
figure that counts on a noisy machine, where wall time moves with whatever else runs. Medians of
the rounds are printed.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import httpx
from list_page import wait_up  # bench/ is on the path when a script of it runs

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
PATHS = {
    "list page (screen)": "/sales_order",
    "list API, first page": "/api/v1/sales_order?limit=50",
    "list API, sorted by total": "/api/v1/sales_order?limit=50&sort=-total",
    "one record (API)": "/api/v1/sales_order/1",
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def sign_in(base: str) -> tuple[dict, str]:
    login = httpx.get(base + "/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    r = httpx.post(base + "/login", data={"username": "manager", "password": "demo", "csrf_token": csrf, "next": "/"}, cookies=login.cookies)
    cookies = r.history[0].cookies if r.history else r.cookies
    assert "engine_session" in cookies, "could not sign in"
    token = httpx.post(base + "/api/v1/auth/token", json={"username": "manager", "password": "demo"}).json()["token"]
    return dict(cookies), token


def measure(pid: int, client: httpx.Client, path: str, requests: int) -> float:
    """CPU milliseconds the server spent per request."""
    for _ in range(5):
        assert client.get(path).status_code == 200, path
    before = cpu_seconds(pid)
    for _ in range(requests):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
    return (cpu_seconds(pid) - before) * 1000 / requests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--tree", action="append", help="a source tree with run.py (default: this one); repeat to compare")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    trees = [Path(t).resolve() for t in (args.tree or [str(ROOT)])]
    env = {**os.environ, "ENGINE_DATABASE_URL": args.db, "ENGINE_SECRET_KEY": "bench-" + "s" * 40, "ENGINE_AUDIT_KEY": "bench-" + "a" * 40}
    servers = []
    try:
        for i, tree in enumerate(trees):
            port = 8141 + i
            p = subprocess.Popen([sys.executable, str(tree / "run.py"), "serve", "--no-demo", "--no-worker", "--port", str(port)],
                                 env={**env, "PYTHONPATH": str(tree)}, cwd=str(tree), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.append((tree, p, f"http://127.0.0.1:{port}"))
        clients = []
        for tree, p, base in servers:
            wait_up(base + "/healthz")
            cookies, token = sign_in(base)
            clients.append((httpx.Client(base_url=base, cookies=cookies, timeout=60),
                            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)))
        results = {(t, name): [] for t, _, _ in servers for name in PATHS}
        for _ in range(args.rounds):  # interleaved: drift in the machine hits every tree alike
            for name, path in PATHS.items():
                for (tree, p, _), (screen, api) in zip(servers, clients):
                    results[(tree, name)].append(measure(p.pid, api if path.startswith("/api/") else screen, path, args.requests))
        print(f"database: {args.db.split('://')[0]}; server CPU ms per request (user + system), median of {args.rounds} rounds of {args.requests}")
        print(f"{'':28s}" + "".join(f"{t.name[:18]:>20s}" for t, _, _ in servers))
        for name in PATHS:
            print(f"{name:28s}" + "".join(f"{statistics.median(results[(t, name)]):20.3f}" for t, _, _ in servers))
    finally:
        for _, p, _ in servers:
            p.terminate()
            p.wait(20)


if __name__ == "__main__":
    main()
