"""The screens: sign-in, home, list, record and form pages for every entity in the metadata.

Each handler resolves the signed-in user, calls the record service (the same one the API
uses, so rules and errors are identical), and renders a Jinja2 template. htmx asks for
fragments: the next page of rows, recomputed totals while a form is being typed.
"""
from __future__ import annotations

from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine import preferences, users
from engine.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from engine.metadata.model import Entity
from engine.records.listing import ListQuery
from engine.records.service import record_id
from engine.runtime import Runtime
from engine.web import i18n, session
from engine.web.display import Display
from engine.web.forms import errors_by_field, form_to_input

HERE = __import__("pathlib").Path(__file__).parent
HTMX = "htmx-2.0.11.min.js"
LIST_PARAMS = ("sort", "q", "cursor", "limit", "count")


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
                      auto_reload=False)  # templates ship with the package: no stat() per render
    env.install_null_translations(newstyle=True)
    return env


class Screens:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = rt.app
        self.env = make_env()

    # ---------------------------------------------------------------- plumbing
    def lang(self, request: Request, actor=None) -> str:
        offered = self.app.languages
        chosen = request.query_params.get("lang") or request.cookies.get("lang")
        if chosen in offered:
            return chosen
        if actor is not None and actor.language in offered:  # the user's own setting, when they chose one
            return actor.language
        return i18n.negotiate(request.headers.get("accept-language"), offered, self.app.default_language)

    def render(self, request: Request, template: str, actor=None, status: int = 200, **ctx) -> HTMLResponse:
        lang = self.lang(request, actor)
        tr = i18n.translations(lang)

        def _(message: str, **kw) -> str:
            text = tr.gettext(message)
            return text % kw if kw else text
        ui = Display(self.app, lang, tr.gettext)
        tpl = self.env.get_template(template)
        html = tpl.render(
            request=request, path=request.url.path, actor=actor, ui=ui, lang=lang, app=self.app, htmx=HTMX,
            csrf=session.csrf_token(request),
            gettext=_, ngettext=tr.ngettext, _=_, **ctx)
        resp = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in self.app.languages:
            resp.set_cookie("lang", request.query_params["lang"], max_age=365 * 86400, samesite="lax", httponly=True)
        return resp

    def error_page(self, request: Request, status: int, title: str, detail: str, request_id: str | None = None) -> HTMLResponse:
        try:
            actor = session.current_actor(self.rt, request) if "session" in request.scope else None
        except Exception:  # the error page must render even when the database is the problem
            actor = None
        tr = i18n.translations(self.lang(request, actor))
        return self.render(request, "error.html", actor, status=status, title=tr.gettext(title), detail=detail, request_id=request_id)

    async def actor_or_login(self, request: Request):
        actor = await run_in_threadpool(session.current_actor, self.rt, request)
        if actor is None:
            raise Unauthenticated("sign in first")
        return actor

    def entity(self, name: str) -> Entity:
        return self.rt.records.entity(name)

    # ---------------------------------------------------------------- sign-in
    async def login_page(self, request: Request):
        return self.render(request, "login.html", next=request.query_params.get("next", "/"))

    async def login(self, request: Request):
        form = await request.form()
        session.check_csrf(request, form)
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = str(form.get("next") or "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"

        def check():
            with self.rt.db.read() as conn:
                return users.authenticate(conn, self.rt.schema, username, password, via="screen")
        try:
            actor = await run_in_threadpool(check)
        except Unauthenticated:
            return self.render(request, "login.html", status=401, next=target, username=username,
                               error=i18n.translations(self.lang(request)).gettext("Wrong username or password."))
        session.sign_in(request, actor)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request):
        form = await request.form()
        session.check_csrf(request, form)
        session.sign_out(request)
        return RedirectResponse("/login", status_code=303)

    # ---------------------------------------------------------------- pages
    async def home(self, request: Request):
        actor = await self.actor_or_login(request)

        def work():
            mine = {}
            for ent in self.app.top_entities():
                if "owner" in self.rt.schema.tables[ent.name].c:
                    page = self.rt.records.list(actor, ent.name, ListQuery(filters=[("owner", "eq", str(actor.id))], sort="-updated_at", limit=5))
                    if page["items"]:
                        mine[ent.name] = page
            return mine
        mine = await run_in_threadpool(work)
        return self.render(request, "home.html", actor, mine=mine, entities={e.name: e for e in self.app.top_entities()})

    def columns(self, ent: Entity) -> list:
        """The list's columns: the entity's list_columns, else the title, links, dates, totals and state."""
        if ent.list_columns:
            return [ent.fields[n] if n in ent.fields else _system_field(n) for n in ent.list_columns]
        title = ent.fields.get(ent.title_field) if ent.title_field else None
        rank = {"link": 1, "date": 2, "computed": 3, "decimal": 4, "select": 5, "integer": 6, "datetime": 7, "string": 8}
        rest = sorted((f for f in ent.fields.values() if f is not title and f.type in rank), key=lambda f: rank[f.type])
        return ([title] if title is not None else []) + rest[: 7 - (title is not None)]

    def filters_for(self, ent: Entity) -> list:
        if ent.list_filters:
            return [ent.fields[n] if n in ent.fields else _system_field(n) for n in ent.list_filters]
        return [f for f in ent.fields.values() if f.value_type in ("select", "date", "link") and f.stored][:4]


    def _query(self, ent: Entity, params) -> ListQuery:
        pairs = []
        for k, v in params.multi_items():
            if k == "lang" or k.endswith("__title") or (k not in LIST_PARAMS and v == ""):
                continue
            pairs.append((k, v))
        return ListQuery.from_params(pairs)

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
        try:
            query = self._query(ent, request.query_params)
            page, titles = self._page(actor, ent, query)
            error = None
            with self.rt.db.read() as conn:
                saved = preferences.list_filters(conn, self.rt.schema, actor, ent.name)
        except ValidationFailed as exc:
            page, titles, error = {"items": [], "next_cursor": None, "count": 0, "count_exact": True}, {}, exc
            saved = []
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "count", "lang")]
        ctx = dict(ent=ent, page=page, titles=titles, columns=self.columns(ent), filters=self.filters_for(ent),
                   params=dict(params), sort=request.query_params.get("sort") or ("-" if ent.default_sort[0][1] else "") + ent.default_sort[0][0],
                   base_qs=urlencode(params), error=error, saved=saved,
                   current_qs=preferences.clean_query(urlencode(params)),
                   next_url=f"/{ent.name}?{urlencode(params + [('cursor', page['next_cursor'])])}" if page["next_cursor"] else None)
        return self.render(request, "list_rows.html" if rows_only else "list.html", actor, **ctx)

    def _page(self, actor, ent: Entity, query: ListQuery):
        columns = self.columns(ent)
        query.fields = tuple(f.name for f in columns)
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

    def _titles(self, actor, ent: Entity, rows: list[dict], extra: dict | None = None, only: list | None = None) -> dict:
        """{entity: {id: title}} for every link value in `rows` (and their lines), one query per entity;
        with `only`, just for those fields."""
        wanted: dict[str, set] = {k: set(v) for k, v in (extra or {}).items()}
        for f in (only if only is not None else ent.fields.values()):
            if f.type in ("link", "user"):
                key = f.entity if f.type == "link" else "@user"
                wanted.setdefault(key, set()).update(r.get(f.name) for r in rows if r.get(f.name) is not None)
            if f.type == "table":
                child = self.app.entity(f.entity)
                for cf in child.fields.values():
                    if cf.type == "link":
                        wanted.setdefault(cf.entity, set()).update(line.get(cf.name) for r in rows for line in r.get(f.name, []) if line.get(cf.name) is not None)
        return {target: self.rt.records.titles(actor, target, ids) for target, ids in wanted.items()}

    async def count(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        query = self._query(ent, request.query_params)
        query.exact_count, query.limit = True, 1
        page = await run_in_threadpool(self.rt.records.list, actor, ent.name, query)
        fmt = i18n.Formatter(self.lang(request, actor))
        return HTMLResponse(fmt.integer(page["count"]))

    async def record_page(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = _record_id(request)

        def work():
            rec = self.rt.records.get(actor, ent.name, rid)
            hist = self.rt.records.history(actor, ent.name, rid)
            display = Display(self.app, "en", str)
            titles = self._titles(actor, ent, [rec], display.history_links(ent, hist))
            related = self._related(actor, ent, rid)
            return rec, hist, titles, related
        rec, hist, titles, related = await run_in_threadpool(work)
        return self.render(request, "record.html", actor, ent=ent, rec=rec, titles=titles, related=related,
                           history=hist, sections=self.sections(ent), app_entities=self.app.entities)

    def _related(self, actor, ent: Entity, rid: int) -> list:
        out = []
        for other in self.app.top_entities():
            for f in other.fields.values():
                if f.type == "link" and f.entity == ent.name:
                    page = self.rt.records.list(actor, other.name, ListQuery(filters=[(f.name, "eq", str(rid))], limit=10))
                    out.append({"entity": other, "field": f, "page": page, "columns": self.columns(other)[:5],
                                "titles": self._titles(actor, other, page["items"])})
        return out

    def sections(self, ent: Entity, for_form: bool = False) -> list:
        """Sections of the form metadata (or a default layout), each a list of blocks in field order:
        runs of plain fields laid out in a grid, and table fields at full width where they stand."""
        form = self.app.forms.get(ent.name)
        if form is not None:
            listed = set(form.field_names())
            raw = [(s.label, s.columns, [_as_shown(ent.fields[ff.name], ff) for ff in s.fields], s.tab) for s in form.sections]
            rest = [f for f in ent.fields.values() if f.name not in listed and not (for_form and (f.read_only or f.type == "computed"))]
            if rest:
                raw.append((None, 2, rest, len(form.tabs) - 1 if form.tabs else None))
        else:
            raw = [(None, 2, [f for f in ent.fields.values() if f.type != "table"], None)]
            raw += [(None, 1, [t], None) for t in ent.table_fields()]
        out = []
        for label, columns, fields, tab in raw:
            blocks: list[dict] = []
            for f in fields:
                if f.type == "table":
                    blocks.append({"table": f})
                elif blocks and "fields" in blocks[-1]:
                    blocks[-1]["fields"].append(f)
                else:
                    blocks.append({"fields": [f]})
            out.append({"label": label, "columns": columns, "blocks": blocks, "fields": fields, "tab": tab})
        return out

    # ---------------------------------------------------------------- forms
    async def form_page(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = request.path_params.get("id")
        copy_of = request.query_params.get("copy")

        def work():
            if rid is not None:
                rec = self.rt.records.get(actor, ent.name, _record_id(request))
            elif copy_of and copy_of.isdigit():
                rec = self._copy(actor, ent, int(copy_of))
            else:
                values, lines, _, _ = self.rt.records.preview(actor, ent.name, {})
                rec = {**values, **lines}
                for tf in ent.table_fields():  # a new record starts with one empty line to type into
                    rec[tf.name] = [{f.name: f.default for f in self.app.entity(tf.entity).stored_fields()}]
            return rec, self._titles(actor, ent, [rec])
        rec, titles = await run_in_threadpool(work)
        return await run_in_threadpool(self.form, request, actor, ent, rec, titles, {}, rid is not None)

    def _copy(self, actor, ent: Entity, source_id: int) -> dict:
        """A new record prefilled from an existing one: no number, no ids, today's defaults."""
        src = self.rt.records.get(actor, ent.name, source_id)
        data = {}
        for f in ent.fields.values():
            if f.type == "table":
                child = self.app.entity(f.entity)
                data[f.name] = [{cf.name: line.get(cf.name) for cf in child.stored_fields() if cf.type != "computed" and line.get(cf.name) is not None}
                                for line in src.get(f.name, [])]
            elif f.type != "computed" and not f.read_only and not f.default_expr and src.get(f.name) is not None:
                data[f.name] = src[f.name]
        from engine.api.serialize import record_json  # JSON-shaped input, as the API would send it
        shaped = record_json(self.app, ent, {"id": 0, **data})
        shaped = {k: v for k, v in shaped.items() if k in data}
        values, lines, _, _ = self.rt.records.preview(actor.through("api"), ent.name, shaped)
        return {**values, **lines}

    def form(self, request, actor, ent: Entity, rec: dict, titles: dict, errors: dict, editing: bool,
             conflict: dict | None = None, status: int = 200, raw: dict | None = None):
        shows = self._shows(actor, ent, rec, {tf.name: rec.get(tf.name, []) for tf in ent.table_fields()})
        form_meta = self.app.forms.get(ent.name)
        tabs = list(form_meta.tabs) if form_meta is not None else []
        sections = self.sections(ent, for_form=True)
        # open the first tab that holds an error (errors are keyed `field` or `table-row-field`)
        with_errors = {k.split("-")[0] for k in errors}
        open_tab = next((s["tab"] for s in sections if s["tab"] is not None and with_errors & {f.name for f in s["fields"]}), 0)
        return self.render(request, "form.html", actor, status=status, ent=ent, rec=rec, titles=titles, errors=errors, shows=shows,
                           tabs=tabs, open_tab=open_tab,
                           editing=editing, sections=self.sections(ent, for_form=True), conflict=conflict, raw=raw or {},
                           app_entities=self.app.entities, shown=",".join(f.name for s in self.sections(ent, for_form=True) for f in s["fields"]))

    async def save(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        form = await request.form()
        session.check_csrf(request, form)
        shown = [n for n in str(form.get("_fields", "")).split(",") if n]
        data = form_to_input(self.app, ent, form, shown)
        rid = request.path_params.get("id")
        try:
            if rid is None:
                rec = await run_in_threadpool(self.rt.records.create, actor, ent.name, data)
            else:
                version = form.get("_version")
                rec = await run_in_threadpool(self.rt.records.update, actor, ent.name, _record_id(request), data,
                                              int(version) if version and version.isdigit() else None)
        except (ValidationFailed, Conflict) as exc:
            values, lines, _, _ = await run_in_threadpool(self.rt.records.preview, actor, ent.name, data,
                                                          _record_id(request) if rid is not None else None)
            rec = {**values, **lines}
            conflict = None
            if isinstance(exc, Conflict):
                current = exc.current or {}
                rec["version"] = current.get("version")
                changed = [f for f in ent.stored_fields() if f.type != "computed" and f.name in data and current.get(f.name) != values.get(f.name)]
                conflict = {"message": exc.detail, "fields": changed, "current": current}
            else:
                rec["version"] = int(form.get("_version")) if str(form.get("_version", "")).isdigit() else None
            if rid is not None:
                rec["id"] = _record_id(request)
            titles = await run_in_threadpool(self._titles, actor, ent, [rec] + ([conflict["current"]] if conflict else []))
            errs = errors_by_field(exc.errors) if isinstance(exc, ValidationFailed) else {}
            return await run_in_threadpool(lambda: self.form(request, actor, ent, rec, titles, errs, editing=rid is not None, conflict=conflict,
                                                             status=409 if conflict else 422, raw={k: v for k, v in form.multi_items()}))
        return RedirectResponse(f"/{ent.name}/{rec['id']}", status_code=303)

    async def preview(self, request: Request):
        """Recompute the form as typed (htmx): lookups that depend on the changed input, computed
        fields, and `show` rows, returned as out-of-band swaps."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        form = await request.form()
        session.check_csrf(request, form)
        shown = [n for n in str(form.get("_fields", "")).split(",") if n]
        data = form_to_input(self.app, ent, form, shown, keep_empty=True)
        rid = form.get("_id")
        changed = _changed(str(form.get("_changed", "")))

        def work():
            values, lines, _, filled = self.rt.records.preview(actor, ent.name, data, int(rid) if rid and rid.isdigit() else None, changed)
            rec = {**values, **lines}
            titles = self._titles(actor, ent, [rec])
            shows = self._shows(actor, ent, values, lines, only=changed)
            return values, lines, filled, titles, shows
        values, lines, filled, titles, shows = await run_in_threadpool(work)
        return self.render(request, "computed_oob.html", actor, ent=ent, values=values, lines=lines, shown=shown,
                           filled=filled, titles=titles, shows=shows, app_entities=self.app.entities)

    def _shows(self, actor, ent: Entity, values: dict, lines: dict, only: tuple | None = None) -> dict:
        """For every link field with `show` (on the record and its lines): the rows to show beside it,
        by input name. With `only` = (table, row, field): just that input."""
        out = {}
        targets = [(None, None, f, values) for f in ent.fields.values() if f.type == "link" and f.show]
        for tf in ent.table_fields():
            for cf in self.app.entity(tf.entity).fields.values():
                if cf.type == "link" and cf.show:
                    targets += [(tf.name, i, cf, {**values, **row}) for i, row in enumerate(lines.get(tf.name, []))]
        for table, i, f, context in targets:
            if only is not None and (only[0], only[1], only[2]) != (table, i, f.name):
                continue
            name = f.name if table is None else f"{table}-{i}-{f.name}"
            rows = self.rt.records.shown(actor, f.show, context) if context.get(f.name) is not None else []
            show_ent = self.app.entity(f.show.entity)
            cols = [show_ent.fields[c] for c in f.show.columns]
            titles = {}
            for c in cols:
                if c.type == "link":
                    titles[c.entity] = self.rt.records.titles(actor, c.entity, {r[c.name] for r in rows})
            out[name] = {"show": f.show, "entity": show_ent, "columns": cols, "rows": rows, "titles": titles}
        return out

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
                               detail="; ".join(e.message for e in exc.errors))
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

    async def fill_history(self, request: Request):
        """The rows behind a field's fill (e.g. the prices this customer paid for this product)."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        target = str(request.query_params.get("field", ""))
        table, idx, fname = _changed(target) or (None, None, target)
        child = self.app.entity(ent.fields[table].entity) if table in ent.fields and ent.fields[table].type == "table" else None
        f = (child or ent).fields.get(fname) if (child or ent) else None
        if f is None or f.fill is None:
            raise NotFound(f"{ent.name} has no looked-up field '{target[:60]}'")
        shown = [n.name for n in ent.fields.values()]
        data = form_to_input(self.app, ent, request.query_params, shown, keep_empty=True)

        def work():
            values, lines, _, _ = self.rt.records.preview(actor, ent.name, data)
            context = dict(values)
            if child is not None:
                rows = lines.get(table, [])
                context.update({k: v for k, v in (rows[idx] if idx < len(rows) else {}).items() if v is not None})
            rows = self.rt.records.fill_history(actor, f, context)
            source = self.app.entity(f.fill.sources[0].entity)
            parent_titles = self.rt.records.titles(actor, source.parent, {r["parent_id"] for r in rows}) if source.child else {}
            return rows, source, parent_titles
        rows, source, parent_titles = await run_in_threadpool(work)
        return self.render(request, "fill_history.html", actor, rows=rows, field=f, source=source,
                           parent_titles=parent_titles, latest=f.fill.sources[0].latest, target=target)

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
        if f is None or f.type != "link":
            raise NotFound(f"{ent.name} has no link field '{field}'")
        target = self.app.entity(f.entity)
        q = next((v for k, v in request.query_params.items() if k.endswith("__title")), request.query_params.get("q", ""))
        query = ListQuery(q=q if q and target.search_fields else None, limit=10)
        page = await run_in_threadpool(self.rt.records.list, actor, target.name, query)
        return self.render(request, "options.html", actor, target=target, items=page["items"],
                           title_field=target.title_field or "id", input_id=request.query_params.get("for", ""))


def _as_shown(field, ff):
    """The field as this form shows it: the form's label, help, placeholder and widget win."""
    from dataclasses import replace
    return replace(field, label=ff.label or field.label, help=ff.help or field.help,
                   placeholder=ff.placeholder, widget=ff.widget)


def _changed(name: str) -> tuple | None:
    """`lines-2-product` -> ('lines', 2, 'product'); `customer` -> (None, None, 'customer')."""
    import re
    m = re.fullmatch(r"([a-z][a-z0-9_]*)-(\d{1,4})-([a-z][a-z0-9_]*)", name)
    if m:
        return m.group(1), int(m.group(2)), m.group(3)
    return (None, None, name) if re.fullmatch(r"[a-z][a-z0-9_]*", name) else None


def _system_field(name: str):
    from engine.records.listing import field_for
    from engine.metadata.model import Entity as _E
    return field_for(_E(name="_", label=None, label_plural=None, fields={}), name)


def _record_id(request: Request) -> int:
    return record_id(request.path_params["id"])


def make_routes(rt: Runtime) -> list:
    s = Screens(rt)
    return [
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        Route("/login", s.login_page, methods=["GET"]),
        Route("/login", s.login, methods=["POST"]),
        Route("/logout", s.logout, methods=["POST"]),
        Route("/", s.home, methods=["GET"]),
        Route("/{entity}", s.list_page, methods=["GET"]),
        Route("/{entity}/count", s.count, methods=["GET"]),
        Route("/{entity}/new", s.form_page, methods=["GET"]),
        Route("/{entity}/new", s.save, methods=["POST"]),
        Route("/{entity}/preview", s.preview, methods=["POST"]),
        Route("/{entity}/options/{field}", s.options, methods=["GET"]),
        Route("/{entity}/fill-history", s.fill_history, methods=["GET"]),
        Route("/{entity}/filters", s.save_filter, methods=["POST"]),
        Route("/{entity}/filters/{id}/delete", s.delete_filter, methods=["POST"]),
        Route("/{entity}/{id}", s.record_page, methods=["GET"]),
        Route("/{entity}/{id}/edit", s.form_page, methods=["GET"]),
        Route("/{entity}/{id}/edit", s.save, methods=["POST"]),
    ], s

