"""The OpenAPI document is generated from the metadata and is valid OpenAPI 3.1."""
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError


def test_openapi_document_is_valid_3_1(api):
    r = api.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on an invalid document
    assert "/api/v1/sales_order/{id}/history" in spec["paths"]
    order = spec["components"]["schemas"]["sales_order"]["properties"]
    assert order["lines"]["items"]["$ref"] == "#/components/schemas/sales_order_line"
    assert order["total"]["readOnly"] is True
    assert order["status"]["enum"][:2] == ["draft", "in_review"]
    assert "customer" in spec["components"]["schemas"]["sales_order_input"]["required"]
    assert spec["components"]["schemas"]["sales_order_patch"]["required"] == ["version"]
    params = {p["name"] for p in spec["paths"]["/api/v1/sales_order"]["get"]["parameters"]}
    assert {"sort", "cursor", "limit", "q", "total__gte", "customer", "status__in"} <= params
    fire = spec["paths"]["/api/v1/sales_order/{id}/transitions/{transition}"]["post"]
    assert "approve" in next(p for p in fire["parameters"] if p["name"] == "transition")["schema"]["enum"]
    review = spec["paths"]["/api/v1/sales_order/{id}/review"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert review["properties"]["decision"]["enum"] == ["approve", "reject"]
    assert "/api/v1/customer/{id}/transitions" not in spec["paths"]  # no workflow, no transitions
    assert {"/api/v1/reviews/pending", "/api/v1/notifications", "/api/v1/notifications/read"} <= set(spec["paths"])
    assert {"/api/v1/jobs/{id}", "/api/v1/jobs/{id}/errors", "/api/v1/customer/import-template.xlsx"} <= set(spec["paths"])
    imported = spec["paths"]["/api/v1/customer/import"]["post"]["responses"]
    assert set(imported) >= {"200", "202", "413"} and "transitioned" in spec["components"]["schemas"]["ImportResult"]["properties"]
    export = {p["name"] for p in spec["paths"]["/api/v1/sales_order/export.xlsx"]["get"]["parameters"]}
    assert {"columns", "per_line", "status__in"} <= export


def test_validator_rejects_a_broken_document(api):
    spec = api.get("/api/v1/openapi.json").json()
    spec["paths"]["/api/v1/customer"]["get"]["parameters"][0]["in"] = "nowhere"
    with pytest.raises(OpenAPIValidationError):
        validate(spec)


def test_the_document_follows_the_callers_permissions(rt, client):
    from tests.conftest import make_user
    anonymous = client.get("/api/v1/openapi.json").json()
    validate(anonymous)
    assert "/api/v1/auth/token" in anonymous["paths"] and not any(p.startswith("/api/v1/sales_order") for p in anonymous["paths"])
    make_user(rt, "rep_doc", roles=("sales_rep",))
    token = client.post("/api/v1/auth/token", json={"username": "rep_doc", "password": "demo"}).json()["token"]
    spec = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    validate(spec)
    assert "cost" not in spec["components"]["schemas"]["product"]["properties"]  # hidden from reps
    assert "cost" not in {p["name"] for p in spec["paths"]["/api/v1/product"]["get"]["parameters"]}
    assert "post" not in spec["paths"]["/api/v1/product"] and "delete" not in spec["paths"]["/api/v1/sales_order/{id}"]
    assert spec["components"]["schemas"]["customer"]["properties"]["credit_limit"]["readOnly"] is True


def test_the_document_says_what_the_api_accepts(api):
    """What schemathesis found the document got wrong: booleans for __isnull, required fields that take no
    null or "", sort as its real choices, filters typed like their fields, and the CSV export described."""
    spec = api.get("/api/v1/openapi.json").json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/sales_order"]["get"]["parameters"]}
    assert params["customer__isnull"] == {"type": "boolean"}
    assert params["customer"]["type"] == "integer" and params["status"]["enum"][0] == "draft"
    assert "-total" in params["sort"]["enum"] and "" not in params["sort"]["enum"]
    order_input = spec["components"]["schemas"]["sales_order_input"]["properties"]
    assert order_input["customer"]["type"] == "integer"  # required: no null
    customer = spec["components"]["schemas"]["customer_input"]["properties"]
    assert customer["name"]["type"] == "string" and customer["name"]["minLength"] == 1  # required: no "" either
    patch = spec["components"]["schemas"]["sales_order_patch"]["properties"]
    assert patch["order_date"]["type"] == "string"  # required with a default: null on create fills it, never on a change
    assert "null" in spec["components"]["schemas"]["sales_order_input"]["properties"]["order_date"]["type"]
    export = spec["paths"]["/api/v1/sales_order/export.csv"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    r = api.get("/api/v1/sales_order/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
