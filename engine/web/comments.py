"""Comments on a record page: write one (with @mentions offered as you type), edit your own for ten
minutes, delete your own (administrators any). Everything goes through engine.comments.service, so
the record's access decides, as in the API."""
from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine.core.errors import Conflict, Forbidden, Msg, NotFound, ValidationFailed
from engine.core.i18n import reason
from engine.core.values import parse_id
from engine.web import session
from engine.web.base import ScreenBase, _record_id


class CommentScreens(ScreenBase):
    async def add_comment(self, request: Request):
        """POST /{entity}/{id}/comments: back to the comments, or the record page with the reason and the text kept."""
        actor, ent, rid, form = await self._posted(request)
        text = str(form.get("text") or "")
        try:
            made = await run_in_threadpool(self.rt.comments.add, actor, ent.name, rid, text, form.get("shared") == "1")
        except ValidationFailed as exc:
            return await self.record_page(request, comments_error=reason(exc, self.lang(request, actor)), status=exc.status, comment_text=text,
                                          comment_shared=form.get("shared") == "1")
        return RedirectResponse(f"/{ent.name}/{rid}#comment-{made['id']}", status_code=303)

    async def edit_comment(self, request: Request):
        actor = await self.actor_or_login(request)
        cid = _comment_id(request)
        form = await request.form()
        session.check_csrf(request, form)
        found = await run_in_threadpool(self._comment, actor, cid)
        try:
            await run_in_threadpool(self.rt.comments.edit, actor, cid, str(form.get("text") or ""))
        except (Conflict, Forbidden, ValidationFailed) as exc:
            return await self._back(request, actor, found, exc)
        return RedirectResponse(f"/{found['entity']}/{found['record_id']}#comment-{cid}", status_code=303)

    async def delete_comment(self, request: Request):
        actor = await self.actor_or_login(request)
        cid = _comment_id(request)
        form = await request.form()
        session.check_csrf(request, form)
        found = await run_in_threadpool(self._comment, actor, cid)
        try:
            await run_in_threadpool(self.rt.comments.remove, actor, cid)
        except (Conflict, Forbidden) as exc:
            return await self._back(request, actor, found, exc)
        return RedirectResponse(f"/{found['entity']}/{found['record_id']}#activity", status_code=303)

    async def mentionable(self, request: Request):
        """GET /{entity}/{id}/mentions?q=an: the people who may read the record, for the @ list."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = _record_id(request)
        people = await run_in_threadpool(self.rt.comments.mentionable, actor, ent.name, rid, request.query_params.get("q", ""))
        return Response(json.dumps(people, ensure_ascii=False), media_type="application/json")

    def _comment(self, actor, cid: int) -> dict:
        return self.rt.comments.get(actor, cid)

    async def _back(self, request: Request, actor, found: dict, exc):
        request.scope["path_params"] = {"entity": found["entity"], "id": str(found["record_id"])}
        return await self.record_page(request, comments_error=reason(exc, self.lang(request, actor)), status=exc.status)


def _comment_id(request: Request) -> int:
    found = parse_id(request.path_params["id"])
    if found is None:
        raise NotFound(Msg("no comment with id %(id)s", id=request.path_params["id"]))
    return found
