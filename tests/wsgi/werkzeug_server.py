"""The WSGI middleware behind a real werkzeug server, for the tests of `tests.live`.

The app is a raw WSGI callable with sync handlers and tokenguard's guards.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.live import CHUNKS, POLICY, SCOPES, TokenSide, whoami
from tokenguard.context import current_principal
from tokenguard.cookies import new_csrf_value
from tokenguard.guards import require_auth, require_scopes
from tokenguard.wsgi import TokenGuardMiddleware

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]
Handler = WSGIApp


def json_response(
    start_response: StartResponse, status: str, body: Any, headers: list[tuple[str, str]]
) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *headers,
        ],
    )
    return [payload]


class Stream:
    """The streamed body, as a generator; records whether the server closed it."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def body(self) -> Iterator[bytes]:
        try:
            yield from CHUNKS
        finally:
            self.closed.set()


def make_app(side: TokenSide, stream_probe: Stream) -> WSGIApp:
    def login(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        csrf = new_csrf_value()
        pair = side.issuer.issue_pair("alice", scopes=SCOPES, claims={"csrf": csrf})
        cookies = POLICY.login_cookies(pair, csrf_value=csrf)
        return json_response(
            start_response, "200 OK", pair.to_dict(), [("Set-Cookie", c) for c in cookies]
        )

    @require_auth
    def me(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        return json_response(start_response, "200 OK", whoami(), [])

    @require_scopes("cart:write")
    def add_item(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        return json_response(start_response, "201 Created", {"added": "book"}, [])

    @require_auth
    def stream(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        # No Content-Length: the server streams the generator chunk by chunk.
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return stream_probe.body()

    @require_auth
    def stream_whoami(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            yield b"streaming for "
            principal = current_principal()  # read while the server iterates the body
            yield (principal.subject if principal else "nobody").encode()

        return body()

    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/login"): login,
        ("GET", "/me"): me,
        ("POST", "/cart/items"): add_item,
        ("GET", "/stream"): stream,
        ("GET", "/stream/whoami"): stream_whoami,
    }

    def app(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        handler = routes.get((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        if handler is None:
            return json_response(start_response, "404 Not Found", {"error": "not_found"}, [])
        return handler(environ, start_response)

    return TokenGuardMiddleware(app, side.authenticator)


class QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class WerkzeugServer:
    """werkzeug's threaded development server, serving the app in front of ``side`` on
    127.0.0.1, in a thread; ``stream_probe`` watches the app's streamed body."""

    def __init__(self, side: TokenSide) -> None:
        self.side = side
        self.stream_probe = Stream()
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1",
            0,
            make_app(side, self.stream_probe),
            threaded=True,
            request_handler=QuietHandler,
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="werkzeug"
        )

    def __enter__(self) -> WerkzeugServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        assert not self._thread.is_alive()
