"""A live server with the demo data and Debian's Chromium driven by Playwright.

Chromium must be installed (`apt-get install chromium`; .ci/run does it). Playwright's own
browser download is never used. Every test here carries the `browser` marker, so
`pytest -m "not browser"` runs the rest of the suite on a machine without Chromium.

Screenshots go to a temporary folder, so a test run never rewrites tracked files; set
ENGINE_SCREENSHOTS=docs/screenshots to refresh the documentation's pictures."""
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from engine.app import demo
from engine.server import create_app
from tests.conftest import DatabaseFactory

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("ENGINE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "engine-screenshots")


def pytest_collection_modifyitems(items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


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
    """(base URL, runtime) of a server with the build-to-order app (tests/scenarios/build_to_order), no data."""
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
CONSOLE_ERRORS: list[str] = []  # any error in the console (a missing icon, an htmx swap without a target...)


# htmx logs a request cut short - by a newer one (hx-sync replace) or by leaving the page while a live preview is
# on its way - as two console errors, htmx:sendAbort and htmx:afterRequest; nothing went wrong for the user. A request
# that failed logs htmx:sendError, htmx:timeout or htmx:responseError beside its htmx:afterRequest, and those still count.
_CUT_SHORT = ("htmx:sendAbort", "htmx:afterRequest")


def watch(page) -> None:
    """Record what a page reports in the browser's console that a user should never cause."""
    def seen(m):
        if "Content Security Policy" in m.text:
            CSP_VIOLATIONS.append(f"{page.url}: {m.text}")
        elif m.type == "error" and "status of 4" not in m.text and not m.text.startswith(_CUT_SHORT):  # a 4xx the test provoked on purpose is the answer
            CONSOLE_ERRORS.append(f"{page.url}: {m.text}")
    page.on("console", seen)
    page.on("response", lambda r: CONSOLE_ERRORS.append(f"{page.url}: {r.status} for {r.url}") if r.status == 404 else None)


def sign_in(context, base: str, username: str = "rep_east1"):
    page = context.new_page()
    watch(page)
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button.primary")
    page.wait_for_url(lambda url: url in (base + "/", base + "/portal"))  # staff land on the home page, contacts on the portal
    return page


@pytest.fixture
def page(browser, live):
    base, _ = live
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    pg = sign_in(context, base)
    yield pg
    context.close()


@pytest.fixture(autouse=True)
def quiet_console():
    """Every browser test ends with nothing in the console that a user should never cause (CSP blocks, a missing icon,
    an htmx swap without a target, a 404), from every page signed in during the test."""
    CSP_VIOLATIONS.clear()
    CONSOLE_ERRORS.clear()
    yield
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS
    assert not CONSOLE_ERRORS, CONSOLE_ERRORS


def shot(page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
