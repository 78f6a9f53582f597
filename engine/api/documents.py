"""Printed documents over the API (engine.documents.render): `GET /api/v1/{entity}/{id}/document/{name}.pdf`
gives the record as a PDF, as the token's user may read it (their scope: 404 outside; their field
rules: a hidden field never prints), in the request's language (`?lang=` or Accept-Language)."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.routes import _actor, _language, _record_id
from engine.app.runtime import Runtime
from engine.core.formats import Formatter
from engine.documents.render import PDF, pdf_headers, render


def make_document_routes(rt: Runtime) -> list[Route]:

    async def document(request: Request):
        entity, rid, name = request.path_params["entity"], _record_id(request), request.path_params["name"]
        actor = await run_in_threadpool(_actor, rt, request)
        lang = _language(rt, request, actor)
        pdf, file_name = await run_in_threadpool(render, rt.records, actor, entity, rid, name, lang, Formatter(lang, actor.time_zone or "UTC"))
        return Response(pdf, media_type=PDF, headers=pdf_headers(file_name))

    return [Route("/api/v1/{entity}/{id}/document/{name}.pdf", document, methods=["GET"])]
