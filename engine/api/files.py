"""Attachments over the API (engine.files.attachments):

- `POST /api/v1/{entity}/{id}/attachments` (multipart field `file`) -> 201 {id, name, size,
  content_type, sha256, url, ...}: needs update access to the record; a body larger than the
  entity's limit is refused (413) while it streams in.
- `GET /api/v1/{entity}/{id}/attachments`: the record's files, for whoever may read it.
- `GET /api/v1/attachments/{id}`: the file, always as a download (`Content-Disposition: attachment`
  with its Unicode name, `X-Content-Type-Options: nosniff`); `?inline=1` shows images and PDFs in
  the browser, and nothing else.
- `DELETE /api/v1/attachments/{id}` -> 204: needs update access to the record.
A record outside the caller's scope, and so each of its files, is a 404."""
from __future__ import annotations

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from engine.api.routes import _actor, _json, _path_id, _reading, _record_id
from engine.app.runtime import Runtime
from engine.core.errors import BadRequest, FieldError, Msg, PayloadTooLarge, ValidationFailed
from engine.core.transfer import capped, megabytes
from engine.core.values import query_flag
from engine.files.attachments import download_headers

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
        _, upload = await read_upload(request, limit)
        try:
            made = await run_in_threadpool(files.add, actor, entity, rid, upload.filename or "", upload.file)
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

    return [Route("/api/v1/attachments/{id}", get, methods=["GET"]),
            Route("/api/v1/attachments/{id}", remove, methods=["DELETE"]),
            Route("/api/v1/{entity}/{id}/attachments", add, methods=["POST"]),
            Route("/api/v1/{entity}/{id}/attachments", listed, methods=["GET"])]
