"""Reports over the API (engine.reports.service, docs/reports.md):

- `GET /api/v1/reports`: the reports the token's user may run, with their filters and defaults.
- `GET /api/v1/reports/{name}?<filters>&lang=`: one run: {columns, rows, totals, defaults}, within
  the user's scope; a report they may not run is a 404.
- `GET /api/v1/reports/{name}.xlsx?<filters>&lang=`: the same run as a workbook."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.routes import _json, _language, _reading
from engine.app.runtime import Runtime
from engine.core.errors import Msg
from engine.core.i18n import localize
from engine.core.transfer import attachment
from engine.records.export import XLSX_TYPE
from engine.reports.export import report_xlsx

_NOT_FILTERS = ("lang",)


def make_report_routes(rt: Runtime) -> list[Route]:

    async def listed(request: Request):
        def work(actor):
            lang = _language(rt, request, actor)
            return {"items": [{"name": r.name, "label": r.label.get(lang), "description": r.description.get(lang) if r.description else None,
                               "chart": r.chart, "filters": [{"field": f.field, "default": f.default} for f in r.filters]}
                              for r in rt.reports.available(actor)]}
        return _json(await _reading(rt, request, work))

    async def run(request: Request):
        name = request.path_params["name"]
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in _NOT_FILTERS]
        return _json(await _reading(rt, request, lambda actor: rt.reports.run(actor, name, params, _language(rt, request, actor))))

    async def workbook(request: Request):
        name = request.path_params["name"]
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in _NOT_FILTERS]

        def work(actor):
            lang = _language(rt, request, actor)
            result = rt.reports.run(actor, name, params, lang)
            return report_xlsx(result, localize(Msg("Total"), lang)), result["label"]
        data, label = await _reading(rt, request, work)
        return Response(data, media_type=XLSX_TYPE, headers={"Content-Disposition": attachment(f"{label}.xlsx"), "X-Content-Type-Options": "nosniff"})

    return [Route("/api/v1/reports", listed, methods=["GET"]), Route("/api/v1/reports/{name}.xlsx", workbook, methods=["GET"]),
            Route("/api/v1/reports/{name}", run, methods=["GET"])]
