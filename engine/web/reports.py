"""The reports on screen: the list of those the user may run, and one report - its filters, a chart
(Apache ECharts) with the table beside it as the accessible version, totals, an Excel download; a
click on a bar or a row opens the list of the records it adds up (engine.reports)."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from engine.core.transfer import attachment
from engine.metadata.reports import DATE_RANGES, field_of, lines_of
from engine.records.export import XLSX_TYPE
from engine.reports import query
from engine.reports.export import report_xlsx
from engine.web import i18n
from engine.web.base import ScreenBase

PERIODS = {"today": "Today", "this_week": "This week", "this_month": "This month", "this_quarter": "This quarter", "this_year": "This year",
           "last_7_days": "Last 7 days", "last_30_days": "Last 30 days", "last_12_months": "Last 12 months", "last_month": "Last month",
           "last_year": "Last year"}
_NOT_FILTERS = ("lang",)


class ReportScreens(ScreenBase):
    async def reports_page(self, request: Request):
        actor = await self.actor_or_login(request)
        return self.render(request, "reports.html", actor, reports=self.rt.reports.available(actor))

    async def report_page(self, request: Request):
        actor = await self.actor_or_login(request)
        name = request.path_params["name"]
        lang = self.lang(request, actor)
        params = _params(request)

        def work():
            report = self.rt.reports.report(actor, name)
            filters, everything = periods(params)
            result = self.rt.reports.run(actor, name, filters, lang, without_defaults=everything)
            return report, result, self._controls(actor, report, params, result, lang)
        report, result, controls = await run_in_threadpool(work)
        ent = self.app.entity(report.source)
        for row in result["rows"]:
            row["__link"] = self._list_link(ent, report, row, params, result)
        return self.render(request, "report.html", actor, report=report, result=result, controls=controls, ent=ent,
                           query=urlencode(params), list_link=self._list_link(ent, report, None, params, result))

    async def dashboard_page(self, request: Request):
        """GET /dashboard (the user's first) and /dashboard/{name}: the cards, each within the user's scope."""
        actor = await self.actor_or_login(request)
        lang = self.lang(request, actor)

        def work():
            built = self.rt.dashboards.build(actor, request.path_params.get("name"), lang)
            for card in built["cards"]:
                if card["kind"] in ("chart", "number"):
                    report = card["report"]
                    ent = self.app.entity(report.source)
                    for row in card["result"]["rows"]:
                        row["__link"] = self._list_link(ent, report, row, [], card["result"])
                    card["link"] = f"/reports/{report.name}"
                else:
                    ent = card["entity"]
                    card["columns"] = [c for c in self.columns(ent, actor) if c.type != "table"][:2 + card["width"]]
                    card["titles"] = self._titles(actor, ent, card["page"]["items"])
                    card["link"] = f"/{ent.name}?" + urlencode(list(card["filters"]))
            return built
        built = await run_in_threadpool(work)
        return self.render(request, "dashboard.html", actor, delta_day=dt.timedelta(days=1), **built)

    async def report_xlsx(self, request: Request):
        actor = await self.actor_or_login(request)
        name = request.path_params["name"]
        lang = self.lang(request, actor)
        params = _params(request)
        filters, everything = periods(params)
        result = await run_in_threadpool(lambda: self.rt.reports.run(actor, name, filters, lang, without_defaults=everything))
        return Response(report_xlsx(result, i18n.translations(lang).gettext("Total")), media_type=XLSX_TYPE,
                        headers={"Content-Disposition": attachment(f"{result['label']}.xlsx"), "X-Content-Type-Options": "nosniff"})

    def _controls(self, actor, report, params, result, lang: str) -> list[dict]:
        """The filter bar: a period for dates (the default chosen unless one is given), a choice for selects, text otherwise."""
        ent = self.app.entity(report.source)
        given = {}
        for k, v in params:
            given.setdefault(k, v)
        out = []
        for f in report.filters:
            field = field_of(ent, f.field, report.facts, lines_of(self.app.entities, report))
            if field.value_type in ("date", "datetime"):
                chosen = given.get(f"{f.field}__period", f.default or "" if f"{f.field}__gte" not in given else "")
                out.append({"kind": "period", "name": f"{f.field}__period", "field": field, "value": chosen,
                            "options": [(p, PERIODS[p]) for p in DATE_RANGES]})
            elif field.value_type == "select":
                out.append({"kind": "select", "name": f.field, "field": field, "value": given.get(f.field, f.default or "")})
            elif field.value_type in ("link", "user"):  # picked as in the list's filters: type, then choose
                value = given.get(f.field, "")
                title = given.get(f"{f.field}__title", "")
                if value and not title and value.isdigit():
                    target = field.entity if field.value_type == "link" else "@user"
                    title = self.rt.records.titles(actor, target, [int(value)]).get(int(value), "")
                out.append({"kind": "link", "name": f.field, "field": field, "value": value, "title": title, "source": ent.name})
            else:
                out.append({"kind": "text", "name": f.field, "field": field, "value": given.get(f.field, f.default or "")})
        return out

    def _list_link(self, ent, report, row: dict | None, params, result) -> str | None:
        """The list of the records a row adds up (all of the report's, without a row): its filters, the defaults applied, and the row's groups.
        None for a report of lines or of workflow facts: its rows are no list of the source's records."""
        if report.facts or report.lines:
            return None
        pairs = list(periods(params)[0])
        for d in result["defaults"]:
            if "from" in d:
                pairs += [(f"{d['field']}__gte", d["from"]), (f"{d['field']}__lt", d["to"])]
            else:
                pairs.append((d["field"], str(d["default"]).lower() if isinstance(d["default"], bool) else str(d["default"])))
        for d in (report.group_by if row is not None else ()):
            raw = row.get(f"{d.name}__value")
            if raw is None:
                pairs.append((f"{d.field}__isnull", "true"))
            elif d.by and d.by != "day":
                start, end = bucket_range(d.by, raw)
                pairs += [(f"{d.field}__gte", start.isoformat()), (f"{d.field}__lt", end.isoformat())]
            elif d.by == "day" and d.type == "datetime":
                day = dt.date.fromisoformat(str(raw)[:10])
                pairs += [(f"{d.field}__gte", day.isoformat()), (f"{d.field}__lt", (day + dt.timedelta(days=1)).isoformat())]
            else:
                pairs.append((d.field, str(raw).lower() if isinstance(raw, bool) else str(raw)))
        return f"/{ent.name}?" + urlencode(pairs)


def periods(params: list) -> tuple[list, set]:
    """The filters of the address with each `<date>__period` (a named period, or `all`) as its from and to;
    and the fields whose default does not apply (a period of `all`)."""
    out, everything = [], set()
    today = dt.datetime.now(dt.timezone.utc).date()
    for k, v in params:
        if not k.endswith("__period"):
            out.append((k, v))
            continue
        field = k[: -len("__period")]
        if v == "all":
            everything.add(field)
        elif v in DATE_RANGES:
            start, end = query.period(v, today)
            out += [(f"{field}__gte", start.isoformat()), (f"{field}__lt", end.isoformat())]
    return out, everything


def bucket_range(by: str, value: str) -> tuple[dt.date, dt.date]:
    """[start, end) of a date bucket as a report names it: 2026-03 (month), 2026-Q1, 2026, or the Monday of a week."""
    if by == "year":
        y = int(value)
        return dt.date(y, 1, 1), dt.date(y + 1, 1, 1)
    if by == "quarter":
        y, q = int(value[:4]), int(value[-1])
        start = dt.date(y, 3 * q - 2, 1)
        return start, query.period("this_quarter", start)[1]
    if by == "month":
        start = dt.date(int(value[:4]), int(value[5:7]), 1)
        return start, query.period("this_month", start)[1]
    start = dt.date.fromisoformat(value)
    return start, start + dt.timedelta(days=7)


def _params(request: Request) -> list:
    """A report page's filters as its address gives them: not the language, no empty one, no link's typed title."""
    return [(k, v) for k, v in request.query_params.multi_items() if k not in _NOT_FILTERS and v != "" and not k.endswith("__title")]
