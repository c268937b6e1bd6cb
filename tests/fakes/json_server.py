"""The plumbing every fake SaaS API shares: a JSON-over-HTTP server on 127.0.0.1 in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

#: (status, JSON-serialisable answer, extra response headers)
Answer = tuple[int, Any, dict[str, str]]
#: handle(method, raw path with query, lower-cased headers, raw body) -> Answer
Handle = Callable[[str, str, dict[str, str], bytes], Answer]


def handler_for(handle: Handle) -> type[BaseHTTPRequestHandler]:
    """Return a request handler class that answers every method through ``handle``."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = handle(self.command, self.path, headers, raw)
            payload = json.dumps(answer, ensure_ascii=False).encode()
            extra = dict(extra)
            self.send_response_only(status)
            self.send_header("Server", self.version_string())
            # A fake may answer on a clock of its own: some callers time what they read by it.
            self.send_header("Date", extra.pop("Date", "") or self.date_time_string())
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # each fake keeps its own request log for assertions

    return Handler


class LocalServer:
    """Serve ``handle`` on an ephemeral 127.0.0.1 port in a daemon thread."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """Return the port; the server must be started."""
        if self._server is None:
            raise RuntimeError("local server: not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Start serving."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self._handle))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


class ServedFake:
    """Lifecycle of a fake API: subclasses set ``prefix`` and ``self._http = LocalServer(...)``."""

    prefix = ""
    _http: LocalServer

    @property
    def url(self) -> str:
        """Return the base URL a client is configured with."""
        return f"http://127.0.0.1:{self._http.port}{self.prefix}"

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._http.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class _Failure:
    remaining: int
    status: int
    retry_after: float | None
    body: Any


class InjectedFailures:
    """Answers queued by a fake's ``fail_next``, handed out one request at a time."""

    def __init__(self) -> None:
        self._queue: list[_Failure] = []
        self._lock = threading.Lock()

    def add(self, n: int, status: int, retry_after: float | None = None,
            body: Any = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After``, ``body``)."""
        with self._lock:
            self._queue.append(_Failure(n, status, retry_after, body))

    def clear(self) -> None:
        """Drop every queued failure."""
        with self._lock:
            self._queue.clear()

    def take(self) -> tuple[int, Any, dict[str, str]] | None:
        """Return (status, body or None, headers) for this request, or None to answer it."""
        with self._lock:
            while self._queue and self._queue[0].remaining <= 0:
                self._queue.pop(0)
            if not self._queue:
                return None
            failure = self._queue[0]
            failure.remaining -= 1
        headers = {} if failure.retry_after is None else {
            "Retry-After": f"{failure.retry_after:g}"}
        return failure.status, failure.body, headers
