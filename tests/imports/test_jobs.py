"""Imports as jobs: a large file answered 202 and run by the task queue, its status and progress at
/api/v1/jobs/{id} for its owner only, a run that died started again without writing twice, the
errors sent back as the original file with an error column, a named transition fired from the
file, and one import_finished event per import that wrote."""
import csv
import datetime as dt
import io
import json

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select, update

from engine.app import tasks
from engine.imports import jobs
from engine.imports.importer import run_import
from engine.imports.sheets import read

ORDERS = ("order_ref,customer,lines.product,lines.quantity,lines.unit_price,transition\n"
          "A,East Pumps,P1,2,100,submit\n"
          "A,East Pumps,Pump,3,90,\n"
          "B,C1,P1,1,100,Отправить на согласование\n"
          "C,C1,P1,1,100,\n")


def events(rt, type_) -> list[dict]:
    e = rt.schema.event
    with rt.db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(e).where(e.c.type == type_).order_by(e.c.id))]
    return [{**r, "data": json.loads(r["data"]) if isinstance(r["data"], str) else r["data"]} for r in rows]


def test_a_transition_named_in_the_file_fires_if_the_user_may_and_one_event_says_the_import_finished(rt, people):
    boss = people["boss"].through("import")
    r = run_import(rt.records, boss, "sales_order", read(ORDERS.encode(), "o.csv"), file_name="o.csv")
    assert (r["created"], r["transitioned"], r["errors"]) == (3, 2, [])
    states = sorted(o["status"] for o in rt.records.list(boss, "sales_order", _q("owner", str(boss.id)))["items"])
    assert states == ["draft", "in_review", "in_review"]
    [done] = events(rt, "import_finished")
    assert (done["entity"], done["record_id"], done["data"]["created"], done["data"]["transitioned"], done["data"]["file"]) == \
        ("sales_order", None, 3, 2, "o.csv")
    a = rt.schema.audit
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(a).where(a.c.action == "import", a.c.via == "import")).scalar() == 1
    # a rep may not submit through the workflow's roles here? they may (relations: owner); an unknown name and a refused one are row errors
    rep = people["rep"].through("import")
    bad = ("order_ref,customer,lines.product,lines.quantity,lines.unit_price,transition\n"
           "D,East Pumps,P1,1,100,fly away\n"
           "E,East Pumps,P1,1,100,approve\n")
    r = run_import(rt.records, rep, "sales_order", read(bad.encode(), "o.csv"))
    assert r["created"] == 0 and [(e["row"], e["field"]) for e in r["errors"]] == [(2, "transition"), (3, "transition")]
    assert "no transition 'fly away'" in r["errors"][0]["message"] and "submit" in r["errors"][0]["message"]
    dry = run_import(rt.records, boss, "sales_order", read(ORDERS.encode(), "o.csv"), dry_run=True)
    assert dry["transitioned"] == 2 and len(events(rt, "import_finished")) == 1  # a dry run announces nothing


def _q(field, value):
    from engine.records.listing import ListQuery
    return ListQuery(filters=[(field, "eq", value)], limit=50)


def customers(n: int, bad_every: int = 0) -> bytes:
    rows = ["code,name,region"] + [f"K{i:05d},Customer {i},{'mars' if bad_every and i % bad_every == 0 else 'east'}" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def test_a_large_file_is_queued_202_and_its_job_says_how_it_went(rt, api, client, people, monkeypatch, tmp_path):
    monkeypatch.setenv("ENGINE_IMPORT_SYNC_ROWS", "5")
    queue = tasks.make_queue(rt, f"sqlite:///{tmp_path / 'tasks.db'}")
    consumer = tasks.start_embedded(queue)  # a real consumer thread with its SQLite queue, as `python run.py` runs
    try:
        r = api.post("/api/v1/customer/import?key=code", files={"file": ("big.csv", customers(40), "text/csv")})
        assert r.status_code == 202, r.text
        url = r.json()["status_url"]
        assert r.headers["location"] == url and url == f"/api/v1/jobs/{r.json()['job']}"
        job = _wait(api, url)
    finally:
        consumer.stop(graceful=True)
    assert (job["status"], job["created"], job["errors"], job["progress"]) == ("done", 40, [], {"done": 40, "total": 40})
    assert job["rows"] == 40 and job["dry_run"] is False and "errors_url" not in job
    rep_token = client.post("/api/v1/auth/token", json={"username": "rep", "password": "demo"}).json()["token"]
    assert client.get(url, headers={"Authorization": f"Bearer {rep_token}"}).status_code == 404  # only its owner sees a job
    assert client.get(url).status_code == 401
    assert api.get("/api/v1/jobs/999999").status_code == 404 and api.get("/api/v1/jobs/abc").status_code == 422
    small = api.post("/api/v1/customer/import?key=code", files={"file": ("small.csv", customers(3), "text/csv")})
    assert small.status_code == 200 and small.json()["unchanged"] == 3  # within the limit: answered in the request


def _wait(api, url, seconds=30) -> dict:
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        job = api.get(url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the job did not finish: {job}")


def test_a_run_that_died_is_started_again_and_writes_once(rt, clerk):
    job = jobs.upload(rt.records, clerk, "customer", customers(5), "c.csv", {"key": "code"})
    jobs.start(rt.records, clerk, job["id"], dry_run=False)
    t = rt.schema.import_job
    with rt.db.write() as conn:  # as if a worker had claimed it, then died an hour ago
        conn.execute(update(t).where(t.c.id == job["id"]).values(status="running", runs=1, started_at=rt.records.clock() - dt.timedelta(hours=1)))
    assert jobs.run(rt.records, job["id"]) is None  # not queued: nobody else runs it
    assert jobs.requeue_stale(rt.records) == [job["id"]]
    assert jobs.run(rt.records, job["id"]) == "done"
    assert jobs.get(rt.records, clerk, job["id"])["result"]["created"] == 5
    with pytest.raises(Exception, match="already"):
        jobs.start(rt.records, clerk, job["id"], dry_run=False)  # a file is imported once per upload


def test_a_run_overtaken_by_a_later_one_writes_nothing(rt, clerk):
    job = jobs.upload(rt.records, clerk, "customer", customers(3), "c.csv", {})
    jobs.start(rt.records, clerk, job["id"], dry_run=False)
    t = rt.schema.import_job

    class Overtaken:  # while this run works, another takes the job over (as if its heartbeat had gone quiet)
        def put(self, key, value):
            if value["done"] == value["total"] == 3:  # the last word, inside the import's transaction
                with rt.db.write() as conn:
                    conn.execute(update(t).where(t.c.id == job["id"]).values(runs=2))

        def get(self, key, peek=False):
            return None
    before = _count(rt)
    assert jobs.run(rt.records, job["id"], Overtaken()) is None
    assert _count(rt) == before  # its records went back with it


def _count(rt):
    c = rt.schema.tables["customer"]
    with rt.db.read() as conn:
        return conn.execute(select(func.count()).select_from(c)).scalar()


def test_errors_come_back_as_the_original_file_with_an_error_column(rt, api, people):
    text = "code;name;region\nK1;Один;east\nK2;Два;mars\nK3;;east\n"
    r = api.post("/api/v1/customer/import?key=code", files={"file": ("клиенты.csv", text.encode("cp1251"), "text/csv")},
                 headers={"Accept-Language": "ru"})
    assert r.status_code == 200 and r.json()["created"] == 0
    got = api.get(f"/api/v1/jobs/{r.json()['job']}/errors")
    assert got.status_code == 200 and "filename*=UTF-8''%D0%BA%D0%BB%D0%B8%D0%B5%D0%BD%D1%82%D1%8B.errors.csv" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.content.decode("cp1251")), delimiter=";"))  # its encoding and delimiter kept
    assert rows[0] == ["code", "name", "region", "Ошибки"] and [r[:3] for r in rows[1:]] == [["K1", "Один", "east"], ["K2", "Два", "mars"], ["K3", "", "east"]]
    assert rows[1][3] == "" and rows[2][3].startswith("region: ") and rows[3][3].startswith("name: ")
    # with skip_errors the good rows are written, and the file holds only the others: importing it again writes nothing twice
    r = api.post("/api/v1/customer/import?key=code&skip_errors=true", files={"file": ("c.xlsx", _xlsx(text), "x")})
    assert r.json()["created"] == 1
    got = api.get(f"/api/v1/jobs/{r.json()['job']}/errors")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(got.content)).get_sheet_by_index(0).to_python()
    assert sheet[0] == ["code", "name", "region", "Errors"] and [row[0] for row in sheet[1:]] == ["K2", "K3"]
    assert "mars" in sheet[1][3]
    clean = api.post("/api/v1/customer/import?key=code", files={"file": ("c.csv", b"code,name,region\nK9,Nine,east\n", "text/csv")})
    assert api.get(f"/api/v1/jobs/{clean.json()['job']}/errors").status_code == 404


def _xlsx(text: str) -> bytes:
    import xlsxwriter
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet()
    for i, line in enumerate(text.strip().split("\n")):
        sheet.write_row(i, 0, line.split(";"))
    book.close()
    return buf.getvalue()


def test_an_upload_without_a_length_is_cut_off_at_the_limit(api, monkeypatch):
    monkeypatch.setenv("ENGINE_IMPORT_MAX_MB", "0.01")  # 10 KB, plus room for the form's own parts
    boundary = "xYzZY"

    def body():  # chunked: no Content-Length tells the size in advance
        yield f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n".encode()
        yield b"code,name,region\n"
        for i in range(5000):
            yield f"K{i:05d},Customer {i},east\n".encode()
        yield f"\r\n--{boundary}--\r\n".encode()
    r = api.post("/api/v1/customer/import", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
