"""Test fixtures: every test gets its own database - a temporary SQLite file, or, when
ENGINE_TEST_DATABASE_URL is set, a fresh schema in that PostgreSQL database - and the real
engine on top of it. Nothing is mocked."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from engine.access import users
from engine.app.runtime import Runtime
from engine.core.actor import Actor
from engine.server import create_app

users.use_cheap_hashing()  # argon2 at its smallest costs: the suite creates hundreds of users

ROOT = Path(__file__).resolve().parent.parent
DEMO_APP = str(ROOT / "metadata")
PG_URL = os.environ.get("ENGINE_TEST_DATABASE_URL")


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (set ENGINE_TEST_DATABASE_URL for PostgreSQL)'}"


class DatabaseFactory:
    """Makes empty databases and cleans them up."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.schemas: list[str] = []
        self.runtimes: list[Runtime] = []
        self._admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT") if PG_URL else None

    @property
    def dialect(self) -> str:
        return "postgresql" if PG_URL else "sqlite"

    def new(self) -> tuple[str, str | None]:
        """A fresh (url, schema) pair."""
        if not PG_URL:
            return f"sqlite:///{self.tmp_path / ('db_' + uuid.uuid4().hex[:8] + '.sqlite')}", None
        name = "t_" + uuid.uuid4().hex[:12]
        with self._admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{name}"'))
        self.schemas.append(name)
        return PG_URL, name

    def url_with_schema(self, url: str, schema: str | None) -> str:
        """A URL that a subprocess can use to reach the same schema."""
        if schema is None:
            return url
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}options=-csearch_path%3D{schema}"

    def runtime(self, app_dir: str = DEMO_APP, url: str | None = None, schema: str | None = None) -> Runtime:
        if url is None:
            url, schema = self.new()
        rt = Runtime.open(app_dir, url, schema_name=schema)
        self.runtimes.append(rt)
        return rt

    def close(self):
        for rt in self.runtimes:
            rt.close()
        if self._admin is not None:
            with self._admin.connect() as c:
                for name in self.schemas:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            self._admin.dispose()


@pytest.fixture
def dbs(tmp_path):
    f = DatabaseFactory(tmp_path)
    yield f
    f.close()


@pytest.fixture
def rt(dbs) -> Runtime:
    """The demo app on an empty database."""
    return dbs.runtime()


def make_user(rt: Runtime, username: str, roles=("sales_rep",), manager: str | None = None) -> Actor:
    with rt.db.write() as conn:
        uid = users.create_user(conn, rt.schema, username, "demo", list(roles), manager=manager)
    return Actor(uid, username, frozenset(roles), via="api", full_name=username)


@pytest.fixture
def clerk(rt) -> Actor:
    """A user whose role (admin) may do everything: the engine's mechanics are tested as them;
    tests/access/test_permissions.py tests what the demo's other roles may and may not do."""
    return make_user(rt, "clerk", roles=("admin",))


class Api:
    """A TestClient that signs in once and sends the bearer token."""

    def __init__(self, client: TestClient, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(url, **kw):
            headers = {**self.headers, **kw.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kw)
        return call


@pytest.fixture
def client(rt) -> TestClient:
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api(rt, clerk, client) -> Api:
    r = client.post("/api/v1/auth/token", json={"username": "clerk", "password": "demo"})
    assert r.status_code == 200, r.text
    return Api(client, r.json()["token"])


def api_as(client: TestClient, username: str, password: str = "demo") -> Api:
    """An Api signed in as this user (a token of theirs)."""
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return Api(client, r.json()["token"])


def seed_basics(rt: Runtime, actor: Actor) -> dict:
    """A customer, two products and a warehouse, through the record service."""
    r = rt.records
    c = r.create(actor, "customer", {"code": "C001", "name": "Acme Pumps", "region": "east"})
    p1 = r.create(actor, "product", {"code": "P001", "name": "Gear pump", "list_price": "100.00", "category": "machine"})
    p2 = r.create(actor, "product", {"code": "P002", "name": "Seal kit", "list_price": "12.50", "category": "spare_part"})
    w = r.create(actor, "warehouse", {"code": "WH-E", "name": "East", "region": "east"})
    return {"customer": c["id"], "p1": p1["id"], "p2": p2["id"], "warehouse": w["id"]}


@pytest.fixture
def people(rt, clerk):
    """A rep under a supervisor under a manager, a colleague rep, and an east customer and product."""
    make_user(rt, "boss", roles=("sales_manager",))
    make_user(rt, "sup", roles=("sales_supervisor",), manager="boss")
    for name in ("rep", "other"):
        make_user(rt, name, roles=("sales_rep",), manager="sup")
    for name in ("rep", "other", "sup"):
        rt.accounts.update(clerk, _who(rt, name).id, attributes={"region": "east"})
    from tests.orders import DEPARTMENTS
    for dept in DEPARTMENTS:
        make_user(rt, dept, roles=(dept,))
    c = rt.records.create(clerk, "customer", {"code": "C1", "name": "East Pumps", "region": "east"})
    p = rt.records.create(clerk, "product", {"code": "P1", "name": "Pump", "list_price": "100.00", "category": "machine"})
    return {n: _who(rt, n) for n in ("boss", "sup", "rep", "other", *DEPARTMENTS)} | {"customer": c["id"], "product": p["id"]}


def _who(rt, username):
    from sqlalchemy import select

    from engine.access import users as _users
    with rt.db.read() as conn:
        uid = conn.execute(select(rt.schema.user.c.id).where(rt.schema.user.c.username == username)).scalar_one()
        return _users.actor_for_id(conn, rt.schema, uid, via="api")
