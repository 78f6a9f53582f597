"""The bell in the top bar and the page of all notifications. The bell's count and latest
notifications load after the page (htmx), so no page waits for them; each notification is shown
in the reader's language of now, not the one they had when it was sent; opening one marks it read
and goes to its record."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from engine.core.errors import Msg, NotFound
from engine.core.values import parse_id
from engine.web.base import ScreenBase

PAGE = 30


class BellScreens(ScreenBase):
    async def bell(self, request: Request):
        """GET /notifications/bell: the bell, for the top bar."""
        actor = await self.actor_or_login(request)
        lang = self.lang(request, actor)
        notes, unread = await run_in_threadpool(self.rt.records.inbox, actor, lang, 8)
        back = request.headers.get("hx-current-url", "/")
        back = "/" + back.split("://", 1)[-1].split("/", 1)[-1] if "://" in back else "/"
        return self.render(request, "_bell.html", actor, notes=notes, unread=unread, back=back)

    async def notifications_page(self, request: Request):
        actor = await self.actor_or_login(request)
        lang = self.lang(request, actor)
        before = parse_id(request.query_params.get("before") or "")
        notes, unread = await run_in_threadpool(lambda: self.rt.records.inbox(actor, lang, PAGE + 1, before=before, everything=True))
        older = notes[PAGE - 1]["id"] if len(notes) > PAGE else None
        return self.render(request, "notifications.html", actor, notes=notes[:PAGE], unread=unread, older=older)

    async def open_notification(self, request: Request):
        """GET /notifications/{id}/open: marked read, then its record (or the list, for one about no record)."""
        actor = await self.actor_or_login(request)
        nid = parse_id(request.path_params["id"])
        found = await run_in_threadpool(self.rt.records.open_notification, actor, nid) if nid is not None else None
        if found is None:
            raise NotFound(Msg("no notification with id %(id)s", id=request.path_params["id"]))
        if found["entity"] and found["record_id"]:
            return RedirectResponse(f"/{found['entity']}/{found['record_id']}", status_code=303)
        return RedirectResponse("/notifications", status_code=303)
