"""The portal's screens: a party's records (home), one record with its lines, the next step in plain words, what
the workflow lets the portal role do, its printed documents; and a new record (an order) for the party.

Every read and write goes through the record service as the signed-in contact, so the scope clause of
their role (`record.customer == user.party`) and its field rules decide what they see - a record of
another party is a 404 here as everywhere. On the new-record form the party is fixed to theirs, and
fields the metadata fills (prices from the catalogue or the last order), numbers from a series and
computed values are never typed: they are what the service makes of them."""
from __future__ import annotations

from jinja2 import ChoiceLoader, FileSystemLoader
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from engine.access import users
from engine.core.errors import BadRequest, Conflict, Forbidden, Msg, NotFound, Unauthenticated, ValidationFailed
from engine.core.formats import Formatter
from engine.core.i18n import localize
from engine.core.values import parse_id
from engine.documents.render import PDF, pdf_headers, render
from engine.files.attachments import download_headers
from engine.records.listing import ListQuery
from engine.web import session
from engine.web.base import ScreenBase, _record_id
from engine.workflow import transitions

HERE = __import__("pathlib").Path(__file__).parent
TYPED = ("string", "text", "date", "datetime", "select", "decimal", "integer", "boolean", "link", "email", "phone")  # asked on the form
MOST_LINES = 200  # lines one new record may carry from the portal
PICK = 500  # choices offered for a link (the catalogue)


class Staff(Exception):
    """A back-office user on a portal address: their screens are the back office's."""


class PortalScreens(ScreenBase):
    def __init__(self, rt):
        super().__init__(rt)
        self.env.loader = ChoiceLoader([FileSystemLoader(str(HERE / "templates")), self.env.loader])  # the web's macros too

    # ---------------------------------------------------------------- who, and what they may reach

    async def contact(self, request: Request):
        """(the signed-in portal user, their Portal); sign in first, or Staff for a back-office user."""
        actor = await run_in_threadpool(session.current_actor, self.rt, request, True)
        if actor is None:
            raise Unauthenticated("sign in first")
        portal = self.grants(actor).portal
        if portal is None or actor.party is None:
            raise Staff()
        return actor, portal

    async def _contact_only(self, request: Request):
        """(contact, portal) for what only a contact does here (post, download): a back-office user is refused (403)."""
        try:
            return await self.contact(request)
        except Staff:
            raise Forbidden(Msg("the portal is for customers' and suppliers' contacts")) from None

    def home_entities(self, actor, portal) -> list:
        """The entities the portal shows: `home` in the role's portal block, else those of the party the role reads."""
        g = self.grants(actor)
        return [self.app.entity(n) for n in users.portal_home(self.app, portal) if g.can(n, "read")]

    def _entity(self, actor, portal, name: str):
        ent = next((e for e in self.home_entities(actor, portal) if e.name == name), None)
        if ent is None:
            raise NotFound(Msg("This page does not exist."))
        return ent

    def _party_fields(self, ent, portal) -> list[str]:
        return [f.name for f in ent.fields.values() if f.type == "link" and f.entity == portal.party_entity]

    def _page(self, request: Request, template: str, actor, portal, **ctx):
        party = self.rt.records.titles(actor, portal.party_entity, {actor.party}).get(actor.party, "")
        return self.render(request, template, actor, party=party, **ctx)

    # ---------------------------------------------------------------- pages

    async def home(self, request: Request):
        try:
            actor, portal = await self.contact(request)
        except Staff:
            return RedirectResponse("/", status_code=303)
        lists = await run_in_threadpool(self._lists, actor, portal)
        return self._page(request, "portal_home.html", actor, portal, lists=lists)

    def _lists(self, actor, portal) -> list[dict]:
        out = []
        g = self.grants(actor)
        for ent in self.home_entities(actor, portal):
            page = self.rt.records.list(actor, ent.name, ListQuery(limit=100, with_titles=True))
            wf = self.rt.records.workflow_of(ent.name)
            said = {ent.title_field, wf.state_field if wf else None, *self._party_fields(ent, portal)}  # on the card already
            out.append({"entity": ent, "items": page["items"], "more": page["next_cursor"] is not None, "workflow": wf,
                        "columns": [ent.fields[n] for n in ent.list_columns if n in ent.fields and g.level(ent.name, n) != "hidden"
                                    and n not in said],
                        "may_create": g.can(ent.name, "create")})
        return out

    async def record(self, request: Request, error: str | None = None, status: int = 200, said: str = "", said_error: str | None = None):
        try:
            actor, portal = await self.contact(request)
        except Staff:
            return RedirectResponse(request.url.path.removeprefix("/portal") or "/", status_code=303)
        ent = self._entity(actor, portal, request.path_params["entity"])
        rid = _record_id(request)
        lang = self.lang(request, actor)
        ctx = await run_in_threadpool(self._record, actor, portal, ent, rid, lang)
        return self._page(request, "portal_record.html", actor, portal, status=status, error=error, said=said, said_error=said_error, **ctx)

    def _record(self, actor, portal, ent, rid: int, lang: str) -> dict:
        rec = self.rt.records.get(actor, ent.name, rid)
        wf = self.rt.records.workflow_of(ent.name)
        flow = transitions.available(self.rt.records, actor, ent.name, rid, lang) if wf is not None else None
        state = wf.states[rec[wf.state_field]] if wf is not None else None
        skip = {ent.title_field, wf.state_field if wf else None, *self._party_fields(ent, portal)}

        def shown(s, f) -> bool:  # a value worth a line: not the title, state or party (said above), not empty, not hidden by the form
            cond = (s.get("conds") or {}).get(f.name)
            return f.name not in skip and f.type != "file" and rec.get(f.name) not in (None, "") and (cond is None or cond.visible)
        sections = []
        for s in self.sections(ent, False, actor, rec):
            blocks = [b for b in ({**b, "fields": [f for f in b["fields"] if shown(s, f)]} if "fields" in b else b for b in s["blocks"])
                      if b.get("fields") or b.get("table") is not None]
            if blocks and not s.get("hidden"):
                sections.append({**s, "blocks": blocks})
        return {"ent": ent, "rec": rec, "titles": self._titles(actor, ent, [rec]), "sections": sections, "state": state, "flow": flow,
                "documents": ent.documents, "app_entities": self.app.entities,
                "conversation": self.rt.comments.list(actor, ent.name, rid) if ent.comments else None,
                "files": self.rt.files.list(actor, ent.name, rid) if ent.attachments is not None else None}

    async def _posted(self, request: Request):
        """(contact, portal, entity, record id, form) of a form a contact posted about one of the portal's records; a
        back-office user is refused, the CSRF token checked."""
        actor, portal = await self._contact_only(request)
        form = await request.form()
        session.check_csrf(request, form)
        return actor, portal, self._entity(actor, portal, request.path_params["entity"]), _record_id(request), form

    async def fire(self, request: Request):
        """POST /portal/{entity}/{id}/transitions/{name}: what the workflow lets the portal role do (confirm, accept, withdraw)."""
        actor, portal, ent, rid, form = await self._posted(request)
        inputs = {k[6:]: v for k, v in form.items() if k.startswith("input_") and v != ""}
        version = form.get("_version")
        try:
            await run_in_threadpool(transitions.fire, self.rt.records, actor, ent.name, rid, request.path_params["name"],
                                    str(form.get("comment") or "") or None, inputs or None,
                                    int(version) if str(version or "").isdigit() else None, self.lang(request, actor))
        except (ValidationFailed, Conflict, Forbidden) as exc:
            lang = self.lang(request, actor)
            said = "; ".join(self._said(ent, e, lang) for e in exc.errors) if isinstance(exc, ValidationFailed) else self._localized(exc.detail, lang)
            return await self.record(request, error=said, status=exc.status)
        return RedirectResponse(f"/portal/{ent.name}/{rid}", status_code=303)

    async def write(self, request: Request):
        """POST /portal/{entity}/{id}/comments: a message to the company - a comment shared with the party, the owner told."""
        actor, portal, ent, rid, form = await self._posted(request)
        text = str(form.get("text") or "")
        try:
            made = await run_in_threadpool(self.rt.comments.add, actor, ent.name, rid, text)
        except ValidationFailed as exc:
            lang = self.lang(request, actor)
            return await self.record(request, status=exc.status, said=text, said_error="; ".join(self._localized(e.message, lang) for e in exc.errors))
        return RedirectResponse(f"/portal/{ent.name}/{rid}#message-{made['id']}", status_code=303)

    async def file(self, request: Request):
        """GET /portal/{entity}/{id}/files/{file}: one of the record's files shared with the party, as a download."""
        actor, portal = await self._contact_only(request)
        ent = self._entity(actor, portal, request.path_params["entity"])
        rid, aid = _record_id(request), parse_id(request.path_params["file"])
        found, chunks = await run_in_threadpool(self.rt.files.content, actor, aid)
        if found["entity"] != ent.name or found["record_id"] != rid or found["field"]:
            raise NotFound(Msg("no attachment with id %(id)s", id=request.path_params["file"]))
        media, headers = download_headers(found, False)
        return StreamingResponse(iterate_in_threadpool(chunks), media_type=media, headers=headers)

    async def document(self, request: Request):
        actor, portal = await self._contact_only(request)
        ent = self._entity(actor, portal, request.path_params["entity"])
        lang = self.lang(request, actor)
        pdf, name = await run_in_threadpool(render, self.rt.records, actor, ent.name, _record_id(request), request.path_params["name"], lang,
                                            Formatter(lang, actor.time_zone or "UTC"))
        return Response(pdf, media_type=PDF, headers=pdf_headers(name))

    # ---------------------------------------------------------------- a new record for the party

    def _form(self, actor, portal, ent) -> dict:
        """The fields a contact types: those the portal role may edit, not the party (it is theirs), not what the
        metadata fills, numbers or computes; each link's choices (the catalogue) and the lines' fields."""
        def asked(e, f) -> bool:
            return (f.type in TYPED and not f.read_only and f.fill is None and f.series is None and f.default_expr is None
                    and not (f.type == "link" and f.entity == portal.party_entity) and self.grants(actor).level(e.name, f.name) == "editable")
        wf = self.rt.records.workflow_of(ent.name)
        header, table = [], None
        for s in self.sections(ent, True, actor, {}):
            if s.get("hidden"):
                continue  # shown only for some values (an export order's customs papers): the portal asks no such thing
            for b in s["blocks"]:
                if "table" in b and table is None and not b["table"].read_only:
                    table = b["table"]
                for f in b.get("fields", ()):
                    cond = (s.get("conds") or {}).get(f.name)
                    if asked(ent, f) and (wf is None or f.name != wf.state_field) and f not in header and (cond is None or cond.visible):
                        header.append(f)
        child = self.app.entity(table.entity) if table is not None else None
        columns = [f for f in child.stored_fields() if asked(child, f)] if child is not None else []
        links = {f.entity for f in (*header, *columns) if f.type == "link"}
        choices = {}
        for target in links:
            t = self.app.entity(target)
            if self.grants(actor).can(t.name, "read"):
                rows = self.rt.records.list(actor, t.name, ListQuery(limit=PICK, sort=t.title_field or "id"))["items"]
                choices[target] = [(r["id"], str(r.get(t.title_field) or f"#{r['id']}")) for r in rows]
        return {"header": header, "table": table, "columns": columns, "choices": choices}

    async def new_form(self, request: Request):
        try:
            actor, portal = await self.contact(request)
        except Staff:
            return RedirectResponse("/", status_code=303)
        ent = self._entity(actor, portal, request.path_params["entity"])
        if not self.grants(actor).can(ent.name, "create"):
            raise Forbidden(Msg("you may not create %(thing)s here", thing=Msg.label(ent.label_plural, lower=True)))
        form = await run_in_threadpool(self._form, actor, portal, ent)
        return self._page(request, "portal_new.html", actor, portal, ent=ent, values={}, lines=[{}], errors=[], **form)

    async def new_save(self, request: Request):
        actor, portal = await self._contact_only(request)
        posted = await request.form()
        session.check_csrf(request, posted)
        ent = self._entity(actor, portal, request.path_params["entity"])
        lang = self.lang(request, actor)
        form = await run_in_threadpool(self._form, actor, portal, ent)
        values = {f.name: str(posted.get(f.name, "")).strip() for f in form["header"]}
        lines = _lines_of(posted, form["table"], form["columns"])
        data = {k: v for k, v in values.items() if v != ""}
        for name in self._party_fields(ent, portal):
            data[name] = actor.party  # theirs, whatever the page sent
        if form["table"] is not None:
            data[form["table"].name] = [{k: v for k, v in line.items() if v != ""} for line in lines]
        try:
            rec = await run_in_threadpool(self.rt.records.create, actor, ent.name, data)
        except ValidationFailed as exc:
            errors = [self._said(ent, e, lang) for e in exc.errors]
            return self._page(request, "portal_new.html", actor, portal, status=422, ent=ent, values=values, lines=lines or [{}],
                              errors=errors, **form)
        return RedirectResponse(f"/portal/{ent.name}/{rec['id']}", status_code=303)

    # ---------------------------------------------------------------- their own account

    async def account(self, request: Request, errors: dict | None = None, status: int = 200):
        try:
            actor, portal = await self.contact(request)
        except Staff:
            return RedirectResponse("/account", status_code=303)
        notices = await run_in_threadpool(self.rt.accounts.notice_settings, actor)
        return self._page(request, "portal_account.html", actor, portal, status=status, errors=errors or {}, notices=notices,
                          saved=request.query_params.get("saved"))

    async def account_save(self, request: Request):
        """POST /portal/account: the password (with the current one), or the language and whether e-mails come."""
        actor, portal = await self._contact_only(request)
        form = await request.form()
        session.check_csrf(request, form)
        lang = self.lang(request, actor)
        try:
            if form.get("what") == "password":
                if str(form.get("password", "")) != str(form.get("again", "")):
                    return await self.account(request, {"again": localize(Msg("the two passwords differ; type the same one twice"), lang)}, 422)
                await run_in_threadpool(self.rt.accounts.change_password, actor, str(form.get("current_password", "")),
                                        str(form.get("password", "")), request.client.host if request.client else None)
                await run_in_threadpool(session.sign_in, self.rt, request, actor)  # every session ended; this device gets a new one
                return RedirectResponse("/portal/account?saved=password", status_code=303)
            notices = await run_in_threadpool(self.rt.accounts.notice_settings, actor)
            await run_in_threadpool(self.rt.accounts.set_language, actor, str(form.get("language") or ""))
            await run_in_threadpool(self.rt.accounts.set_notice_settings, actor, notices.get("email") or "", notices.get("phone") or "",
                                    {"email": form.get("channel_email") == "on"})
        except ValidationFailed as exc:
            return await self.account(request, {e.field: localize(e.message, lang) for e in exc.errors}, 422)
        return RedirectResponse("/portal/account?saved=settings", status_code=303)

    # ---------------------------------------------------------------- messages

    def _said(self, ent, error, lang: str) -> str:
        """A field error as the contact reads it: the field's label (a line's: "Lines 2: Quantity"), then the message."""
        name, _, rest = str(error.field or "").partition(".")
        table, _, index = name.partition("[")
        f = ent.fields.get(table)
        where = ""
        if f is not None and f.type == "table" and index:
            child = self.app.entity(f.entity)
            cf = child.fields.get(rest)
            where = f"{f.label.get(lang)} {int(index.rstrip(']')) + 1}" + (f": {cf.label.get(lang)}" if cf else "")
        elif f is not None:
            where = f.label.get(lang)
        return (f"{where}: " if where else "") + self._localized(error.message, lang)

    def _localized(self, message, lang: str) -> str:
        return localize(message, lang)


def _lines_of(posted, table, columns) -> list[dict]:
    """The lines a form sent (`lines-0-product`, ...), in page order, without the empty ones."""
    if table is None:
        return []
    rows: dict[int, dict] = {}
    prefix = f"{table.name}-"
    for key, value in posted.multi_items():
        if not key.startswith(prefix):
            continue
        index, _, name = key[len(prefix):].partition("-")
        if index.isdigit() and any(c.name == name for c in columns):
            rows.setdefault(int(index), {})[name] = str(value).strip()
    out = [rows[i] for i in sorted(rows) if any(v != "" for v in rows[i].values())]
    if len(out) > MOST_LINES:
        raise BadRequest(Msg("at most %(n)s lines at a time", n=MOST_LINES))
    return out
