"""What every screen shares: the Jinja2 environment, language choice, rendering, the signed-in
user, error pages, form layout (sections) and lookups shown beside fields."""
from __future__ import annotations

import contextvars
import functools

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from engine.access import users
from engine.app.runtime import Runtime
from engine.core.errors import EngineError, Unauthenticated
from engine.core.i18n import error_text
from engine.metadata.model import Entity
from engine.records import conditions
from engine.records.serialize import file_ids
from engine.records.service import record_id
from engine.web import i18n, session
from engine.web.display import Display
from engine.workflow import rules

HERE = __import__("pathlib").Path(__file__).parent
HTMX = "htmx-2.0.11.min.js"


_RENDERING = contextvars.ContextVar("engine_rendering_translations", default=None)  # the translations of the page being rendered


def translate(tr, message: str, **kw) -> str:
    """A UI message in the language of `tr` (None: as written), with its %(name)s parts filled in."""
    text = tr.gettext(message) if tr is not None else message
    return text % kw if kw else text


def _gettext(message: str, **kw) -> str:
    """`_` for macros imported without the page's context: the language of the page being rendered."""
    return translate(_RENDERING.get(), message, **kw)


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
                      auto_reload=False)  # templates ship with the package: no stat() per render
    env.install_null_translations(newstyle=True)
    env.globals["_"] = env.globals["gettext"] = _gettext
    env.filters["fromiso"] = lambda text: __import__("datetime").datetime.fromisoformat(text.replace("Z", "+00:00"))
    return env


class ScreenBase:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.env = make_env()
        self._fragments: dict = {}  # rendered page parts by (template, key): see render()
        self._fragments_of = rt.app

    @property
    def app(self):
        """The app in force now: an admin change to a form replaces it without a restart."""
        return self.rt.app

    # ---------------------------------------------------------------- plumbing

    def lang(self, request: Request, actor=None) -> str:
        offered = self.app.languages
        chosen = request.query_params.get("lang") or request.cookies.get("lang")
        if chosen in offered:
            return chosen
        if actor is not None and actor.language in offered:  # the user's own setting, when they chose one
            return actor.language
        return i18n.negotiate(request.headers.get("accept-language"), offered, self.app.default_language)

    def translator(self, request: Request, actor=None):
        """`_` for this request's language: translate(tr, message, **kw) with tr bound."""
        return functools.partial(translate, i18n.translations(self.lang(request, actor)))

    def render(self, request: Request, template: str, actor=None, status: int = 200, **ctx) -> HTMLResponse:
        lang = self.lang(request, actor)
        tr = i18n.translations(lang)
        _ = functools.partial(translate, tr)
        ui = Display(self.app, lang, tr.gettext, (actor.time_zone if actor is not None else "") or "UTC")
        tpl = self.env.get_template(template)
        grants = self.grants(actor) if actor is not None else None
        ctx.setdefault("nav", self.navigation(actor) if actor is not None else [])
        # asked only when the menu is rendered, once per language, roles and section (the `nav_key` below)
        ctx.setdefault("has_reports", lambda: actor is not None and bool(self.rt.reports.available(actor)))
        ctx.setdefault("is_admin", grants is not None and grants.admin)
        path = request.url.path
        ctx.setdefault("nav_key", (lang, grants.roles if grants is not None else None, path.split("/")[1] if path.count("/") else ""))
        full = dict(request=request, path=path, actor=actor, ui=ui, lang=lang, app=self.app, htmx=HTMX,
                    csrf=session.csrf_token(request), gettext=_, ngettext=tr.ngettext, _=_, **ctx)

        if self._fragments_of is not self.app:  # parts rendered for an app no longer in force
            self._fragments.clear()
            self._fragments_of = self.app

        def fragment(name: str, key) -> Markup:
            """A part of the page that depends only on `key` (and the app), rendered once per key."""
            cache_key = (name, key)
            html = self._fragments.get(cache_key)
            if html is None:
                html = Markup(self.env.get_template(name).render(**full))
                if len(self._fragments) > 5000:  # keys can hold URL parameters: keep the memory bounded
                    self._fragments.clear()
                self._fragments[cache_key] = html
            return html
        token = _RENDERING.set(tr)
        try:
            html = tpl.render(fragment=fragment, **full)
        finally:
            _RENDERING.reset(token)
        resp = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in self.app.languages:
            resp.set_cookie("lang", request.query_params["lang"], max_age=365 * 86400, samesite="lax", httponly=True,
                            secure=request.url.scheme == "https")
        return resp

    def error_page(self, request: Request, status: int, title: str, detail, request_id: str | None = None) -> HTMLResponse:
        """The error page in the reader's language; `detail` a message, or the engine error itself."""
        try:
            actor = session.current_actor(self.rt, request, portal=True) if "session" in request.scope else None
        except Exception:  # the error page must render even when the database is the problem
            actor = None
        lang = self.lang(request, actor)
        said = error_text(detail, lang)[1] if isinstance(detail, EngineError) else i18n.localize(detail, lang)
        return self.render(request, "error.html", actor, status=status, title=i18n.localize(title, lang), detail=said, request_id=request_id)

    async def actor_or_login(self, request: Request):
        actor = await run_in_threadpool(session.current_actor, self.rt, request)
        if actor is None:
            raise Unauthenticated("sign in first")
        return actor

    def entity(self, name: str) -> Entity:
        return self.rt.records.entity(name)

    # ---------------------------------------------------------------- sign-in

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
        out = {target: self.rt.records.titles(actor, target, ids) for target, ids in wanted.items()}
        files = file_ids(self.app, ent, rows) if only is None else set()  # the names of the files its file fields hold
        if files:
            described = self.rt.files.describe(files)
            out["@file"] = {i: d["name"] for i, d in described.items()}
            out["@image"] = {i for i, d in described.items() if d["image"]}
        return out

    def navigation(self, actor) -> list:
        """The menu with only the entities the actor may read; modules left empty are dropped."""
        from dataclasses import replace
        g = self.grants(actor)
        out = []
        for m in self.app.navigation():
            items = tuple(n for n in m.items if g.can(n, "read"))
            if items:
                out.append(m if items == m.items else replace(m, items=items))
        return out

    def may_fire_on(self, actor, wf):
        """(transition, record) -> may this user fire it on this record now: the record is in one of its
        source states and the user holds one of its roles or relations to the owner (the guard is the
        record page's to explain). Decided once per transition and owner, so a page of rows costs a few queries."""
        cache: dict = {}
        mine = self.rt.records.permissions.role_closure(actor)
        may_update = self.grants(actor).can(wf.entity, "update")
        # what the roles alone decide, as engine.workflow.rules.may_fire would: True, False, or None (it depends on the owner)
        by_roles = {t.name: True if t.roles and mine & set(t.roles) else (may_update if not t.roles and not t.relations else
                                                                          (None if t.relations else False)) for t in wf.transitions.values()}

        def may(t, record: dict) -> bool:
            if record.get(wf.state_field) not in t.sources:
                return False
            decided = by_roles[t.name]
            if decided is not None:
                return decided
            key = (t.name, record.get("owner"))
            if key not in cache:
                with self.rt.db.read() as conn:
                    cache[key] = rules.may_fire(self.rt.records, conn, actor, wf, t, record)[0]
            return cache[key]
        return may

    def grants(self, actor):
        return self.rt.records.permissions.grants(actor)

    def is_party(self, ent: Entity) -> bool:
        """Whether a portal role's users are contacts of this entity's records (its customers, its suppliers)."""
        return bool(users.party_roles(self.app, ent.name))

    def party_facing(self, ent: Entity) -> Entity | None:
        """The party entity (customer, supplier) of a portal role whose portal shows this entity's records - their comments
        and files may then be shared with the record's party - or None."""
        def shown(r) -> bool:  # the portal shows records of its home entities
            return ent.name in users.portal_home(self.app, r.portal) and \
                any(g.entity == ent.name and g.action in ("read", "*") and g.scope != "none" for g in r.grants)
        role = next((r for r in self.app.roles.values() if r.portal is not None and shown(r)), None)
        return self.app.entity(role.portal.party_entity) if role is not None else None

    def locked(self, actor, ent: Entity, record: dict | None = None) -> frozenset:
        """Fields the actor may not write: hidden or read-only for their roles, or kept fixed by
        the record's workflow state."""
        g = self.grants(actor)
        return frozenset(n for n in ent.fields if g.level(ent.name, n) != "editable") | self.fixed_by_state(ent, record)

    def fixed_by_state(self, ent: Entity, record: dict | None) -> frozenset:
        wf = self.rt.records.workflow_of(ent.name)
        if wf is None or record is None or record.get(wf.state_field) not in wf.states:
            return frozenset()
        st = wf.states[record[wf.state_field]]
        if st.lock:
            return frozenset(ent.fields)
        return frozenset(n for n in ent.fields if st.editable is not None and n not in st.editable)

    def sections(self, ent: Entity, for_form: bool = False, actor=None, record: dict | None = None) -> list:
        """Sections of the form metadata (or a default layout), each a list of blocks in field order:
        runs of plain fields laid out in a grid, and table fields at full width where they stand.
        With `actor`: without the fields hidden from them, and their read-only fields marked so;
        with `record` too, the fields its workflow state keeps fixed are read-only."""
        out = self._sections(ent, for_form)
        if actor is None:
            return out
        out = self._conditions(ent, out, actor, record, for_form)
        g = self.grants(actor)
        fixed = self.fixed_by_state(ent, record) if for_form else frozenset()
        if for_form and out:  # read-only-when: shown as text while its condition holds
            fixed |= {n for n, st in out[0].get("conds", {}).items() if st.readonly}
        levels = {n: "read_only" if n in fixed else g.level(ent.name, n) for n in ent.fields}
        if all(v == "editable" for v in levels.values()):
            return out
        from dataclasses import replace

        def fix(fields):
            return [replace(f, read_only=True) if levels.get(f.name) == "read_only" else f for f in fields if levels.get(f.name) != "hidden"]
        for s in out:
            s["fields"] = fix(s["fields"])
            s["blocks"] = [b for b in ({**b, "fields": fix(b["fields"])} if "fields" in b else
                                       {**b, "table": fix([b["table"]])[0]} if levels.get(b["table"].name) == "read_only" else b
                                       for b in s["blocks"])
                           if "table" in b or b["fields"]]
        return [s for s in out if s["fields"]]

    def form_state(self, ent: Entity, actor, record: dict | None):
        """The form's conditions on this record (or new values) for this user: sections and fields shown, required, read-only."""
        form = conditions.form_for(self.app, ent)
        if form is None:
            return None
        record = record or {}
        sf = conditions.state_field(self.app, ent)
        lines = {t.name: record.get(t.name, []) for t in ent.table_fields()}
        return conditions.evaluate(form, {k: v for k, v in record.items() if k not in lines}, lines, actor.context(),
                                   self.rt.records.permissions.role_closure(actor), record.get(sf) if sf else None)

    def _conditions(self, ent: Entity, out: list, actor, record: dict | None, for_form: bool) -> list:
        """Sections for other roles or states go; conditional ones are hidden or shown as the record stands
        (the form keeps hidden ones, for the live update to show them); fields carry their state."""
        state = self.form_state(ent, actor, record)
        if state is None:
            return out
        form = conditions.form_for(self.app, ent)
        roles = self.rt.records.permissions.role_closure(actor)
        sf = conditions.state_field(self.app, ent)
        kept = []
        for s in out:
            i = s.get("index")
            if i is not None:
                sec = form.sections[i]
                if not conditions.section_applies(sec, roles, (record or {}).get(sf) if sf else None):
                    continue
                s = {**s, "hidden": not state.sections[i]}
                if s["hidden"] and not for_form:
                    continue
            kept.append({**s, "conds": state.fields})
        return kept

    def _sections(self, ent: Entity, for_form: bool = False) -> list:
        form = self.app.forms.get(ent.name)
        if form is not None:
            listed = set(form.field_names()) | set(form.hidden)
            raw = [(s.label, s.columns, [_as_shown(ent.fields[ff.name], ff) for ff in s.fields], s.tab) for s in form.sections]
            rest = [f for f in ent.fields.values() if f.name not in listed and not (for_form and (f.read_only or f.type == "computed"))]
            if rest:
                raw.append((None, 2, rest, len(form.tabs) - 1 if form.tabs else None))
        else:
            raw = [(None, 2, [f for f in ent.fields.values() if f.type != "table"], None)]
            raw += [(None, 1, [t], None) for t in ent.table_fields()]
        out = []
        for i, (label, columns, fields, tab) in enumerate(raw):
            blocks: list[dict] = []
            for f in fields:
                if f.type == "table":
                    blocks.append({"table": f})
                elif blocks and "fields" in blocks[-1]:
                    blocks[-1]["fields"].append(f)
                else:
                    blocks.append({"fields": [f]})
            index = i if form is not None and i < len(form.sections) else None  # the form section it comes from
            out.append({"label": label, "columns": columns, "blocks": blocks, "fields": fields, "tab": tab, "index": index})
        return out

    # ---------------------------------------------------------------- forms

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
    from engine.metadata.model import Entity as _E
    from engine.records.listing import field_for
    return field_for(_E(name="_", label=None, label_plural=None, fields={}), name)


def _record_id(request: Request) -> int:
    return record_id(request.path_params["id"])
