"""The ASGI application: routes, error handling and health check around one Runtime."""
from __future__ import annotations

import logging

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from engine.api.problems import from_error, problem, unexpected
from engine.api.routes import make_routes
from engine.errors import EngineError
from engine.runtime import Runtime

log = logging.getLogger("engine")


def create_app(rt: Runtime) -> Starlette:
    async def healthz(request: Request):
        def ping():
            with rt.db.read() as conn:
                conn.execute(text("SELECT 1"))
        await run_in_threadpool(ping)
        return JSONResponse({"status": "ok"})

    async def root(request: Request):
        return RedirectResponse("/api/v1", status_code=307)

    async def engine_error(request: Request, exc: EngineError):
        return from_error(exc)

    async def http_error(request: Request, exc: HTTPException):
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = exc.detail if exc.status_code != 404 else f"nothing at {request.url.path}; the API lives under /api/v1"
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(detail))

    async def any_error(request: Request, exc: Exception):
        return unexpected(exc)

    routes = [Route("/healthz", healthz, methods=["GET"]), Route("/", root, methods=["GET"]), *make_routes(rt)]
    app = Starlette(routes=routes, exception_handlers={EngineError: engine_error, HTTPException: http_error, Exception: any_error})
    app.state.runtime = rt
    return app
