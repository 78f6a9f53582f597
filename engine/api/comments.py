"""Comments over the API (engine.comments.service):

- `POST /api/v1/{entity}/{id}/comments` {"text", "shared"} -> 201 the comment: for whoever may read the record
  (`shared: true` makes it part of the conversation with the record's party; a portal user's always is);
  an @mention of someone who may not read it is refused (422) and tells them nothing.
- `GET /api/v1/{entity}/{id}/comments`: the record's comments, oldest first (`html` is the text
  rendered safely; `may_edit`, `may_delete` say what the caller may do).
- `PATCH /api/v1/comments/{id}` {"text"}: its author, within 10 minutes. `DELETE /api/v1/comments/{id}`:
  its author or an administrator.
A record outside the caller's scope, and so each of its comments, is a 404."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.body import read_json
from engine.api.routes import _actor, _json, _path_id, _reading, _record_id
from engine.app.runtime import Runtime
from engine.core.errors import FieldError, Msg, ValidationFailed


def _text_of(body) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise ValidationFailed([FieldError("text", Msg("send {\"text\": ...}"))])
    return body["text"]


def make_comment_routes(rt: Runtime) -> list[Route]:

    async def add(request: Request):
        entity, rid = request.path_params["entity"], _record_id(request)
        actor = await run_in_threadpool(_actor, rt, request)
        body = await read_json(request)
        text = _text_of(body)
        if "shared" in body and not isinstance(body["shared"], bool):
            raise ValidationFailed([FieldError("shared", Msg("expected true or false"))])
        return _json(await run_in_threadpool(rt.comments.add, actor, entity, rid, text, body.get("shared") is True), 201)

    async def listed(request: Request):
        entity, rid = request.path_params["entity"], _record_id(request)
        return _json({"items": await _reading(rt, request, lambda actor: rt.comments.list(actor, entity, rid))})

    async def edit(request: Request):
        cid = _path_id(request)
        actor = await run_in_threadpool(_actor, rt, request)
        text = _text_of(await read_json(request))
        return _json(await run_in_threadpool(rt.comments.edit, actor, cid, text))

    async def remove(request: Request):
        cid = _path_id(request)
        actor = await run_in_threadpool(_actor, rt, request)
        await run_in_threadpool(rt.comments.remove, actor, cid)
        return Response(status_code=204)

    return [Route("/api/v1/comments/{id}", edit, methods=["PATCH"]),
            Route("/api/v1/comments/{id}", remove, methods=["DELETE"]),
            Route("/api/v1/{entity}/{id}/comments", add, methods=["POST"]),
            Route("/api/v1/{entity}/{id}/comments", listed, methods=["GET"])]
