"""A real HTTP server on 127.0.0.1 that the connector tests send to: it keeps every request it got and
answers from a script - fail on purpose (a status, a slow answer, or gone entirely), then succeed."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, port: int = 0):
        self.got: list[dict] = []  # every request: method, path, headers, body
        self.script: list[tuple[int, object]] = []  # answers to give, first to last; then `then`
        self.then: tuple[int, object] = (200, {"ok": True})
        self.delay = 0.0  # seconds before answering (a slow receiver)
        self.refuse = None  # a function of a request's body: an answer (status, payload) to give it instead, or None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            wbufsize = -1  # each answer in one write
            disable_nagle_algorithm = True

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                with receiver.lock:
                    receiver.got.append({"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                         "body": body})
                    special = receiver.refuse(body) if receiver.refuse is not None else None
                    if special is not None:
                        status, payload = special
                    else:
                        status, payload = receiver.script.pop(0) if receiver.script else receiver.then
                if receiver.delay:
                    time.sleep(receiver.delay)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Gone: connections are refused from now on."""
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list:
        return [json.loads(r["body"]) for r in self.got]
