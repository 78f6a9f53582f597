"""File fields (`type: file`): one named file on a record or on a line, written through the record
service like any value - from the API's upload route or a form - kept in the write's transaction and
checked against the field's kinds and size; read with the record's access and the field's rules;
replaced, cleared or dropped with its line, and then forgotten."""
import io

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from engine.core.errors import ValidationFailed
from engine.core.values import NewFile
from engine.server import create_app
from tests.apps import write_app
from tests.conftest import api_as, make_user
from tests.files.test_attachments import PDF, PNG
from tests.orders import new_order
from tests.web.test_pages import SECRET, csrf, sign_in

VISIT_APP = {
    "app.yaml": "name: visits\nlanguages: [en]\n",
    "entities/visit.yaml": """\
        name: visit
        label: Visit
        fields:
          title: {type: string, required: true}
          photo: {type: file, types: [image/*], max_size_mb: 0.01}
          report: {type: file, label: Signed report, required: true}
          notes: {type: text}
        """,
    "roles.yaml": """\
        roles:
          measurer:
            permissions:
              visit: {read: all, create: all, update: all}
          viewer:
            permissions:
              visit: {read: all}
            fields:
              visit: {photo: hidden}
        """,
}


def rows(rt) -> int:
    with rt.db.read() as conn:
        return conn.execute(select(func.count()).select_from(rt.schema.attachment)).scalar()


def blobs(rt) -> int:
    with rt.db.read() as conn:
        return conn.execute(select(func.count()).select_from(rt.schema.blob)).scalar()


@pytest.fixture
def visits(dbs, tmp_path):
    rt = dbs.runtime(write_app(tmp_path / "visits", VISIT_APP))
    return rt, make_user(rt, "measurer", roles=("measurer",)), make_user(rt, "viewer", roles=("viewer",))


def test_a_line_drawing_goes_up_through_the_api_and_comes_back_with_its_record(rt, people, client):
    rep, other = api_as(client, "rep"), api_as(client, "other")
    order = new_order(rt, people)
    line = order["lines"][0]["id"]
    r = rep.put(f"/api/v1/sales_order/{order['id']}/files/lines/{line}/drawing", files={"file": ("Насос 泵.pdf", PDF)})
    assert r.status_code == 200, r.text
    drawing = r.json()["lines"][0]["drawing"]
    assert (drawing["name"], drawing["size"], drawing["content_type"]) == ("Насос 泵.pdf", len(PDF), "application/pdf")
    got = rep.get(drawing["url"])
    assert got.status_code == 200 and got.content == PDF and got.headers["content-disposition"].startswith("attachment;")
    assert rep.get(f"/api/v1/sales_order/{order['id']}").json()["lines"][0]["drawing"] == drawing
    # a file field's file is not one of the record's loose attachments, and is not removed as one
    assert rep.get(f"/api/v1/sales_order/{order['id']}/attachments").json()["items"] == []
    refused = rep.delete(drawing["url"])
    assert refused.status_code == 409 and "lines.drawing" in refused.json()["detail"]
    # out of scope: the record and so its drawing do not exist
    assert other.get(drawing["url"]).status_code == 404
    assert other.put(f"/api/v1/sales_order/{order['id']}/files/lines/{line}/drawing", files={"file": ("x.pdf", PDF)}).status_code == 404
    # the record sent back as read keeps its drawing; a file field is never set to an id
    current = rep.get(f"/api/v1/sales_order/{order['id']}").json()
    kept = rep.patch(f"/api/v1/sales_order/{order['id']}", json={"lines": current["lines"], "version": current["version"]})
    assert kept.status_code == 200, kept.text
    assert kept.json()["lines"][0]["drawing"]["id"] == drawing["id"]
    stolen = rep.patch(f"/api/v1/sales_order/{order['id']}", json={"lines": [{"id": line, "drawing": drawing["id"] + 1000}],
                                                                    "version": kept.json()["version"]})
    assert stolen.status_code == 422
    assert stolen.json()["errors"][0]["field"] == "lines[0].drawing" and "send the file itself" in stolen.json()["errors"][0]["message"]


def test_a_replaced_cleared_or_dropped_file_is_forgotten(rt, people, client):
    rep = api_as(client, "rep")
    order = new_order(rt, people)
    line = order["lines"][0]["id"]
    url = f"/api/v1/sales_order/{order['id']}/files/lines/{line}/drawing"
    first = rep.put(url, files={"file": ("v1.pdf", PDF)}).json()["lines"][0]["drawing"]
    second = rep.put(url, files={"file": ("v2.png", PNG)}).json()["lines"][0]["drawing"]
    assert second["name"] == "v2.png" and rep.get(first["url"]).status_code == 404
    assert (rows(rt), blobs(rt)) == (1, 1)  # the first drawing's content went with its last reference
    cleared = rep.delete(url)
    assert cleared.status_code == 200 and cleared.json()["lines"][0]["drawing"] is None
    assert (rows(rt), blobs(rt)) == (0, 0)
    third = rep.put(url, files={"file": ("v3.pdf", PDF)}).json()["lines"][0]["drawing"]
    assert third["id"] > second["id"]  # an id is never given again: an old link never opens another file
    current = rep.get(f"/api/v1/sales_order/{order['id']}").json()
    dropped = rep.patch(f"/api/v1/sales_order/{order['id']}", json={
        "lines": [{"product": people["product"], "quantity": 1, "unit_price": "5"}], "version": current["version"]})
    assert dropped.status_code == 200 and (rows(rt), blobs(rt)) == (0, 0)  # the line went, and its drawing with it
    # the timeline names the files, not their ids
    history = [e["changes"] for e in rt.records.history(people["rep"], "sales_order", order["id"])]
    named = {v for c in history for v in (c.get("files") or {}).values()}
    assert {"v1.pdf", "v2.png", "v3.pdf"} <= named


def test_a_file_is_checked_against_its_field_and_a_refused_write_keeps_nothing(visits):
    rt, measurer, _ = visits
    with pytest.raises(ValidationFailed) as refused:  # a required file field needs its file
        rt.records.create(measurer, "visit", {"title": "Kitchen"})
    assert [e.field for e in refused.value.errors] == ["report"]
    with pytest.raises(ValidationFailed) as refused:  # a PDF is not a photo
        rt.records.create(measurer, "visit", {"title": "Kitchen", "report": NewFile("r.pdf", io.BytesIO(PDF)),
                                              "photo": NewFile("wall.pdf", io.BytesIO(PDF))})
    assert refused.value.errors[0].field == "photo"
    assert refused.value.errors[0].message == "wall.pdf is not a kind of file Photo takes; it takes: image/*"
    with pytest.raises(ValidationFailed) as refused:  # nor is a PDF named like a photo
        rt.records.create(measurer, "visit", {"title": "Kitchen", "report": NewFile("r.pdf", io.BytesIO(PDF)),
                                              "photo": NewFile("wall.png", io.BytesIO(PDF))})
    assert refused.value.errors[0].field == "photo"
    assert (rows(rt), blobs(rt)) == (0, 0)  # the report of the refused writes was not kept either
    made = rt.records.create(measurer, "visit", {"title": "Kitchen", "report": NewFile("r.pdf", io.BytesIO(PDF)),
                                                 "photo": NewFile("wall.png", io.BytesIO(PNG))})
    assert isinstance(made["photo"], int) and isinstance(made["report"], int) and rows(rt) == 2
    too_big = NewFile("big.png", io.BytesIO(PNG + b"\x00" * 20000))
    with pytest.raises(Exception) as refused:
        rt.records.update(measurer, "visit", made["id"], {"photo": too_big}, version=made["version"])
    assert refused.value.status == 413 and rt.records.get(measurer, "visit", made["id"])["photo"] == made["photo"]


def test_a_field_hidden_from_a_role_hides_its_file(visits):
    rt, measurer, viewer = visits
    made = rt.records.create(measurer, "visit", {"title": "Kitchen", "report": NewFile("r.pdf", io.BytesIO(PDF)),
                                                 "photo": NewFile("wall.png", io.BytesIO(PNG))})
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        m, v = api_as(client, "measurer"), api_as(client, "viewer")
        seen = v.get(f"/api/v1/visit/{made['id']}").json()
        assert "photo" not in seen and seen["report"]["name"] == "r.pdf"
        assert v.get(seen["report"]["url"]).status_code == 200
        photo = m.get(f"/api/v1/visit/{made['id']}").json()["photo"]
        assert m.get(photo["url"]).content == PNG
        assert v.get(photo["url"]).status_code == 404  # the viewer may read the visit, not its photo
        assert v.put(f"/api/v1/visit/{made['id']}/files/report", files={"file": ("r2.pdf", PDF)}).status_code == 403
        assert m.put(f"/api/v1/visit/{made['id']}/files/nothing", files={"file": ("r2.pdf", PDF)}).status_code == 404
        assert m.put(f"/api/v1/visit/{made['id']}/files/photo", files={"file": ("big.png", PNG + b"\x00" * 30000)}).status_code == 413


def test_the_form_takes_a_file_and_shows_it_on_the_record_page(visits):
    rt, *_ = visits
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        sign_in(web, "measurer")
        page = web.get("/visit/new")
        assert 'enctype="multipart/form-data"' in page.text
        token = csrf(page.text)
        r = web.post("/visit/new", data={"csrf_token": token, "_fields": "title,photo,report,notes", "title": "Hall"},
                     files={"report": ("Отчёт.pdf", PDF, "application/pdf"), "photo": ("", b"", "application/octet-stream")},
                     follow_redirects=False)
        assert r.status_code == 303, r.text
        shown = web.get(r.headers["location"]).text
        assert "Отчёт.pdf" in shown
        rid = int(r.headers["location"].rsplit("/", 1)[1])
        report = rt.records.get(make_actor(rt), "visit", rid)["report"]
        assert web.get(f"/files/{report}").content == PDF
        # editing without choosing a file keeps it; ticking "remove" on a required file is refused
        edit = web.get(f"/visit/{rid}/edit").text
        r = web.post(f"/visit/{rid}/edit", data={"csrf_token": csrf(edit), "_fields": "title,photo,report,notes", "_version": "1",
                                                 "title": "Hall 2", "report__clear": "1"}, files={"photo": ("", b"")})
        assert r.status_code == 422
        r = web.post(f"/visit/{rid}/edit", data={"csrf_token": csrf(edit), "_fields": "title,photo,report,notes", "_version": "1",
                                                 "title": "Hall 2"}, files={"photo": ("", b"")}, follow_redirects=False)
        assert r.status_code == 303
        assert rt.records.get(make_actor(rt), "visit", rid)["report"] == report


def make_actor(rt):
    from tests.conftest import _who
    return _who(rt, "measurer")
