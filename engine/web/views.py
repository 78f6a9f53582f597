"""The screens: sign-in, home, list, record and form pages for every entity in the metadata.

Each handler resolves the signed-in user, calls the record service (the same one the API
uses, so rules and errors are identical), and renders a Jinja2 template. htmx asks for
fragments: the next page of rows, recomputed totals while a form is being typed.
"""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine import users
from engine.errors import Unauthenticated
from engine.runtime import Runtime
from engine.web import i18n, session
from engine.web.base import HERE
from engine.web.lists import ListScreens
from engine.web.recordpages import RecordScreens


class Screens(ListScreens, RecordScreens):
    """All screens; sign-in and sign-out live here, the rest in lists.py and recordpages.py."""

    async def login_page(self, request: Request):
        return self.render(request, "login.html", next=request.query_params.get("next", "/"))

    async def login(self, request: Request):
        form = await request.form()
        session.check_csrf(request, form)
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = str(form.get("next") or "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"

        def check():
            with self.rt.db.read() as conn:
                return users.authenticate(conn, self.rt.schema, username, password, via="screen")
        try:
            actor = await run_in_threadpool(check)
        except Unauthenticated:
            return self.render(request, "login.html", status=401, next=target, username=username,
                               error=i18n.translations(self.lang(request)).gettext("Wrong username or password."))
        session.sign_in(request, actor)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request):
        form = await request.form()
        session.check_csrf(request, form)
        session.sign_out(request)
        return RedirectResponse("/login", status_code=303)

    # ---------------------------------------------------------------- pages


def make_routes(rt: Runtime) -> list:
    s = Screens(rt)
    return [
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        Route("/login", s.login_page, methods=["GET"]),
        Route("/login", s.login, methods=["POST"]),
        Route("/logout", s.logout, methods=["POST"]),
        Route("/", s.home, methods=["GET"]),
        Route("/{entity}", s.list_page, methods=["GET"]),
        Route("/{entity}/count", s.count, methods=["GET"]),
        Route("/{entity}/new", s.form_page, methods=["GET"]),
        Route("/{entity}/new", s.save, methods=["POST"]),
        Route("/{entity}/preview", s.preview, methods=["POST"]),
        Route("/{entity}/options/{field}", s.options, methods=["GET"]),
        Route("/{entity}/fill-history", s.fill_history, methods=["GET"]),
        Route("/{entity}/filters", s.save_filter, methods=["POST"]),
        Route("/{entity}/filters/{id}/delete", s.delete_filter, methods=["POST"]),
        Route("/{entity}/{id}", s.record_page, methods=["GET"]),
        Route("/{entity}/{id}/edit", s.form_page, methods=["GET"]),
        Route("/{entity}/{id}/edit", s.save, methods=["POST"]),
    ], s
