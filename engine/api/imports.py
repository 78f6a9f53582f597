"""POST /api/v1/{entity}/import: a spreadsheet (multipart field `file`) imported as the token's
user through engine.imports - `dry_run`, `skip_errors` and `key` in the query; the answer is
{dry_run, created, updated, unchanged, errors, changes}, errors in the request's language. A body
larger than the import limit is refused (413) before it is read."""
from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.routes import _actor
from engine.app.runtime import Runtime
from engine.core.errors import BadRequest, FieldError, Msg, PayloadTooLarge, ValidationFailed
from engine.core.i18n import negotiate
from engine.imports import importer, sheets

_FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


def make_import_routes(rt: Runtime) -> list[Route]:

    async def import_(request: Request):
        entity = request.path_params["entity"]
        q = request.query_params
        errors = [FieldError(k, Msg("true or false")) for k in ("dry_run", "skip_errors") if q.get(k, "").lower() not in _FLAGS]
        if errors:
            raise ValidationFailed(errors)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > sheets.max_bytes() + 65536:
            raise PayloadTooLarge(Msg("the file is larger than %(limit)s MB, the most an import takes (ENGINE_IMPORT_MAX_MB)",
                                      limit=round(sheets.max_bytes() / 1048576)))
        actor = await run_in_threadpool(_actor, rt, request)  # known before the body is read: a stranger's upload is not parsed
        try:
            form = await request.form(max_files=1, max_fields=5)
        except Exception:  # a body that is not multipart/form-data
            raise BadRequest(Msg("send the file as multipart/form-data in the field 'file'")) from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed([FieldError("file", Msg("send the spreadsheet (.xlsx or .csv) in the multipart field 'file'"))])
        data = await upload.read()
        lang = negotiate(request.headers.get("accept-language"), rt.app.languages, "en")

        def work():
            sheet = sheets.read(data, upload.filename or "", q.get("encoding") or None, q.get("delimiter") or None)
            return importer.run_import(rt.records, actor.through("import"), entity, sheet, key=q.get("key") or None,
                                       dry_run=_FLAGS[q.get("dry_run", "").lower()], skip_errors=_FLAGS[q.get("skip_errors", "").lower()],
                                       lang=lang)
        result = await run_in_threadpool(work)
        return Response(json.dumps(result, ensure_ascii=False, default=str), media_type="application/json")

    return [Route("/api/v1/{entity}/import", import_, methods=["POST"])]

