"""docs/metadata.md is part of the product: its examples form an app that must load and work,
and it documents every field type, problem code and expression function."""
import re
from decimal import Decimal
from pathlib import Path

from engine.core.actor import SYSTEM
from engine.expressions.language import FUNCTIONS
from engine.metadata.codes import CODES
from engine.metadata.model import FIELD_TYPES
from tests.conftest import ROOT

DOC = ROOT / "docs" / "metadata.md"
BLOCK = re.compile(r"```(yaml|python)\n# file: (\S+)\n(.*?)```", re.S)


def write_examples(target: Path) -> list[str]:
    names = []
    for _, name, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        names.append(name)
    return names


def test_examples_form_a_working_app(dbs, tmp_path):
    app = tmp_path / "docs_app"
    names = write_examples(app)
    assert {"app.yaml", "entities/supplier.yaml", "entities/purchase_request.yaml", "forms/purchase_request.yaml",
            "plugins/supplier_codes.py"} <= set(names)
    rt = dbs.runtime(str(app))
    form = rt.app.forms["purchase_request"]
    assert [t.get("en") for t in form.tabs] == ["Request", "More"] and form.sections[-1].fields[0].label.get("zh") == "紧急程度"
    sup = rt.records.create(SYSTEM, "supplier", {"code": " acme-1 ", "name": "Acme"})
    assert sup["code"] == "ACME-1" and sup["rating"] == "b"  # the plugin example and the default ran
    pr = rt.records.create(SYSTEM, "purchase_request", {"supplier": sup["id"], "items": [
        {"description": "Bolts", "quantity": "1000", "unit_price": "0.25"}, {"quantity": "2", "unit_price": "60000"}]})
    assert pr["total"] == Decimal("120250.00") and pr["item_count"] == 2 and pr["priority"] == "urgent"
    assert pr["number"].startswith("PR-") and pr["needed_by"] is not None
    shipment = rt.records.create(SYSTEM, "shipment", {"mode": "sea", "supplier": sup["id"], "shipped_at": "2026-05-01T08:00:00+08:00"})
    assert re.fullmatch(r"SH-\d{4}-0001", shipment["reference"]) and shipment["packages"] == 1
    # fill: the same item from the same supplier costs what it cost last time
    again = rt.records.create(SYSTEM, "purchase_request", {"supplier": sup["id"], "items": [{"description": "Bolts", "quantity": "10"}]})
    assert again["items"][0]["unit_price"] == Decimal("0.25")
    # show: the supplier's shipments beside the supplier field
    show = rt.app.entity("purchase_request").field("supplier").show
    assert [r["reference"] for r in rt.records.shown(SYSTEM, show, {"supplier": sup["id"]})] == [shipment["reference"]]


def test_the_publish_example_hands_each_change_to_the_warehouse(dbs, tmp_path, monkeypatch):
    import json

    from engine.events import deliver
    app = tmp_path / "docs_app"
    write_examples(app)
    rt = dbs.runtime(str(app))
    sup = rt.records.create(SYSTEM, "supplier", {"code": "S1", "name": "Acme"})
    pr = rt.records.create(SYSTEM, "purchase_request", {"supplier": sup["id"], "items": [
        {"description": "Bolts", "quantity": "10", "unit_price": "2"}]})
    rt.records.update(SYSTEM, "purchase_request", pr["id"], {"needed_by": "2027-01-31"}, pr["version"])
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("REQUEST_LOG", str(log))
    deliver.deliver(rt.records)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["type"], x["request"]) for x in lines] == [("created", pr["id"]), ("updated", pr["id"])]
    assert lines[1]["changed"] == ["needed_by"] and lines[0]["event"] < lines[1]["event"]
    deliver.deliver(rt.records)  # given once: nothing new, nothing written again
    assert len(log.read_text().splitlines()) == 2


def test_every_hook_is_documented():
    from engine.events.hooks import EventHooks, RecordHooks
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Plugins"):text.index("## Records, versions")]
    for spec in (RecordHooks, EventHooks):
        for name in [n for n in vars(spec) if not n.startswith("_")]:
            assert f"`{name}(" in section, name
    from engine.behaviours.defaults import BUILTINS
    from engine.events.model import KINDS
    for kind in KINDS:
        assert f"| `{kind}` |" in section, kind
    for name in BUILTINS:
        assert f"| `{name}` |" in section, name


def test_the_architecture_names_every_package_and_only_modules_that_exist():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = text[text.index("```"):text.index("```", text.index("```") + 3)]
    packages = sorted(p.name for p in (ROOT / "engine").iterdir() if (p / "__init__.py").exists())
    for name in packages:
        assert f" {name}/" in diagram, name
    named = set(re.findall(r"`([a-z_]+/[a-z_]+\.py)`", text))
    assert len(named) > 40
    for path in named:
        assert (ROOT / "engine" / path).is_file(), path


def test_doc_covers_every_type_code_and_function():
    text = DOC.read_text(encoding="utf-8")
    for t in FIELD_TYPES:
        assert f"| `{t}` |" in text, t
    for code in CODES:
        assert f"| {code} |" in text, code
    for fn in FUNCTIONS:
        assert f"| `{fn}` |" in text, fn


def test_roles_example_scopes_and_field_rules(dbs, tmp_path):
    from engine.core.errors import NotFound, ValidationFailed
    from engine.records.listing import ListQuery
    from tests.conftest import make_user
    app = tmp_path / "docs_app"
    write_examples(app)
    rt = dbs.runtime(str(app))
    sup = rt.records.create(SYSTEM, "supplier", {"code": "S1", "name": "Acme"})
    buyer = make_user(rt, "buyer1", roles=("buyer",))
    amy = make_user(rt, "amy", roles=("requester",), manager="buyer1")
    bob = make_user(rt, "bob", roles=("requester",))
    auditor = make_user(rt, "audit1", roles=("auditor",))
    item = [{"description": "Bolts", "quantity": "10", "unit_price": "2"}]
    pr = rt.records.create(amy, "purchase_request", {"supplier": sup["id"], "items": item})
    # own: amy sees hers, bob does not even learn it exists; team: her manager sees it
    assert rt.records.get(amy, "purchase_request", pr["id"])["id"] == pr["id"]
    try:
        rt.records.get(bob, "purchase_request", pr["id"])
        raise AssertionError("bob must not see amy's request")
    except NotFound:
        pass
    assert [r["id"] for r in rt.records.list(buyer, "purchase_request", ListQuery())["items"]] == [pr["id"]]
    assert rt.records.list(bob, "purchase_request", ListQuery())["items"] == []
    # co_owners: naming bob in requested_by makes him an owner too
    shared = rt.records.create(SYSTEM, "purchase_request", {"supplier": sup["id"], "items": item, "requested_by": bob.id})
    assert rt.records.get(bob, "purchase_request", shared["id"])["id"] == shared["id"]
    # field rules: hidden total for the auditor; rating is read-only for requesters and so for buyers,
    # who inherit the rule, though buyers may update suppliers otherwise
    assert "total" not in rt.records.get(auditor, "purchase_request", pr["id"])
    assert rt.records.update(buyer, "supplier", sup["id"], {"name": "Acme Ltd"}, version=1)["name"] == "Acme Ltd"
    try:
        rt.records.update(buyer, "supplier", sup["id"], {"rating": "a"}, version=2)
        raise AssertionError("rating is read-only for buyers")
    except ValidationFailed as exc:
        assert exc.errors[0].field == "rating" and "read-only" in exc.errors[0].message


def test_readme_api_example_works_for_the_demo_rep(dbs):
    """The README's curl lines, through the ASGI client: a demo rep signs in, lists, and creates an order."""
    import json

    from starlette.testclient import TestClient

    from engine.app import demo
    from engine.server import create_app
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    login = json.loads(re.search(r"-d '(\{\"username\"[^']+)'", readme).group(1))
    body = json.loads(re.search(r"-X POST localhost:8000/api/v1/sales_order .*?\n\s+-d '([^']+)'", readme).group(1))
    rt = dbs.runtime()
    demo.load(rt)
    with TestClient(create_app(rt)) as c:
        token = c.post("/api/v1/auth/token", json=login).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        assert len(c.get("/api/v1/sales_order?sort=-total&limit=5", headers=h).json()["items"]) == 5
        r = c.post("/api/v1/sales_order", json=body, headers=h)
        assert r.status_code == 201, r.text
        report = c.get(re.search(r"'localhost:8000(/api/v1/reports/[^']+)'", readme).group(1), headers=h).json()
        assert report["label"] == "各状态订单" and report["totals"]["orders"] >= 1


def test_workflow_examples_load_and_run(dbs, tmp_path):
    from engine.core.errors import Conflict, ValidationFailed
    from engine.workflow import transitions
    from tests.conftest import make_user
    app = tmp_path / "docs_app"
    write_examples(app)
    for _, name, body in BLOCK.findall((ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(body, encoding="utf-8")
    rt = dbs.runtime(str(app))
    make_user(rt, "lead", roles=("admin",))  # the docs' roles.yaml has no rules for repair jobs: admins only
    tech = make_user(rt, "tech", roles=("admin",), manager="lead")
    from tests.access.test_permissions import who
    lead = who(rt, "lead")
    job = rt.records.create(tech, "repair_job", {"title": "Pump seal"})
    try:
        transitions.fire(rt.records, tech, "repair_job", job["id"], "quote")
        raise AssertionError("the guard needs an estimate")
    except ValidationFailed as exc:
        assert exc.errors[0].message == "Enter the estimate first."
    job = rt.records.update(tech, "repair_job", job["id"], {"estimate": "120.00"}, version=job["version"])
    job = transitions.fire(rt.records, tech, "repair_job", job["id"], "quote")
    try:  # the quote is under review: accept waits for it
        transitions.fire(rt.records, lead, "repair_job", job["id"], "accept")
        raise AssertionError("the review is still open")
    except ValidationFailed as exc:
        assert "waiting for" in exc.errors[0].message
    from engine.workflow import reviews
    auditor = make_user(rt, "auditor1", roles=("auditor",))
    done = reviews.decide(rt.records, auditor, "repair_job", job["id"], "approve", "the price is fair")
    assert done["outcome"] == "approved" and [t["status"] for t in done["tasks"]] == ["skipped", "approved"]  # at_least 1
    job = transitions.fire(rt.records, lead, "repair_job", job["id"], "accept")
    assert job["accepted_by"] == lead.id and job["accepted_at"] is not None
    assert "Job Pump seal was accepted." in [n["message"] for n in rt.records.notifications(tech)[0]]
    tm = rt.schema.timer
    from sqlalchemy import select
    with rt.db.read() as conn:  # the quote's deadline timers were cancelled when it was accepted
        assert {s for (s,) in conn.execute(select(tm.c.status).where(tm.c.record_id == job["id"]))} == {"cancelled"}
    job = rt.records.update(tech, "repair_job", job["id"], {"title": "Pump seal and bearing"}, version=job["version"])
    assert job["status"] == "accepted"  # not a key field
    job = rt.records.update(tech, "repair_job", job["id"], {"estimate": "180.00"}, version=job["version"])
    assert job["status"] == "quoted"  # the estimate is: quote again
    try:
        rt.records.update(tech, "repair_job", job["id"], {"title": "Pump seal"}, version=job["version"])
        raise AssertionError("only the estimate may change while quoted")
    except ValidationFailed as exc:
        assert exc.errors[0].field == "title"
    job = transitions.fire(rt.records, tech, "repair_job", job["id"], "drop", fields={"reason": "customer bought a new pump"})
    assert job["status"] == "dropped" and job["drop_reason"] == "customer bought a new pump"
    try:
        rt.records.update(tech, "repair_job", job["id"], {"estimate": "1"}, version=job["version"])
        raise AssertionError("dropped is locked")
    except Conflict:
        pass


def test_forms_examples_load_and_hold_on_every_path(dbs, tmp_path):
    from engine.core.errors import ValidationFailed
    from tests.conftest import make_user
    app = tmp_path / "forms_app"
    for _, name, body in BLOCK.findall((ROOT / "docs" / "forms.md").read_text(encoding="utf-8")):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(body, encoding="utf-8")
    rt = dbs.runtime(str(app))
    tech = make_user(rt, "tech", roles=("technician",))
    try:
        rt.records.create(tech, "visit_report", {"site": "Plant 2", "urgent": True})
        raise AssertionError("an urgent visit needs the phone")
    except ValidationFailed as exc:
        assert [(e.field, e.message) for e in exc.errors] == [("customer_phone", "Urgent visits need the customer's phone.")]
    try:
        rt.records.create(tech, "visit_report", {"site": "Plant 2", "damage_found": True})
        raise AssertionError("damage needs its description")
    except ValidationFailed as exc:
        assert [e.field for e in exc.errors] == ["damage"]
    r = rt.records.create(tech, "visit_report", {"site": "Plant 2", "damage_found": True, "damage": "cracked housing"})
    r = rt.records.update(tech, "visit_report", r["id"], {"signed": True, "signed_by": "A. Petrov"}, version=r["version"])
    try:
        rt.records.update(tech, "visit_report", r["id"], {"damage": "nothing"}, version=r["version"])
        raise AssertionError("signed findings are fixed")
    except ValidationFailed as exc:
        assert exc.errors[0].field == "damage"


def test_forms_overlay_example_lays_over_the_example_app(dbs, tmp_path):
    """docs/forms.md's stored overlay, put in force through the database as the designer does."""
    import json

    from engine.core.errors import ValidationFailed
    from engine.storage import form_versions
    from tests.conftest import make_user
    app = tmp_path / "forms_app"
    text = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")
    for _, name, body in BLOCK.findall(text):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(body, encoding="utf-8")
    stored = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))
    rt = dbs.runtime(str(app))
    with rt.db.write() as conn:
        form_versions.append(conn, rt.schema, "visit_report", stored["visit_report"], [], SYSTEM, 0)
    assert rt.refresh(force=True)
    from engine.storage import migrate
    migrate.apply(rt.db, rt.schema, additive_only=True)  # the designer adds a custom field's column when it saves
    form = rt.app.forms["visit_report"]
    assert [f.name for f in form.sections[0].fields] == ["site", "urgent", "customer_phone", "crew"]
    assert form.sections[0].fields[0].label.get("zh") == "现场" and form.sections[2].roles == ("technician", "supervisor")
    tech = make_user(rt, "tech", roles=("technician",))
    try:
        rt.records.create(tech, "visit_report", {"site": "Plant 2", "damage_found": True, "damage": "cracked", "signed": True, "crew": "north"})
        raise AssertionError("signed needs who signed")
    except ValidationFailed as exc:
        assert [e.field for e in exc.errors] == ["signed_by"]
    r = rt.records.create(tech, "visit_report", {"site": "Plant 2", "crew": "south"})
    assert r["crew"] == "south"


def test_docs_stand_on_their_own():
    """The documentation cites only what the repository holds: no outside design notes, no paths out of it."""
    import re as _re
    pages = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "DOMAIN.md" not in text and "DESIGN.md" not in text, page
        for target in _re.findall(r"\]\(([^)#\s]+)", text):  # relative links point at files that exist
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).exists(), (page.name, target)


CONNECTORS_DOC = ROOT / "docs" / "connectors.md"


def test_the_connector_examples_work_against_real_peers(dbs, tmp_path, monkeypatch):
    """docs/connectors.md: its files form an app; the rest example sends an approved order to a local
    receiver and writes the answer back, the plugin type writes its file, and the sender's snippet,
    run as written against the app served on a real port, marks the order paid."""
    import base64
    import json
    import socket
    import threading
    import time

    import uvicorn

    from engine.connectors import deliveries
    from engine.connectors.registry import registry
    from engine.server import create_app
    from engine.workflow import transitions
    from tests.connectors.receiver import Receiver
    text = CONNECTORS_DOC.read_text(encoding="utf-8")
    app = tmp_path / "shop"
    for _, name, body in BLOCK.findall(text):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(body, encoding="utf-8")
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    from tests.connectors.test_email import Inbox, free_port
    receiver = Receiver()
    receiver.then = (201, {"document_number": "ERP-2026-17"})
    inbox, smtp_port = Inbox(), free_port()
    mail_server = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    mail_server.start()
    monkeypatch.setenv("ENGINE_SMTP_URL", f"smtp://127.0.0.1:{smtp_port}")
    secret = "whsec_" + base64.b64encode(b"payments-provider-secret-32bytes").decode()
    log = tmp_path / "orders.log"
    for k, v in {"ERP_URL": receiver.url, "ERP_TOKEN": "erp-token", "ERP_SIGNING_SECRET": secret,
                 "PAYMENTS_WEBHOOK_SECRET": secret, "ORDER_LOG": str(log), "SMS_GATEWAY_URL": receiver.url, "SMS_GATEWAY_KEY": "k"}.items():
        monkeypatch.setenv(k, v)
    rt = dbs.runtime(str(app))
    assert set(rt.app.connectors) == {"erp", "payments", "order_log", "approved_mail", "paid_sms", "notices"}
    adapters = registry(rt.records.plugin_manager)
    from tests.conftest import make_user
    rep = make_user(rt, "olga_rep", roles=("clerk",))
    rt.accounts.set_notice_settings(rep, "rep@shop.example.com", "", {})
    c = rt.records.create(SYSTEM, "customer", {"name": "Acme Pumps", "code": "C1"})
    order = rt.records.create(rep, "order", {"customer": c["id"], "amount": "250.00", "lines": [{"item": "pump", "quantity": 2}],
                                                "contact": "olga@pumps.example.ru", "phone": "+7 912 000-11-22", "language": "ru"})
    transitions.fire(rt.records, SYSTEM, "order", order["id"], "approve")
    deliveries.send_due(rt.records, adapters)
    [got] = receiver.got
    receiver.stop()
    mail_server.stop()
    [mail] = inbox.got
    assert mail.rcpt_tos == ["olga@pumps.example.ru", "sales@shop.example.com"]
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert message.get_body(("plain",)).get_content().strip() == f"Ваш заказ {order['number']} на сумму 250.00 одобрен."
    assert got["path"] == "/sales-orders" and got["headers"]["authorization"] == "Bearer erp-token"
    assert json.loads(got["body"]) == {"number": order["number"], "customer": "Acme Pumps", "amount": "250.00",
                                       "lines": [{"id": json.loads(got["body"])["lines"][0]["id"], "item": "pump", "quantity": 2}]}
    assert rt.records.get(SYSTEM, "order", order["id"])["erp_number"] == "ERP-2026-17"
    assert json.loads(log.read_text().splitlines()[0]) == {"event": json.loads(log.read_text().splitlines()[0])["event"], "number": order["number"]}

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(rt, secret_key="docs-" + "k" * 40), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        snippet = next(b for b in re.findall(r"```python\n(# a payment provider.*?)```", text, re.S))
        exec(compile(snippet.replace('"SO-00001"', json.dumps(order["number"])), "docs/connectors.md", "exec"),
             {"secret": secret, "app_url": f"http://127.0.0.1:{port}"})
    finally:
        server.should_exit = True
        thread.join(10)
    paid = rt.records.get(SYSTEM, "order", order["id"])
    assert (paid["status"], str(paid["paid_amount"])) == ("paid", "250.00")
    from sqlalchemy import select
    d = rt.schema.delivery
    with rt.db.read() as conn:  # the text for the payment, built in its transaction, waiting for the worker
        [request] = conn.execute(select(d.c.request).where(d.c.connector == "paid_sms")).scalars().all()
    assert json.loads(request["body"]) == {"recipient": "+7 912 000-11-22", "message": f"Спасибо: заказ {order['number']} оплачен.", "sender": "Shop"}
    with rt.db.read() as conn:  # the owner's e-mail of the payment, through the connector carrying the channel
        [notice] = conn.execute(select(d.c.request, d.c.recipient_id).where(d.c.connector == "notices")).all()
    assert notice.recipient_id == rep.id and notice.request["to"] == ["rep@shop.example.com"]
    assert notice.request["text"] == f"Order {order['number']} is paid: 250.00."
    assert notice.request["html"].startswith(f"<p>Order {order['number']} is paid: 250.00.</p>")


IMPORT_DOC = ROOT / "docs" / "import-export.md"


def test_the_import_examples_are_the_demos_files_and_run_as_shown(dbs, capsys, monkeypatch):
    """docs/import-export.md: its CSV blocks are the demo's example files, and its command lines,
    run in order on an empty demo database, print what the page shows."""
    from engine import cli
    text = IMPORT_DOC.read_text(encoding="utf-8")
    files = re.findall(r"```csv file=(\S+)\n(.*?)```", text, re.S)
    assert [f for f, _ in files] == ["metadata/demo/import/customers.csv", "metadata/demo/import/products.csv", "metadata/demo/import/orders.csv"]
    for name, body in files:
        assert (ROOT / name).read_text(encoding="utf-8") == body, name
    url, schema = dbs.new()
    dbs.runtime(str(ROOT / "metadata"), url, schema)  # the demo's schema, without its demo data
    monkeypatch.chdir(ROOT)
    sessions = re.findall(r"```\n(\$ python run\.py import .*?)```", text, re.S)
    assert len(sessions) == 2
    for session in sessions:
        lines = session.strip().split("\n")
        for command, expected in zip(lines[0::2], lines[1::2]):
            args = command.removeprefix("$ python run.py ").split()
            capsys.readouterr()
            assert cli.main([*args, "--db", dbs.url_with_schema(url, schema), "--app", str(ROOT / "metadata")]) == 0, command
            assert capsys.readouterr().out.strip() == expected, command


COLLABORATION_DOC = ROOT / "docs" / "collaboration.md"


def test_the_attachment_api_example_runs_as_shown(dbs):
    """docs/collaboration.md: the curl session, through the ASGI client, as the demo rep on one of their orders."""
    import json

    from starlette.testclient import TestClient

    from engine.app import demo
    from engine.server import create_app
    text = COLLABORATION_DOC.read_text(encoding="utf-8")
    session = re.search(r"```\n(\$ TOKEN=.*?)```", text, re.S).group(1)
    login = json.loads(re.search(r"-d '(\{\"username\"[^']+)'", session).group(1))
    shown = json.loads(re.search(r"\n(\{\"id\": 1.*?\})\n", session).group(1))
    rt = dbs.runtime()
    demo.load(rt)
    with TestClient(create_app(rt)) as c:
        h = {"Authorization": f"Bearer {c.post('/api/v1/auth/token', json=login).json()['token']}"}
        order = c.get("/api/v1/sales_order?status=draft&limit=1", headers=h).json()["items"][0]
        data = b"%PDF-1.4\n" + b"0" * 48204
        made = c.post(f"/api/v1/sales_order/{order['id']}/attachments", files={"file": ("pump-drawing.pdf", data)}, headers=h)
        assert made.status_code == 201, made.text
        got = made.json()
        assert list(got) == list(shown)  # the same fields, in the same order
        same = ("entity", "name", "size", "content_type", "created_by_name", "image", "inline")
        assert {k: got[k] for k in same} == {k: shown[k] for k in same}
        assert got["url"] == f"/api/v1/attachments/{got['id']}"
        listed = c.get(f"/api/v1/sales_order/{order['id']}/attachments", headers=h).json()
        assert [f["name"] for f in listed["items"]] == ["pump-drawing.pdf"]
        file = c.get(got["url"], headers=h)
        assert file.content == data and "filename*=UTF-8''pump-drawing.pdf" in file.headers["content-disposition"]
        assert c.delete(got["url"], headers=h).status_code == 204


REPORTS_DOC = ROOT / "docs" / "reports.md"


def test_the_reports_doc_shows_the_demo_report_and_the_api_answers_as_shown(dbs):
    """docs/reports.md: its report is the demo's file; the API answers with the keys and shapes it shows."""
    import json

    from starlette.testclient import TestClient

    from engine.app import demo
    from engine.metadata.yamlload import parse
    from engine.server import create_app
    text = REPORTS_DOC.read_text(encoding="utf-8")
    shown_yaml = re.search(r"```yaml\n# file: reports/orders_by_status.yaml\n(.*?)```", text, re.S).group(1)
    assert parse(shown_yaml)[0].data == parse((ROOT / "metadata" / "reports" / "orders_by_status.yaml").read_text(encoding="utf-8"))[0].data
    board = re.search(r"```yaml\n# file: dashboards/sales.yaml\n(.*?)```", text, re.S).group(1)
    assert parse(board)[0].data == parse((ROOT / "metadata" / "dashboards" / "sales.yaml").read_text(encoding="utf-8"))[0].data
    facts = re.search(r"```yaml\n# file: reports/on_time_by_state.yaml\n(.*?)```", text, re.S).group(1)
    assert parse(facts)[0].data == parse((ROOT / "metadata" / "reports" / "on_time_by_state.yaml").read_text(encoding="utf-8"))[0].data
    views = parse(re.search(r"```yaml\n# in entities/sales_order.yaml\n(.*?)```", text, re.S).group(1))[0].data
    assert views["views"] == parse((ROOT / "metadata" / "entities" / "sales_order.yaml").read_text(encoding="utf-8"))[0].data["views"]
    crews = parse(re.search(r"```yaml\n(views:\n  gantt: .*?)```", text, re.S).group(1))[0].data
    fitting = parse((ROOT / "tests" / "scenarios" / "build_to_order" / "entities" / "fitting_order.yaml").read_text(encoding="utf-8"))[0].data
    assert crews["views"]["gantt"] == fitting["views"]["gantt"] and all(fitting["fields"][n] == f for n, f in crews["fields"].items())
    listing, answer = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    rt = dbs.runtime()
    demo.load(rt)
    with TestClient(create_app(rt)) as c:
        h = {"Authorization": f"Bearer {c.post('/api/v1/auth/token', json={'username': 'rep_east1', 'password': 'demo'}).json()['token']}"}
        got = c.get("/api/v1/reports", headers=h).json()
        mine = next(r for r in got["items"] if r["name"] == "orders_by_status")
        assert mine == listing["items"][0]
        run = c.get("/api/v1/reports/orders_by_status", headers=h).json()
        assert list(run) == list(answer) and run["columns"] == answer["columns"]
        assert set(run["rows"][0]) == set(answer["rows"][0]) and list(run["totals"]) == list(answer["totals"])
        assert run["defaults"][0]["field"] == "order_date" and run["defaults"][0]["default"] == "this_year"


def test_the_portal_doc_shows_the_demos_portal_role():
    """docs/portal.md: its role is the demo's, as roles.yaml has it."""
    from engine.metadata.yamlload import parse
    text = (ROOT / "docs" / "portal.md").read_text(encoding="utf-8")
    shown = parse("roles:\n" + re.search(r"```yaml\n# in roles.yaml\n(.*?)```", text, re.S).group(1))[0].data["roles"]
    demo = parse((ROOT / "metadata" / "roles.yaml").read_text(encoding="utf-8"))[0].data["roles"]
    assert shown == {"client": demo["client"]}


def test_the_portal_doc_shows_the_demos_public_form():
    """docs/portal.md's public form is the demo's (its texts shortened in the doc)."""
    from engine.metadata.yamlload import parse
    text = (ROOT / "docs" / "portal.md").read_text(encoding="utf-8")
    shown = parse(re.search(r"```yaml\n# file: forms/customer_registration.yaml\n(.*?)```", text, re.S).group(1))[0].data
    demo = parse((ROOT / "metadata" / "forms" / "customer_registration.yaml").read_text(encoding="utf-8"))[0].data
    for key in ("intro", "done"):
        assert demo["public"][key]["en"].startswith(shown["public"][key]["en"].rstrip(". ").rstrip("."))
    texts = ("intro", "done")  # parsed documents are shared: compared without their texts, never changed
    assert {k: v for k, v in shown["public"].items() if k not in texts} == {k: v for k, v in demo["public"].items() if k not in texts}
    assert {k: v for k, v in shown.items() if k != "public"} == {k: v for k, v in demo.items() if k != "public"}
