"""A party record's contacts on the portal (a customer's people): the record page lists them, and whoever may change
the record invites another by e-mail (engine.invitations)."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from engine.core.errors import Forbidden, NotFound, ValidationFailed
from engine.core.i18n import localize, reason
from engine.web.base import ScreenBase


class ContactScreens(ScreenBase):
    async def invite(self, request: Request):
        """POST /{entity}/{id}/contacts: a new contact invited; the page says it was sent, or shows the link once."""
        actor, ent, rid, form = await self._posted(request)
        lang = self.lang(request, actor)
        given = {"full_name": str(form.get("full_name") or ""), "email": str(form.get("email") or "")}
        try:
            made = await run_in_threadpool(self.rt.invitations.invite, actor, ent.name, rid, given["email"], given["full_name"],
                                           str(form.get("language") or ""), str(request.base_url))
        except ValidationFailed as exc:
            return await self.record_page(request, status=exc.status, contacts_note={**given, "error": reason(exc, lang)})
        except (Forbidden, NotFound) as exc:
            return await self.record_page(request, status=exc.status, contacts_note={**given, "error": localize(exc.detail, lang)})
        if made["link"] is None:
            return RedirectResponse(f"/{ent.name}/{rid}?invited={made['username']}#contacts", status_code=303)
        return await self.record_page(request, contacts_note={"username": made["username"], "link": made["link"]})
