"""problem+json bodies for every API error (RFC 9457), from the engine's own errors."""
from __future__ import annotations

import json
import logging
import uuid

from starlette.responses import Response

from engine.core.errors import Conflict, EngineError, TooManyRequests, ValidationFailed
from engine.core.i18n import error_text

log = logging.getLogger("engine.api")


def problem(status: int, title: str, detail: str, **extra) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body, ensure_ascii=False, default=str), status_code=status, media_type="application/problem+json")


def from_error(exc: EngineError, lang: str = "en") -> Response:
    """The problem+json body of an engine error, its texts in `lang` (the request's Accept-Language)."""
    title, detail, errors = error_text(exc, lang)
    extra = {}
    if isinstance(exc, ValidationFailed):
        extra["errors"] = [e.as_dict() for e in errors]
    if isinstance(exc, Conflict) and exc.current is not None:
        extra["current_version"] = exc.current.get("version")
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    resp = problem(exc.status, title, detail, **extra)
    resp.headers.update(headers)
    return resp


def unexpected(exc: BaseException) -> Response:
    request_id = uuid.uuid4().hex[:12]
    log.error("unexpected error, request id %s", request_id, exc_info=exc)
    return problem(500, "Internal error", f"Something went wrong on our side. Quote request id {request_id} when you report it.", request_id=request_id)
