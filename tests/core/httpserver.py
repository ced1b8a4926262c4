"""A scripted HTTP server on 127.0.0.1, for tests of the clients that talk to issuers.

Stdlib only on the server side: a `ThreadingHTTPServer` on a random free port, run by a
daemon thread. Tests script each path with a `Reply` (status, headers, body, optional delay
or gate) or a callable that builds one, and read back what the server received.

Use the ``http_server`` fixture by importing it into a test module::

    from tests.core.httpserver import Reply, ScriptedHTTPServer, http_server

    def test_it(http_server: ScriptedHTTPServer) -> None:
        http_server.reply("/jwks", body={"keys": []})
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

__all__ = [
    "Reply",
    "Request",
    "ScriptedHTTPServer",
    "async_wait_until",
    "count_ca_bundle_loads",
    "http_server",
    "refused_url",
    "wait_until",
]


@dataclass(frozen=True)
class Reply:
    """What the server answers.

    Args:
        status: the HTTP status code.
        body: bytes are sent as they are, a str as UTF-8, anything else as JSON (with an
            ``application/json`` content type unless ``headers`` names one).
        headers: extra response headers.
        delay: seconds to wait before answering (cut short when the server closes).
        gate: when given, the answer waits until the event is set (or the server closes).
    """

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    gate: threading.Event | None = None

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            payload = self.body
        elif isinstance(self.body, str):
            payload = self.body.encode()
        else:
            payload = json.dumps(self.body).encode()
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        return payload, headers


@dataclass(frozen=True)
class Request:
    """One request as the server received it (header names in lower case)."""

    number: int
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return parse_qs(self.body.decode(), keep_blank_values=True, strict_parsing=False)


Responder = Reply | Callable[[Request], Reply]
NOT_FOUND = Reply(status=404, body={"error": "not_found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    scripted: ScriptedHTTPServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) leaves a closed socket behind: expected here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = scripted._record(self.command, self.path, headers, body)
        responder = scripted._responder(self.path.split("?", 1)[0])
        reply = responder(request) if callable(responder) else responder
        if reply.gate is not None:
            while not reply.gate.wait(0.01) and not scripted._closing.is_set():
                pass
        if reply.delay:
            scripted._closing.wait(reply.delay)
        payload, extra = reply.encode()
        self.send_response(reply.status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class ScriptedHTTPServer:
    """An HTTP/1.0 server on 127.0.0.1 whose answers tests script per path."""

    def __init__(self) -> None:
        self._routes: dict[str, Responder] = {}
        self._log: list[Request] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.scripted = self
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="scripted-http-server",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    # -- scripting ---------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + path

    def reply(
        self,
        path: str,
        *,
        status: int = 200,
        body: Any = b"",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> None:
        """Answer every later request for ``path`` this way."""
        self.respond(
            path, Reply(status=status, body=body, headers=headers or {}, delay=delay, gate=gate)
        )

    def respond(self, path: str, responder: Responder) -> None:
        """Answer ``path`` with a fixed `Reply` or with a callable building one per request."""
        with self._lock:
            self._routes[path] = responder

    # -- the request log ---------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Request]:
        """Requests received so far (for one path, or all), oldest first."""
        with self._lock:
            log = list(self._log)
        if path is None:
            return log
        return [r for r in log if r.path.split("?", 1)[0] == path]

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (for one path, or all)."""
        return len(self.requests(path))

    def wait_for_count(
        self, count: int, path: str | None = None, *, timeout: float = 5.0
    ) -> list[Request]:
        """Block until at least ``count`` requests arrived; fail the test after ``timeout``."""
        wait_until(lambda: self.count(path) >= count, timeout=timeout, what=f"{count} requests")
        return self.requests(path)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving and close every socket; later connections are refused."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()  # also joins the request threads
        self._thread.join(5)

    def __enter__(self) -> ScriptedHTTPServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- used by the handler -------------------------------------------------------------

    def _record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Request:
        with self._lock:
            request = Request(len(self._log) + 1, method, path, headers, body)
            self._log.append(request)
        return request

    def _responder(self, path: str) -> Responder:
        with self._lock:
            return self._routes.get(path, NOT_FOUND)


@pytest.fixture
def http_server() -> Iterator[ScriptedHTTPServer]:
    """A fresh scripted server per test, closed afterwards."""
    with ScriptedHTTPServer() as server:
        yield server


def refused_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def count_ca_bundle_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every CA bundle an `ssl.SSLContext` reads, in the returned list.

    Reading one takes tens of milliseconds: a client that did it per request would stall the
    event loop, so the clients must read it once.
    """
    loads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counting_load(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting_load)
    return loads


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = "the condition"
) -> None:
    """Poll ``predicate`` until it holds; fail the test when ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


async def async_wait_until(
    predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = "the condition"
) -> None:
    """`wait_until` for a test running on an event loop (yields to other tasks)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)
