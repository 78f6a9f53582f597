"""Record screens: the record page with lines, related lists and history; create, edit and
copy forms; saving with errors and conflicts; live recompute and lookups while typing."""
from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from engine.access import users
from engine.core.errors import Conflict, Forbidden, Msg, NotFound, ValidationFailed
from engine.core.i18n import localize, reason
from engine.core.transfer import megabytes
from engine.core.values import parse_id
from engine.metadata.model import Entity
from engine.records.listing import ListQuery
from engine.records.serialize import has_file_fields, record_json
from engine.web import session
from engine.web.base import ScreenBase, _changed, _record_id
from engine.web.display import Display
from engine.web.forms import errors_by_field, form_to_input, local_moment, without_new_files
from engine.web.uploads import capped_form, form_limit
from engine.workflow import reviews, transitions


class RecordScreens(ScreenBase):
    async def record_page(self, request: Request, flow_error: str | None = None, status: int = 200, files_error: str | None = None,
                          comments_error: str | None = None, comment_text: str | None = None, comment_shared: bool = False,
                          contacts_note: dict | None = None):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = _record_id(request)
        if contacts_note is None and request.query_params.get("invited"):  # back from an invitation sent by e-mail
            contacts_note = {"username": request.query_params["invited"][:64]}

        def work():
            rec = self.rt.records.get(actor, ent.name, rid)
            hist = self.rt.records.history(actor, ent.name, rid)
            display = Display(self.app, "en", str)
            titles = self._titles(actor, ent, [rec], display.history_links(ent, hist))
            related = self._related(actor, ent, rid)
            flow = None
            wf = self.rt.records.workflow_of(ent.name)
            if wf is not None:
                lang = self.lang(request, actor)
                flow = transitions.available(self.rt.records, actor, ent.name, rid, lang)
                flow["timeline"] = transitions.timeline(self.rt.records, actor, ent.name, rid)
                people = {s["inputs"].get(k) for s in flow["timeline"] for k, f in _inputs_of(wf, s["transition"]).items() if f.type == "user"}
                if people - {None}:  # a step's input that names a person shows their name, not their id
                    titles.setdefault("@user", {}).update(self.rt.records.titles(actor, "@user", people - {None}))
                flow["sla"] = self.rt.records.sla_flag(rec)
                if any(i["type"] == "user" for t in flow["transitions"] for i in t["inputs"]):
                    with self.rt.db.read() as conn:  # a transition that names a person offers the active users
                        flow["users"] = users.choices(conn, self.rt.schema)
                if any(st.review for st in wf.states.values()):
                    review = reviews.summary(self.rt.records, actor, ent.name, rid, lang)
                    flow["reviews"] = review if review["round"] else None
            files = self.rt.files.list(actor, ent.name, rid) if ent.attachments is not None else None
            notes = self.rt.comments.list(actor, ent.name, rid) if ent.comments else None
            steps = (flow or {}).get("timeline") or []
            people = self.rt.records.titles(actor, "@user", {e["actor_id"] for e in [*hist, *steps] if e.get("actor_id") is not None})
            around = self.neighbours(actor, ent, rec, list_qs) if list_qs is not None else {}
            may_update = self.rt.records.can(actor, ent.name, "update", rid)
            contacts = self.rt.invitations.contacts(actor, ent.name, rid) if may_update and self.is_party(ent) else None
            return rec, hist, titles, related, may_update, flow, files, notes, people, around, contacts
        list_qs = request.query_params.get("list")  # opened from a list: its previous and next record
        rec, hist, titles, related, may_update, flow, files, notes, people, around, contacts = await run_in_threadpool(work)
        return self.render(request, "record.html", actor, status=status, ent=ent, rec=rec, titles=titles, related=related, around=around,
                           list_qs=list_qs,
                           history=hist, sections=self.sections(ent, actor=actor, record=rec), app_entities=self.app.entities, flow=flow,
                           workflow=self.rt.records.workflow_of(ent.name), flow_error=flow_error, sla_flag=(flow or {}).get("sla"),
                           may_update=may_update and not (flow or {}).get("locked"), may_create=self.grants(actor).can(ent.name, "create"),
                           files=files, files_error=files_error, comments=notes, shares=self.party_facing(ent), comments_error=comments_error, comment_text=comment_text, comment_shared=comment_shared, contacts=contacts, contacts_note=contacts_note, people=people, file_bytes=self.rt.files.max_bytes(ent.name) if files is not None else 0,
                           file_limit=megabytes(self.rt.files.max_bytes(ent.name)) if files is not None else None)

    async def fire(self, request: Request):
        """A transition button (and its small form of inputs) on the record page."""
        actor, ent, rid, form = await self._posted(request)
        name = request.path_params["transition"]
        fields = {k[6:]: v for k, v in form.multi_items() if k.startswith("input_")}
        for k, v in fields.items():  # datetime-local sends no offset: read in the user's time zone, as forms do
            if isinstance(v, str):
                fields[k] = local_moment(v, actor.time_zone)
        version = form.get("_version")
        try:
            await run_in_threadpool(lambda: transitions.fire(self.rt.records, actor, ent.name, rid, name, str(form.get("comment", "")) or None,
                                                             fields, parse_id(version),
                                                             self.lang(request, actor)))
        except (Conflict, Forbidden, ValidationFailed) as exc:
            return await self.record_page(request, flow_error=reason(exc, self.lang(request, actor)), status=exc.status)
        return RedirectResponse(f"/{ent.name}/{rid}", status_code=303)

    async def review(self, request: Request):
        """A reviewer's approve or reject, with their opinion, from the record page."""
        actor, ent, rid, form = await self._posted(request)
        try:
            await run_in_threadpool(lambda: reviews.decide(self.rt.records, actor, ent.name, rid, form.get("decision"),
                                                           str(form.get("opinion", "")) or None, form.get("role") or None,
                                                           self.lang(request, actor)))
        except (Conflict, Forbidden, ValidationFailed) as exc:
            return await self.record_page(request, flow_error=reason(exc, self.lang(request, actor)), status=exc.status)
        try:  # after the last opinion the record may have moved where this reviewer no longer reads it
            await run_in_threadpool(self.rt.records.get, actor, ent.name, rid)
        except NotFound:
            return RedirectResponse("/?reviewed=" + str(rid), status_code=303)
        return RedirectResponse(f"/{ent.name}/{rid}", status_code=303)

    async def _posted(self, request: Request):
        """(actor, entity, record id, form) of a form posted about one record, its CSRF token checked."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = _record_id(request)
        form = await request.form()
        session.check_csrf(request, form)
        return actor, ent, rid, form

    def _related(self, actor, ent: Entity, rid: int) -> list:
        out = []
        grants = self.grants(actor)
        for other in self.app.top_entities():
            if not grants.can(other.name, "read"):
                continue
            hidden = grants.hidden(other.name)
            for f in other.fields.values():
                if f.type == "link" and f.entity == ent.name and f.name not in hidden:
                    page = self.rt.records.list(actor, other.name, ListQuery(filters=[(f.name, "eq", str(rid))], limit=10))
                    out.append({"entity": other, "field": f, "page": page, "columns": self.columns(other, actor)[:5],
                                "titles": self._titles(actor, other, page["items"])})
        return out

    async def form_page(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = request.path_params.get("id")
        copy_of = request.query_params.get("copy")

        def work():
            if rid is not None:
                rec = self.rt.records.get(actor, ent.name, _record_id(request))
                self._refuse_unsavable(actor, ent, rec)
            elif parse_id(copy_of) is not None:
                rec = self._copy(actor, ent, parse_id(copy_of))
            else:
                values, lines, _, _ = self.rt.records.preview(actor, ent.name, {})
                rec = {**values, **lines}
                for tf in ent.table_fields():  # a new record starts with one empty line to type into
                    rec[tf.name] = [{f.name: f.default for f in self.app.entity(tf.entity).stored_fields()}]
            return rec, self._titles(actor, ent, [rec])
        rec, titles = await run_in_threadpool(work)
        return await run_in_threadpool(self.form, request, actor, ent, rec, titles, {}, rid is not None)

    def _refuse_unsavable(self, actor, ent: Entity, rec: dict) -> None:
        """A form the user could not save is not offered: not theirs to change (403), or locked by its state (409)."""
        if not self.rt.records.can(actor, ent.name, "update", rec["id"]):
            raise Forbidden(Msg("you may read this %(thing)s but not %(action)s it", thing=Msg.label(ent.label, lower=True), action=Msg("update")))
        wf = self.rt.records.workflow_of(ent.name)
        st = wf.states.get(rec.get(wf.state_field)) if wf is not None else None
        if st is not None and st.lock:
            raise Conflict(Msg("this %(thing)s is %(state)s; it can no longer change", thing=Msg.label(ent.label, lower=True),
                               state=Msg.label(st.label, lower=True)))

    def _copy(self, actor, ent: Entity, source_id: int) -> dict:
        """A new record prefilled from an existing one: no number, no ids, today's defaults."""
        src = self.rt.records.get(actor, ent.name, source_id)
        data = {}
        for f in ent.fields.values():
            if f.type == "table":
                child = self.app.entity(f.entity)
                data[f.name] = [{cf.name: line.get(cf.name) for cf in child.stored_fields() if cf.type not in ("computed", "file")
                                 and line.get(cf.name) is not None}
                                for line in src.get(f.name, [])]
            elif f.type not in ("computed", "file") and not f.read_only and not f.default_expr and src.get(f.name) is not None:
                data[f.name] = src[f.name]
        # JSON-shaped input, as the API would send it
        shaped = record_json(self.app, ent, {"id": 0, **data})
        shaped = {k: v for k, v in shaped.items() if k in data}
        values, lines, _, _ = self.rt.records.preview(actor.through("api"), ent.name, shaped)
        return {**values, **lines}

    def form(self, request, actor, ent: Entity, rec: dict, titles: dict, errors: dict, editing: bool,
             conflict: dict | None = None, status: int = 200, raw: dict | None = None):
        shows = self._shows(actor, ent, rec, {tf.name: rec.get(tf.name, []) for tf in ent.table_fields()})
        form_meta = self.app.forms.get(ent.name)
        tabs = list(form_meta.tabs) if form_meta is not None else []
        sections = self.sections(ent, for_form=True, actor=actor, record=rec)
        # open the first tab that holds an error (errors are keyed `field` or `table-row-field`)
        with_errors = {k.split("-")[0] for k in errors}
        open_tab = next((s["tab"] for s in sections if s["tab"] is not None and with_errors & {f.name for f in s["fields"]}), 0)
        return self.render(request, "form.html", actor, status=status, ent=ent, rec=rec, titles=titles, errors=errors, shows=shows,
                           tabs=tabs, open_tab=open_tab, general=self._unplaced(ent, sections, rec, errors, self.lang(request, actor)),
                           editing=editing, sections=sections, conflict=conflict, raw=raw or {}, with_files=has_file_fields(self.app, ent),
                           app_entities=self.app.entities, shown=",".join(f.name for s in sections for f in s["fields"] if not f.read_only))

    def _unplaced(self, ent: Entity, sections: list, rec: dict, errors: dict, lang: str) -> list[tuple[str | None, str]]:
        """(where, message) for the errors that no input on the form shows (the record as a whole,
        a field the form leaves out, a line's id...), so the alert at the top says them instead."""
        placed = set()
        for s in sections:
            for f in s["fields"]:
                placed.add(f.name)
                if f.type == "table":
                    child = self.app.entity(f.entity)
                    placed |= {f"{f.name}-{i}-{c.name}" for i in range(len(rec.get(f.name, []))) for c in child.stored_fields()}
        out = []
        for key, messages in errors.items():
            if key in placed:
                continue
            where = None
            table, _, rest = key.partition("-")
            if key not in (ent.name, "body"):
                f = ent.fields.get(table)
                if f is not None and f.type == "table" and rest:
                    row, _, name = rest.partition("-")
                    cf = self.app.entity(f.entity).fields.get(name)
                    where = f"{f.label.get(lang)} {int(row) + 1 if row.isdecimal() else row}: {cf.label.get(lang) if cf else name}"
                else:
                    where = f.label.get(lang) if f is not None else key
            out += [(where, m) for m in messages]
        return out

    async def save(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        form = await capped_form(request, *form_limit(self.app, ent)) if has_file_fields(self.app, ent) else await request.form()
        session.check_csrf(request, form)
        shown = [n for n in str(form.get("_fields", "")).split(",") if n]
        data = form_to_input(self.app, ent, form, shown, locked=self.locked(actor, ent), tz=actor.time_zone or "UTC")
        rid = request.path_params.get("id")
        try:
            if rid is None:
                rec = await run_in_threadpool(self.rt.records.create, actor, ent.name, data)
            else:
                version = form.get("_version")
                rec = await run_in_threadpool(self.rt.records.update, actor, ent.name, _record_id(request), data,
                                              parse_id(version))
        except (ValidationFailed, Conflict) as exc:  # the form again, with the files the record holds (a file chosen is chosen again)
            values, lines, _, _ = await run_in_threadpool(self.rt.records.preview, actor, ent.name, without_new_files(data),
                                                          _record_id(request) if rid is not None else None)
            rec = {**values, **lines}
            conflict = None
            if isinstance(exc, Conflict):
                current = exc.current or {}
                rec["version"] = current.get("version")
                changed = [f for f in ent.stored_fields() if f.type != "computed" and f.name in data and current.get(f.name) != values.get(f.name)]
                conflict = {"message": localize(exc.detail, self.lang(request, actor)), "fields": changed, "current": current}
            else:
                rec["version"] = parse_id(form.get("_version"))
            if rid is not None:
                rec["id"] = _record_id(request)
            titles = await run_in_threadpool(self._titles, actor, ent, [rec] + ([conflict["current"]] if conflict else []))
            errs = errors_by_field(exc.errors, self.lang(request, actor)) if isinstance(exc, ValidationFailed) else {}
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
        data = form_to_input(self.app, ent, form, shown, keep_empty=True, locked=self.locked(actor, ent), tz=actor.time_zone or "UTC")
        rid = form.get("_id")
        changed = _changed(str(form.get("_changed", "")))

        def work():
            values, lines, _, filled = self.rt.records.preview(actor, ent.name, data, parse_id(rid), changed)
            rec = {**values, **lines}
            titles = self._titles(actor, ent, [rec])
            shows = self._shows(actor, ent, values, lines, only=changed)
            # only what this user's form has: no swap for a missing target, no value of a field hidden from them
            on_form = {f.name for s in self.sections(ent, for_form=True, actor=actor, record=rec) for f in s["fields"]}
            filled = [p for p in filled if p.split("-")[0] in on_form]
            shows = {n: s for n, s in shows.items() if n.split("-")[0] in on_form}
            return values, lines, filled, titles, shows, self.form_state(ent, actor, rec), on_form
        values, lines, filled, titles, shows, state, on_form = await run_in_threadpool(work)
        resp = self.render(request, "computed_oob.html", actor, ent=ent, values=values, lines=lines, shown=shown, on_form=on_form,
                           filled=filled, titles=titles, shows=shows, app_entities=self.app.entities)
        if state is not None:  # the form's conditions on the values as typed: app.js shows, hides and marks required
            resp.headers["HX-Trigger"] = json.dumps({"form-conditions": {
                "sections": {str(i): v for i, v in enumerate(state.sections)},
                "fields": {n: [st.visible, st.required, st.readonly] for n, st in state.fields.items()}}})
        return resp

    async def fill_history(self, request: Request):
        """The rows behind a field's fill (e.g. the prices this customer paid for this product)."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        target = str(request.query_params.get("field", ""))
        table, idx, fname = _changed(target) or (None, None, target)
        child = self.app.entity(ent.fields[table].entity) if table in ent.fields and ent.fields[table].type == "table" else None
        f = (child or ent).fields.get(fname) if (child or ent) else None
        if f is None or f.fill is None:
            raise NotFound(Msg("%(entity)s has no looked-up field '%(field)s'", entity=ent.name, field=target[:60]))
        shown = [n.name for n in ent.fields.values()]
        data = form_to_input(self.app, ent, request.query_params, shown, keep_empty=True, locked=self.locked(actor, ent), tz=actor.time_zone or "UTC")

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


def _inputs_of(wf, transition: str) -> dict:
    t = wf.transitions.get(transition)
    return dict(t.inputs) if t is not None else {}
