"""A live server with the demo data and Debian's Chromium driven by Playwright.

Chromium must be installed (`apt-get install chromium`; .ci/run does it). Playwright's own
browser download is never used."""
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from engine import demo
from engine.server import create_app
from tests.conftest import DatabaseFactory

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """(base URL, runtime) of a server with the demo data."""
    yield from _demo_server(tmp_path_factory, "browser")


@pytest.fixture(scope="module")
def live_designer(tmp_path_factory):
    """(base URL, runtime) of a server with the demo data whose forms the designer tests change (their own, not `live`'s)."""
    yield from _demo_server(tmp_path_factory, "browser_designer")


def _demo_server(tmp_path_factory, name: str):
    dbs = DatabaseFactory(tmp_path_factory.mktemp(name))
    rt = dbs.runtime()
    demo.load(rt)
    yield from _serve(dbs, rt)


@pytest.fixture(scope="session")
def live_build_to_order(tmp_path_factory):
    """(base URL, runtime) of a server with DOMAIN.md E's app (tests/scenarios/build_to_order), no data."""
    dbs = DatabaseFactory(tmp_path_factory.mktemp("browser_e"))
    rt = dbs.runtime(str(Path(__file__).resolve().parent.parent / "scenarios" / "build_to_order"))
    yield from _serve(dbs, rt)


def _serve(dbs, rt):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rt, secret_key="browser-tests-" + "k" * 32), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", rt
    server.should_exit = True
    thread.join(10)
    dbs.close()


@pytest.fixture(scope="session")
def browser():
    assert Path(CHROMIUM).exists(), "browser tests need Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


CSP_VIOLATIONS: list[str] = []  # console messages about blocked scripts or styles, from every page signed in here


def sign_in(context, base: str, username: str = "rep_east1"):
    page = context.new_page()
    page.on("console", lambda m: CSP_VIOLATIONS.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None)
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button.primary")
    page.wait_for_url(base + "/")
    return page


@pytest.fixture
def page(browser, live):
    base, _ = live
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    pg = sign_in(context, base)
    yield pg
    context.close()
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS


def shot(page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
