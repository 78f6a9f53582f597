"""Imports as jobs: the uploaded file is kept in the database (sys_import) so that any process or
host can run it, as the user who uploaded it, in the background or at once.

An import job is uploaded (the file read and checked, nothing run), then started - as a dry run or
for real, with the key, the column mapping and the other options - any number of times: a dry run
first, then the real one. A run claims the job with a compare-and-set (`queued` -> `running`, its
run number), and writes its result in the import's own transaction, only if it is still the job's
last run: an import is one transaction, so a run that died wrote nothing, and a run started again
after it (`requeue_stale`) cannot write twice.

Progress (records done of all) lives beside the queue (`progress`, a key-value store such as the
Huey instance's), because the database is busy with the import's transaction: on SQLite no other
connection could write it until the end. It also serves as the run's heartbeat.

Only the user who uploaded a job sees it (404 for everyone else). Jobs are kept for
ENGINE_IMPORT_KEEP_DAYS (default 7), then removed with their files (`prune`)."""
from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import delete, or_, select, update

from engine.access.users import actor_for_id
from engine.core.actor import Actor
from engine.core.errors import Conflict, EngineError, FieldError, Msg, NotFound, ValidationFailed
from engine.core.i18n import localize
from engine.core.settings import positive_number
from engine.imports import errors_file, importer, sheets
from engine.records.service import Records

log = logging.getLogger("engine.imports")

HEARTBEAT = 300  # seconds without a word from a running import before it is taken for dead and run again
OPTIONS = ("key", "skip_errors", "mapping", "encoding", "delimiter", "lang")


class Lost(Exception):
    """A run found that a later run of its job took over: it must write nothing."""


def upload(records: Records, actor: Actor, entity: str, data: bytes, file_name: str, options: dict | None = None) -> dict:
    """Keep an uploaded file as a new job of `actor` (who needs `import` on `entity`), once it reads as a
    spreadsheet (BadRequest otherwise); the job, with the file's header and a few rows to show."""
    ent = records.entity(entity)
    records.permissions.require(actor, ent.name, "import")
    opts = _options(records, ent, options or {})
    sheet = sheets.read(data, file_name, opts.get("encoding"), opts.get("delimiter"))
    t = records.schema.import_job
    with records.db.write() as conn:
        kept = saved_mapping(conn, records, actor, ent.name)
        if kept and "mapping" not in opts:  # the user's kept mapping, for the columns this file has
            opts["mapping"] = {title: kept[title] for title in sheet.header if title in kept}
        job_id = conn.execute(t.insert(), {
            "user_id": actor.id, "entity": ent.name, "file_name": (file_name or "upload")[:255], "content": data, "size": len(data),
            "rows": len(sheet.rows), "preview": _preview(sheet), "options": opts, "dry_run": False, "status": "uploaded", "runs": 0,
            "created_at": records.clock()}).inserted_primary_key[0]
    return get(records, actor, job_id)


def saved_mapping(conn, records: Records, actor: Actor, entity: str) -> dict:
    m = records.schema.import_mapping
    return conn.execute(select(m.c.mapping).where(m.c.user_id == actor.id, m.c.entity == entity)).scalar() or {}


def keep_mapping(records: Records, actor: Actor, entity: str, mapping: dict) -> None:
    """Keep `mapping` as the actor's for `entity`, laid over what they kept before (other files' columns stay)."""
    m = records.schema.import_mapping
    with records.db.write() as conn:
        merged = {**saved_mapping(conn, records, actor, entity), **mapping}
        merged = dict(list(merged.items())[-500:])  # bounded: the columns of the last files
        changed = conn.execute(update(m).where(m.c.user_id == actor.id, m.c.entity == entity)
                               .values(mapping=merged, updated_at=records.clock())).rowcount
        if not changed:
            conn.execute(m.insert(), {"user_id": actor.id, "entity": entity, "mapping": merged, "updated_at": records.clock()})


def _options(records: Records, ent, options: dict) -> dict:
    out = {k: v for k, v in options.items() if k in OPTIONS and v not in (None, "")}
    key = out.get("key")
    if key is not None and (key not in ent.fields or not ent.fields[key].unique):
        raise ValidationFailed([FieldError("key", Msg("'%(key)s' is not a unique field of %(entity)s; the key finds the record to update",
                                                      key=key, entity=ent.name))])
    mapping = out.get("mapping")
    if mapping is not None and (not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())):
        raise ValidationFailed([FieldError("mapping", Msg("a mapping is {column: field}, both texts"))])
    out["skip_errors"] = bool(out.get("skip_errors"))
    return out


def _row(records: Records, actor: Actor, job_id: int, conn=None) -> dict:
    t = records.schema.import_job
    stmt = select(*[c for c in t.c if c.name != "content"]).where(t.c.id == job_id, t.c.user_id == actor.id)
    if conn is not None:
        row = conn.execute(stmt).mappings().first()
    else:
        with records.db.read() as c:
            row = c.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(Msg("there is no import %(id)s of yours", id=job_id))
    return dict(row)


def get(records: Records, actor: Actor, job_id: int, progress=None) -> dict:
    """The job as its owner sees it: status, options, the counts and errors when done, and how far a run has got."""
    job = _row(records, actor, job_id)
    job["progress"] = {"done": 0, "total": 0}
    if job["status"] == "running" and progress is not None:
        said = progress.get(_key(job_id), peek=True) or {}
        job["progress"] = {"done": said.get("done", 0), "total": said.get("total", 0)}
    elif job["status"] == "done" and job["result"]:
        n = job["result"].get("records", 0)
        job["progress"] = {"done": n, "total": n}
    return job


def recent(records: Records, actor: Actor, entity: str, n: int = 10) -> list[dict]:
    """The actor's last `n` imports into `entity`, newest first (without their files)."""
    t = records.schema.import_job
    cols = [t.c.id, t.c.file_name, t.c.rows, t.c.status, t.c.dry_run, t.c.result, t.c.created_at, t.c.finished_at]
    with records.db.read() as conn:
        return [dict(r) for r in conn.execute(select(*cols).where(t.c.user_id == actor.id, t.c.entity == entity)
                                              .order_by(t.c.id.desc()).limit(n)).mappings()]


SAMPLES = 3


def _preview(sheet: sheets.Sheet) -> dict:
    """The header and the first rows as text (kept with the job: the mapping screen does not read the file again)."""
    def text(v):
        return "" if v is None else v.isoformat() if hasattr(v, "isoformat") else str(v)
    return {"header": sheet.header, "samples": [[text(v)[:100] for v in cells] for _, cells in sheet.rows[:SAMPLES]]}


def sample(records: Records, actor: Actor, job_id: int) -> tuple[list[str], list[list], importer.Columns]:
    """The file's header, its first rows, and how its columns map with the job's mapping (for the mapping screen)."""
    job = _row(records, actor, job_id)
    header = job["preview"]["header"]
    return header, job["preview"]["samples"], importer.map_columns(records, records.entity(job["entity"]), header, job["options"].get("mapping"))


def _sheet(records: Records, job: dict) -> sheets.Sheet:
    t = records.schema.import_job
    with records.db.read() as conn:
        content = conn.execute(select(t.c.content).where(t.c.id == job["id"])).scalar_one()
    opts = job["options"]
    return sheets.read(content, job["file_name"], opts.get("encoding"), opts.get("delimiter"))


def start(records: Records, actor: Actor, job_id: int, dry_run: bool, options: dict | None = None) -> dict:
    """Queue a run of the job (a dry run, or the real one) with these options laid over the job's; Conflict
    while a run is queued or running, or after the job has written its records."""
    t = records.schema.import_job
    with records.db.write() as conn:
        job = _row(records, actor, job_id, conn)
        if job["status"] in ("queued", "running"):
            raise Conflict(Msg("this import is already running; wait for it to finish"))
        if wrote(job):
            raise Conflict(Msg("this file has been imported already; upload it again to import it again"))
        opts = _options(records, records.entity(job["entity"]), {**job["options"], **(options or {})})
        conn.execute(update(t).where(t.c.id == job_id).values(status="queued", dry_run=dry_run, options=opts, result=None, error=None,
                                                             started_at=None, finished_at=None))
    return {**job, "status": "queued", "dry_run": dry_run, "options": opts}


def wrote(job: dict) -> bool:
    """Has the job's last run written records (not a dry run, not a file that wrote nothing)?"""
    result = job["result"] or {}
    return job["status"] == "done" and not result.get("dry_run", True) and bool(
        result.get("created") or result.get("updated") or result.get("transitioned"))


def run(records: Records, job_id: int, progress=None) -> str | None:
    """Run a queued job (or one whose run died) to its end, as its user; its status after, or None when
    another run has it (or nobody queued it)."""
    t = records.schema.import_job
    now = records.clock()
    with records.db.write() as conn:
        job = conn.execute(select(t.c.runs, t.c.status).where(t.c.id == job_id)).first()
        if job is None or job.status != "queued":
            return None
        claimed = conn.execute(update(t).where(t.c.id == job_id, t.c.status == "queued", t.c.runs == job.runs)
                               .values(status="running", runs=job.runs + 1, started_at=now)).rowcount
    if claimed != 1:
        return None
    run_no = job.runs + 1
    with records.db.read() as conn:
        row = dict(conn.execute(select(t).where(t.c.id == job_id)).mappings().one())
        actor = actor_for_id(conn, records.schema, row["user_id"], via="import")
    opts = row["options"]
    lang = opts.get("lang") or (actor.language if actor else None) or "en"

    said_at = 0.0

    def heard(done: int, total: int):
        nonlocal said_at
        if progress is not None and (done in (0, total) or time.monotonic() - said_at > 0.5):
            said_at = time.monotonic()
            progress.put(_key(job_id), {"done": done, "total": total, "at": time.time()})

    def seal(result: dict):  # in the import's transaction: the result is written with the records, or neither is
        with records.db.write() as conn:
            if conn.execute(update(t).where(t.c.id == job_id, t.c.runs == run_no, t.c.status == "running")
                            .values(status="done", result=result, finished_at=records.clock())).rowcount != 1:
                raise Lost()

    heard(0, row["rows"])
    try:
        if actor is None:
            raise NotFound(Msg("the user who started this import is no longer active"))
        sheet = sheets.read(row["content"], row["file_name"], opts.get("encoding"), opts.get("delimiter"))
        result = importer.run_import(records, actor, row["entity"], sheet, key=opts.get("key"), dry_run=row["dry_run"],
                                     skip_errors=opts.get("skip_errors", False), mapping=opts.get("mapping"), lang=lang,
                                     progress=heard, seal=seal, file_name=row["file_name"], job=job_id)
    except Lost:
        return None
    except EngineError as exc:
        return _finish(records, job_id, run_no, "failed", error=localize(exc.reason, lang))
    except Exception:
        log.exception("import %s stopped", job_id)
        return _finish(records, job_id, run_no, "failed", error=localize(Msg("the import stopped on an error of the server; nothing was "
                                                                             "written. Tell your administrator (the log says why)"), lang))
    finally:
        if progress is not None:
            progress.get(_key(job_id))  # taken out: the job's row says the rest
    return _finish(records, job_id, run_no, "done", result=result)


def _finish(records: Records, job_id: int, run_no: int, status: str, **values) -> str:
    """The end of a run that wrote nothing (a dry run, a file with errors, a failure); a sealed run is left as it is."""
    t = records.schema.import_job
    with records.db.write() as conn:
        conn.execute(update(t).where(t.c.id == job_id, t.c.runs == run_no, t.c.status == "running")
                     .values(status=status, finished_at=records.clock(), **values))
    return status


def _key(job_id: int) -> str:
    return f"import-progress-{job_id}"


def requeue_stale(records: Records, progress=None) -> list[int]:
    """Jobs whose run went silent (its process died): queued again. An import is one transaction, so a
    dead run wrote nothing. Also jobs queued a minute ago that no worker took (the queue lost them).
    The ids to hand to the queue."""
    t = records.schema.import_job
    now = records.clock()
    out = []
    with records.db.write() as conn:
        rows = conn.execute(select(t.c.id, t.c.status, t.c.runs, t.c.started_at)
                            .where(or_(t.c.status == "running", t.c.status == "queued"))).all()
        for r in rows:
            if r.status == "queued":
                out.append(r.id)
                continue
            said = progress.get(_key(r.id), peek=True) if progress is not None else None
            last = said["at"] if said else (r.started_at.timestamp() if r.started_at else 0)
            if now.timestamp() - last > HEARTBEAT:
                conn.execute(update(t).where(t.c.id == r.id, t.c.runs == r.runs, t.c.status == "running").values(status="queued"))
                out.append(r.id)
    return out


def prune(records: Records) -> int:
    """Forget jobs (and their files) older than ENGINE_IMPORT_KEEP_DAYS (default 7); how many."""
    t = records.schema.import_job
    before = records.clock() - dt.timedelta(days=positive_number("ENGINE_IMPORT_KEEP_DAYS", 7))
    with records.db.write() as conn:
        return conn.execute(delete(t).where(t.c.created_at < before, t.c.status.notin_(("queued", "running")))).rowcount


def errors_download(records: Records, actor: Actor, job_id: int) -> tuple[bytes, str, str]:
    """(bytes, media type, file name) of the job's file with an error column (errors_file)."""
    job = _row(records, actor, job_id)
    if job["status"] != "done" or not job["result"] or not job["result"]["errors"]:
        raise NotFound(Msg("this import has no errors to download"))
    sheet = _sheet(records, job)
    opts, result = job["options"], job["result"]
    lang = opts.get("lang") or "en"
    only_failed = bool(opts.get("skip_errors")) and not result["dry_run"]
    groups = importer.record_rows(records, job["entity"], sheet, opts.get("key"), opts.get("mapping")) if only_failed else None
    data, media = errors_file.errors_file(sheet, result["errors"], lang, only_failed, groups)
    stem = job["file_name"].rsplit(".", 1)[0] or "import"
    return data, media, f"{stem}.errors.{'csv' if sheet.kind == 'csv' else 'xlsx'}"

