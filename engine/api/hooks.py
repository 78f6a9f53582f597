"""POST /hooks/{connector}: inbound webhooks (engine.connectors.webhooks). No session and no token:
the Standard Webhooks signature is the caller's proof. The body is read up to the connector's
max_body and no further."""
from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.app.runtime import Runtime
from engine.comments.replies import add_reply
from engine.connectors import webhooks


def make_hook_routes(rt: Runtime) -> list[Route]:

    async def hook(request: Request):
        if request.method != "POST":  # answered here, not by a screen further down the routes
            return Response(json.dumps({"status": "refused", "detail": "a webhook is sent with POST"}), status_code=405,
                            media_type="application/json", headers={"Allow": "POST"})
        c = webhooks.connector_for(rt.records, request.path_params["name"])
        if c is None:
            return _json(404, {"status": "refused", "detail": "there is no webhook connector by that name"})
        limit = webhooks.max_body(c)
        chunks, size, too_large = [], 0, False
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            too_large = True
        else:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    too_large = True
                    break
                chunks.append(chunk)
        answer = await run_in_threadpool(webhooks.receive, rt.records, c, b"".join(chunks), dict(request.headers), too_large,
                                         lambda to, sender, text: add_reply(rt.comments, to, sender, text))
        return _json(answer.status, answer.body)

    return [Route("/hooks/{name}", hook, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status_code=status, media_type="application/json")
