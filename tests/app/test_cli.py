"""The command line, run as a user runs it: `python run.py ...` in a subprocess."""
import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, update

from engine.core.actor import SYSTEM
from tests.conftest import DEMO_APP, ROOT, seed_basics

FIXTURES = Path(__file__).parent.parent / "fixtures" / "invalid"


def run(*args, env=None, timeout=120, cwd=ROOT):
    e = {**os.environ, **(env or {})}
    e.pop("ENGINE_DATABASE_URL", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, env={**e, **(env or {})},
                          timeout=timeout, cwd=str(cwd), stdin=subprocess.DEVNULL)


def test_check_ok_and_problems():
    ok = run("check", "--app", DEMO_APP)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: ") and "7 entities" in ok.stdout
    bad = run("check", "--app", str(FIXTURES / "E012"))
    assert bad.returncode == 1
    line = bad.stdout.strip().splitlines()[0]
    assert line.endswith("hint: link and table fields must name an entity defined under entities/")
    assert ":5:13: E012 'company' is not an entity" in line
    assert "Traceback" not in bad.stdout + bad.stderr


def test_migrate_dry_run_then_apply_then_up_to_date(dbs):
    url, schema = dbs.new()
    url = dbs.url_with_schema(url, schema)
    dry = run("migrate", "--app", DEMO_APP, "--db", url, "--dry-run")
    assert dry.returncode == 0 and "+ create table sales_order" in dry.stdout and "dry run" in dry.stdout
    again = run("migrate", "--app", DEMO_APP, "--db", url, "--dry-run")
    assert "+ create table sales_order" in again.stdout  # the dry run changed nothing
    applied = run("migrate", "--app", DEMO_APP, "--db", url)
    assert applied.returncode == 0 and "applied" in applied.stdout
    assert run("migrate", "--app", DEMO_APP, "--db", url).stdout.strip() == "the database is up to date"


def test_users_tokens_and_audit_verification(dbs):
    raw_url, schema = dbs.new()
    url = dbs.url_with_schema(raw_url, schema)
    r = run("create-user", "boss", "--role", "sales_manager", "--db", url, "--app", DEMO_APP, "--password", "pw123")
    assert r.returncode == 0, r.stderr
    r = run("create-user", "rep9", "--role", "sales_rep", "--manager", "boss", "--attribute", "region=east", "--db", url, "--app", DEMO_APP,
            "--email", "rep9@example.com", env={"ENGINE_NEW_PASSWORD": "pw456"})
    assert r.returncode == 0, r.stderr
    r = run("update-user", "rep9", "--phone", "call me", "--db", url, "--app", DEMO_APP)
    assert r.returncode == 1 and "phone: not a phone number" in r.stderr
    r = run("update-user", "rep9", "--phone", "+7 495 123-45-67", "--email", "", "--db", url, "--app", DEMO_APP)
    assert r.returncode == 0, r.stderr
    rt = dbs.runtime(DEMO_APP, raw_url, schema)
    from tests.access.test_permissions import who
    assert rt.accounts.notice_settings(who(rt, "rep9"))["email"] is None
    assert rt.accounts.notice_settings(who(rt, "rep9"))["phone"] == "+7 495 123-45-67"
    r = run("create-user", "rep10", "--role", "sales_rep", "--role", "wizard", "--attribute", "region=north", "--db", url, "--app", DEMO_APP,
            "--password", "pw456")
    assert r.returncode == 1 and "there is no role 'wizard'" in r.stderr and "'north' is not one of" in r.stderr
    r = run("create-user", "rep9", "--role", "sales_rep", "--manager", "ghost", "--db", url, "--app", DEMO_APP, "--password", "pw")
    assert r.returncode == 1 and "already exists" in r.stderr and "no user 'ghost'" in r.stderr
    r = run("create-user", "nopass", "--role", "x", "--db", url, "--app", DEMO_APP)
    assert r.returncode == 1 and "password" in r.stderr
    tok = run("create-token", "rep9", "--db", url, "--app", DEMO_APP)
    assert tok.returncode == 0 and tok.stdout.strip().startswith("eng_")
    assert run("create-token", "ghost", "--db", url, "--app", DEMO_APP).returncode == 1
    v = run("verify-audit", "--db", url, "--app", DEMO_APP)
    assert v.returncode == 0 and "intact" in v.stdout


def test_serve_refuses_invalid_metadata_without_traceback():
    r = run("serve", "--app", str(FIXTURES / "E022"), "--db", "sqlite:///:memory:", "--port", "8999", timeout=60)
    assert r.returncode == 1
    assert "E022 unknown name 'quantity'" in r.stderr and "Traceback" not in r.stderr


def test_unreachable_database_is_a_clear_error():
    r = run("migrate", "--app", DEMO_APP, "--db", "postgresql://nobody:secret@127.0.0.1:1/none", timeout=60)
    assert r.returncode == 1 and "cannot open the database" in r.stderr
    assert "secret" not in r.stderr and "Traceback" not in r.stderr


def test_verify_audit_reconciles_the_data_with_the_trail(dbs):
    url, schema = dbs.new()
    rt = dbs.runtime(url=url, schema=schema)
    ids = seed_basics(rt, SYSTEM)
    order = rt.records.create(SYSTEM, "sales_order", {"customer": ids["customer"], "lines": [{"product": ids["p1"], "quantity": 2}]})
    url = dbs.url_with_schema(url, schema)
    ok = run("verify-audit", "--db", url, "--app", DEMO_APP)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain intact" in ok.stdout and "the data matches the audit trail: checked 5 record(s) with 1 line(s)" in ok.stdout
    so, line = rt.schema.tables["sales_order"], rt.schema.tables["sales_order_line"]
    with rt.db.write() as conn:  # edited in the database, behind the engine's back
        conn.execute(update(so).where(so.c.id == order["id"]).values(total="1.00", notes="paid in cash"))
        conn.execute(update(line).where(line.c.id == order["lines"][0]["id"]).values(quantity=20))
    bad = run("verify-audit", "--db", url, "--app", DEMO_APP)
    assert bad.returncode == 1 and "audit chain intact" in bad.stdout  # the trail itself is fine: the data is not
    assert (f"sales_order {order['id']}: total: audit trail 200.00, database 1.00; notes: audit trail empty, database 'paid in cash'; "
            f"lines[{order['lines'][0]['id']}].quantity: audit trail 2.000, database 20.000") in bad.stdout
    assert "1 record(s) differ from their audit trail" in bad.stderr and "Traceback" not in bad.stderr
    assert run("verify-audit", "--db", url, "--app", DEMO_APP, "--entity", "customer", "--entity", "product").returncode == 0
    assert run("verify-audit", "--db", url, "--app", DEMO_APP, "--since", "2999-01-01").returncode == 0
    assert run("verify-audit", "--db", url, "--app", DEMO_APP, "--since", "2000-01-01T00:00+08:00").returncode == 1
    wrong = run("verify-audit", "--db", url, "--app", DEMO_APP, "--since", "last week")
    assert wrong.returncode == 2 and "--since takes a date (2026-01-31)" in wrong.stderr
    wrong = run("verify-audit", "--db", url, "--app", DEMO_APP, "--entity", "invoice")
    assert wrong.returncode == 2 and "there is no entity 'invoice'; known entities: customer" in wrong.stderr


def test_every_command_line_write_is_audited(dbs):
    base, schema = dbs.new()
    url = dbs.url_with_schema(base, schema)
    common = ("--db", url, "--app", DEMO_APP)
    assert run("migrate", *common).returncode == 0
    assert run("create-user", "boss", "--role", "sales_manager", "--password", "pw123456", *common).returncode == 0
    r = run("update-user", "boss", "--role", "admin", "--role", "sales_manager", "--full-name", "The Boss", *common)
    assert r.returncode == 0, r.stderr
    assert run("update-user", "boss", "--inactive", *common).returncode == 0
    assert run("update-user", "boss", "--active", *common).returncode == 0
    assert run("create-token", "boss", "--label", "ci", *common).returncode == 0
    nothing = run("update-user", "boss", *common)
    assert nothing.returncode == 2 and "say what to change" in nothing.stderr
    ghost = run("update-user", "ghost", "--role", "admin", *common)
    assert ghost.returncode == 1 and "there is no user 'ghost'; create one with `python" in ghost.stderr
    rt = dbs.runtime(url=base, schema=schema)
    a = rt.schema.audit
    with rt.db.read() as conn:
        rows = conn.execute(select(a.c.entity, a.c.action, a.c.actor, a.c.via, a.c.changes).order_by(a.c.id)).all()
    assert [(r.entity, r.action) for r in rows] == [("sys_schema", "migrate"), ("sys_user", "user_created"), ("sys_user", "permissions_changed"),
                                                    ("sys_user", "user_changed"), ("sys_user", "user_changed"), ("sys_user", "token_created")]
    assert {(r.actor, r.via) for r in rows} == {(f"cli:{getpass.getuser()}", "system")}
    steps = json.loads(rows[0].changes)
    assert steps["command"] == "migrate" and "create table sales_order" in steps["steps"]
    assert json.loads(rows[2].changes)["fields"] == {"full_name": ["boss", "The Boss"], "roles": [["sales_manager"], ["admin", "sales_manager"]]}
    assert json.loads(rows[3].changes)["fields"] == {"active": [True, False]}
    assert run("verify-audit", *common).returncode == 0


def test_run_py_works_from_any_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ok = run("check", cwd=elsewhere)  # the app beside run.py, not ./metadata
    assert ok.returncode == 0 and ok.stdout.startswith(f"ok: {ROOT / 'metadata'}: "), ok.stdout + ok.stderr
    made = run("create-user", "boss", "--role", "sales_manager", "--password", "pw123456", "--db", "sqlite:///data/app.db", cwd=elsewhere,
               env={"ENGINE_AUDIT_KEY": ""})
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in (elsewhere / "data").iterdir()) == ["app.db", "audit_key"]  # the key beside the database
    assert sorted(p.name for p in elsewhere.iterdir()) == ["data"]  # no var/ in the current folder
    # a hint repeats the options given, and the run.py used
    broken = run("create-user", "x", "--role", "r", "--password", "pw123456", "--app", str(FIXTURES / "E022"), "--db", "sqlite:///data/app.db",
                 cwd=elsewhere)
    assert broken.returncode == 1
    assert f"check again with `python {ROOT / 'run.py'} check --app {FIXTURES / 'E022'} --db sqlite:///data/app.db`" in broken.stderr


def test_the_session_key_and_the_queue_live_beside_the_database(dbs, tmp_path, monkeypatch):
    from engine.app import tasks
    from engine.server import create_app
    for name in ("ENGINE_SECRET_KEY", "ENGINE_AUDIT_KEY", "ENGINE_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'site' / 'app.db'}"
    rt = dbs.runtime(url=url)
    create_app(rt)
    assert (tmp_path / "site" / "secret_key").is_file()
    assert tasks.queue_url(url) == f"sqlite:///{tmp_path / 'site' / 'app.tasks.db'}"


def test_serve_records_who_started_it_and_the_demo_it_loaded(dbs, tmp_path):
    import socket
    import time
    import urllib.request
    base, schema = dbs.new()
    url = dbs.url_with_schema(base, schema)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = {k: v for k, v in os.environ.items() if k != "ENGINE_DATABASE_URL"}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--app", DEMO_APP, "--db", url, "--port", str(port), "--no-worker"],
                              cwd=str(tmp_path), env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("the server did not start")
    finally:
        server.terminate()
        server.wait(30)
    rt = dbs.runtime(url=base, schema=schema)
    a = rt.schema.audit
    with rt.db.read() as conn:
        rows = conn.execute(select(a.c.entity, a.c.action, a.c.actor, a.c.changes).where(a.c.entity.in_(["sys_schema", "sys_user"]))
                            .order_by(a.c.id)).all()
    assert [(r.entity, r.action, r.actor) for r in rows[:1]] == [("sys_schema", "migrate", f"cli:{getpass.getuser()}")]
    demo = [json.loads(r.changes) for r in rows if r.action == "demo_loaded"]
    assert len(demo) == 1 and "admin" in demo[0]["users"] and demo[0]["counts"]["sales_order"] > 0
    assert not (tmp_path / "var").exists()  # nothing written into the folder it was started from
