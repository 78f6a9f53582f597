"""Server time and throughput of the generated order list page, beside a bare baseline.

    python bench/list_page.py --db sqlite:///bench/data/orders_1000000.db

Starts `run.py serve` and bench/baseline_app.py (uvicorn, one process each), signs in to the
generated app, then for each: p50/p95 of sequential requests, and requests per second with
4 concurrent clients for a few seconds. The goal is the generated page at >= 60% of the
baseline's throughput.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def wait_up(url: str, server=None, tries: int = 300) -> None:
    """Until the server at `url` answers; SystemExit when `server` (a Popen) stops first, or after `tries` tenths of a second."""
    for _ in range(tries):
        if server is not None and server.poll() is not None:
            raise SystemExit(f"the server stopped (exit {server.returncode})")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def pct(xs: list, p: float) -> float:
    return sorted(xs)[int(p * (len(xs) - 1))]


def measure(make_client, path: str, requests: int, seconds: float, workers: int = 4):
    with make_client() as c:
        for _ in range(10):
            assert c.get(path).status_code == 200
        times, server = [], []
        for _ in range(requests):
            t = time.perf_counter()
            r = c.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
            if "server-timing" in r.headers:
                server.append(float(r.headers["server-timing"].split("dur=")[1]))
    count = [0] * workers
    stop = time.perf_counter() + seconds

    def worker(i):
        with make_client() as c:
            while time.perf_counter() < stop:
                assert c.get(path).status_code == 200
                count[i] += 1
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rps = sum(count) / (time.perf_counter() - t0)
    return statistics.median(times), pct(times, 0.95), rps, (statistics.median(server), pct(server, 0.95)) if server else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    args = ap.parse_args()
    env = {**os.environ, "ENGINE_DATABASE_URL": args.db, "ENGINE_SECRET_KEY": "bench-" + "s" * 40}
    procs = [
        subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--no-demo", "--port", "8131"], env=env, cwd=str(ROOT),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        # same server settings as run.py serve (log level info, so both write an access log)
        subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.baseline_app:app", "--port", "8132", "--log-level", "info"],
                         env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_up("http://127.0.0.1:8131/healthz")
        wait_up("http://127.0.0.1:8132/sales_order")
        login = httpx.get("http://127.0.0.1:8131/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        r = httpx.post("http://127.0.0.1:8131/login", data={"username": "manager", "password": "demo", "csrf_token": token, "next": "/"},
                       cookies=login.cookies)
        cookies = r.history[0].cookies if r.history else r.cookies
        assert "engine_session" in cookies, "could not sign in"

        def generated():
            return httpx.Client(base_url="http://127.0.0.1:8131", cookies=cookies, timeout=30)

        def baseline():
            return httpx.Client(base_url="http://127.0.0.1:8132", timeout=30)
        rounds = []
        for _ in range(args.rounds):  # interleaved, so drift in the machine's speed hits both alike
            rounds.append((measure(generated, "/sales_order", args.requests, args.seconds),
                           measure(baseline, "/sales_order", args.requests, args.seconds)))
        med = statistics.median
        g = [med(r[0][i] for r in rounds) for i in range(3)] + [(med(r[0][3][0] for r in rounds), med(r[0][3][1] for r in rounds))]
        b = [med(r[1][i] for r in rounds) for i in range(3)]
        ratio = med(r[0][2] / r[1][2] for r in rounds)
        print(f"database: {args.db.split('://')[0]}; first page of orders, newest first, 50 rows; median of {args.rounds} interleaved rounds")
        print(f"{'':28s} {'p50 ms':>8s} {'p95 ms':>8s} {'req/s (4 clients)':>18s}   (client-observed latency)")
        print(f"{'generated list page':28s} {g[0]:8.2f} {g[1]:8.2f} {g[2]:18.1f}")
        print(f"{'bare Starlette + Jinja2':28s} {b[0]:8.2f} {b[1]:8.2f} {b[2]:18.1f}")
        print(f"generated list page server time (Server-Timing): p50 {g[3][0]:.2f} ms, p95 {g[3][1]:.2f} ms")
        print(f"generated throughput = {100 * ratio:.0f}% of the baseline (goal: >= 60%); rounds: "
              + ", ".join(f"{100 * r[0][2] / r[1][2]:.0f}%" for r in rounds))
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    main()
