"""Settings screens: user administration and permission explanations for administrators, and
every user's own account (password, language, where and how they are told of their records). Each handler calls engine.access.accounts or
engine.records.explain, which check that the user may do it."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from engine.access.accounts import time_zones
from engine.core.errors import ValidationFailed
from engine.core.i18n import field_errors, reason
from engine.core.values import parse_id, parse_int
from engine.metadata.model import ACTIONS
from engine.records import explain as access
from engine.web import session
from engine.web.base import ScreenBase, _record_id
from engine.web.forms import errors_by_field

# offered first in the time zone list: where the app's first customers and their partners work
COMMON_ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Europe/Moscow", "Europe/Kaliningrad", "Asia/Yekaterinburg",
                "Asia/Novosibirsk", "Asia/Vladivostok", "Europe/Berlin", "Europe/London", "America/New_York")


class SettingsScreens(ScreenBase):
    async def users_page(self, request: Request):
        actor = await self.actor_or_login(request)
        rows = await run_in_threadpool(self.rt.accounts.list, actor)
        return self.render(request, "settings_users.html", actor, users=rows, user_fields=self.app.user_fields)

    async def user_page(self, request: Request):
        actor = await self.actor_or_login(request)
        uid = request.path_params.get("id")
        user = await run_in_threadpool(self.rt.accounts.get, actor, _record_id(request)) if uid else None
        return await self._user_form(request, actor, user, {}, {})

    async def _user_form(self, request, actor, user, values: dict, errors: dict, status: int = 200, notice: str = ""):
        everyone = await run_in_threadpool(self.rt.accounts.list, actor)
        return self.render(request, "settings_user.html", actor, status=status, user=user, values=values, errors=errors, notice=notice,
                           roles=self.app.roles, user_fields=self.app.user_fields,
                           parties=sorted({r.portal.party_entity for r in self.app.roles.values() if r.portal is not None}),
                           managers=[u for u in everyone if user is None or u["id"] != user["id"]])

    async def save_user(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        uid = request.path_params.get("id")
        roles = [r for r in form.getlist("roles") if r]
        attributes = {}
        for name, f in self.app.user_fields.items():
            raw = str(form.get("attr_" + name, "")).strip()
            if raw:
                number = parse_int(raw) if f.type in ("link", "integer") else None
                attributes[name] = number if number is not None else (raw == "true" if f.type == "boolean" else raw)
        values = {"username": str(form.get("username", "")).strip(), "full_name": str(form.get("full_name", "")).strip(),
                  "email": str(form.get("email", "")).strip(), "phone": str(form.get("phone", "")).strip(),
                  "manager": str(form.get("manager", "")), "roles": roles, "attributes": attributes, "active": form.get("active") == "on",
                  "party": parse_int(str(form.get("party", "")).strip()) if str(form.get("party", "")).strip() else None}
        try:
            if uid is None:
                new_id = await run_in_threadpool(lambda: self.rt.accounts.create(
                    actor, values["username"], str(form.get("password", "")), roles, manager=values["manager"] or None,
                    full_name=values["full_name"] or None, attributes=attributes, email=values["email"], phone=values["phone"],
                    party=values["party"]))
                return RedirectResponse(f"/settings/users/{new_id}?saved=1", status_code=303)
            target = _record_id(request)
            await run_in_threadpool(lambda: self.rt.accounts.update(
                actor, target, full_name=values["full_name"], roles=roles, manager=values["manager"], attributes=attributes,
                active=values["active"], email=values["email"], phone=values["phone"], party=values["party"]))
            return RedirectResponse(f"/settings/users/{target}?saved=1", status_code=303)
        except ValidationFailed as exc:
            user = await run_in_threadpool(self.rt.accounts.get, actor, _record_id(request)) if uid else None
            return await self._user_form(request, actor, user, values, errors_by_field(exc.errors, self.lang(request, actor)), status=422)

    async def reset_password(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        target = _record_id(request)
        try:
            await run_in_threadpool(self.rt.accounts.reset_password, actor, target, str(form.get("new_password", "")))
        except ValidationFailed as exc:
            user = await run_in_threadpool(self.rt.accounts.get, actor, target)
            return await self._user_form(request, actor, user, {}, {"new_password": [reason(exc, self.lang(request, actor))]}, status=422)
        return RedirectResponse(f"/settings/users/{target}?password=1", status_code=303)

    async def roles_page(self, request: Request):
        actor = await self.actor_or_login(request)
        names = list(self.app.roles)
        chosen = request.query_params.get("role") or (names[0] if names else "")
        table = await run_in_threadpool(access.role_table, self.rt.records, actor, chosen) if chosen else None
        return self.render(request, "settings_roles.html", actor, roles=self.app.roles, chosen=chosen, table=table, actions=ACTIONS)

    async def explain_page(self, request: Request):
        actor = await self.actor_or_login(request)
        q = request.query_params
        answer, error = None, None
        everyone = await run_in_threadpool(self.rt.accounts.list, actor)  # also checks that the actor is an administrator
        if q.get("user"):
            rid = q.get("record", "").strip()
            if rid and parse_id(rid) is None:
                error = "record: a record id is a whole number"
            else:
                try:
                    answer = await run_in_threadpool(access.explain, self.rt.records, actor, q["user"], q.get("entity", ""),
                                                     q.get("action", "read"), parse_id(rid))
                except ValidationFailed as exc:
                    error = "; ".join(f"{e.field}: {e.message}" for e in field_errors(exc.errors, self.lang(request, actor)))
        return self.render(request, "settings_explain.html", actor, users=everyone, entities=self.app.top_entities(), actions=ACTIONS,
                           q=dict(q), answer=answer, error=error)

    async def account_page(self, request: Request, errors: dict | None = None, status: int = 200, new_token: str | None = None,
                           entered: dict | None = None):
        actor = await self.actor_or_login(request)
        tokens = await run_in_threadpool(self.rt.accounts.tokens, actor)
        sessions = await run_in_threadpool(self.rt.accounts.sessions, actor)
        notices = await run_in_threadpool(self.rt.accounts.notice_settings, actor)
        return self.render(request, "settings_account.html", actor, status=status, errors=errors or {},
                           saved=request.query_params.get("saved"), tokens=tokens, new_token=new_token,
                           sessions=sessions, this_session=session.session_id(request), notices={**notices, **{k: v for k, v in (entered or {}).items() if k != "channels"}},
                           carried=[c.type for c in self.app.connectors.values() if c.channel],
                           time_zones=sorted(time_zones()), common_zones=COMMON_ZONES)

    async def change_notices(self, request: Request):
        """One's own e-mail address, phone number, and the channels one hears by."""
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        entered = {"email": str(form.get("email", "")).strip(), "phone": str(form.get("phone", "")).strip(),
                   "channels": {c: form.get("channel_" + c) == "on" for c in form.getlist("shown_channel") if c in ("email", "sms")}}
        try:
            await run_in_threadpool(self.rt.accounts.set_notice_settings, actor, entered["email"], entered["phone"], entered["channels"])
        except ValidationFailed as exc:
            return await self.account_page(request, errors_by_field(exc.errors, self.lang(request, actor)), status=422, entered=entered)
        return RedirectResponse("/account?saved=notices", status_code=303)

    async def change_password(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        try:
            await run_in_threadpool(self.rt.accounts.change_password, actor, str(form.get("current_password", "")), str(form.get("password", "")),
                                    request.client.host if request.client else None)
        except ValidationFailed as exc:
            return await self.account_page(request, errors_by_field(exc.errors, self.lang(request, actor)), status=422)
        await run_in_threadpool(session.sign_in, self.rt, request, actor)  # every session ended; this device gets a new one
        return RedirectResponse("/account?saved=password", status_code=303)

    async def end_session(self, request: Request):
        """End one of one's own other sessions (`/account/sessions/{id}/end`), or all of them but this one."""
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        if "id" in request.path_params:
            await run_in_threadpool(self.rt.accounts.end_sessions, actor, _record_id(request))
        else:
            await run_in_threadpool(lambda: self.rt.accounts.end_sessions(actor, keep=session.session_id(request)))
        return RedirectResponse("/account?saved=sessions", status_code=303)

    async def create_token(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        token = await run_in_threadpool(self.rt.accounts.create_token, actor, str(form.get("label", "")))
        return await self.account_page(request, new_token=token)

    async def revoke_token(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        await run_in_threadpool(self.rt.accounts.revoke_token, actor, _record_id(request))
        return RedirectResponse("/account?saved=token", status_code=303)

    async def change_language(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        try:
            await run_in_threadpool(self.rt.accounts.set_language, actor, str(form.get("language", "")))
            if "time_zone" in form:
                await run_in_threadpool(self.rt.accounts.set_time_zone, actor, str(form.get("time_zone", "")))
        except ValidationFailed as exc:
            return await self.account_page(request, errors_by_field(exc.errors, self.lang(request, actor)), status=422)
        resp = RedirectResponse("/account?saved=language", status_code=303)
        resp.delete_cookie("lang")  # the setting wins from now on
        return resp
