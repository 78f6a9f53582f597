"""Everything the server does around each request, in one pure ASGI middleware with one wrapper
of `send`: the client's address and scheme from a trusted proxy (engine.web.proxies), the admin
changes to forms another process saved (looked up at most once per Runtime.refresh_every
seconds), the signed-cookie session (engine.web.sessions), and on the response the security
headers (engine.web.headers), the session cookie when it changed, and Server-Timing
(`app;dur=4.21`, milliseconds, for browsers' dev tools and the benchmarks)."""
from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool

from engine.app.runtime import Runtime
from engine.web.headers import security_headers
from engine.web.proxies import forwarded_scope
from engine.web.sessions import CookieSessions


class Envelope:
    def __init__(self, app, runtime: Runtime, sessions: CookieSessions, networks: tuple = ()):
        self.app = app
        self.rt = runtime
        self.sessions = sessions
        self.networks = networks

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        scope = forwarded_scope(scope, self.networks)
        if time.monotonic() - self.rt.checked_at >= self.rt.refresh_every:
            await run_in_threadpool(self.rt.refresh)
        before = self.sessions.open(scope)

        async def wrapped(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [h for h in security_headers(scope.get("scheme")) if h[0] not in present]
                cookie = self.sessions.set_cookie(scope, before)
                if cookie is not None:
                    headers.append(cookie)
                headers.append((b"server-timing", f"app;dur={(time.perf_counter() - start) * 1000:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)
        await self.app(scope, receive, wrapped)
