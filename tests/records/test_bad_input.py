"""Bad input gets a 4xx that says what is wrong, never a 500: ids written with Unicode digits or
beyond 64 bits, in paths, query strings, forms and JSON lists; computed values too large for their
column; JSON values of the wrong type; methods a path does not have. Each case here returned 500
before it was fixed; tests/api/test_fuzz.py looks for more with schemathesis."""
import pytest
from starlette.testclient import TestClient

from engine.server import create_app
from tests.conftest import seed_basics
from tests.web.test_pages import SECRET, csrf, sign_in

PROBLEM = "application/problem+json"
HUGE = 2**64 + 7


def problem(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["detail"]
    return body


@pytest.fixture
def order(rt, clerk):
    ids = seed_basics(rt, clerk)
    rec = rt.records.create(clerk, "sales_order", {"customer": ids["customer"], "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "5.00"}]})
    return rec["id"]


@pytest.mark.parametrize("path", ["/api/v1/sales_order/%C2%B3", "/api/v1/sales_order/%C2%B3/history", "/api/v1/sales_order/%C2%B3/timeline",
                                  "/api/v1/sales_order/%C2%B3/transitions", "/api/v1/sales_order/%C2%B3/review",
                                  "/api/v1/sales_order/%EF%BC%91", f"/api/v1/sales_order/{HUGE}", "/api/v1/sales_order/-3"])
def test_ids_that_are_not_whole_numbers_are_not_found(api, client, path):
    assert "not a record id" in problem(api.get(path), 404)["detail"]
    problem(client.get(path), 401)  # without a token the id is not even looked at


def test_id_lists_beyond_64_bits_are_refused_by_name(api, order):
    body = problem(api.post("/api/v1/sales_order/transitions/submit", json={"ids": [order, HUGE]}), 422)
    assert body["errors"][0]["field"] == "ids"
    body = problem(api.post("/api/v1/notifications/read", json={"ids": [HUGE]}), 422)
    assert body["errors"][0]["field"] == "ids"
    assert api.post("/api/v1/notifications/read", json={"ids": [1, 2]}).json() == {"marked": 0}
    assert api.post("/api/v1/notifications/read").status_code == 200  # an empty body marks everything read
    problem(api.post("/api/v1/sales_order/transitions/fly", json={"ids": [order]}), 404)  # no such transition: 404, not per id


@pytest.mark.parametrize("query, field", [("customer=%C2%B3", "customer"), ("limit=%C2%B3", "limit"), (f"customer={HUGE}", "customer"),
                                          ("total__gt=1e999999", "total__gt")])
def test_query_values_that_are_not_numbers(api, query, field):
    body = problem(api.get(f"/api/v1/sales_order?{query}"), 422)
    assert [e["field"] for e in body["errors"]] == [field]


def test_explain_and_delete_read_their_numbers_safely(api, order):
    problem(api.get("/api/v1/permissions/explain?user=clerk&entity=sales_order&record=%C2%B3"), 422)
    problem(api.delete(f"/api/v1/sales_order/{order}?version=%C2%B3"), 400)


def test_a_computed_value_too_large_for_its_column_names_the_field(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    r = api.post("/api/v1/sales_order", json={"customer": ids["customer"], "lines": [
        {"product": ids["p1"], "quantity": "999999999.999", "unit_price": "999999999999.99"}]})
    body = problem(r, 422)
    fields = [e["field"] for e in body["errors"]]
    assert "lines[0].amount" in fields, body
    assert "too large" in next(e["message"] for e in body["errors"] if e["field"] == "lines[0].amount")


@pytest.mark.parametrize("payload, field", [({"decision": ["approve"]}, "decision"), ({"decision": {"x": 1}}, "decision"),
                                            ({"decision": "approve", "role": ["finance"]}, "role"),
                                            ({"decision": "reject", "opinion": 7}, "opinion")])
def test_json_of_the_wrong_type_on_the_review(api, order, payload, field):
    body = problem(api.post(f"/api/v1/sales_order/{order}/review", json=payload), 422)
    assert field in [e["field"] for e in body["errors"]]


def test_a_method_a_path_does_not_have_says_which_it_has(api, client):
    r = api.put("/api/v1/sales_order", json={})
    problem(r, 405)
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    assert "PUT is not allowed here; use one of: GET, HEAD, POST" in r.json()["detail"]


@pytest.fixture
def web(rt):
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as c:
        yield c


def test_screens_read_ids_safely(web, order):
    sign_in(web)
    for path in ("/sales_order/%C2%B3", "/sales_order/%C2%B3/edit", f"/sales_order/{HUGE}", "/sales_order/new?copy=%C2%B3",
                 "/settings/users/%C2%B3"):
        r = web.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert "Something went wrong" not in r.text
    token = csrf(web.get("/sales_order").text)
    r = web.post("/sales_order/preview", data={"csrf_token": token, "_id": "³", "_fields": "notes", "notes": "x"})
    assert r.status_code == 200
    r = web.post(f"/sales_order/{order}/edit", data={"csrf_token": token, "_fields": "lines", "_version": "1", "lines-0-id": "³",
                                                     "lines-0-quantity": "2"})
    assert r.status_code == 422 and "is not a line of this record" in r.text
    r = web.post("/sales_order/bulk", data={"csrf_token": token, "transition": "submit", "ids": ["³", str(HUGE), str(order)]})
    assert r.status_code == 200  # the unreadable ids are left out; the order itself is submitted
    r = web.post("/sales_order/board/move", data={"csrf_token": token, "id": str(HUGE), "to": "submitted"},
                 headers={"accept": "application/json"})
    assert r.status_code in (200, 404, 409, 422) and r.status_code != 500
    r = web.get("/settings/explain?user=clerk&entity=sales_order&action=read&record=%C2%B3")
    assert r.status_code == 200 and "a record id is a whole number" in r.text


@pytest.mark.parametrize("method, path, allow", [("patch", "/api/v1/customer/export.csv", {"GET", "HEAD"}),
                                                 ("post", "/api/v1/notifications", {"GET", "HEAD"}),
                                                 ("delete", "/api/v1/reviews/pending", {"GET", "HEAD"})])
def test_fixed_paths_are_not_read_as_entities_or_ids(api, method, path, allow):
    r = getattr(api, method)(path)
    problem(r, 405)
    assert set(r.headers["allow"].replace(" ", "").split(",")) == allow


def test_who_may_not_write_hears_so_before_the_body_is_read(rt, client, people):
    token = client.post("/api/v1/auth/token", json={"username": "rep", "password": "demo"}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    for method, path in (("patch", f"/api/v1/product/{people['product']}"), ("post", "/api/v1/product"),
                         ("delete", f"/api/v1/product/{people['product']}?version=%C2%B3")):
        body = problem(getattr(client, method)(path, headers=h), 403)  # not 400 for the empty body or the odd version
        assert "may not" in body["detail"]
