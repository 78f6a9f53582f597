"""Attachments over the API (engine.files.attachments):

- `POST /api/v1/{entity}/{id}/attachments` (multipart field `file`; `shared=true` shares it with the
  record's party) -> 201 {id, name, size, content_type, sha256, url, shared, ...}: needs update access
  to the record; a body larger than the entity's limit is refused (413) while it streams in.
- `GET /api/v1/{entity}/{id}/attachments`: the record's files, for whoever may read it (a party's
  contact: the shared ones).
- `GET /api/v1/attachments/{id}`: the file, always as a download (`Content-Disposition: attachment`
  with its Unicode name, `X-Content-Type-Options: nosniff`); `?inline=1` shows images and PDFs in
  the browser, and nothing else.
- `DELETE /api/v1/attachments/{id}` -> 204: needs update access to the record.
- `PUT /api/v1/{entity}/{id}/files/{field}` (multipart field `file`, optional field `version`) sets a
  file field (`/files/{table}/{line id}/{field}` a line's) through the record service -> 200 and the
  record; `DELETE` on the same path clears it (`?version=` optional). A file field's value in a
  record reads {id, name, size, content_type, url, image, inline}; the file downloads from its url.
A record outside the caller's scope, and so each of its files, is a 404."""
from __future__ import annotations

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from engine.api.routes import _actor, _json, _path_id, _reading, _record_id, shown
from engine.app.runtime import Runtime
from engine.core.errors import BadRequest, FieldError, Msg, NotFound, PayloadTooLarge, ValidationFailed
from engine.core.transfer import capped, megabytes
from engine.core.values import NewFile, parse_id, query_flag
from engine.files.attachments import default_max_bytes, download_headers

SLACK = 65536  # the multipart envelope around the file


def download(found: dict, chunks, want_inline: bool) -> StreamingResponse:
    """The response that hands a file over (engine.files.attachments.download_headers), streamed."""
    media, headers = download_headers(found, want_inline)
    return StreamingResponse(iterate_in_threadpool(chunks), media_type=media, headers=headers)


async def read_upload(request: Request, limit: int):
    """The multipart field `file` of a request, counted while it streams in (413 past `limit`)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + SLACK:
        raise PayloadTooLarge(Msg("the file is larger than %(limit)s MB, the most a file here may be", limit=megabytes(limit)))
    try:
        form = await Request(request.scope, capped(request.receive, limit + SLACK)).form(max_files=1, max_fields=5)
    except PayloadTooLarge:
        raise
    except Exception:
        raise BadRequest(Msg("send the file as multipart/form-data in the field 'file'")) from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ValidationFailed([FieldError("file", Msg("send the file in the multipart field 'file'"))])
    return form, upload



def make_file_routes(rt: Runtime) -> list[Route]:

    async def add(request: Request):
        entity, rid = request.path_params["entity"], _record_id(request)
        actor = await run_in_threadpool(_actor, rt, request)  # known before the body is read
        files = rt.files
        limit = await run_in_threadpool(files.max_bytes, entity)
        form, upload = await read_upload(request, limit)
        try:
            made = await run_in_threadpool(files.add, actor, entity, rid, upload.filename or "", upload.file, form.get("shared") == "true")
        finally:
            await upload.close()
        return _json(made, 201)

    async def listed(request: Request):
        entity, rid = request.path_params["entity"], _record_id(request)
        return _json({"items": await _reading(rt, request, lambda actor: rt.files.list(actor, entity, rid))})

    async def get(request: Request):
        aid = _path_id(request)
        want = query_flag(request.query_params.get("inline"))
        if want is None:
            raise ValidationFailed([FieldError("inline", Msg("true or false"))])
        actor = await run_in_threadpool(_actor, rt, request)
        found, chunks = await run_in_threadpool(rt.files.content, actor, aid)
        return download(found, chunks, want)

    async def remove(request: Request):
        aid = _path_id(request)
        actor = await run_in_threadpool(_actor, rt, request)
        await run_in_threadpool(rt.files.remove, actor, aid)
        return Response(status_code=204)

    def field_of(entity: str, path: list[str]):
        """(entity, the file field, the line table or None) a file route names: `drawing`, or `lines/12/drawing`."""
        ent = rt.records.entity(entity)
        table = None
        if len(path) == 3:
            tf = ent.fields.get(path[0])
            if tf is None or tf.type != "table":
                raise NotFound(Msg("%(entity)s has no table '%(table)s'", entity=ent.name, table=path[0][:64]))
            table, line_id = path[0], parse_id(path[1])
            if line_id is None:
                raise ValidationFailed([FieldError("line", Msg("expected a line id (a whole number)"))])
            owner = rt.app.entity(tf.entity)
        elif len(path) == 1:
            owner, line_id = ent, None
        else:
            raise NotFound(Msg("name a file field: /files/{field}, or a line's: /files/{table}/{line id}/{field}"))
        f = owner.fields.get(path[-1])
        if f is None or f.type != "file":
            raise NotFound(Msg("%(entity)s has no file field '%(field)s'", entity=owner.name, field=path[-1][:64]))
        return ent, f, table, line_id

    def set_file(actor, ent, f, table, line_id, rid, value, version):
        """The file field set to `value` (a NewFile, or None) through the record service; the record as the API shows it."""
        current = rt.records.get(actor, ent.name, rid)
        if version is None:
            version = current["version"]
        if table is None:
            data = {f.name: value}
        else:
            lines = current.get(table) or []
            if not any(line["id"] == line_id for line in lines):
                raise NotFound(Msg("line %(line)s is not a line of this record", line=line_id))
            data = {table: [{"id": line["id"], **({f.name: value} if line["id"] == line_id else {})} for line in lines]}
        return shown(rt, ent, rt.records.update(actor, ent.name, rid, data, version))

    async def put_field(request: Request):
        rid = _record_id(request)
        actor = await run_in_threadpool(_actor, rt, request)
        ent, f, table, line_id = field_of(request.path_params["entity"], request.path_params["path"].split("/"))
        limit = (f.accepts.max_bytes if f.accepts else None) or default_max_bytes()
        form, upload = await read_upload(request, limit)
        version = form.get("version")
        if version is not None and parse_id(version) is None:
            raise ValidationFailed([FieldError("version", Msg("expected a whole number, the version you last read"))])
        try:
            out = await run_in_threadpool(set_file, actor, ent, f, table, line_id, rid, NewFile(upload.filename or "", upload.file),
                                          parse_id(version) if version is not None else None)
        finally:
            await upload.close()
        return _json(out)

    async def clear_field(request: Request):
        rid = _record_id(request)
        actor = await run_in_threadpool(_actor, rt, request)
        ent, f, table, line_id = field_of(request.path_params["entity"], request.path_params["path"].split("/"))
        version = request.query_params.get("version")
        if version is not None and parse_id(version) is None:
            raise ValidationFailed([FieldError("version", Msg("expected a whole number, the version you last read"))])
        return _json(await run_in_threadpool(set_file, actor, ent, f, table, line_id, rid, None, parse_id(version) if version else None))

    return [Route("/api/v1/attachments/{id}", get, methods=["GET"]),
            Route("/api/v1/{entity}/{id}/files/{path:path}", put_field, methods=["PUT"]),
            Route("/api/v1/{entity}/{id}/files/{path:path}", clear_field, methods=["DELETE"]),
            Route("/api/v1/attachments/{id}", remove, methods=["DELETE"]),
            Route("/api/v1/{entity}/{id}/attachments", add, methods=["POST"]),
            Route("/api/v1/{entity}/{id}/attachments", listed, methods=["GET"])]
