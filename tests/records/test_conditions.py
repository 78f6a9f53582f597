"""Form conditions, one definition for screens and server: the demo's export documents
(required and shown only for export orders), the invoicing section hidden at zero tax, the
technical specification of items not in the catalogue, sections per role and per workflow
state, read-only-when, the live form's re-evaluation, and load-time checks of it all."""
import json
import re

import pytest
from starlette.testclient import TestClient

from engine.core.errors import ValidationFailed
from engine.metadata.codes import MetadataInvalid
from engine.metadata.loader import load_app
from engine.server import create_app
from engine.workflow import transitions
from tests.apps import write_app
from tests.conftest import make_user, seed_basics
from tests.web.test_pages import SECRET, csrf, sign_in


def order(ids, **extra):
    return {"customer": ids["customer"], "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "10"}], **extra}


def test_an_export_order_needs_its_customs_documents_through_the_api(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    r = api.post("/api/v1/sales_order", json=order(ids, category="export"))
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors == {"customs_declaration_no": "An export order needs its customs declaration number.",
                      "incoterms": "An export order needs its Incoterms."}
    ok = api.post("/api/v1/sales_order", json=order(ids, category="export", customs_declaration_no="223320261234", incoterms="FOB"))
    assert ok.status_code == 201
    # a customer in the export region makes any order an export order (the region is looked up from the customer)
    exporter = rt.records.create(clerk, "customer", {"code": "X1", "name": "Hamburg Pumps", "region": "export"})
    r = api.post("/api/v1/sales_order", json={**order(ids), "customer": exporter["id"]})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"customs_declaration_no", "incoterms"}
    domestic = api.post("/api/v1/sales_order", json=order(ids)).json()
    # the requirement holds on updates too: making it an export order needs the documents
    r = api.patch(f"/api/v1/sales_order/{domestic['id']}", json={"category": "export", "version": domestic["version"]})
    assert r.status_code == 422


def test_an_item_not_in_the_catalogue_needs_a_technical_specification(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    r = api.post("/api/v1/sales_order", json={"customer": ids["customer"], "lines": [{"description": "Custom flange", "quantity": 1,
                                                                                   "unit_price": "80"}]})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["lines[0].tech_spec"]


def test_the_record_page_shows_sections_by_condition_role_and_state(rt, clerk):
    ids = seed_basics(rt, clerk)
    make_user(rt, "fin", roles=("finance",))
    make_user(rt, "boss", roles=("sales_manager",))
    taxed = rt.records.create(clerk, "sales_order", order(ids))
    untaxed = rt.records.create(clerk, "sales_order", order(ids, tax_rate="0"))
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "boss")
        page = web.get(f"/sales_order/{taxed['id']}").text
        assert "<h2>Invoicing</h2>" in page and "<h2>Credit</h2>" in page  # the manager sees the customer's credit
        assert "<h2>Export documents</h2>" not in page and "<h2>Cancellation</h2>" not in page
        assert "<h2>Invoicing</h2>" not in web.get(f"/sales_order/{untaxed['id']}").text  # no tax: never invoiced
        gone = transitions.fire(rt.records, clerk, "sales_order", taxed["id"], "cancel", fields={"reason": "duplicate"})
        assert gone["status"] == "cancelled" and "<h2>Cancellation</h2>" in web.get(f"/sales_order/{taxed['id']}").text
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "clerk")  # an administrator is not finance: no credit section
        assert "<h2>Credit</h2>" not in web.get(f"/sales_order/{untaxed['id']}").text


def test_the_live_form_reevaluates_conditions_as_values_change(rt, clerk):
    seed_basics(rt, clerk)
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "clerk")
        form = web.get("/sales_order/new").text
        assert re.search(r'<fieldset class="card" id="fs-3"\s+hidden>', form)  # export documents: hidden for a standard order
        assert re.search(r'<fieldset class="card" id="fs-4"\s*>', form)  # invoicing: shown at the default 13% tax
        fields = re.search(r'name="_fields" value="([^"]+)"', form).group(1)
        r = web.post("/sales_order/preview", data={"csrf_token": csrf(form), "_fields": fields, "category": "export", "tax_rate": "0",
                                                   "_changed": "category"})
        state = json.loads(r.headers["HX-Trigger"])["form-conditions"]
        assert state["sections"]["3"] is True and state["sections"]["4"] is False
        assert state["fields"]["customs_declaration_no"] == [True, True, False]
        assert state["fields"]["invoice_to"][0] is False


def test_readonly_when_and_load_checks(dbs, tmp_path):
    files = {
        "entities/claim.yaml": """
        name: claim
        title_field: title
        fields:
          title: {type: string, required: true}
          amount: {type: decimal, scale: 2}
          settled: {type: boolean, default: false}
          note: {type: text}
        """,
        "forms/claim.yaml": """
        entity: claim
        sections:
          - fields:
              - title
              - field: amount
                readonly_when: settled
                required_when: not settled
              - settled
              - field: note
                visible_when: amount is not None and amount > 1000
                required_when: amount is not None and amount > 1000
        """,
    }
    rt = dbs.runtime(write_app(tmp_path / "ok", files))
    clerk = make_user(rt, "clerk", roles=("anyone",))  # an app without roles.yaml: every user may do everything
    with pytest.raises(ValidationFailed) as exc:
        rt.records.create(clerk, "claim", {"title": "dent"})
    assert [e.field for e in exc.value.errors] == ["amount"]
    with pytest.raises(ValidationFailed) as exc:  # a big claim needs a note; the note shows only then
        rt.records.create(clerk, "claim", {"title": "dent", "amount": "5000"})
    assert [e.field for e in exc.value.errors] == ["note"]
    c = rt.records.create(clerk, "claim", {"title": "dent", "amount": "50"})
    c = rt.records.update(clerk, "claim", c["id"], {"settled": True}, version=c["version"])
    with pytest.raises(ValidationFailed) as exc:  # settled: the amount can no longer change
        rt.records.update(clerk, "claim", c["id"], {"amount": "60"}, version=c["version"])
    assert exc.value.errors[0].field == "amount" and "cannot be changed" in exc.value.errors[0].message
    bad = dict(files)
    bad["forms/claim.yaml"] = files["forms/claim.yaml"].replace("readonly_when: settled", "readonly_when: settled ==")
    bad["forms/claim.yaml"] = bad["forms/claim.yaml"].replace("required_when: not settled", "required_when: colour == 'red'")
    bad["forms/claim.yaml"] = bad["forms/claim.yaml"].rstrip() + "\n          - fields: [title]\n            roles: [nobody]\n            states: [open]\n"
    with pytest.raises(MetadataInvalid) as exc:
        load_app(write_app(tmp_path / "bad", bad))
    found = {(p.code, p.line) for p in exc.value.problems}
    assert {("E020", 7), ("E022", 8), ("E038", 15)} <= found  # each at its line
