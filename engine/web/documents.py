"""The record page's Print menu: a document of the record as a PDF (engine.documents.render), in
the page's language and the user's time zone, as the user may read the record."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from engine.core.formats import Formatter
from engine.documents.render import PDF, pdf_headers, render
from engine.web.base import ScreenBase, _record_id


class DocumentScreens(ScreenBase):
    async def print_document(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = _record_id(request)
        lang = self.lang(request, actor)
        pdf, name = await run_in_threadpool(render, self.rt.records, actor, ent.name, rid, request.path_params["name"], lang,
                                            Formatter(lang, actor.time_zone or "UTC"))
        return Response(pdf, media_type=PDF, headers=pdf_headers(name))
