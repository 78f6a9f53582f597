"""Setting a password from a link sent by e-mail (engine.invitations): a new contact's invitation (/welcome/{token}),
a forgotten password (/password/forgot, then /password/reset/{token}). The pages need no sign-in; the link is the
proof. Once the password is set the link is used up and the browser is signed in; a link that no longer works says
why and how to get a new one."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from engine.core.errors import Gone, Msg, TooManyRequests, ValidationFailed
from engine.core.i18n import localize
from engine.web import session
from engine.web.base import ScreenBase


class PasswordScreens(ScreenBase):
    async def forgot_page(self, request: Request):
        return self.render(request, "password.html", mode="forgot")

    async def forgot(self, request: Request):
        form = await request.form()
        session.check_csrf(request, form)
        address = request.client.host if request.client else None
        base = str(request.base_url)
        try:
            await run_in_threadpool(self.rt.invitations.request_reset, str(form.get("who") or ""), address, base)
        except TooManyRequests as exc:
            resp = self.render(request, "password.html", status=429, mode="forgot", error=localize(exc.detail, self.lang(request)))
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        return self.render(request, "password.html", mode="sent")

    async def reset_page(self, request: Request):
        return await self._link_page(request, "reset")

    async def welcome_page(self, request: Request):
        return await self._link_page(request, "invite")

    async def _link_page(self, request: Request, purpose: str):
        try:
            found = await run_in_threadpool(self.rt.invitations.check, request.path_params["token"])
        except Gone as exc:
            return self.render(request, "password.html", status=410, mode="gone", error=localize(exc.detail, self.lang(request)))
        if found["purpose"] != purpose:
            return self.render(request, "password.html", status=410, mode="gone", error=localize(Msg("this link is not valid (mistyped, or its user "
                                                                                                       "was deactivated); ask for a new one"),
                                                                                                   self.lang(request)))
        return self.render(request, "password.html", mode="set", purpose=purpose, username=found["username"], token=request.path_params["token"])

    async def set_password(self, request: Request):
        """POST /welcome/{token} or /password/reset/{token}: the password, twice; then signed in."""
        form = await request.form()
        session.check_csrf(request, form)
        token = request.path_params["token"]
        lang = self.lang(request)
        purpose = "invite" if request.url.path.startswith("/welcome/") else "reset"
        password, again = str(form.get("password") or ""), str(form.get("again") or "")
        try:
            found = await run_in_threadpool(self.rt.invitations.check, token)
            if password != again:
                return self.render(request, "password.html", status=422, mode="set", purpose=purpose, username=found["username"], token=token,
                                   error=localize(Msg("the two passwords differ; type the same one twice"), lang))
            found = await run_in_threadpool(self.rt.invitations.redeem, token, password)
        except Gone as exc:
            return self.render(request, "password.html", status=410, mode="gone", error=localize(exc.detail, lang))
        except ValidationFailed as exc:
            return self.render(request, "password.html", status=422, mode="set", purpose=purpose, username=found["username"], token=token,
                               error="; ".join(localize(e.message, lang) for e in exc.errors))

        def start():
            with self.rt.db.write() as conn:
                return session.open_session(conn, self.rt.schema, request, found["user_id"])
        session.use_session(request, await run_in_threadpool(start))
        return RedirectResponse("/", status_code=303)  # staff land on the home page, a party's contacts on the portal
