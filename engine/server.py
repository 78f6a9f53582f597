"""The ASGI application: routes, error handling and health check around one Runtime."""
from __future__ import annotations

import logging
import os
import secrets
import uuid
from urllib.parse import quote

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from engine.api.comments import make_comment_routes
from engine.api.documents import make_document_routes
from engine.api.files import make_file_routes
from engine.api.hooks import make_hook_routes
from engine.api.imports import make_import_routes
from engine.api.problems import from_error, problem, unexpected
from engine.api.reports import make_report_routes
from engine.api.routes import make_routes
from engine.app.runtime import Runtime
from engine.core.errors import EngineError, Msg
from engine.core.i18n import localize, negotiate
from engine.portal.routes import make_routes as make_portal_routes
from engine.storage.db import var_dir
from engine.web.envelope import Envelope
from engine.web.proxies import parse_trusted
from engine.web.session import PortalOnly
from engine.web.sessions import CookieSessions

log = logging.getLogger("engine")


def create_app(rt: Runtime, secret_key: str | None = None, https_only: bool = False, trusted_proxies: str | None = None) -> Starlette:
    """The app serving `rt`. `trusted_proxies` (default $ENGINE_TRUSTED_PROXIES): the reverse proxies
    whose X-Forwarded-For / X-Forwarded-Proto are believed."""
    from engine.web.views import make_routes as make_web_routes
    web_routes, screens = make_web_routes(rt)

    async def healthz(request: Request):
        def ping():
            with rt.db.read() as conn:
                conn.execute(text("SELECT 1"))
        await run_in_threadpool(ping)
        return JSONResponse({"status": "ok"})

    def api_lang(request: Request) -> str:
        """The language of an API answer: the request's Accept-Language among the app's languages, else English."""
        return negotiate(request.headers.get("accept-language"), rt.app.languages, "en")

    def is_api(request: Request) -> bool:
        return request.url.path.startswith(("/api/", "/hooks/"))  # machines: answered in JSON

    async def engine_error(request: Request, exc: EngineError):
        if is_api(request):
            return from_error(exc, api_lang(request))
        if exc.status == 401:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        if isinstance(exc, PortalOnly) and request.method in ("GET", "HEAD"):
            return RedirectResponse("/portal", status_code=303)  # a customer's contact: their screens are the portal's
        return screens.error_page(request, exc.status, exc.title, exc)

    async def http_error(request: Request, exc: HTTPException):
        titles = {404: "Not found", 405: "Method not allowed"}
        allow = (exc.headers or {}).get("Allow")
        if exc.status_code == 405 and allow:
            methods = sorted(m.strip() for m in allow.split(","))
            detail = Msg("%(method)s is not allowed here; use one of: %(methods)s", method=request.method, methods=", ".join(methods))
        elif exc.status_code == 404:
            detail = Msg("nothing at %(path)s; the API lives under /api/v1", path=request.url.path) if is_api(request) else Msg("This page does not exist.")
        else:
            detail = str(exc.detail)
        if is_api(request):
            lang = api_lang(request)
            resp = problem(exc.status_code, localize(titles.get(exc.status_code, "Error"), lang), localize(detail, lang))
        else:
            resp = screens.error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), detail)
        resp.headers.update(exc.headers or {})  # 405 names the methods that are allowed (Allow)
        return resp

    async def any_error(request: Request, exc: Exception):
        if is_api(request):
            return unexpected(exc)
        request_id = uuid.uuid4().hex[:12]
        log.error("unexpected error, request id %s", request_id, exc_info=exc)
        return screens.error_page(request, 500, "Something went wrong",
                                  "The error was logged. Quote the request id below when you report it.", request_id=request_id)

    routes = [Route("/healthz", healthz, methods=["GET"]), *make_import_routes(rt), *make_file_routes(rt), *make_comment_routes(rt), *make_document_routes(rt), *make_report_routes(rt), *make_routes(rt), *make_hook_routes(rt), *make_portal_routes(rt), *web_routes]
    key = secret_key or os.environ.get("ENGINE_SECRET_KEY") or _dev_secret(rt.db.url)
    sessions = CookieSessions(key, session_cookie="engine_session", same_site="lax", https_only=https_only, max_age=14 * 24 * 3600)
    middleware = [Middleware(Envelope, runtime=rt, sessions=sessions, networks=parse_trusted(trusted_proxies))]
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={EngineError: engine_error, HTTPException: http_error, Exception: any_error})
    app.state.runtime = rt
    return app


def _dev_secret(db_url: str) -> str:
    """Without ENGINE_SECRET_KEY, a random key kept in `secret_key` beside the SQLite database (for
    PostgreSQL: in var/ beside run.py), whatever the current folder, so sessions survive restarts.
    Set ENGINE_SECRET_KEY (the same on every app process) in production."""
    path = var_dir(db_url) / "secret_key"
    try:
        if path.is_file():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
    except OSError:
        log.warning("ENGINE_SECRET_KEY is not set and %s is not writable: sessions end when the process stops", path.parent)
        return secrets.token_urlsafe(48)
