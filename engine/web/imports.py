"""The import screens: upload a file, check how its columns map to fields (and keep that mapping),
a dry run that shows what would happen - the errors and, for updates, each field's old and new
value - then the import itself with a progress bar, and its result. Everything happens in an
import job (engine.imports.jobs), run by the task queue when the process has one, else within the
request; only the user who uploaded a file sees its job."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from engine.core.errors import BadRequest, Conflict, Msg, NotFound, PayloadTooLarge, ValidationFailed
from engine.core.i18n import reason
from engine.core.transfer import attachment, capped
from engine.core.values import parse_id
from engine.imports import jobs, sheets, template
from engine.records.export import XLSX_TYPE, form_labels
from engine.web import session
from engine.web.base import ScreenBase

ENCODINGS = (("", "Detect"), ("utf-8", "UTF-8"), ("gb18030", "GB18030"), ("cp1251", "Windows-1251"))
SHOWN_ERRORS = 500


class ImportScreens(ScreenBase):
    async def import_page(self, request: Request, error: str | None = None, status: int = 200):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        self.rt.records.permissions.require(actor, ent.name, "import")
        recent = await run_in_threadpool(jobs.recent, self.rt.records, actor, ent.name)
        return self.render(request, "import.html", actor, status=status, ent=ent, keys=self._keys(ent), recent=recent, error=error,
                           encodings=ENCODINGS, limit_mb=round(sheets.max_bytes() / 1048576))

    def _keys(self, ent) -> list:
        return [f for f in ent.fields.values() if f.unique]

    async def upload(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        length = request.headers.get("content-length")
        lang = self.lang(request, actor)
        _ = self.translator(request, actor)
        if length and length.isdigit() and int(length) > sheets.max_bytes() + 65536:
            return await self.import_page(request, _("The file is larger than %(limit)s MB, the most an import takes.",
                                                     limit=round(sheets.max_bytes() / 1048576)), 413)
        try:  # counted as it streams in: a body without a Content-Length stops at the limit too
            form = await Request(request.scope, capped(request.receive, sheets.max_bytes() + 65536)).form(max_files=1, max_fields=10)
        except PayloadTooLarge:
            return await self.import_page(request, _("The file is larger than %(limit)s MB, the most an import takes.",
                                                     limit=round(sheets.max_bytes() / 1048576)), 413)
        session.check_csrf(request, form)
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            return await self.import_page(request, _("Choose a file (.xlsx or .csv) first."), 422)
        data = await upload.read(sheets.max_bytes() + 1)
        options = {"key": str(form.get("key") or "") or None, "skip_errors": form.get("skip_errors") == "on",
                   "encoding": str(form.get("encoding") or "") or None, "delimiter": str(form.get("delimiter") or "") or None, "lang": lang}
        try:
            job = await run_in_threadpool(jobs.upload, self.rt.records, actor, ent.name, data, upload.filename, options)
        except (BadRequest, ValidationFailed) as exc:
            return await self.import_page(request, reason(exc, lang), 422)
        return RedirectResponse(f"/imports/{job['id']}", status_code=303)

    async def job_page(self, request: Request):
        actor = await self.actor_or_login(request)
        job_id = _job_id(request)
        job = await run_in_threadpool(jobs.get, self.rt.records, actor, job_id, self.rt.queue)
        ent = self.entity(job["entity"])
        ctx = {}
        wrote = jobs.wrote(job)
        if job["status"] not in ("queued", "running") and not wrote:  # the mapping, to adjust before a (new) run
            header, samples, cols = await run_in_threadpool(jobs.sample, self.rt.records, actor, job_id)
            ctx = {"header": header, "samples": samples, "chosen": _chosen(header, cols),
                   "targets": self._targets(ent, self.lang(request, actor), self.translator(request, actor))}
        titles = {}
        if job["result"] and job["result"]["changes"]:
            ids = {c["id"] for c in job["result"]["changes"]}
            titles = await run_in_threadpool(self.rt.records.titles, actor, ent.name, ids)
        return self.render(request, "import_job.html", actor, job=job, ent=ent, keys=self._keys(ent), titles=titles, wrote=wrote,
                           labels=form_labels(self.app, ent), shown_errors=SHOWN_ERRORS, conflict=request.query_params.get("conflict") == "1", **ctx)

    def _targets(self, ent, lang: str, _) -> list[tuple[str, str]]:
        """(value, label) of what a column can fill: each field, each line field, the ref that groups lines, a transition."""
        labels = form_labels(self.app, ent)
        out = [(f.name, labels.get(f.name, f.label).get(lang)) for f in ent.fields.values() if f.type not in ("table", "computed")]
        for tf in ent.table_fields():
            child = self.app.entity(tf.entity)
            out += [(f"{tf.name}.{f.name}", f"{labels.get(tf.name, tf.label).get(lang)} · {f.label.get(lang)}") for f in child.fields.values()
                    if f.type not in ("table", "computed")]
        if ent.table_fields():
            out.append(("ref", _("Groups the rows of one record (ref)")))
        if self.rt.records.workflow_of(ent.name) is not None:
            out.append(("transition", _("Transition to fire")))
        return out

    async def run(self, request: Request):
        actor = await self.actor_or_login(request)
        job_id = _job_id(request)
        form = await request.form()
        session.check_csrf(request, form)
        header = form.getlist("column")
        mapping = {title: str(form.get(f"map_{i}", "")) for i, title in enumerate(header)}
        options = {"mapping": mapping or None, "key": str(form.get("key") or ""), "skip_errors": form.get("skip_errors") == "on",
                   "lang": self.lang(request, actor)}
        dry_run = form.get("dry_run") == "1"
        job = await run_in_threadpool(jobs.get, self.rt.records, actor, job_id)
        try:
            await run_in_threadpool(jobs.start, self.rt.records, actor, job_id, dry_run, {k: v for k, v in options.items() if v is not None})
        except Conflict:  # running already, or imported already: the page says which
            return RedirectResponse(f"/imports/{job_id}?conflict=1", status_code=303)
        if mapping and form.get("remember") == "on":
            await run_in_threadpool(jobs.keep_mapping, self.rt.records, actor, job["entity"], mapping)
        if self.rt.queue is not None:
            self.rt.queue.import_job(job_id)
        else:  # no task queue in this process: the import runs within the request
            await run_in_threadpool(jobs.run, self.rt.records, job_id)
        return RedirectResponse(f"/imports/{job_id}", status_code=303)

    async def progress(self, request: Request):
        """The progress bar, polled by htmx every second; when the run is over the page is loaded again."""
        actor = await self.actor_or_login(request)
        job = await run_in_threadpool(jobs.get, self.rt.records, actor, _job_id(request), self.rt.queue)
        if job["status"] not in ("queued", "running"):
            return HTMLResponse("", headers={"HX-Refresh": "true"})
        return self.render(request, "_import_progress.html", actor, job=job)

    async def errors_file(self, request: Request):
        actor = await self.actor_or_login(request)
        data, media, name = await run_in_threadpool(jobs.errors_download, self.rt.records, actor, _job_id(request))
        return Response(data, media_type=media, headers={"Content-Disposition": attachment(name)})

    async def template_file(self, request: Request):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        data = await run_in_threadpool(template.template, self.rt.records, actor, ent.name, self.lang(request, actor))
        return Response(data, media_type=XLSX_TYPE, headers={"Content-Disposition": attachment(f"{ent.name}.template.xlsx")})


def _chosen(header: list[str], cols) -> list[str]:
    """What each column of the file fills now: a field, `table.field`, ref, transition, or "" (left out)."""
    out = []
    for i, _title in enumerate(header):
        if i in cols.fields:
            out.append(cols.fields[i])
        elif i in cols.lines:
            out.append(".".join(cols.lines[i]))
        elif i == cols.ref:
            out.append("ref")
        elif i == cols.transition:
            out.append("transition")
        else:
            out.append("")
    return out


def _job_id(request: Request) -> int:
    job_id = parse_id(request.path_params["id"])
    if job_id is None:
        raise NotFound(Msg("there is no such import"))
    return job_id

