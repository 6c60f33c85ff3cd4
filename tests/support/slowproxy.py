"""A reverse proxy on 127.0.0.1 that delays every request: a slow Prometheus for fault tests.

It forwards to a real upstream, so answers stay true; only their timing changes. `delay` can be
changed while it runs, and `requests` counts what arrived, so a test can wait for a run to be in
flight before it kills the operator.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import httpx


class SlowProxy:
    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay = delay
        self.requests = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with proxy._lock:
                    proxy.requests += 1
                time.sleep(proxy.delay)
                try:
                    answer = httpx.get(proxy.upstream + self.path, timeout=60)
                    self.send_response(answer.status_code)
                    kind = answer.headers.get("Content-Type", "text/plain")
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except httpx.HTTPError:
                    self.send_error(502)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a cancelled or killed run): nothing to answer

            def log_message(self, format: str, *args: object) -> None:
                del format, args  # quiet: the operator's log tells the story

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
