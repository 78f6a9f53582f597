"""Attachments over the API: a file goes in and comes out byte for byte, always as a download with
its Unicode name; the record's access decides who lists, downloads, adds and removes (a record out of
scope is a 404 on every path, a locked state refuses changes); a file is what its content says it is;
the size limit holds while the body streams in; content is kept once; a deleted record's files go."""
import json

import pytest
from sqlalchemy import func, select

from engine.files import blobs
from engine.files.attachments import clean_name
from engine.workflow import transitions
from tests.conftest import api_as
from tests.orders import new_order

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64



@pytest.fixture
def who(rt, client, people):
    return {name: api_as(client, name) for name in ("rep", "other", "sup", "boss", "technical")}


def attach(api, order_id, name, data, entity="sales_order"):
    return api.post(f"/api/v1/{entity}/{order_id}/attachments", files={"file": (name, data)})


def count(rt, table) -> int:
    with rt.db.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_a_file_goes_in_and_comes_out_the_same_as_a_download_with_its_name(rt, people, who):
    order = new_order(rt, people)
    r = attach(who["rep"], order["id"], "Чертёж насоса 泵.pdf", PDF)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["name"], made["size"], made["content_type"], made["created_by_name"]) == ("Чертёж насоса 泵.pdf", len(PDF), "application/pdf", "rep")
    assert made["url"] == f"/api/v1/attachments/{made['id']}" and len(made["sha256"]) == 64
    listed = who["rep"].get(f"/api/v1/sales_order/{order['id']}/attachments").json()["items"]
    assert [f["name"] for f in listed] == ["Чертёж насоса 泵.pdf"]
    got = who["rep"].get(made["url"])
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/octet-stream" and got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%D0%A7%D0%B5%D1%80%D1%82%D1%91%D0%B6" in got.headers["content-disposition"]
    shown = who["rep"].get(made["url"] + "?inline=1")  # a PDF may be shown in the page ...
    assert shown.headers["content-disposition"].startswith("inline;") and shown.headers["content-type"] == "application/pdf"
    text = attach(who["rep"], order["id"], "notes.txt", b"<b>hello</b> plain").json()
    plain = who["rep"].get(text["url"] + "?inline=1")  # ... a text file never: it could be a page of script
    assert plain.headers["content-disposition"].startswith("attachment;") and plain.headers["content-type"] == "application/octet-stream"


def test_the_records_access_decides_on_every_path(rt, people, who):
    order = new_order(rt, people)
    made = attach(who["rep"], order["id"], "spec.pdf", PDF).json()
    url, files = made["url"], f"/api/v1/sales_order/{order['id']}/attachments"
    # a colleague outside the rep's scope: the order and its files do not exist for them
    assert who["other"].get(files).status_code == 404
    assert who["other"].get(url).status_code == 404
    assert who["other"].delete(url).status_code == 404
    assert attach(who["other"], order["id"], "x.pdf", PDF).status_code == 404
    # the supervisor (team) reads and changes them
    assert who["sup"].get(url).content == PDF
    assert attach(who["sup"], order["id"], "sup.pdf", PDF).status_code == 201
    # the technical department reads orders in review but may not change them
    transitions.fire(rt.records, people["rep"], "sales_order", order["id"], "submit")
    assert who["technical"].get(url).content == PDF
    refused = attach(who["technical"], order["id"], "tech.pdf", PDF)
    assert refused.status_code == 403 and "update" in refused.json()["detail"]
    assert who["technical"].delete(url).status_code == 403
    # a locked state locks the files too
    transitions.fire(rt.records, people["boss"], "sales_order", order["id"], "cancel", fields={"reason": "customer withdrew"})
    locked = attach(who["boss"], order["id"], "late.pdf", PDF)
    assert locked.status_code == 409 and "no longer change" in locked.json()["detail"]
    assert who["boss"].delete(url).status_code == 409
    assert who["boss"].get(url).content == PDF  # still readable
    assert who["boss"].get("/api/v1/attachments/999999").status_code == 404
    assert who["boss"].get("/api/v1/attachments/abc").status_code == 422


def test_a_file_is_what_its_content_says(rt, people, who):
    order = new_order(rt, people)
    wrong = attach(who["rep"], order["id"], "photo.png", PDF)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["message"].startswith("photo.png is named like a PNG image but its content is a PDF document")
    page = attach(who["rep"], order["id"], "drawing.pdf", b"<html><script>alert(1)</script></html>")
    assert page.status_code == 422 and "a web page" in page.json()["errors"][0]["message"]
    ok = attach(who["rep"], order["id"], "photo.png", PNG).json()
    assert (ok["content_type"], ok["image"], ok["inline"]) == ("image/png", True, True)
    svg = attach(who["rep"], order["id"], "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>').json()
    assert svg["content_type"] == "image/svg+xml" and svg["inline"] is False  # stored, but never shown in the page
    assert who["rep"].get(svg["url"] + "?inline=1").headers["content-disposition"].startswith("attachment;")
    hostile = attach(who["rep"], order["id"], "..\\..\\etc/passwd.pdf", PDF)
    assert hostile.status_code == 201 and hostile.json()["name"] == "passwd.pdf"
    assert clean_name("pass\r\nwd\x00.pdf") == "passwd.pdf" and clean_name("...") == "file" and len(clean_name("a" * 400 + ".pdf")) == 255
    assert clean_name("a" * 400 + ".pdf").endswith(".pdf")
    empty = attach(who["rep"], order["id"], "empty.txt", b"")
    assert empty.status_code == 201 and who["rep"].get(empty.json()["url"]).content == b""
    not_multipart = who["rep"].post(f"/api/v1/sales_order/{order['id']}/attachments", content=b"raw", headers={"content-type": "text/plain"})
    assert not_multipart.status_code == 422 and "multipart field 'file'" in not_multipart.json()["errors"][0]["message"]
    no_file = who["rep"].post(f"/api/v1/sales_order/{order['id']}/attachments", data={"other": "x"})
    assert no_file.status_code == 422 and no_file.json()["errors"][0]["field"] == "file"


def test_an_entity_without_attachments_says_so(rt, people, who):
    r = who["boss"].get(f"/api/v1/product/{people['product']}/attachments")
    assert r.status_code == 404 and "take no attachments" in r.json()["detail"]


def test_the_size_limit_holds_while_the_body_streams_in(rt, people, who, monkeypatch):
    monkeypatch.setenv("ENGINE_ATTACHMENT_MAX_MB", "1")
    customer = people["customer"]  # customers take files with the default limit
    big = attach(who["boss"], customer, "big.txt", b"a" * (1048576 + 10), entity="customer")
    assert big.status_code == 413 and "1 MB" in big.json()["detail"]
    order = new_order(rt, people)
    big_order = attach(who["rep"], order["id"], "big.txt", b"a" * (1048576 + 10))  # orders allow 25 MB
    assert big_order.status_code == 201
    assert count(rt, rt.schema.attachment) == 1


def test_content_is_kept_once_in_chunks_and_goes_with_the_last_file_and_the_record(rt, people, who):
    order = new_order(rt, people)
    data = bytes(range(256)) * (blobs.CHUNK // 256 * 2 + 100)  # more than two chunks
    one = attach(who["rep"], order["id"], "a.bin", data).json()
    two = attach(who["rep"], order["id"], "b.bin", data).json()
    assert one["sha256"] == two["sha256"]
    assert count(rt, rt.schema.blob) == 1 and count(rt, rt.schema.blob_chunk) == 3
    assert who["rep"].get(two["url"]).content == data
    assert who["rep"].delete(one["url"]).status_code == 204
    assert who["rep"].get(one["url"]).status_code == 404
    assert count(rt, rt.schema.blob) == 1  # b.bin still refers to it
    assert who["rep"].get(two["url"]).content == data
    other_order = new_order(rt, people)
    attach(who["rep"], other_order["id"], "c.bin", data)
    rt.records.delete(people["boss"], "sales_order", order["id"])
    assert who["boss"].get(two["url"]).status_code == 404
    assert count(rt, rt.schema.blob) == 1  # c.bin on the other order still refers to it
    rt.records.delete(people["boss"], "sales_order", other_order["id"])
    assert count(rt, rt.schema.attachment) == count(rt, rt.schema.blob) == count(rt, rt.schema.blob_chunk) == 0


def test_adding_and_removing_are_events_in_the_history(rt, people, who):
    order = new_order(rt, people)
    made = attach(who["rep"], order["id"], "spec.pdf", PDF).json()
    who["rep"].delete(made["url"])
    e = rt.schema.event
    with rt.db.read() as conn:
        rows = conn.execute(select(e.c.type, e.c.data).where(e.c.record_id == order["id"], e.c.type.like("attachment%")).order_by(e.c.id)).all()
    assert [(t, json.loads(d)["attachment"]["name"]) for t, d in rows] == [("attachment_added", "spec.pdf"), ("attachment_removed", "spec.pdf")]
    history = who["rep"].get(f"/api/v1/sales_order/{order['id']}/history").json()["items"]
    assert [h["action"] for h in history][-2:] == ["attach", "detach"]


VISITS = {
    "app.yaml": "name: visits\nlabel: Visits\nlanguages: [en]\n",
    "entities/visit.yaml": """\
        name: visit
        attachments: {max_size_mb: 0.001, types: [.pdf, image/*], max_count: 2}
        fields:
          customer: {type: string, required: true}
        """,
    "roles.yaml": """\
        roles:
          measurer:
            permissions:
              visit: {read: own, create: own, update: own}
        """,
}


def test_an_entity_sets_its_own_types_size_and_count(dbs, tmp_path):
    from engine.core.errors import Conflict, PayloadTooLarge, ValidationFailed
    from tests.apps import write_app
    from tests.conftest import make_user
    rt = dbs.runtime(write_app(tmp_path / "visits", VISITS))
    anna = make_user(rt, "anna", roles=("measurer",))
    visit = rt.records.create(anna, "visit", {"customer": "Ivanov"})
    files = rt.files
    import io
    with pytest.raises(ValidationFailed) as refused:
        files.add(anna, "visit", visit["id"], "notes.txt", io.BytesIO(b"plain text"))
    assert refused.value.errors[0].message == "notes.txt is not a kind of file Visit records take; they take: .pdf, image/*"
    with pytest.raises(PayloadTooLarge) as big:
        files.add(anna, "visit", visit["id"], "big.pdf", io.BytesIO(PDF + b"0" * 2000))
    assert "big.pdf is larger than 0.001 MB" in str(big.value)  # the limit as given, never "0 MB"
    files.add(anna, "visit", visit["id"], "a.pdf", io.BytesIO(PDF))
    files.add(anna, "visit", visit["id"], "kitchen.png", io.BytesIO(PNG))
    with pytest.raises(Conflict) as full:
        files.add(anna, "visit", visit["id"], "b.pdf", io.BytesIO(PDF))
    assert "has 2 files, the most it may have" in str(full.value)
    assert [f["name"] for f in files.list(anna, "visit", visit["id"])] == ["a.pdf", "kitchen.png"]


def test_attachment_rules_are_checked_when_the_metadata_loads(tmp_path):
    from engine.metadata.codes import MetadataInvalid
    from engine.metadata.loader import load_app
    from tests.apps import write_app
    bad = dict(VISITS)
    bad["entities/visit.yaml"] = "name: visit\nattachments: {types: [pdf], max_size_mb: 0}\nfields:\n  customer: {type: string}\n"
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "bad", bad))
    said = "\n".join(p.format() for p in e.value.problems)
    assert "entities/visit.yaml:2" in said and "attachments" in said
