"""The command line, run as a user runs it: `python run.py ...` in a subprocess."""
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_APP, ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "invalid"


def run(*args, env=None, timeout=120):
    e = {**os.environ, **(env or {})}
    e.pop("ENGINE_DATABASE_URL", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, env={**e, **(env or {})},
                          timeout=timeout, cwd=str(ROOT), stdin=subprocess.DEVNULL)


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
    url, schema = dbs.new()
    url = dbs.url_with_schema(url, schema)
    r = run("create-user", "boss", "--role", "sales_manager", "--db", url, "--app", DEMO_APP, "--password", "pw123")
    assert r.returncode == 0, r.stderr
    r = run("create-user", "rep9", "--role", "sales_rep", "--manager", "boss", "--attribute", "region=east", "--db", url, "--app", DEMO_APP,
            env={"ENGINE_NEW_PASSWORD": "pw456"})
    assert r.returncode == 0, r.stderr
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
