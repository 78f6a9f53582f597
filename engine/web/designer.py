"""The form designer's screens, for administrators: the forms, the designer of one form (drag or
keyboard to arrange, labels per language, conditions with a helper, custom fields, a preview as
a chosen role), its versions with restore, and the implementer's form against the one in force.

Every handler calls engine.forms.designer, which checks that the user is an administrator and that a
change passes the same checks as `run.py check` before anything is stored.
"""
from __future__ import annotations

from types import SimpleNamespace

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from engine.core.actor import Actor
from engine.core.errors import Conflict, ValidationFailed
from engine.core.values import parse_int
from engine.forms import designer
from engine.records.service import Records
from engine.web import session
from engine.web.base import ScreenBase
from engine.web.designer_form import NAME, custom_spec, options_text, read_custom, read_draft

_WIDGETS = {"string": ("textarea",), "text": ("textarea",), "select": ("select", "radio"), "boolean": ("checkbox",),
            "date": ("date",), "decimal": ("currency",)}


class DesignerScreens(ScreenBase):
    async def forms_page(self, request: Request):
        actor = await self.actor_or_login(request)
        rows = await run_in_threadpool(designer.forms, self.rt, actor)
        return self.render(request, "settings_forms.html", actor, forms=rows)

    async def designer_page(self, request: Request):
        actor = await self.actor_or_login(request)
        ed = await run_in_threadpool(designer.editor, self.rt, actor, request.path_params["entity"])
        saved = request.query_params.get("saved")
        return self._designer(request, actor, ed, notice=saved and ("unchanged" if saved == "0" else "saved"))

    def _designer(self, request: Request, actor, ed, errors: list | None = None, status: int = 200, notice: str | None = None,
                  conflict: str | None = None, based_on: int | None = None):
        wf = self.rt.records.workflow_of(ed.entity.name)
        by_target: dict[str, list] = {}
        for e in errors or ():
            by_target.setdefault(e.field, []).append(e.message)
        names = designer.condition_scope(self.rt, ed.entity.name, ed.custom)
        return self.render(request, "designer.html", actor, status=status, ed=ed, errors=errors or [], by_target=by_target,
                           notice=notice, conflict=conflict, based_on=ed.number if based_on is None else based_on,
                           roles=self.app.roles, states=list(wf.states.values()) if wf else [], workflow=wf,
                           user_names=sorted(names.objects["user"]), widgets=_WIDGETS, custom_types=designer.CUSTOM_TYPES,
                           options_text=options_text, tables={n: sorted(c) for n, c in names.tables.items()})

    async def _draft(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        doc, custom = read_draft(form, self.app.languages)
        based_on = parse_int(str(form.get("based_on", "0")))
        return actor, form, doc, custom, based_on if based_on is not None and based_on > 0 else 0

    async def designer_save(self, request: Request):
        entity = request.path_params["entity"]
        try:
            actor, form, doc, custom, based_on = await self._draft(request)
        except ValidationFailed as exc:  # a tampered arrangement: show the form in force with what was wrong
            actor = await self.actor_or_login(request)
            ed = await run_in_threadpool(designer.editor, self.rt, actor, entity)
            return self._designer(request, actor, ed, exc.errors, status=422)
        try:
            number = await run_in_threadpool(designer.save, self.rt, actor, entity, doc, custom, based_on)
        except (ValidationFailed, Conflict) as exc:
            ed = await run_in_threadpool(designer.editor, self.rt, actor, entity, doc, custom)
            if isinstance(exc, Conflict):  # saving again applies this draft over the newer version, knowingly
                return self._designer(request, actor, ed, status=409, conflict=exc.detail, based_on=self.rt.stored.numbers.get(entity, 0))
            return self._designer(request, actor, ed, exc.errors, status=422, based_on=based_on)
        return RedirectResponse(f"/settings/forms/{entity}?saved={number or 0}", status_code=303)

    async def designer_preview(self, request: Request):
        """The posted (unsaved) form as a chosen role sees a record in a chosen state."""
        entity = request.path_params["entity"]
        actor, form, doc, custom, _ = await self._draft(request)
        role = str(form.get("preview_role", ""))
        state = str(form.get("preview_state", "")) or None

        def work():
            records = designer.preview(self.rt, actor, entity, doc, custom)
            screens = _Drafted(self, records)
            ent = records.app.entities[entity]
            wf = records.app.workflows.get(entity)
            seen = Actor(None, "preview", frozenset([role]) if role in records.app.roles else frozenset(), via="screen")
            record = {wf.state_field: state} if wf is not None and state in wf.states else None
            rec = {**{f.name: f.default for f in ent.stored_fields()}, **{t.name: [] for t in ent.table_fields()}, **(record or {})}
            return screens.sections(ent, for_form=True, actor=seen, record=rec), ent, records.app.forms.get(entity), rec
        try:
            sections, ent, form_meta, rec = await run_in_threadpool(work)
        except ValidationFailed as exc:
            return self.render(request, "designer_problems.html", actor, errors=exc.errors)
        return self.render(request, "designer_preview.html", actor, sections=sections, ent=ent, rec=rec,
                           tabs=list(form_meta.tabs) if form_meta else [], role=role, state=state, app_entities=self.app.entities)

    async def designer_check(self, request: Request):
        """One condition, checked as the user types it: nothing when it is fine, else the problem."""
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        source = next((str(v) for k, v in form.multi_items() if k == str(form.get("_check", ""))), "").strip()
        if not source:
            return HTMLResponse("")
        problem = await run_in_threadpool(designer.check_condition, self.rt, actor, request.path_params["entity"], source,
                                          read_custom(form, self.app.languages))
        return self.render(request, "designer_check.html", actor, problem=problem)

    async def designer_new_field(self, request: Request):
        """A custom field from the side panel's inputs: a new row for the form, or why it cannot be added."""
        entity = request.path_params["entity"]
        actor, form, doc, custom, _ = await self._draft(request)
        _ = self.translator(request, actor)
        name = str(form.get("add.name", "")).strip()
        label = str(form.get("add.label.en", "")).strip()
        name = name or designer.suggest_name(label)
        problem = None
        if not label:
            problem = _("Give the field a label.")
        elif not NAME.match(name):
            problem = _("The name is written in small letters, digits and _, starting with a letter: like sales_channel.")
        elif name in custom or name in self.rt.app.entities[entity].fields:
            problem = _("There is already a field called %(name)s.", name=name)
        spec = None
        if problem is None:
            renamed = {k.replace("add.", f"new.{name}.", 1): v for k, v in form.multi_items() if k.startswith("add.")}
            spec = custom_spec(_Form(renamed), name, self.app.languages)
            draft = dict(doc)
            first = (draft.get("tabs") or [{"sections": draft.get("sections") or []}])[0]["sections"]
            if first:
                first[0]["fields"].append(name)
            try:  # the whole draft with the field on it must pass, as saving it would check
                await run_in_threadpool(designer.preview, self.rt, actor, entity, draft, {**custom, name: spec})
            except ValidationFailed as exc:
                problem = "; ".join(e.message for e in exc.errors)
        if problem is not None:
            resp = self.render(request, "designer_check.html", actor, problem=problem)
            resp.headers["HX-Retarget"] = "#add-field-msg"
            resp.headers["HX-Reswap"] = "innerHTML"
            return resp
        ed = await run_in_threadpool(designer.editor, self.rt, actor, entity, doc, {**custom, name: spec})
        wf = self.rt.records.workflow_of(entity)
        return self.render(request, "designer_new_field.html", actor, ed=ed, name=name, roles=self.app.roles, by_target={},
                           states=list(wf.states.values()) if wf else [], widgets=_WIDGETS, options_text=options_text)

    async def history_page(self, request: Request, errors: list | None = None, status: int = 200):
        actor = await self.actor_or_login(request)
        entity = request.path_params["entity"]
        rows = await run_in_threadpool(designer.history, self.rt, actor, entity)
        return self.render(request, "designer_history.html", actor, status=status, versions=rows, ent=self.rt.records.entity(entity),
                           current=self.rt.stored.numbers.get(entity, 0), errors=errors or [], restored=request.query_params.get("restored"))

    async def restore(self, request: Request):
        actor = await self.actor_or_login(request)
        entity = request.path_params["entity"]
        form = await request.form()
        session.check_csrf(request, form)
        number, based_on = parse_int(str(form.get("number", ""))), parse_int(str(form.get("based_on", "")))
        if number is None or based_on is None or number < 0 or based_on < 0:
            return await self.history_page(request, [{"message": "choose a version to restore"}], status=422)
        try:
            new = await run_in_threadpool(designer.restore, self.rt, actor, entity, number, based_on)
        except (ValidationFailed, Conflict) as exc:
            errors = [{"message": e.message} for e in exc.errors] if isinstance(exc, ValidationFailed) else [{"message": exc.detail}]
            return await self.history_page(request, errors, status=exc.status)
        return RedirectResponse(f"/settings/forms/{entity}/history?restored={new}", status_code=303)

    async def compare_page(self, request: Request):
        actor = await self.actor_or_login(request)
        entity = request.path_params["entity"]
        result = await run_in_threadpool(designer.compare, self.rt, actor, entity)
        return self.render(request, "designer_compare.html", actor, ent=self.rt.records.entity(entity), **result)


class _Form(dict):
    """A plain mapping that answers like a posted form (get, getlist, keys)."""

    def getlist(self, key):
        return [self[key]] if key in self else []


class _Drafted(ScreenBase):
    """Screens over a draft app (the designer's preview): the same layout code, another record service."""

    def __init__(self, base: ScreenBase, records: Records):
        self.rt = SimpleNamespace(app=records.app, records=records, db=records.db, schema=records.schema)
        self.env = base.env
        self._fragments = {}
        self._fragments_of = records.app
