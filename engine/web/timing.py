"""A pure ASGI middleware that reports how long the app took, as a Server-Timing header
(`app;dur=4.21`, milliseconds), so browsers' dev tools and the benchmarks can read it."""
from __future__ import annotations

import time


class ServerTiming:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", f"app;dur={ms:.2f}".encode())]}
            await send(message)
        await self.app(scope, receive, timed_send)
