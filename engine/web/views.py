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

from engine.access import logins
from engine.app.runtime import Runtime
from engine.core.errors import TooManyRequests, Unauthenticated
from engine.web import i18n, session
from engine.web.base import HERE
from engine.web.bell import BellScreens
from engine.web.board import BoardScreens
from engine.web.comments import CommentScreens
from engine.web.connectors import ConnectorScreens
from engine.web.contacts import ContactScreens
from engine.web.designer import DesignerScreens
from engine.web.documents import DocumentScreens
from engine.web.files import FileScreens
from engine.web.imports import ImportScreens
from engine.web.lists import ListScreens
from engine.web.passwords import PasswordScreens
from engine.web.recordpages import RecordScreens
from engine.web.reports import ReportScreens
from engine.web.settings import SettingsScreens
from engine.web.timeviews import TimeViewScreens


class Screens(ListScreens, BoardScreens, RecordScreens, SettingsScreens, DesignerScreens, ConnectorScreens, ImportScreens, FileScreens,
              CommentScreens, BellScreens, DocumentScreens, ReportScreens, TimeViewScreens, PasswordScreens, ContactScreens):
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

        address = request.client.host if request.client else None
        _ = i18n.translations(self.lang(request)).gettext
        def start(conn, who):  # in the transaction that checks the password: a change or reset ends it, or it is not started
            return session.open_session(conn, self.rt.schema, request, who.id)
        try:
            _, token = await run_in_threadpool(logins.sign_in, self.rt.db, self.rt.schema, username, password, address, "screen", start)
        except Unauthenticated:
            return self.render(request, "login.html", status=401, next=target, username=username, error=_("Wrong username or password."))
        except TooManyRequests as exc:
            resp = self.render(request, "login.html", status=429, next=target, username=username,
                               error=_("Too many failed sign-ins. Try again in %(minutes)s minutes.") % {"minutes": max(1, exc.retry_after // 60)})
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        session.use_session(request, token)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request):
        form = await request.form()
        session.check_csrf(request, form)
        actor = await run_in_threadpool(session.current_actor, self.rt, request, True)
        await run_in_threadpool(session.sign_out, self.rt, request, actor)
        return RedirectResponse("/login", status_code=303)

    # ---------------------------------------------------------------- pages


def make_routes(rt: Runtime) -> list:
    s = Screens(rt)
    return [
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        Route("/favicon.ico", lambda request: RedirectResponse("/static/favicon.svg", status_code=301), methods=["GET"]),
        Route("/login", s.login_page, methods=["GET"]),
        Route("/login", s.login, methods=["POST"]),
        Route("/password/forgot", s.forgot_page, methods=["GET"]),
        Route("/password/forgot", s.forgot, methods=["POST"]),
        Route("/password/reset/{token}", s.reset_page, methods=["GET"]),
        Route("/password/reset/{token}", s.set_password, methods=["POST"]),
        Route("/welcome/{token}", s.welcome_page, methods=["GET"]),
        Route("/welcome/{token}", s.set_password, methods=["POST"]),
        Route("/logout", s.logout, methods=["POST"]),
        Route("/", s.home, methods=["GET"]),
        Route("/settings/users", s.users_page, methods=["GET"]),
        Route("/settings/users/new", s.user_page, methods=["GET"]),
        Route("/settings/users/new", s.save_user, methods=["POST"]),
        Route("/settings/users/{id}", s.user_page, methods=["GET"]),
        Route("/settings/users/{id}", s.save_user, methods=["POST"]),
        Route("/settings/users/{id}/password", s.reset_password, methods=["POST"]),
        Route("/settings/roles", s.roles_page, methods=["GET"]),
        Route("/settings/explain", s.explain_page, methods=["GET"]),
        Route("/settings/connectors", s.connectors_page, methods=["GET"]),
        Route("/settings/connectors/{name}/deliveries/{id}", s.delivery_page, methods=["GET"]),
        Route("/settings/connectors/{name}/deliveries/{id}/retry", s.retry, methods=["POST"]),
        Route("/settings/forms", s.forms_page, methods=["GET"]),
        Route("/settings/forms/{entity}", s.designer_page, methods=["GET"]),
        Route("/settings/forms/{entity}", s.designer_save, methods=["POST"]),
        Route("/settings/forms/{entity}/preview", s.designer_preview, methods=["POST"]),
        Route("/settings/forms/{entity}/check", s.designer_check, methods=["POST"]),
        Route("/settings/forms/{entity}/fields", s.designer_new_field, methods=["POST"]),
        Route("/settings/forms/{entity}/history", s.history_page, methods=["GET"]),
        Route("/settings/forms/{entity}/restore", s.restore, methods=["POST"]),
        Route("/settings/forms/{entity}/compare", s.compare_page, methods=["GET"]),
        Route("/account", s.account_page, methods=["GET"]),
        Route("/account/password", s.change_password, methods=["POST"]),
        Route("/account/language", s.change_language, methods=["POST"]),
        Route("/account/notifications", s.change_notices, methods=["POST"]),
        Route("/account/tokens", s.create_token, methods=["POST"]),
        Route("/account/sessions/end-others", s.end_session, methods=["POST"]),
        Route("/account/sessions/{id}/end", s.end_session, methods=["POST"]),
        Route("/account/tokens/{id}/revoke", s.revoke_token, methods=["POST"]),
        Route("/notifications/read", s.read_notifications, methods=["POST"]),
        Route("/notifications", s.notifications_page, methods=["GET"]),
        Route("/notifications/bell", s.bell, methods=["GET"]),
        Route("/notifications/{id}/open", s.open_notification, methods=["GET"]),
        Route("/imports/{id}", s.job_page, methods=["GET"]),
        Route("/imports/{id}/run", s.run, methods=["POST"]),
        Route("/imports/{id}/progress", s.progress, methods=["GET"]),
        Route("/imports/{id}/errors", s.errors_file, methods=["GET"]),
        Route("/dashboard", s.dashboard_page, methods=["GET"]),
        Route("/dashboard/{name}", s.dashboard_page, methods=["GET"]),
        Route("/reports", s.reports_page, methods=["GET"]),
        Route("/reports/{name}.xlsx", s.report_xlsx, methods=["GET"]),
        Route("/reports/{name}", s.report_page, methods=["GET"]),
        Route("/files/{id}", s.file, methods=["GET"]),
        Route("/files/{id}/delete", s.remove_file, methods=["POST"]),
        Route("/files/{id}/preview", s.file_preview, methods=["GET"]),
        Route("/comments/{id}/edit", s.edit_comment, methods=["POST"]),
        Route("/comments/{id}/delete", s.delete_comment, methods=["POST"]),
        Route("/{entity}", s.list_page, methods=["GET"]),
        Route("/{entity}/count", s.count, methods=["GET"]),
        Route("/{entity}/sums", s.sums, methods=["GET"]),
        Route("/{entity}/columns", s.save_columns, methods=["POST"]),
        Route("/{entity}/calendar", s.calendar_page, methods=["GET"]),
        Route("/{entity}/calendar/events", s.calendar_events, methods=["GET"]),
        Route("/{entity}/gantt", s.gantt_page, methods=["GET"]),
        Route("/{entity}/{id}/reschedule", s.reschedule, methods=["POST"]),
        Route("/{entity}/export.csv", s.export, methods=["GET"]),
        Route("/{entity}/export.xlsx", s.export_xlsx, methods=["GET"]),
        Route("/{entity}/import", s.import_page, methods=["GET"]),
        Route("/{entity}/import", s.upload, methods=["POST"]),
        Route("/{entity}/import-template.xlsx", s.template_file, methods=["GET"]),
        Route("/{entity}/bulk", s.bulk, methods=["POST"]),
        Route("/{entity}/board", s.board_page, methods=["GET"]),
        Route("/{entity}/board/move", s.board_move, methods=["POST"]),
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
        Route("/{entity}/{id}/transitions/{transition}", s.fire, methods=["POST"]),
        Route("/{entity}/{id}/review", s.review, methods=["POST"]),
        Route("/{entity}/{id}/files", s.upload_files, methods=["POST"]),
        Route("/{entity}/{id}/comments", s.add_comment, methods=["POST"]),
        Route("/{entity}/{id}/mentions", s.mentionable, methods=["GET"]),
        Route("/{entity}/{id}/document/{name}.pdf", s.print_document, methods=["GET"]),
        Route("/{entity}/{id}/contacts", s.invite, methods=["POST"]),
    ], s
