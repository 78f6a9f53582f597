"""List screens: the home page, entity lists with filters, sort, search and keyset paging,
exact counts on demand, saved filters, and the options of link fields."""
from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from engine.access import preferences, users
from engine.core.errors import EngineError, ErrorCollector, Msg, NotFound, Unauthenticated, ValidationFailed
from engine.core.i18n import field_errors, reason
from engine.core.values import parse_id
from engine.metadata.model import Entity
from engine.records import listing
from engine.records.export import XLSX_TYPE, columns_of, export_csv, export_xlsx
from engine.records.export import options as export_options
from engine.records.listing import ListQuery
from engine.web import i18n, session
from engine.web.base import ScreenBase, _record_id, _system_field
from engine.web.reports import bucket_range
from engine.workflow import reviews, transitions

LIST_PARAMS = ("sort", "q", "cursor", "limit", "count")


class ListScreens(ScreenBase):
    async def home(self, request: Request):
        actor = await self.actor_or_login(request)

        def work():
            mine = {}
            for ent in self.app.top_entities():
                if "owner" in self.rt.schema.tables[ent.name].c and self.grants(actor).can(ent.name, "read"):
                    page = self.rt.records.list(actor, ent.name, ListQuery(filters=[("owner", "eq", str(actor.id))], sort="-updated_at", limit=5))
                    if page["items"]:
                        mine[ent.name] = page
            pending = reviews.pending_for(self.rt.records, actor, 20, self.lang(request, actor))
            notes, unread = self.rt.records.notifications(actor, 10, self.lang(request, actor))
            return mine, pending, notes, unread
        mine, pending, notes, unread = await run_in_threadpool(work)
        return self.render(request, "home.html", actor, mine=mine, entities={e.name: e for e in self.app.top_entities()},
                           pending=pending, notes=notes, unread=unread, dashboards=self.rt.dashboards.available(actor))

    async def read_notifications(self, request: Request):
        """'Mark all as read' on the home page."""
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        await run_in_threadpool(self.rt.records.mark_read, actor)
        target = str(form.get("next") or "/")  # back where it was asked: the bell's page, the notifications
        return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/", status_code=303)

    def columns(self, ent: Entity, actor=None) -> list:
        """The list's columns: the entity's list_columns, else the title, links, dates, totals and state;
        with `actor`, without the fields hidden from them."""
        cols = self._columns(ent)
        if actor is None:
            return cols
        hidden = self.grants(actor).hidden(ent.name)
        return [f for f in cols if f.name not in hidden] if hidden else cols

    def _columns(self, ent: Entity) -> list:
        if ent.list_columns:
            return [ent.fields[n] if n in ent.fields else _system_field(n) for n in ent.list_columns]
        title = ent.fields.get(ent.title_field) if ent.title_field else None
        rank = {"link": 1, "date": 2, "computed": 3, "decimal": 4, "select": 5, "integer": 6, "datetime": 7, "string": 8}
        rest = sorted((f for f in ent.fields.values() if f is not title and f.type in rank), key=lambda f: rank[f.type])
        return ([title] if title is not None else []) + rest[: 7 - (title is not None)]

    def choosable(self, ent: Entity, actor) -> list:
        """The fields a user may show as a list's columns: those a list can show, without the ones hidden from them."""
        hidden = self.grants(actor).hidden(ent.name)
        kinds = ("string", "select", "link", "user", "decimal", "integer", "date", "datetime", "boolean", "email", "phone", "url")
        own = [f for f in ent.fields.values() if f.stored and f.value_type in kinds and f.name not in hidden]
        return own + [_system_field(n) for n in ("owner", "created_at", "updated_at") if n not in hidden]

    def user_columns(self, ent: Entity, actor) -> list:
        """The list's columns as the user chose them (those that still may be shown), else the list's own."""
        with self.rt.db.read() as conn:
            chosen = preferences.list_columns(conn, self.rt.schema, actor, ent.name)
        if chosen:
            allowed = {f.name: f for f in self.choosable(ent, actor)}
            picked = [allowed[n] for n in chosen if n in allowed]
            if picked:
                return picked
        return self.columns(ent, actor)

    async def save_columns(self, request: Request):
        """POST /{entity}/columns: the columns this user wants in the list (none, or `reset`: the list's own), then back to it."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        form = await request.form()
        session.check_csrf(request, form)
        allowed = {f.name for f in self.choosable(ent, actor)}
        names = [] if form.get("reset") else [str(n) for n in form.getlist("columns") if str(n) in allowed]

        def work():
            with self.rt.db.write() as conn:
                preferences.save_list_columns(conn, self.rt.schema, actor, ent.name, names)
        await run_in_threadpool(work)
        back = str(form.get("next") or "")
        return RedirectResponse(back if back.startswith(f"/{ent.name}") and not back.startswith("//") else f"/{ent.name}", status_code=303)

    def filters_for(self, ent: Entity, actor) -> list:
        hidden = self.grants(actor).hidden(ent.name)
        if ent.list_filters:
            return [ent.fields[n] if n in ent.fields else _system_field(n) for n in ent.list_filters if n not in hidden]
        return [f for f in ent.fields.values() if f.value_type in ("select", "date", "link") and f.stored and f.name not in hidden][:4]

    def _query(self, ent: Entity, params) -> ListQuery:
        """The list query of a query string (or of its pairs)."""
        return ListQuery.from_params(_list_pairs(params))

    async def list_page(self, request: Request):
        return await run_in_threadpool(self._list_page, request)

    def _list_page(self, request: Request):
        """All of a list page in one worker-thread call and one read transaction."""
        with self.rt.db.reading():
            return self._list_page_in(request)

    def _list_page_in(self, request: Request):
        actor = session.current_actor(self.rt, request)
        if actor is None:
            raise Unauthenticated("sign in first")
        ent = self.entity(request.path_params["entity"])
        rows_only = request.headers.get("hx-request") == "true" and request.query_params.get("cursor")
        columns = self.user_columns(ent, actor)  # read once: the rows, the header, the sum row follow them
        try:
            query = self._query(ent, request.query_params)
            page, titles = self._page(actor, ent, query, columns)
            error = None
            with self.rt.db.read() as conn:
                saved = preferences.list_filters(conn, self.rt.schema, actor, ent.name)
        except ValidationFailed as exc:
            page, titles, error = {"items": [], "next_cursor": None, "count": 0, "count_exact": True}, {}, exc
            saved = []
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "count", "lang", "sel")]
        wf = self.rt.records.workflow_of(ent.name)
        if rows_only:  # a further page of rows: tick boxes when the first page had them (it says so in the URL)
            bulk, selectable = [], request.query_params.get("sel") == "1"
        else:
            bulk = self._bulk(actor, wf, page["items"])
            selectable = bool(bulk)
        filters = self.filters_for(ent, actor)
        lang = self.lang(request, actor)
        export_columns = columns_of(self.rt.records, actor, ent.name, lang) if not rows_only and self.grants(actor).can(ent.name, "export") else []
        ctx = dict(ent=ent, page=page, titles=titles, columns=columns, filters=filters,
                   export_columns=[c for c in export_columns if "." not in c[0]], export_line_columns=[c for c in export_columns if "." in c[0]],
                   filter_key=(ent.name, lang, tuple(f.name for f in filters), tuple(sorted(request.query_params.multi_items()))),
                   bulk=bulk, selectable=selectable,
                   active_filters=sum(1 for k, v in params if v and k != "sort" and not k.endswith("__title")),
                   may_create=self.grants(actor).can(ent.name, "create"), may_export=self.grants(actor).can(ent.name, "export"),
                   may_import=self.grants(actor).can(ent.name, "import"), params=dict(params), params_list=params, sort=request.query_params.get("sort") or ("-" if ent.default_sort[0][1] else "") + ent.default_sort[0][0],
                   base_qs=urlencode(params), error=field_errors(error.errors, lang) if error else None, saved=saved,
                   current_qs=preferences.clean_query(urlencode(params)),
                   next_url=f"/{ent.name}?{urlencode(params + [('cursor', page['next_cursor'])] + ([('sel', '1')] if selectable else []))}"
                   if page["next_cursor"] else None)
        group = request.query_params.get("group") or ""
        if not rows_only and group and not error:  # counts (and sums) per value of a field, within the same filters
            try:
                ctx["groups"] = self._groups(actor, ent, request, group, lang, columns)
            except ValidationFailed as exc:
                ctx["error"] = field_errors(exc.errors, lang)
        ctx.update(group=group, groupable=self._groupable(ent, actor), summed=_summed(columns), choosable=self.choosable(ent, actor),
                   list_qs=urlencode([(k, v) for k, v in params if k not in ("group",)]))
        return self.render(request, "list_rows.html" if rows_only else "list.html", actor, **ctx)

    def neighbours(self, actor, ent: Entity, record: dict, list_qs: str) -> dict:
        """The records before and after this one in the list it was opened from (its filters and sort, the user's scope):
        {"prev": id, "next": id} with None at either end; {} when the list's address no longer makes a list."""
        try:
            query = self._query(ent, parse_qsl(list_qs, keep_blank_values=True))
            errors = ErrorCollector()
            spec = listing.sort_spec(ent, query.sort, errors, self.grants(actor).hidden(ent.name))
            if errors.errors or spec.name not in record:
                return {}
            out = {}
            for key, desc in (("next", spec.desc), ("prev", not spec.desc)):
                step = listing.SortSpec(spec.name, desc, spec.nullable)
                q = ListQuery(filters=query.filters, q=query.q, sort=("-" if desc else "") + spec.name, limit=1, fields=("id",),
                              cursor=listing.encode_cursor(step, record[spec.name], record["id"]))
                items = self.rt.records.list(actor, ent.name, q)["items"]
                out[key] = items[0]["id"] if items else None
            return out
        except (ValidationFailed, EngineError):
            return {}

    def _groupable(self, ent: Entity, actor) -> list:
        """The fields a list may be grouped by: its filters' choices, links, users and dates."""
        return [f for f in self.filters_for(ent, actor) if f.value_type in ("select", "link", "user", "date", "datetime", "boolean")]

    def _groups(self, actor, ent: Entity, request: Request, group: str, lang: str, columns: list) -> dict:
        result = self.rt.reports.summary(actor, ent.name, _filters_of(request), _summed(columns), group, lang)
        base = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "group", "lang", "sel")]
        d = next(iter(result["columns"]))
        for row in result["rows"]:
            raw = row[f"{d['name']}__value"]
            if d["name"].endswith("_month") and raw:
                start, end = bucket_range("month", raw)
                extra = [(f"{group}__gte", start.isoformat()), (f"{group}__lt", end.isoformat())]
            else:
                extra = [(f"{group}__isnull", "true")] if raw is None else [(group, str(raw).lower() if isinstance(raw, bool) else str(raw))]
            row["__link"] = f"/{ent.name}?" + urlencode([(k, v) for k, v in base if k != group] + extra)
        return result

    async def sums(self, request: Request):
        """GET /{entity}/sums?<the list's filters>: the sum row of the list's number columns, over every record it matches."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        lang = self.lang(request, actor)
        columns = await run_in_threadpool(self.user_columns, ent, actor)
        result = await run_in_threadpool(self.rt.reports.summary, actor, ent.name, _filters_of(request), _summed(columns), None, lang)
        return self.render(request, "list_sums.html", actor, ent=ent, columns=columns, totals=result["totals"],
                           kinds={c["name"]: c for c in result["columns"]}, selectable=request.query_params.get("sel") == "1")

    def _bulk(self, actor, wf, rows: list[dict]) -> list:
        """The transitions the bulk bar offers: those this user may fire on at least one record of the page
        (none: no bar and no tick boxes)."""
        if wf is None or not rows:
            return []
        may = self.may_fire_on(actor, wf)
        states = {r.get(wf.state_field) for r in rows}
        return [t for t in wf.transitions.values() if states.intersection(t.sources) and any(may(t, r) for r in rows)]

    def _page(self, actor, ent: Entity, query: ListQuery, columns: list):
        wf = self.rt.records.workflow_of(ent.name)
        # with a workflow, each row's state and owner too: the bulk bar offers what this user may fire on these rows
        query.fields = tuple(dict.fromkeys([*(f.name for f in columns), *((wf.state_field, "owner") if wf is not None else ())]))
        query.with_titles = True
        page = self.rt.records.list(actor, ent.name, query)
        titles: dict = {}
        for f in columns:
            if f.type == "link":
                titles.setdefault(f.entity, {}).update(
                    (r[f.name], str(r[f"{f.name}__title"]) if r[f"{f.name}__title"] is not None else f"#{r[f.name]}")
                    for r in page["items"] if r.get(f.name) is not None)
        others = [f for f in columns if f.type == "user"]
        if others:
            titles.update(self._titles(actor, ent, page["items"], only=others))
        return page, titles

    async def bulk(self, request: Request):
        """One transition on the records ticked in a list; each moves or says why not."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        form = await request.form()
        session.check_csrf(request, form)
        wf = self.rt.records.workflow_of(ent.name)
        t = wf.transitions.get(str(form.get("transition", ""))) if wf is not None else None
        if t is None:
            raise NotFound(Msg("%(entity)s has no such transition", entity=ent.name))
        ids = [i for i in (parse_id(v) for v in form.getlist("ids")) if i is not None][:500]
        text = str(form.get("text", "")).strip()
        fields = {n: text for n, f in t.inputs.items() if f.value_type in ("string", "text")} if text else {}
        lang = self.lang(request, actor)
        if not ids:
            results = []
        else:
            results = await run_in_threadpool(transitions.fire_many, self.rt.records, actor, ent.name, ids, t.name, text or None, fields, lang)
        titles = await run_in_threadpool(self.rt.records.titles, actor, ent.name, {r["id"] for r in results})
        return self.render(request, "bulk_result.html", actor, ent=ent, transition=t, results=results, titles=titles)

    async def _export(self, request: Request, write):
        """`write` (export_csv or export_xlsx) run on the list as the query string filters it, with its columns and per_line."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        pairs, columns, per_line = export_options(request.query_params.multi_items())
        out, _ = await run_in_threadpool(write, self.rt.records, actor, ent.name, self._query(ent, pairs), self.lang(request, actor),
                                         str(request.query_params), columns, per_line)
        return ent, out

    async def export(self, request: Request):
        ent, text = await self._export(request, export_csv)
        return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{ent.name}.csv"'})

    async def export_xlsx(self, request: Request):
        """The list as an Excel workbook, streamed from the temporary file it was written to, which is then removed."""
        ent, path = await self._export(request, export_xlsx)
        return FileResponse(path, media_type=XLSX_TYPE, filename=f"{ent.name}.xlsx", background=BackgroundTask(os.unlink, path))

    async def count(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        query = self._query(ent, request.query_params)
        query.exact_count, query.limit = True, 1
        page = await run_in_threadpool(self.rt.records.list, actor, ent.name, query)
        fmt = i18n.Formatter(self.lang(request, actor))
        return HTMLResponse(fmt.integer(page["count"]))

    async def save_filter(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        form = await request.form()
        session.check_csrf(request, form)
        query = str(form.get("query", ""))

        def work():
            with self.rt.db.write() as conn:
                preferences.save_filter(conn, self.rt.schema, actor, ent.name, str(form.get("name", "")), query)
        try:
            await run_in_threadpool(work)
        except ValidationFailed as exc:
            return self.render(request, "error.html", actor, status=422, title=i18n.translations(self.lang(request, actor)).gettext("Invalid input"),
                               detail=reason(exc, self.lang(request, actor)))
        return RedirectResponse(f"/{ent.name}?{preferences.clean_query(query)}", status_code=303)

    async def delete_filter(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        form = await request.form()
        session.check_csrf(request, form)

        def work():
            with self.rt.db.write() as conn:
                preferences.delete_filter(conn, self.rt.schema, actor, _record_id(request))
        await run_in_threadpool(work)
        return RedirectResponse(f"/{ent.name}", status_code=303)

    async def options(self, request: Request):
        """Records of a linked entity matching what the user typed, for a link field."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        field = request.path_params["field"]
        target_name = request.query_params.get("target")
        f = ent.fields.get(field)
        if f is None and target_name:
            f = next((cf for tf in ent.table_fields() for cf in self.app.entity(tf.entity).fields.values()
                      if cf.name == field and cf.type == "link" and cf.entity == target_name), None)
        if f is None and field in ("owner", "created_by", "updated_by") and not ent.child:
            f = _system_field(field)
        q = next((v for k, v in request.query_params.items() if k.endswith("__title")), request.query_params.get("q", ""))
        if f is not None and f.type == "user":  # a person: active users whose name holds what was typed
            def people():
                with self.rt.db.read() as conn:
                    return users.search(conn, self.rt.schema, q)
            found = await run_in_threadpool(people)
            return self.render(request, "options.html", actor, target=None, items=[{"id": i, "title": name} for i, name in found],
                               title_field="title", input_id=request.query_params.get("for", ""))
        if f is None or f.type != "link":
            raise NotFound(Msg("%(entity)s has no link field '%(field)s'", entity=ent.name, field=field))
        target = self.app.entity(f.entity)
        query = ListQuery(q=q if q and target.search_fields else None, limit=10)
        if self.grants(actor).can(target.name, "read"):
            page = await run_in_threadpool(self.rt.records.list, actor, target.name, query)
        else:  # nothing they may pick
            page = {"items": []}
        return self.render(request, "options.html", actor, target=target, items=page["items"],
                           title_field=target.title_field or "id", input_id=request.query_params.get("for", ""))


def _list_pairs(params) -> list:
    """The pairs of a list's address (a query string's multi-dict, or pairs) that make its query: not the language,
    the tick boxes, the grouping or a link's typed title, and no empty filter."""
    items = params.multi_items() if hasattr(params, "multi_items") else params
    return [(k, v) for k, v in items if k not in ("lang", "sel", "group") and not k.endswith("__title") and (k in LIST_PARAMS or v != "")]


def _filters_of(request: Request) -> list:
    """The list's filters and search, without its sort and paging: what a figure over the whole list adds up."""
    return [(k, v) for k, v in _list_pairs(request.query_params) if k not in ("sort", "cursor", "limit", "count")]


def _summed(columns: list) -> list:
    """The list's columns that add up (numbers, not ids)."""
    return [f.name for f in columns if f.value_type in ("decimal", "integer") and f.stored]
