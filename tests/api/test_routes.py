"""The JSON API contract (README, docs/workflows.md), through the real ASGI app."""
import json

from tests.conftest import seed_basics

PROBLEM = "application/problem+json"


def test_healthz_and_index(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    names = [e["name"] for e in client.get("/api/v1").json()["entities"]]
    assert names == ["customer", "product", "sales_order", "stock", "warehouse"]


def test_token_and_auth(client, clerk):
    bad = client.post("/api/v1/auth/token", json={"username": "clerk", "password": "wrong"})
    assert bad.status_code == 401 and bad.headers["content-type"] == PROBLEM
    unknown = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == bad.json()["detail"]
    assert client.post("/api/v1/auth/token", json={"username": 1}).status_code == 422
    assert client.get("/api/v1/customer").status_code == 401
    assert client.get("/api/v1/customer", headers={"Authorization": "Bearer nope"}).status_code == 401
    tok = client.post("/api/v1/auth/token", json={"username": "clerk", "password": "demo"}).json()["token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tok}"}).json()
    assert me["username"] == "clerk" and me["roles"] == ["admin"]


def test_crud_round_trip(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    r = api.post("/api/v1/sales_order", json={"customer": ids["customer"], "notes": "Срочно 加急",
                                                "lines": [{"product": ids["p1"], "quantity": 1.5, "unit_price": "100.10"}]})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert r.headers["location"] == f"/api/v1/sales_order/{rec['id']}"
    assert rec["total"] == "150.15" and rec["lines"][0]["quantity"] == "1.500" and rec["notes"] == "Срочно 加急"
    got = api.get(f"/api/v1/sales_order/{rec['id']}").json()
    assert got == rec
    r = api.patch(f"/api/v1/sales_order/{rec['id']}", json={"version": 1, "requested_delivery_date": "2099-01-01"})
    assert r.status_code == 200 and r.json()["version"] == 2
    stale = api.patch(f"/api/v1/sales_order/{rec['id']}", json={"version": 1, "notes": "lost?"})
    assert stale.status_code == 409 and stale.headers["content-type"] == PROBLEM and stale.json()["current_version"] == 2
    assert api.get(f"/api/v1/sales_order/{rec['id']}").json()["notes"] == "Срочно 加急"
    missing_version = api.patch(f"/api/v1/sales_order/{rec['id']}", json={"notes": "x"})
    assert missing_version.status_code == 422 and missing_version.json()["errors"][0]["field"] == "version"
    hist = api.get(f"/api/v1/sales_order/{rec['id']}/history").json()["items"]
    assert [h["action"] for h in hist] == ["create", "update"] and hist[1]["changes"]["fields"]["requested_delivery_date"] == [None, "2099-01-01"]
    assert api.delete(f"/api/v1/sales_order/{rec['id']}?version=1").status_code == 409
    assert api.delete(f"/api/v1/sales_order/{rec['id']}?version=2").status_code == 204
    assert api.get(f"/api/v1/sales_order/{rec['id']}").status_code == 404


def test_not_found_paths(api):
    for url in ("/api/v1/nope", "/api/v1/customer/999", "/api/v1/customer/abc", "/api/v1/sales_order_line",
                "/api/v1/customer/99999999999999999999999", "/api/v1/customer/1/nothing/here"):
        r = api.get(url)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, url
        assert r.json()["detail"]


def test_bad_input_is_4xx_never_500(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    cases = [
        (b"{not json", 400), (b"", 400), (b"[1, 2]", 422), (b'"text"', 422), (b"null", 422),
        (json.dumps({"customer": "abc"}).encode(), 422),
        (json.dumps({"customer": ids["customer"], "order_date": "2026-02-30"}).encode(), 422),
        (json.dumps({"customer": ids["customer"], "lines": "x"}).encode(), 422),
        (json.dumps({"customer": ids["customer"], "lines": [1, None]}).encode(), 422),
        (json.dumps({"customer": ids["customer"], "lines": [{"id": 5}]}).encode(), 422),
        (json.dumps({"customer": ids["customer"], "notes": "x" * 5000}).encode(), 422),
        (json.dumps({"customer": ids["customer"], "notes": "a\u0000b"}).encode(), 422),
        (json.dumps({"customer": ids["customer"], "tax_rate": 1e400}).encode().replace(b"Infinity", b"1e400"), 422),
        (b'{"customer": NaN}', 400),
        (json.dumps({"customer": True}).encode(), 422),
        (json.dumps({"customer": 10**30}).encode(), 422),
        (b"[" * 100000 + b"]" * 100000, 400),
    ]
    for body, status in cases:
        r = api.post("/api/v1/sales_order", content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, (body[:80], r.status_code, r.text[:300])
        assert r.headers["content-type"] == PROBLEM
    r = api.post("/api/v1/sales_order", content=b"x" * (10 * 1024 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = api.post("/api/v1/sales_order", content=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    with rt.db.read() as conn:
        from sqlalchemy import func, select
        assert conn.execute(select(func.count()).select_from(rt.schema.tables["sales_order"])).scalar() == 0


def test_validation_errors_list_fields(api, rt, clerk):
    seed_basics(rt, clerk)
    r = api.post("/api/v1/sales_order", json={"customer": 424242, "unknown": 1, "lines": [{"description": "not in the catalogue", "quantity": "-2"}]})
    assert r.status_code == 422
    body = r.json()
    assert body["title"] and body["status"] == 422 and body["detail"]
    assert {e["field"] for e in body["errors"]} == {"customer", "unknown", "lines[0].quantity", "lines[0].unit_price", "lines[0].tech_spec"}


def test_list_filters_sort_paging(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    for i in range(7):
        r = api.post("/api/v1/sales_order", json={"customer": ids["customer"], "order_date": f"2026-03-{i + 1:02d}",
                                                    "lines": [{"product": ids["p2"], "quantity": i + 1, "unit_price": "10"}]})
        assert r.status_code == 201
    page = api.get("/api/v1/sales_order?sort=-total&limit=3").json()
    assert [o["total"] for o in page["items"]] == ["70.00", "60.00", "50.00"] and page["next_cursor"]
    assert "lines" not in page["items"][0]
    page2 = api.get(f"/api/v1/sales_order?sort=-total&limit=3&cursor={page['next_cursor']}").json()
    assert [o["total"] for o in page2["items"]] == ["40.00", "30.00", "20.00"]
    f = api.get("/api/v1/sales_order?total__gte=30&order_date__lte=2026-03-05&sort=order_date").json()
    assert [o["order_date"] for o in f["items"]] == ["2026-03-03", "2026-03-04", "2026-03-05"] and f["count"] == 3
    assert api.get("/api/v1/sales_order?status__in=draft,approved").json()["count"] == 7
    assert api.get("/api/v1/sales_order?cursor=garbage").status_code == 400
    assert api.get(f"/api/v1/sales_order?sort=total&cursor={page['next_cursor']}").status_code == 400
    for q in ("sort=nope", "limit=0", "limit=100000", "total__gte=abc", "order_date=yesterday", "count=maybe", "sort=total,id"):
        r = api.get(f"/api/v1/sales_order?{q}")
        assert r.status_code == 422, q


def test_hostile_strings_in_filters_are_just_data(api, rt, clerk):
    seed_basics(rt, clerk)
    for s in ("' OR 1=1 --", "\"; DROP TABLE customer; --", "%", "_", "\\", "<script>alert(1)</script>", "Ω≈ç√∫", "😀"):
        r = api.get("/api/v1/customer", params={"name__contains": s})
        assert r.status_code == 200 and r.json()["items"] == [], s
        r = api.get("/api/v1/customer", params={"q": s})
        assert r.status_code == 200 and r.json()["items"] == [], s
    assert api.get("/api/v1/customer").json()["count"] == 1


def test_method_not_allowed_is_problem(api):
    r = api.put("/api/v1/customer/1", json={})
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM


def test_an_api_read_is_one_transaction_from_the_token_to_the_answer(api, rt, clerk):
    """The token's lookup and what the request reads share one read transaction."""
    from sqlalchemy import event
    seed_basics(rt, clerk)
    begun = []

    def on_begin(conn):
        begun.append(1)
    event.listen(rt.db.engine, "begin", on_begin)
    try:
        for path in ("/api/v1/customer", "/api/v1/customer/1", "/api/v1/notifications", "/api/v1/events?limit=5"):
            begun.clear()
            r = api.get(path)
            assert r.status_code == 200 and len(begun) == 1, (path, r.status_code, len(begun))
        begun.clear()
        assert api.get("/api/v1/customer", headers={"Authorization": "Bearer nope"}).status_code == 401 and len(begun) == 1
    finally:
        event.remove(rt.db.engine, "begin", on_begin)


def test_every_response_carries_its_envelope(client, api):
    """One middleware around every request: the security headers, Server-Timing, and no cookie for the API."""
    for r in (client.get("/login"), api.get("/api/v1/customer"), client.get("/nothing-here")):
        assert r.headers["x-frame-options"] == "DENY" and "default-src 'self'" in r.headers["content-security-policy"]
        assert float(r.headers["server-timing"].split("dur=")[1]) >= 0
    assert "set-cookie" not in api.get("/api/v1/customer").headers
    from engine.web.envelope import Envelope
    assert [m.cls for m in client.app.user_middleware] == [Envelope]
