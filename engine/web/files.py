"""The files on a record page: upload (a form that also works without script; with it, drag and
drop and a progress bar per file), download, preview of images and PDFs, and removal. Everything
goes through engine.files.attachments, so the record's access decides, as in the API."""
from __future__ import annotations

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from engine.core.errors import Conflict, FieldError, Forbidden, Msg, NotFound, PayloadTooLarge, ValidationFailed
from engine.core.i18n import reason
from engine.core.values import parse_id, query_flag
from engine.files.attachments import download_headers
from engine.web import session
from engine.web.base import ScreenBase, _record_id
from engine.web.uploads import SLACK, capped_form

MOST_AT_ONCE = 20  # files in one form post


class FileScreens(ScreenBase):
    async def upload_files(self, request: Request):
        """POST /{entity}/{id}/files: the chosen files. A script upload (X-Upload: 1) gets 204 or the
        error as text; a plain form post comes back to the record page, with the error on it."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        rid = _record_id(request)
        scripted = request.headers.get("x-upload") == "1"
        files = self.rt.files
        try:
            limit = await run_in_threadpool(files.max_bytes, ent.name)
            form = await capped_form(request, limit * (1 if scripted else MOST_AT_ONCE) + SLACK, MOST_AT_ONCE, 5)
            session.check_csrf(request, form)
            uploads = [u for u in form.getlist("file") if not isinstance(u, str) and u.filename]
            if not uploads:
                raise ValidationFailed([FieldError("file", Msg("choose a file first"))])
            try:
                for u in uploads:
                    await run_in_threadpool(files.add, actor, ent.name, rid, u.filename, u.file, form.get("shared") == "1")
            finally:
                for u in form.getlist("file"):
                    if not isinstance(u, str):
                        await u.close()
        except (Conflict, Forbidden, PayloadTooLarge, ValidationFailed) as exc:
            said = reason(exc, self.lang(request, actor))
            if scripted:
                return PlainTextResponse(said, status_code=exc.status)
            return await self.record_page(request, files_error=said, status=exc.status)
        if scripted:
            return Response(status_code=204)
        return RedirectResponse(f"/{ent.name}/{rid}#files", status_code=303)

    async def file(self, request: Request):
        """GET /files/{id}: the file as a download; ?inline=1 shows an image or a PDF in the page."""
        actor = await self.actor_or_login(request)
        aid = _file_id(request)
        found, chunks = await run_in_threadpool(self.rt.files.content, actor, aid)
        media, headers = download_headers(found, bool(query_flag(request.query_params.get("inline"))))
        return StreamingResponse(iterate_in_threadpool(chunks), media_type=media, headers=headers)

    async def file_preview(self, request: Request):
        """GET /files/{id}/preview: an image's small preview for the record page (a picture icon where there is none)."""
        actor = await self.actor_or_login(request)
        found, made = await run_in_threadpool(self.rt.files.preview, actor, _file_id(request))
        if made is None:
            return RedirectResponse("/static/file-image.svg", status_code=302)
        data, media = made
        return Response(data, media_type=media, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400",
                                                         "Content-Security-Policy": "default-src 'none'; sandbox"})

    async def remove_file(self, request: Request):
        """POST /files/{id}/delete: back to the record page, with the refusal on it if there is one."""
        actor = await self.actor_or_login(request)
        aid = _file_id(request)
        form = await request.form()
        session.check_csrf(request, form)
        found = await run_in_threadpool(self.rt.files.get, actor, aid)
        try:
            await run_in_threadpool(self.rt.files.remove, actor, aid)
        except (Conflict, Forbidden) as exc:
            request.scope["path_params"] = {"entity": found["entity"], "id": str(found["record_id"])}
            return await self.record_page(request, files_error=reason(exc, self.lang(request, actor)), status=exc.status)
        return RedirectResponse(f"/{found['entity']}/{found['record_id']}#files", status_code=303)


def _file_id(request: Request) -> int:
    found = parse_id(request.path_params["id"])
    if found is None:
        raise NotFound(Msg("no attachment with id %(id)s", id=request.path_params["id"]))
    return found
