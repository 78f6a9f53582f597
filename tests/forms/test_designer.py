"""The form designer's service and screens: a saved change is checked first, put in force without
a restart (in this process and in every other one on the database), enforced by the API exactly
as by the screen, versioned, audited and restorable; custom fields get their column at once and
keep their data when taken back; a change that does not pass is refused and changes nothing."""
import copy
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import inspect, select, text
from starlette.testclient import TestClient

from engine.core.errors import Conflict, Forbidden, ValidationFailed
from engine.forms import designer
from engine.metadata import overlay as ov
from engine.server import create_app
from engine.storage import audit
from tests.conftest import DEMO_APP, ROOT, make_user, seed_basics
from tests.web.test_pages import SECRET, csrf, sign_in

CHANNEL = {"type": "select", "label": {"en": "Sales channel", "zh": "销售渠道", "ru": "Канал продаж"},
           "options": [{"value": "shop", "label": "Online shop"}, {"value": "dealer", "label": "Dealer"}]}


def draft(rt):
    ed = designer.editor(rt, designer_actor(rt), "sales_order")
    return copy.deepcopy(ed.doc), copy.deepcopy(ed.custom), ed.number


def designer_actor(rt):
    from engine.core.actor import SYSTEM
    return SYSTEM


def sections(doc):
    return {s["name"]: s for t in doc["tabs"] for s in t["sections"]}


def take(doc, name):
    for s in sections(doc).values():
        for i, it in enumerate(s["fields"]):
            if ov.field_name(it) == name:
                return s["fields"].pop(i)
    raise KeyError(name)


def order(ids, **extra):
    return {"customer": ids["customer"], "lines": [{"product": ids["p1"], "quantity": 1, "unit_price": "10"}], **extra}


def test_a_saved_form_is_in_force_at_once_and_the_api_enforces_it(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    doc, custom, number = draft(rt)
    notes = take(doc, "notes")
    sections(doc)["order"]["fields"].insert(3, {**notes, "required_when": "category == 'promotion'",
                                                "required_message": {"en": "Say what the promotion is.", "zh": "说明促销内容。"}})
    tab = doc["tabs"][0]["sections"]
    tab.insert(0, tab.pop(1))  # lines before the order's head
    sections(doc)["terms"]["label"] = {"en": "Terms", "zh": "付款与交货", "ru": "Условия"}
    assert designer.save(rt, clerk, "sales_order", doc, custom, number) == 1
    form = rt.app.forms["sales_order"]
    assert [s.label.get() for s in form.sections][:2] == ["Lines", "Order"] and form.sections[2].label.get("zh") == "付款与交货"
    assert [f.name for f in form.sections[1].fields][3] == "notes"
    r = api.post("/api/v1/sales_order", json=order(ids, category="promotion"))
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "notes", "message": "Say what the promotion is."}]
    assert api.post("/api/v1/sales_order", json=order(ids, category="promotion", notes="2 for 1")).status_code == 201
    assert api.post("/api/v1/sales_order", json=order(ids)).status_code == 201  # only when the condition holds
    assert designer.save(rt, clerk, "sales_order", doc, custom, 1) is None  # the same form again: no new version


def test_a_custom_field_gets_its_column_and_api_without_a_restart(api, rt, clerk):
    ids = seed_basics(rt, clerk)
    doc, custom, number = draft(rt)
    sections(doc)["order"]["fields"].append({"field": "sales_channel", "required": True})
    designer.save(rt, clerk, "sales_order", doc, {"sales_channel": CHANNEL}, number)
    with rt.db.read() as conn:
        assert "sales_channel" in {c["name"] for c in inspect(conn).get_columns("sales_order")}
    r = api.post("/api/v1/sales_order", json=order(ids))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sales_channel"
    assert api.post("/api/v1/sales_order", json=order(ids, sales_channel="fax")).status_code == 422
    made = api.post("/api/v1/sales_order", json=order(ids, sales_channel="dealer")).json()
    assert api.get(f"/api/v1/sales_order/{made['id']}").json()["sales_channel"] == "dealer"
    assert [o["id"] for o in api.get("/api/v1/sales_order?sales_channel=dealer").json()["items"]] == [made["id"]]
    spec = api.get("/api/v1/openapi.json").json()
    assert "sales_channel" in str(spec["components"]) and "dealer" in str(spec["components"])


def test_a_change_that_does_not_pass_is_refused_and_nothing_changes(rt, clerk):
    doc, custom, number = draft(rt)
    before = rt.app
    bad = copy.deepcopy(doc)
    notes = take(bad, "notes")
    sections(bad)["terms"]["fields"].append({**(notes if isinstance(notes, dict) else {"field": "notes"}), "required_when": "nosuch == 1"})
    with pytest.raises(ValidationFailed) as exc:
        designer.save(rt, clerk, "sales_order", bad, custom, number)
    assert exc.value.errors[0].field == "fields.notes" and "E022" in exc.value.errors[0].message and "nosuch" in exc.value.errors[0].message
    for hostile in ("__import__('os').system('id')", "notes.__class__", "open('/etc/passwd')"):
        escaped = copy.deepcopy(doc)
        sections(escaped)["terms"]["visible_when"] = hostile
        with pytest.raises(ValidationFailed) as exc:
            designer.save(rt, clerk, "sales_order", escaped, custom, number)
        assert exc.value.errors[0].field == "sections.terms" and exc.value.errors[0].message[:4] in ("E021", "E022", "E023")
    refused = {"count": {"type": "integer", "default": "many"}, "owner": {"type": "string"}, "customer": {"type": "string"},
               "blob": {"type": "json"}}
    for name, spec in refused.items():
        with pytest.raises(ValidationFailed) as exc:
            designer.save(rt, clerk, "sales_order", doc, {name: spec}, number)
        assert exc.value.errors[0].field == f"new_fields.{name}", exc.value.errors
    hiding = copy.deepcopy(doc)
    hiding["hidden"] = [ov.field_name(take(hiding, "customer"))]
    with pytest.raises(ValidationFailed) as exc:
        designer.save(rt, clerk, "sales_order", hiding, custom, number)
    assert "E046" in exc.value.errors[0].message
    assert rt.app is before and rt.stored.head == 0
    with rt.db.read() as conn:
        assert "count" not in {c["name"] for c in inspect(conn).get_columns("sales_order")}
        assert conn.execute(select(rt.schema.form_version.c.id)).first() is None


def test_only_administrators_change_forms(rt, people):
    rep = people["rep"]
    doc, custom, number = draft(rt)
    for call in (lambda: designer.editor(rt, rep, "sales_order"), lambda: designer.save(rt, rep, "sales_order", doc, custom, number),
                 lambda: designer.restore(rt, rep, "sales_order", 0, 0), lambda: designer.history(rt, rep, "sales_order"),
                 lambda: designer.forms(rt, rep)):
        with pytest.raises(Forbidden):
            call()
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        sign_in(web, "rep")
        assert web.get("/settings/forms/sales_order").status_code == 403
        page = web.get("/sales_order/new").text
        assert web.post("/settings/forms/sales_order", data={"csrf_token": csrf(page), "based_on": "0"}).status_code == 403


def test_versions_are_audited_and_any_one_is_restored_with_its_data(rt, clerk):
    ids = seed_basics(rt, clerk)
    doc, custom, _ = draft(rt)
    sections(doc)["order"]["fields"].append("sales_channel")
    assert designer.save(rt, clerk, "sales_order", doc, {"sales_channel": CHANNEL}, 0) == 1
    rec = rt.records.create(clerk, "sales_order", order(ids, sales_channel="shop"))
    assert designer.restore(rt, clerk, "sales_order", 0, 1) == 2  # back to the implementer's form
    assert "sales_channel" not in rt.app.entities["sales_order"].fields
    assert "sales_channel" not in rt.records.get(clerk, "sales_order", rec["id"])
    with rt.db.read() as conn:  # taken back, not dropped: the column and what it holds stay
        assert conn.execute(text("SELECT sales_channel FROM sales_order WHERE id = :i"), {"i": rec["id"]}).scalar() == "shop"
    edited = rt.records.update(clerk, "sales_order", rec["id"], {"notes": "meanwhile"}, version=rec["version"])
    with pytest.raises(ValidationFailed) as exc:  # the name is taken by the kept data: only its own type may have it
        designer.save(rt, clerk, "sales_order", doc, {"sales_channel": {"type": "integer"}}, 2)
    assert "existed before" in exc.value.errors[0].message
    assert designer.restore(rt, clerk, "sales_order", 1, 2) == 3
    assert rt.records.get(clerk, "sales_order", rec["id"])["sales_channel"] == "shop"
    assert rt.records.get(clerk, "sales_order", edited["id"])["notes"] == "meanwhile"
    versions = designer.history(rt, clerk, "sales_order")
    assert [(v["number"], v["action"], v["restored_from"]) for v in versions] == [(3, "restore", 1), (2, "restore", 0), (1, "save", None)]
    assert {c["kind"] for c in versions[2]["changes"]} == {"field_added", "field_placed"}
    assert {c["kind"] for c in versions[1]["changes"]} == {"field_withdrawn", "field_left_off"}
    with rt.db.read() as conn:
        rows = conn.execute(select(rt.schema.audit.c.action, rt.schema.audit.c.actor, rt.schema.audit.c.changes)
                            .where(rt.schema.audit.c.entity == "sys_form").order_by(rt.schema.audit.c.id)).all()
        assert [r[0] for r in rows] == ["form_save", "form_restore", "form_restore"] and {r[1] for r in rows} == {"clerk"}
        assert '"field_added"' in rows[0][2] and '"sales_channel"' in rows[0][2]
        assert audit.verify(conn, rt.schema).ok
    with pytest.raises(Conflict):  # restoring from a stale page
        designer.restore(rt, clerk, "sales_order", 0, 1)


def test_two_administrators_saving_from_the_same_version(rt, clerk):
    doc, custom, number = draft(rt)
    mine, theirs = copy.deepcopy(doc), copy.deepcopy(doc)
    sections(theirs)["terms"]["columns"] = 1
    sections(mine)["terms"]["columns"] = 3
    designer.save(rt, clerk, "sales_order", theirs, custom, number)
    with pytest.raises(Conflict) as exc:
        designer.save(rt, clerk, "sales_order", mine, custom, number)
    assert "clerk saved version 1" in exc.value.detail
    assert rt.app.forms["sales_order"].sections[2].columns == 1
    designer.save(rt, clerk, "sales_order", mine, custom, 1)  # knowingly, over theirs
    assert rt.app.forms["sales_order"].sections[2].columns == 3


def test_another_runtime_on_the_database_picks_the_change_up(dbs, clerk, rt):
    other = dbs.runtime(url=rt.db.url, schema=_pg_schema(rt))
    other.refresh_every = 0
    ids = seed_basics(rt, clerk)
    doc, custom, number = draft(rt)
    sections(doc)["order"]["fields"].append("sales_channel")
    designer.save(rt, clerk, "sales_order", doc, {"sales_channel": CHANNEL}, number)
    assert "sales_channel" not in other.app.entities["sales_order"].fields
    with TestClient(create_app(other, secret_key=SECRET)) as web:  # a request through the other process's app loads it
        sign_in(web, "clerk")
        assert 'name="sales_channel"' in web.get("/sales_order/new").text
    assert other.records.create(clerk, "sales_order", order(ids, sales_channel="shop"))["sales_channel"] == "shop"
    assert other.refresh() is False  # nothing newer since


def _pg_schema(rt):
    """The PostgreSQL schema a test's runtime works in (None on SQLite), for another process to reach it."""
    if rt.db.dialect != "postgresql":
        return None
    with rt.db.read() as conn:
        return conn.execute(text("SELECT current_schema()")).scalar()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_second_server_process_enforces_a_change_saved_in_the_first(dbs, rt, clerk):
    """Two app processes on one database: a change saved through one is enforced by the other's API."""
    ids = seed_basics(rt, clerk)
    token = rt.accounts.create_token(clerk, "second process")
    port = _free_port()
    env = {**os.environ, "ENGINE_SECRET_KEY": SECRET}
    env.pop("ENGINE_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--app", DEMO_APP, "--db", dbs.url_with_schema(rt.db.url, _pg_schema(rt)),
                             "--port", str(port), "--no-demo", "--no-worker"], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("the second process did not start: " + (proc.stdout.read() if proc.poll() is not None else ""))
        h = {"Authorization": f"Bearer {token}"}
        assert httpx.post(base + "/api/v1/sales_order", json=order(ids, category="promotion"), headers=h).status_code == 201
        doc, custom, number = draft(rt)
        notes = take(doc, "notes")
        sections(doc)["order"]["fields"].append({**notes, "required_when": "category == 'promotion'"})
        designer.save(rt, clerk, "sales_order", doc, custom, number)
        for _ in range(50):  # it looks for a newer version at most once a second
            r = httpx.post(base + "/api/v1/sales_order", json=order(ids, category="promotion"), headers=h)
            if r.status_code == 422:
                break
            time.sleep(0.1)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "notes"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def own_app(tmp_path):
    """A copy of the demo app (and its plugins) that a test may change as an implementer would."""
    shutil.copytree(DEMO_APP, tmp_path / "app" / "metadata")
    shutil.copytree(ROOT / "plugins", tmp_path / "app" / "plugins")
    return tmp_path / "app" / "metadata"


def test_a_new_base_under_saved_changes_starts_and_reports_what_no_longer_fits(dbs, own_app):
    url, schema = dbs.new()
    rt = dbs.runtime(str(own_app), url, schema)
    admin = make_user(rt, "boss", roles=("admin",))
    doc, custom, number = draft(rt)
    inc = take(doc, "incoterms")
    sections(doc)["order"]["fields"].append({**inc, "help": {"en": "FOB, CIF or EXW"}})
    sections(doc)["terms"]["columns"] = 1
    designer.save(rt, admin, "sales_order", doc, custom, number)
    # the implementer ships a new base without incoterms
    form = own_app / "forms" / "sales_order.yaml"
    text_ = form.read_text()
    start = text_.index("          - field: incoterms")
    form.write_text(text_[:start] + text_[text_.index("          - customer_region"):])
    ent = own_app / "entities" / "sales_order.yaml"
    lines = ent.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.startswith("  incoterms:"))
    j = next(n for n in range(i + 1, len(lines)) if lines[n].startswith("  ") and not lines[n].startswith("    "))
    ent.write_text("".join(lines[:i] + lines[j:]))
    env = {**os.environ}
    env.pop("ENGINE_DATABASE_URL", None)
    db = dbs.url_with_schema(url, schema)
    migrated = subprocess.run([sys.executable, str(ROOT / "run.py"), "migrate", "--confirm-destructive", "--app", str(own_app), "--db", db],
                              capture_output=True, text=True, env=env, cwd=str(ROOT))
    assert migrated.returncode == 0 and "drop column sales_order.incoterms" in migrated.stdout, migrated.stdout + migrated.stderr
    assert "sales_channel" not in migrated.stdout
    again = dbs.runtime(str(own_app), url, schema)
    assert {(c.kind, c.name) for c in again.app.overlay_conflicts} == {("layout", "incoterms"), ("fields", "incoterms")}
    assert again.app.forms["sales_order"].sections[2].columns == 1  # the rest still applies
    with TestClient(create_app(again, secret_key=SECRET)) as web:
        sign_in(web, "boss")
        page = web.get("/settings/forms/sales_order").text
        assert "no longer fit" in page and "incoterms" in page
        assert "changes set aside: 2" in web.get("/settings/forms").text
    check = subprocess.run([sys.executable, str(ROOT / "run.py"), "check", "--app", str(own_app), "--db", db],
                           capture_output=True, text=True, env=env, cwd=str(ROOT))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "overlay:forms/sales_order.yaml:1:1: E045 field 'incoterms'" in check.stdout and "2 set aside" in check.stdout
    strict = subprocess.run([sys.executable, str(ROOT / "run.py"), "check", "--strict", "--app", str(own_app), "--db", db],
                            capture_output=True, text=True, env=env, cwd=str(ROOT))
    assert strict.returncode == 1


def test_export_overlay_folds_the_changes_into_the_files(dbs, own_app, tmp_path):
    url, schema = dbs.new()
    rt = dbs.runtime(str(own_app), url, schema)
    admin = make_user(rt, "boss", roles=("admin",))
    doc, custom, number = draft(rt)
    sections(doc)["order"]["fields"].append({"field": "sales_channel", "required": True})
    sections(doc)["invoicing"]["label"] = {"en": "Invoices", "zh": "发票", "ru": "Счета"}
    designer.save(rt, admin, "sales_order", doc, {"sales_channel": CHANNEL}, number)
    env = {**os.environ}
    env.pop("ENGINE_DATABASE_URL", None)
    db = dbs.url_with_schema(url, schema)

    def run(*args):
        return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, env=env, cwd=str(ROOT))
    before = (own_app / "forms" / "sales_order.yaml").read_text()
    shown = run("export-overlay", "--app", str(own_app), "--db", db, "--diff")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    # a relabelled section keeps its key as a name, so the label no longer has to give it
    assert "+      - name: invoicing\n+        label: {en: Invoices, zh: 发票, ru: Счета}" in shown.stdout, shown.stdout
    assert "+    label: {en: Sales channel, zh: 销售渠道, ru: Канал продаж}" in shown.stdout
    assert (own_app / "forms" / "sales_order.yaml").read_text() == before  # --diff writes nothing
    out = tmp_path / "exported"
    done = run("export-overlay", "--app", str(own_app), "--db", db, "--out", str(out))
    assert done.returncode == 0 and "2 file(s) written" in done.stdout
    written = (out / "forms" / "sales_order.yaml").read_text()
    assert "# an export order (its category, or a customer in the export region) carries customs documents" in written
    assert "- field: sales_channel\n            required: true" in written
    # in place: the files now say what the overlay said, so it has nothing left to change
    assert run("export-overlay", "--app", str(own_app), "--db", db).returncode == 0
    assert run("check", "--app", str(own_app)).returncode == 0
    again = dbs.runtime(str(own_app), url, schema)
    assert again.app.overlay_conflicts == () and "sales_channel" in again.app.entities["sales_order"].fields
    assert designer.compare(again, admin, "sales_order")["changes"] == []


# ---------------------------------------------------------------- screens

@pytest.fixture
def admin_web(rt, clerk):
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        assert sign_in(web, "clerk").status_code == 303
        yield web


def test_the_designer_screens_render_for_administrators(admin_web, rt, clerk):
    assert "Sales order" in admin_web.get("/settings/forms").text
    page = admin_web.get("/settings/forms/sales_order").text
    for part in ('value="section:export_documents"', 'name="field.notes.required_when"', 'data-insert="category"', 'name="add.label.zh"',
                 'id="preview-button"', "Not placed by this form"):
        assert part in page, part
    assert "The implementer&#39;s form" in admin_web.get("/settings/forms/sales_order/history").text
    assert "Nothing: the form in force is the implementer&#39;s form." in admin_web.get("/settings/forms/sales_order/compare").text
    assert admin_web.get("/settings/forms/nothing_here").status_code == 404


def test_a_posted_form_with_a_problem_comes_back_with_the_problem_and_the_draft(admin_web, rt):
    token = csrf(admin_web.get("/settings/forms/sales_order").text)
    data = {"csrf_token": token, "based_on": "0",
            "item": ["tab:order", "section:order", "field:number", "field:customer", "field:notes", "tab:terms", "section:terms", "field:currency"],
            "tab.order.label.en": "Order", "tab.terms.label.en": "Terms", "section.order.label.en": "Order <b>head</b>",
            "field.notes.required_when": "nosuch == 1"}
    r = admin_web.post("/settings/forms/sales_order", data=data)
    assert r.status_code == 422 and "Nothing was changed" in r.text and "unknown name &#39;nosuch&#39;" in r.text
    assert 'value="nosuch == 1"' in r.text and "Order &lt;b&gt;head&lt;/b&gt;" in r.text  # the draft, escaped
    assert rt.stored.head == 0
    tampered = admin_web.post("/settings/forms/sales_order", data={**data, "item": ["section:Robert'); DROP TABLE"]})
    assert tampered.status_code == 422 and "is not a name" in tampered.text
    ok = admin_web.post("/settings/forms/sales_order", data={**data, "field.notes.required_when": "category == 'export'"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/settings/forms/sales_order?saved=1"
    assert "Saved as version 1" in admin_web.get(ok.headers["location"]).text
    stale = admin_web.post("/settings/forms/sales_order", data={**data, "field.notes.required_when": "category == 'export'",
                                                                "section.order.label.en": "Mine"})
    assert stale.status_code == 409 and "saved version 1" in stale.text and 'value="Mine"' in stale.text


def test_check_preview_and_new_field_fragments(admin_web, rt):
    page = admin_web.get("/settings/forms/sales_order").text
    h = {"X-CSRF-Token": csrf(page), "HX-Request": "true"}
    ok = admin_web.post("/settings/forms/sales_order/check", data={"_check": "field.notes.visible_when", "field.notes.visible_when": "tax_rate > 0"}, headers=h)
    assert "This condition can be used." in ok.text
    bad = admin_web.post("/settings/forms/sales_order/check", data={"_check": "x", "x": "tax_rate >"}, headers=h)
    assert "E020" in bad.text
    doc_items = {"item": ["tab:order", "section:order", "field:number", "field:customer", "tab:terms", "section:credit", "field:credit_limit"],
                 "tab.order.label.en": "Order", "tab.terms.label.en": "Terms", "section.credit.label.en": "Credit", "section.credit.roles": "finance"}
    as_rep = admin_web.post("/settings/forms/sales_order/preview", data={**doc_items, "preview_role": "sales_rep"}, headers=h).text
    as_finance = admin_web.post("/settings/forms/sales_order/preview", data={**doc_items, "preview_role": "finance"}, headers=h).text
    assert "Credit" not in as_rep and "Credit" in as_finance and "Customer" in as_rep
    added = admin_web.post("/settings/forms/sales_order/fields", data={**doc_items, "add.label.en": "Sales channel", "add.type": "select",
                                                                       "add.options": "Online shop\nDealer"}, headers=h)
    assert 'name="new.sales_channel.type" value="select"' in added.text and "online_shop: Online shop" in added.text
    clash = admin_web.post("/settings/forms/sales_order/fields", data={**doc_items, "add.label.en": "Notes"}, headers=h)
    assert clash.headers["HX-Retarget"] == "#add-field-msg" and "already a field called notes" in clash.text
    wrong = admin_web.post("/settings/forms/sales_order/fields", data={**doc_items, "add.label.en": "Boxes", "add.type": "integer",
                                                                       "add.default": "many"}, headers=h)
    assert "E024" in wrong.text
    assert rt.stored.head == 0  # none of it saved anything


def test_an_entity_without_a_form_file_gets_its_form_from_the_designer(admin_web, rt, clerk):
    ed = designer.editor(rt, clerk, "customer")
    assert not ed.has_tabs and [t["key"] for t in ed.tabs] == [None]
    doc = copy.deepcopy(ed.doc)
    main = doc["sections"][0]
    assert main["name"] == "main" and "name" in [ov.field_name(f) for f in main["fields"]]
    main["columns"] = 2  # what the designer posts for a section without columns: no change
    assert designer.save(rt, clerk, "customer", doc, {}, 0) is None
    doc["sections"].insert(0, {"name": "who", "label": {"en": "Who", "zh": "客户"}, "fields": [take_plain(main, "name"), take_plain(main, "code")]})
    assert designer.save(rt, clerk, "customer", doc, {}, 0) == 1
    form = rt.app.forms["customer"]
    assert [f.name for f in form.sections[0].fields] == ["name", "code"] and form.sections[0].label.get("zh") == "客户"
    page = admin_web.get("/customer/new").text
    assert page.index('id="f-name"') < page.index('id="f-region"')
    files = designer.exported_files(rt.app_dir, rt.stored, rt.app)
    [(path, text_)] = [(p, t) for p, t in files.items()]
    assert path.name == "customer.yaml" and not path.exists() and "label: {en: Who, zh: 客户}" in text_


def take_plain(section, name):
    for i, it in enumerate(section["fields"]):
        if ov.field_name(it) == name:
            return section["fields"].pop(i)
    raise KeyError(name)
