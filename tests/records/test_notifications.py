"""Notifications follow the reader's scope: a notice goes only to recipients who may read the record
at that moment (a role-wide notice included), leaves out the fields hidden from each reader, and a
reader's list and unread count show only notices whose record they may still read. `notify` may
name a user field of the record, which is how one particular person is told."""
import textwrap

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from engine.core.errors import ValidationFailed
from engine.metadata.codes import MetadataInvalid
from engine.metadata.loader import load_app
from engine.server import create_app
from engine.workflow import transitions
from tests.apps import write_app
from tests.conftest import make_user
from tests.web.test_pages import SECRET, sign_in

APP = {
    "app.yaml": """
        name: visits
        label: Visits
        languages: [en]
    """,
    "entities/visit.yaml": """
        name: visit
        label: Visit
        title_field: customer
        fields:
          customer: {type: string, required: true}
          address: {type: string}
          phone: {type: phone}
          specialist: {type: user}
          status: {type: select, options: [new, planned, done], default: new}
    """,
    "workflows/visit_flow.yaml": """
        name: visit_flow
        entity: visit
        state_field: status
        initial: new
        states:
          new: {}
          planned: {}
          done: {category: done}
        transitions:
          plan:
            from: [new]
            to: planned
            roles: [dispatcher]
            inputs:
              specialist: {type: user, required: true}
            set: {specialist: inputs.specialist}
            notify:
              - to: [specialist]
                message: "Visit {{ customer }} at {{ address }}, phone {{ phone }}"
              - to: [measurer]
                message: "A visit was planned: {{ customer }}, {{ address }}, phone {{ phone }}"
          finish:
            from: [planned]
            to: done
            roles: [dispatcher, measurer]
            notify:
              - to: [clerk]
                message: "Done: {{ customer }} (phone {{ phone }})"
    """,
    "roles.yaml": """
        roles:
          dispatcher:
            permissions:
              visit: {read: all, create: all, update: all}
          measurer:
            permissions:
              visit: {read: "record.specialist == user.id"}
          clerk:
            permissions:
              visit: {read: all}
            fields:
              visit: {phone: hidden}
    """,
}


@pytest.fixture
def visits(dbs, tmp_path):
    rt = dbs.runtime(write_app(tmp_path / "app", APP))
    people = {n: make_user(rt, n, roles=(r,)) for n, r in (("disp", "dispatcher"), ("anna", "measurer"), ("boris", "measurer"),
                                                           ("carl", "clerk"))}
    return rt, people


def stored(rt, actor):
    n = rt.schema.notification
    with rt.db.read() as conn:
        return conn.execute(select(n.c.message).where(n.c.user_id == actor.id)).scalars().all()


def notices(rt, actor):
    items, unread = rt.records.notifications(actor)
    assert unread == len(items)
    return [i["message"] for i in items]


def test_a_role_wide_notice_reaches_only_those_who_may_read_the_record(visits):
    rt, p = visits
    v = rt.records.create(p["disp"], "visit", {"customer": "Ivanov", "address": "Lenina 5", "phone": "+7 900 111"})
    transitions.fire(rt.records, p["disp"], "visit", v["id"], "plan", fields={"specialist": p["anna"].id})
    # anna is the specialist (told twice: by name and as a measurer); boris is a measurer too, but may not read this visit
    assert notices(rt, p["anna"]) == ["A visit was planned: Ivanov, Lenina 5, phone +7 900 111", "Visit Ivanov at Lenina 5, phone +7 900 111"]
    assert notices(rt, p["boris"]) == [] and stored(rt, p["boris"]) == []  # not even written for him
    transitions.fire(rt.records, p["anna"], "visit", v["id"], "finish")
    # the clerk may read visits but not their phone numbers: the notice leaves the phone out
    assert notices(rt, p["carl"]) == ["Done: Ivanov (phone )"]


def test_a_notice_disappears_when_its_record_leaves_the_readers_scope(visits):
    rt, p = visits
    v = rt.records.create(p["disp"], "visit", {"customer": "Petrov", "address": "Mira 1"})
    transitions.fire(rt.records, p["disp"], "visit", v["id"], "plan", fields={"specialist": p["anna"].id})
    assert len(notices(rt, p["anna"])) == 2
    # the visit is given to boris: anna may no longer read it, so her notices about it are gone, count included
    t = rt.schema.tables["visit"]
    with rt.db.write() as conn:
        conn.execute(t.update().where(t.c.id == v["id"]).values(specialist=p["boris"].id))
    assert notices(rt, p["anna"]) == []
    assert rt.records.mark_read(p["anna"]) == 0  # nothing she can see to mark
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "anna")
        home = web.get("/")
        assert "Petrov" not in home.text
        token = web.post("/api/v1/auth/token", json={"username": "anna", "password": "demo"}).json()["token"]
        body = web.get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"}).json()
        assert body == {"items": [], "unread": 0}
    # given back, they show again (they were never read)
    with rt.db.write() as conn:
        conn.execute(t.update().where(t.c.id == v["id"]).values(specialist=p["anna"].id))
    assert len(notices(rt, p["anna"])) == 2


def test_notify_may_name_only_roles_relations_or_user_fields(tmp_path):
    bad = dict(APP)
    bad["workflows/visit_flow.yaml"] = APP["workflows/visit_flow.yaml"].replace("to: [specialist]", "to: [customer]")
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path, bad))
    [problem] = e.value.problems
    assert problem.code == "E043" and "a user field of the record (specialist)" in problem.message


def test_a_user_field_that_is_empty_tells_no_one(visits):
    rt, p = visits
    v = rt.records.create(p["disp"], "visit", {"customer": "Sidorov"})
    with pytest.raises(ValidationFailed):
        transitions.fire(rt.records, p["disp"], "visit", v["id"], "plan", fields={})
    assert notices(rt, p["anna"]) == [] and notices(rt, p["boris"]) == []


def test_the_docs_example_is_the_one_tested():
    import yaml

    from tests.conftest import ROOT
    doc = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
    block = doc.split("The tests run it as written here:")[1].split("```yaml\n")[1].split("```")[0]
    tested = yaml.safe_load(textwrap.dedent(APP["workflows/visit_flow.yaml"]))["transitions"]["plan"]
    assert yaml.safe_load(block)["transitions"]["plan"] == tested
