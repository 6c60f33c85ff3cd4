"""A reverse proxy on 127.0.0.1 in front of a real Prometheus, for fault tests.

It forwards to a real upstream, so answers stay true unless a fault is set:

- `delay`: seconds to wait before answering (a slow Prometheus);
- `status` (+ `body`): answer this instead of forwarding (503, or 422 with Prometheus' error JSON);
- `garbage`: answer 200 with a body that is not JSON;
- `down()` / `up()`: stop listening and listen again on the same port (connection refused);
- `match`: a regex searched in the decoded request line; faults hit only matching requests
  (one report section, say), the rest are forwarded untouched.

All can be changed while it runs. `requests` counts what arrived; `headers` and `paths` keep
each request's headers and decoded request line, so a test can wait for a run to be in flight,
or see what was sent.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import httpx

GARBAGE = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'


def prometheus_error(kind: str, message: str) -> dict[str, Any]:
    """Prometheus' own error answer, e.g. for a 422 (execution) or 400 (bad_data)."""
    return {"status": "error", "errorType": kind, "error": message}


class SlowProxy:
    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay = delay
        self.status: int | None = None
        self.body: dict[str, Any] | None = None
        self.garbage = False
        self.match: str | None = None
        self.requests = 0
        self.faulted = 0
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []  # decoded request lines: the queries as sent
        self._lock = threading.Lock()
        # One client for every request: building one costs a TLS context, about 0.1 s of CPU.
        self._http = httpx.Client(timeout=60)
        self._port = 0
        self._server = self._listen()
        self.url = f"http://127.0.0.1:{self._port}"
        self._serving = False

    def _listen(self) -> ThreadingHTTPServer:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                line = urllib.parse.unquote_plus(self.path)
                hit = proxy.match is None or re.search(proxy.match, line) is not None
                with proxy._lock:
                    proxy.requests += 1
                    proxy.headers.append(dict(self.headers.items()))
                    proxy.paths.append(line)
                    proxy.faulted += int(hit and proxy._faulty())
                delay, status, body, garbage = proxy.delay, proxy.status, proxy.body, proxy.garbage
                try:
                    if hit:
                        time.sleep(delay)
                    if hit and status is not None:
                        self._answer(status, json.dumps(body or {}).encode(), "application/json")
                    elif hit and garbage:
                        self._answer(200, GARBAGE, "application/json")
                    else:
                        answer = proxy._http.get(proxy.upstream + self.path)
                        kind = answer.headers.get("Content-Type", "text/plain")
                        self._answer(answer.status_code, answer.content, kind)
                except (httpx.HTTPError, RuntimeError):  # RuntimeError: stopped, client closed
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.send_error(502)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout, a cancelled or killed run)

            def _answer(self, status: int, content: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: object) -> None:
                del format, args  # quiet: the operator's log tells the story

        server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        self._port = server.server_address[1]
        return server

    def _faulty(self) -> bool:
        return bool(self.delay or self.status is not None or self.garbage)

    def start(self) -> Self:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._serving = True
        return self

    def stop(self) -> None:
        if self._serving:  # shutdown() waits for a serve_forever that must be running
            self._server.shutdown()
            self._serving = False
        self._server.server_close()

    def close(self) -> None:
        self.stop()
        self._http.close()

    def down(self) -> None:
        """Stop listening: connections are refused, as by a Prometheus that is not running."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port."""
        self._server = self._listen()
        self.start()

    def clear(self) -> None:
        self.delay, self.status, self.body, self.garbage, self.match = 0.0, None, None, False, None

    @contextlib.contextmanager
    def fault(self, **settings: Any) -> Iterator[Self]:
        """Set faults (delay=, status=, body=, garbage=, match=) for a block, then clear them."""
        for name, value in settings.items():
            if not hasattr(self, name):
                raise TypeError(f"unknown fault {name!r}")
            setattr(self, name, value)
        try:
            yield self
        finally:
            self.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
