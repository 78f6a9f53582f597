"""The demo's roles on every path: own / team / all scopes, region conditions, reviewers,
hidden and read-only fields; through the record service, the JSON API and the screens."""
import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from engine.access import users
from engine.app import demo
from engine.core.errors import Forbidden, NotFound, ValidationFailed
from engine.records.listing import ListQuery
from engine.server import create_app
from tests.conftest import DatabaseFactory


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    f = DatabaseFactory(tmp_path_factory.mktemp("perm"))
    rt = f.runtime()
    demo.load(rt)
    yield rt
    rt.close()
    f.close()


def who(rt, username):
    with rt.db.read() as conn:
        uid = conn.execute(select(rt.schema.user.c.id).where(rt.schema.user.c.username == username)).scalar_one()
        return users.actor_for_id(conn, rt.schema, uid, via="api")


def all_rows(rt, actor, entity, **kw):
    return rt.records.list(actor, entity, ListQuery(limit=500, exact_count=True, **kw))


def test_own_team_all_on_orders(rt):
    rep, other_rep, sup, mgr = (who(rt, u) for u in ("rep_east1", "rep_east2", "sup_east", "manager"))
    mine = all_rows(rt, rep, "sales_order")
    assert mine["count"] == 50 and {r["owner"] for r in mine["items"]} == {rep.id}
    team = all_rows(rt, sup, "sales_order")
    assert team["count"] == 100 and {r["owner"] for r in team["items"]} == {rep.id, other_rep.id}
    assert all_rows(rt, mgr, "sales_order")["count"] == 220
    theirs = all_rows(rt, other_rep, "sales_order")["items"][0]
    # outside the scope: as if it did not exist, on every path
    for call in (lambda: rt.records.get(rep, "sales_order", theirs["id"]),
                 lambda: rt.records.history(rep, "sales_order", theirs["id"]),
                 lambda: rt.records.update(rep, "sales_order", theirs["id"], {"notes": "mine now"}, version=theirs["version"])):
        with pytest.raises(NotFound):
            call()
    assert rt.records.titles(rep, "sales_order", {theirs["id"]}) == {}
    assert not rt.records.can(rep, "sales_order", "update", theirs["id"])
    # the supervisor may change the team's orders; the rep may not delete at all
    changed = rt.records.update(sup, "sales_order", theirs["id"], {"notes": "checked by supervisor"}, version=theirs["version"])
    assert changed["notes"] == "checked by supervisor"
    with pytest.raises(Forbidden):
        rt.records.delete(rep, "sales_order", mine["items"][0]["id"])


def test_team_follows_the_reporting_line_as_it_changes(rt):
    sup, west = who(rt, "sup_east"), who(rt, "rep_west1")
    before = all_rows(rt, sup, "sales_order")["count"]
    with rt.db.write() as conn:
        conn.execute(update(rt.schema.user).where(rt.schema.user.c.id == west.id).values(manager_id=sup.id))
    try:
        assert all_rows(rt, sup, "sales_order")["count"] == before + 50
    finally:
        with rt.db.write() as conn:
            conn.execute(update(rt.schema.user).where(rt.schema.user.c.id == west.id).values(manager_id=who(rt, "sup_west").id))
    assert all_rows(rt, sup, "sales_order")["count"] == before


def test_reps_see_customers_of_their_region_everywhere(rt):
    rep = who(rt, "rep_east1")
    mgr = who(rt, "manager")
    everyone = all_rows(rt, mgr, "customer")["items"]
    east = {c["id"] for c in everyone if c["region"] == "east"}
    west = next(c for c in everyone if c["region"] == "west")
    assert {c["id"] for c in all_rows(rt, rep, "customer")["items"]} == east
    assert rt.records.list(rep, "customer", ListQuery(q=west["name"]))["items"] == []  # quick search
    assert rt.records.titles(rep, "customer", {west["id"]}) == {}  # link titles
    with pytest.raises(NotFound):
        rt.records.get(rep, "customer", west["id"])
    # creating a customer outside the region is refused, and nothing is written
    with pytest.raises(Forbidden):
        rt.records.create(rep, "customer", {"code": "CX1", "name": "Elsewhere Ltd", "region": "west", "payment_terms": "net30"})
    assert rt.records.list(mgr, "customer", ListQuery(filters=[("code", "eq", "CX1")]))["items"] == []
    made = rt.records.create(rep, "customer", {"code": "CX2", "name": "Nearby Ltd", "region": "east", "payment_terms": "net30"})
    # ... and the rep cannot move it out of reach either
    with pytest.raises(Forbidden):
        rt.records.update(rep, "customer", made["id"], {"region": "west"}, version=made["version"])
    assert rt.records.get(mgr, "customer", made["id"])["region"] == "east"


def test_reviewers_read_orders_under_review_only_and_change_nothing(rt):
    rev, mgr = who(rt, "purchasing"), who(rt, "manager")
    so = rt.schema.tables["sales_order"]
    with rt.db.write() as conn:  # the workflow will move orders to review; here we put three there
        ids = [o["id"] for o in all_rows(rt, mgr, "sales_order")["items"][:3]]
        conn.execute(update(so).where(so.c.id.in_(ids)).values(status="in_review"))
    seen = all_rows(rt, rev, "sales_order")
    expected = all_rows(rt, mgr, "sales_order", filters=[("status", "eq", "in_review")])["count"]
    assert seen["count"] == expected and {r["status"] for r in seen["items"]} <= {"in_review"}
    assert all_rows(rt, rev, "customer")["count"] == all_rows(rt, mgr, "customer")["count"]
    with pytest.raises(Forbidden):
        rt.records.update(rev, "sales_order", seen["items"][0]["id"], {"notes": "x"}, version=seen["items"][0]["version"])


def test_hidden_and_read_only_fields(rt):
    rep, mgr = who(rt, "rep_east1"), who(rt, "manager")
    prod = all_rows(rt, mgr, "product")["items"][0]
    assert "cost" in prod and "cost" not in rt.records.get(rep, "product", prod["id"])
    assert all("cost" not in r for r in all_rows(rt, rep, "product")["items"])
    with pytest.raises(ValidationFailed) as exc:  # filtering on a hidden field would reveal it
        rt.records.list(rep, "product", ListQuery(filters=[("cost", "gt", "0")]))
    assert exc.value.errors[0].field == "cost__gt"
    with pytest.raises(ValidationFailed):
        rt.records.list(rep, "product", ListQuery(sort="-cost"))
    # the supervisor inherits the rep's read-only credit limit, though they may update the team's customers
    sup = who(rt, "sup_east")
    cust = rt.records.create(rep, "customer", {"code": "CX3", "name": "Rep's own Ltd", "region": "east", "payment_terms": "net30"})
    with pytest.raises(ValidationFailed) as exc:
        rt.records.update(sup, "customer", cust["id"], {"credit_limit": "999999"}, version=cust["version"])
    assert exc.value.errors[0].field == "credit_limit" and "read-only" in exc.value.errors[0].message
    assert rt.records.update(sup, "customer", cust["id"], {"tax_number": "91000000000000000X"}, version=cust["version"])["version"] == cust["version"] + 1


def test_api_answers_404_outside_the_scope_and_403_for_actions_not_granted(rt):
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        token = c.post("/api/v1/auth/token", json={"username": "rep_east1", "password": "demo"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        mine = c.get("/api/v1/sales_order?limit=500", headers=h).json()["items"]
        rep = who(rt, "rep_east1")
        assert len(mine) == 50 and {o["owner"] for o in mine} == {rep.id}
        theirs = all_rows(rt, who(rt, "manager"), "sales_order", filters=[("owner", "eq", str(who(rt, "rep_west2").id))])["items"][0]
        for method in ("get", "patch"):
            kw = {"json": {"version": theirs["version"], "notes": "x"}} if method == "patch" else {}
            r = getattr(c, method)(f"/api/v1/sales_order/{theirs['id']}", headers=h, **kw)
            assert r.status_code == 404, r.text
        assert c.get(f"/api/v1/sales_order/{theirs['id']}/history", headers=h).status_code == 404
        r = c.delete(f"/api/v1/sales_order/{mine[0]['id']}", headers=h)
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        assert "cost" not in c.get("/api/v1/product?limit=1", headers=h).json()["items"][0]


def test_screens_show_only_what_the_user_may_see_and_do(rt):
    import re
    with TestClient(create_app(rt)) as web:
        page = web.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        web.post("/login", data={"username": "finance", "password": "demo", "csrf_token": token, "next": "/"})
        orders = web.get("/sales_order")
        assert orders.status_code == 200 and "/sales_order/new" not in orders.text  # reviewers create nothing
        cust = all_rows(rt, who(rt, "manager"), "customer")["items"][0]
        record = web.get(f"/customer/{cust['id']}")
        assert record.status_code == 200 and f"/customer/{cust['id']}/edit" in record.text  # finance may update customers
        west = next(c for c in all_rows(rt, who(rt, "manager"), "sales_order")["items"] if c["status"] != "in_review")
        assert web.get(f"/sales_order/{west['id']}").status_code == 404
        page = web.get("/logout")
    with TestClient(create_app(rt)) as web:
        page = web.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        web.post("/login", data={"username": "rep_east1", "password": "demo", "csrf_token": token, "next": "/"})
        prods = web.get("/product")
        assert prods.status_code == 200 and "data-label=\"Cost\"" not in prods.text
        prod = all_rows(rt, who(rt, "manager"), "product")["items"][0]
        assert 'name="cost"' not in web.get(f"/product/{prod['id']}").text
        # the customer picker on an order offers only the rep's region
        everyone = all_rows(rt, who(rt, "manager"), "customer")["items"]
        west = next(c for c in everyone if c["region"] == "west")
        east = next(c for c in everyone if c["region"] == "east")
        assert west["name"] not in web.get("/sales_order/options/customer", params={"q": west["name"]}).text
        assert east["name"] in web.get("/sales_order/options/customer", params={"q": east["name"]}).text
        someone_elses = rt.records.create(who(rt, "rep_east2"), "customer", {"code": "E-HIS", "name": "His East Co", "region": "east"})
        assert web.get(f"/customer/{someone_elses['id']}/edit").status_code == 403  # readable, not theirs to change: no form
        cust = rt.records.create(who(rt, "rep_east1"), "customer", {"code": "E-NEW", "name": "New East Co", "region": "east"})
        form = web.get(f"/customer/{cust['id']}/edit")
        assert form.status_code == 200
        assert re.search(r'<input[^>]*name="credit_limit"', form.text) is None or "readonly" in form.text


def test_several_roles_give_the_union_of_their_scopes(rt):
    from tests.conftest import make_user
    mgr = who(rt, "manager")
    both = make_user(rt, "rep_and_reviewer", roles=("sales_rep", "purchasing"))
    so = rt.schema.tables["sales_order"]
    with rt.db.write() as conn:  # one order in review, owned by someone else
        target = all_rows(rt, mgr, "sales_order", filters=[("owner", "eq", str(who(rt, "rep_west1").id))])["items"][0]["id"]
        conn.execute(update(so).where(so.c.id == target).values(status="in_review"))
    mine = rt.records.create(mgr, "sales_order", {
        "customer": all_rows(rt, mgr, "customer")["items"][0]["id"], "lines": [{"description": "x", "tech_spec": "x", "quantity": 1, "unit_price": "1"}]})
    with rt.db.write() as conn:
        conn.execute(update(so).where(so.c.id == mine["id"]).values(owner=both.id))
    seen = {r["id"] for r in all_rows(rt, who(rt, "rep_and_reviewer"), "sales_order")["items"]}
    in_review = {r["id"] for r in all_rows(rt, mgr, "sales_order", filters=[("status", "eq", "in_review")])["items"]}
    assert seen == in_review | {mine["id"]} and target in seen
    # the field rules: purchasing may read product cost (no rule), so the union shows it
    prod = all_rows(rt, mgr, "product")["items"][0]
    assert "cost" in rt.records.get(who(rt, "rep_and_reviewer"), "product", prod["id"])
