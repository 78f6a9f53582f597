"""Imports over the API (engine.imports.jobs):

- `POST /api/v1/{entity}/import`: a spreadsheet (multipart field `file`) imported as the token's
  user - `dry_run`, `skip_errors`, `key`, `encoding`, `delimiter` in the query. A file of up to
  ENGINE_IMPORT_SYNC_ROWS rows (default 1,000) is imported within the request: 200
  {dry_run, created, updated, unchanged, transitioned, errors, changes, job}. A larger one, where a
  task queue runs, is queued: 202 {job, status_url}. A body larger than the import limit is refused
  (413) before it is read.
- `GET /api/v1/jobs/{id}`: the job's status (queued, running, done, failed), progress, and once
  done the same result fields; only for the user who started it.
- `GET /api/v1/jobs/{id}/errors`: the file with an error column (engine.imports.errors_file).
- `GET /api/v1/{entity}/import-template.xlsx`: the columns to fill, an example row, what each takes.
Errors are in the request's language."""
from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.routes import _actor, _path_id
from engine.app.runtime import Runtime
from engine.core.errors import BadRequest, FieldError, Msg, PayloadTooLarge, ValidationFailed
from engine.core.i18n import negotiate
from engine.core.settings import positive_number
from engine.core.transfer import attachment, capped
from engine.core.values import query_flag
from engine.imports import jobs, sheets, template
from engine.records.export import XLSX_TYPE

RESULT = ("dry_run", "created", "updated", "unchanged", "transitioned", "errors", "changes")


def sync_rows() -> int:
    """How many rows an import may have to run within its request (ENGINE_IMPORT_SYNC_ROWS, default 1,000)."""
    return int(positive_number("ENGINE_IMPORT_SYNC_ROWS", 1000))


def job_json(job: dict) -> dict:
    """A job as the API shows it."""
    out = {"id": job["id"], "kind": "import", "entity": job["entity"], "file_name": job["file_name"], "rows": job["rows"],
           "status": job["status"], "dry_run": job["dry_run"], "progress": job.get("progress"), "error": job["error"],
           "created_at": job["created_at"], "started_at": job["started_at"], "finished_at": job["finished_at"]}
    if job["status"] == "done" and job["result"]:
        out.update({k: job["result"].get(k) for k in RESULT})
        if job["result"]["errors"]:
            out["errors_url"] = f"/api/v1/jobs/{job['id']}/errors"
    return out


def _json(data: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=str), status_code=status, media_type="application/json", headers=headers)


def make_import_routes(rt: Runtime) -> list[Route]:

    async def import_(request: Request):
        entity = request.path_params["entity"]
        q = request.query_params
        errors = [FieldError(k, Msg("true or false")) for k in ("dry_run", "skip_errors") if query_flag(q.get(k)) is None]
        if errors:
            raise ValidationFailed(errors)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > sheets.max_bytes() + 65536:
            raise PayloadTooLarge(Msg("the file is larger than %(limit)s MB, the most an import takes (ENGINE_IMPORT_MAX_MB)",
                                      limit=round(sheets.max_bytes() / 1048576)))
        actor = await run_in_threadpool(_actor, rt, request)  # known before the body is read: a stranger's upload is not parsed
        try:  # counted as it streams in: a body without a Content-Length stops at the limit too
            form = await Request(request.scope, capped(request.receive, sheets.max_bytes() + 65536)).form(max_files=1, max_fields=5)
        except PayloadTooLarge:
            raise
        except Exception:  # a body that is not multipart/form-data
            raise BadRequest(Msg("send the file as multipart/form-data in the field 'file'")) from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed([FieldError("file", Msg("send the spreadsheet (.xlsx or .csv) in the multipart field 'file'"))])
        data = await upload.read(sheets.max_bytes() + 1)  # a body without a length is cut at the limit: sheets.read refuses it
        lang = negotiate(request.headers.get("accept-language"), rt.app.languages, "en")
        dry_run = query_flag(q.get("dry_run"))
        options = {"key": q.get("key"), "skip_errors": query_flag(q.get("skip_errors")), "encoding": q.get("encoding"),
                   "delimiter": q.get("delimiter"), "lang": lang}
        records = rt.records
        job = await run_in_threadpool(jobs.upload, records, actor, entity, data, upload.filename or "", options)
        await run_in_threadpool(jobs.start, records, actor, job["id"], dry_run)
        queue = rt.queue
        if queue is not None and job["rows"] > sync_rows():
            queue.import_job(job["id"])
            url = f"/api/v1/jobs/{job['id']}"
            return _json({"job": job["id"], "status_url": url}, 202, {"Location": url})
        await run_in_threadpool(jobs.run, records, job["id"])
        done = await run_in_threadpool(jobs.get, records, actor, job["id"])
        if done["status"] == "failed":
            raise BadRequest(done["error"])
        return _json({**{k: done["result"][k] for k in RESULT}, "job": job["id"]})

    async def job(request: Request):
        actor = await run_in_threadpool(_actor, rt, request)
        found = await run_in_threadpool(jobs.get, rt.records, actor, _path_id(request), rt.queue)
        return _json(job_json(found))

    async def job_errors(request: Request):
        actor = await run_in_threadpool(_actor, rt, request)
        data, media, name = await run_in_threadpool(jobs.errors_download, rt.records, actor, _path_id(request))
        return Response(data, media_type=media, headers={"Content-Disposition": attachment(name)})

    async def import_template(request: Request):
        actor = await run_in_threadpool(_actor, rt, request)
        lang = request.query_params.get("lang") or negotiate(request.headers.get("accept-language"), rt.app.languages, "en")
        name = request.path_params["entity"]
        data = await run_in_threadpool(template.template, rt.records, actor, name, lang)
        return Response(data, media_type=XLSX_TYPE, headers={"Content-Disposition": attachment(f"{name}.template.xlsx")})

    return [Route("/api/v1/{entity}/import", import_, methods=["POST"]),
            Route("/api/v1/{entity}/import-template.xlsx", import_template, methods=["GET"]),
            Route("/api/v1/jobs/{id}", job, methods=["GET"]),
            Route("/api/v1/jobs/{id}/errors", job_errors, methods=["GET"])]
