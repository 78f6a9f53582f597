"""Schemathesis against the demo's own OpenAPI document: every operation, with data that fits the
document and data that does not, as an administrator and as a sales rep, on the demo data. Bounded
(a few examples per operation and mode) and deterministic (derandomized), so it is a test, not a
benchmark. It fails on any 5xx, on a response that is not what the document says (status code,
content type, body), and on a 405 without an Allow header.

Revoking the caller's own token (DELETE /api/v1/auth/token) is left out: it would sign the test out
of every later call; tests/access/test_accounts.py covers it."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance
from starlette.testclient import TestClient

from engine.app import demo
from engine.server import create_app
from tests.conftest import DEMO_APP, DatabaseFactory

EXAMPLES = 10  # per operation, mode and user
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SKIP = {("DELETE", "/api/v1/auth/token")}


@pytest.fixture(scope="module")
def demo_api(tmp_path_factory):
    dbs = DatabaseFactory(tmp_path_factory.mktemp("fuzz"))
    rt = dbs.runtime(DEMO_APP)
    demo.load(rt)
    app = create_app(rt, secret_key="fuzz-secret-" + "x" * 32)
    with TestClient(app) as client:
        tokens = {u: client.post("/api/v1/auth/token", json={"username": u, "password": "demo"}).json()["token"] for u in ("admin", "rep_east1")}
    yield app, tokens
    dbs.close()


@pytest.mark.parametrize("user", ["admin", "rep_east1"])
def test_no_operation_fails_on_any_input(demo_api, user):
    app, tokens = demo_api
    headers = {"Authorization": f"Bearer {tokens[user]}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=headers)
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                nonlocal ran
                ran += 1
                try:
                    response = case.call(headers=headers)
                except Exception as exc:  # the app raised: a 500 for the client
                    failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: server error {type(exc).__name__}: {exc}\n"
                                    f"    {case.as_curl_command()}")
                    raise
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except Exception as exc:  # collect them all, then fail once with every operation that broke
                    failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {str(exc).strip().splitlines()[0]}\n"
                                    f"    {response.status_code} {response.text[:300]}\n    {case.as_curl_command()}")
                    raise
            try:
                run()
            except Exception:  # recorded in `failures` (hypothesis re-raises the smallest example it found)
                pass
    assert ran > 200
    assert not failures, f"{len(failures)} failing operation(s):\n" + "\n".join(failures)


def test_unauthenticated_calls_get_401_whatever_the_id(demo_api):
    app, _ = demo_api
    with TestClient(app) as anonymous:
        for path in ("/api/v1/sales_order/%C2%B3", "/api/v1/sales_order/99999999999999999999999", "/api/v1/sales_order/-1/history",
                     "/api/v1/sales_order/x/transitions", "/api/v1/sales_order/%EF%BC%91/timeline"):
            r = anonymous.get(path)
            assert r.status_code == 401, (path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
