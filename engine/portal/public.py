"""Public forms at /forms/{name} (engine.public.submissions): anyone, no account - a company registering as a
customer or supplier, an inquiry. The page asks the fields the form lists that a stranger can fill (no links to
the company's records, no files, nothing the metadata fills or computes), in the visitor's language."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from engine.core.errors import PayloadTooLarge, TooManyRequests, ValidationFailed
from engine.core.i18n import localize
from engine.core.values import NewFile
from engine.files.attachments import default_max_bytes
from engine.portal.screens import PortalScreens, _lines_of
from engine.public.submissions import TRAP
from engine.web import session
from engine.web.uploads import SLACK, capped_form

ASKED = ("string", "text", "date", "datetime", "select", "decimal", "integer", "boolean", "email", "phone", "url")


class PublicScreens(PortalScreens):
    def _public_form(self, name: str) -> dict:
        form = self.rt.public_forms.form(name)
        ent = self.app.entity(form.entity)

        def asked(f) -> bool:
            return f.value_type in ASKED and f.type != "computed" and f.fill is None and not f.read_only
        header, table, columns, files = [], None, [], []
        for s in form.sections:
            for ff in s.fields:
                f = ent.fields.get(ff.name)
                if f is None:
                    continue
                if f.type == "file" and not f.read_only:
                    files.append(f)  # a document the company sends with its registration
                elif f.type == "table" and table is None:
                    table = f
                    columns = [c for c in self.app.entity(f.entity).stored_fields() if asked(c)]
                elif asked(f) and f.name not in form.public.set:
                    header.append(f)
        return {"form": form, "ent": ent, "header": header, "table": table, "columns": columns, "files": files, "choices": {}}

    async def public_page(self, request: Request):
        ctx = await run_in_threadpool(self._public_form, request.path_params["name"])
        return self.render(request, "portal_public.html", None, values={}, lines=[{}], errors=[], **ctx)

    async def public_submit(self, request: Request):
        ctx = await run_in_threadpool(self._public_form, request.path_params["name"])
        lang = self.lang(request)
        if ctx["files"]:  # the documents, each counted against its field's limit while they stream in
            most = sum((f.accepts.max_bytes if f.accepts else None) or default_max_bytes() for f in ctx["files"]) + SLACK
            try:
                posted = await capped_form(request, most, len(ctx["files"]), 500)
            except PayloadTooLarge as exc:
                return self.render(request, "portal_public.html", None, status=413, values={}, lines=[{}], errors=[localize(exc.detail, lang)], **ctx)
        else:
            posted = await request.form()
        session.check_csrf(request, posted)
        values = {f.name: str(posted.get(f.name, "")).strip() for f in ctx["header"]}
        lines = _lines_of(posted, ctx["table"], ctx["columns"])
        data = {k: v for k, v in values.items() if v != ""}
        if ctx["table"] is not None:
            data[ctx["table"].name] = [{k: v for k, v in line.items() if v != ""} for line in lines]
        for f in ctx["files"]:
            given = posted.get(f.name)
            if getattr(given, "filename", None):
                data[f.name] = NewFile(given.filename, given.file)
        address = request.client.host if request.client else None
        try:
            await run_in_threadpool(self.rt.public_forms.submit, ctx["form"].name, data, address, str(posted.get(TRAP) or ""))
        except ValidationFailed as exc:
            return self.render(request, "portal_public.html", None, status=422, values=values, lines=lines or [{}],
                               errors=[self._said(ctx["ent"], e, lang) for e in exc.errors], **ctx)
        except TooManyRequests as exc:
            resp = self.render(request, "portal_public.html", None, status=429, values=values, lines=lines or [{}],
                               errors=[localize(exc.detail, lang)], **ctx)
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        return self.render(request, "portal_public.html", None, done=True, **ctx)
