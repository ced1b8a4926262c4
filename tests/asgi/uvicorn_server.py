"""The ASGI middleware behind a real uvicorn server, for the tests of `tests.live`.

The app is a raw ASGI callable with async handlers and tokenguard's guards.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from tests.core.httpserver import wait_until
from tests.live import CHUNKS, POLICY, SCOPES, TokenSide, whoami
from tokenguard.asgi import TokenGuardMiddleware
from tokenguard.cookies import new_csrf_value
from tokenguard.guards import require_auth, require_scopes
from tokenguard.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(send: Send, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def make_app(side: TokenSide) -> ASGIApp:
    async def login(scope: Scope, receive: Receive, send: Send) -> None:
        await drain(receive)
        csrf = new_csrf_value()
        pair = await side.issuer.aissue_pair("alice", scopes=SCOPES, claims={"csrf": csrf})
        cookies = POLICY.login_cookies(pair, csrf_value=csrf)
        await send_json(send, 200, pair.to_dict(), [("set-cookie", c) for c in cookies])

    @require_auth
    async def me(scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, whoami(), [])

    @require_scopes("cart:write")
    async def add_item(scope: Scope, receive: Receive, send: Send) -> None:
        await drain(receive)
        await send_json(send, 201, {"added": "book"}, [])

    @require_auth
    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/octet-stream")]  # no length: chunked
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in CHUNKS:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/login"): login,
        ("GET", "/me"): me,
        ("POST", "/cart/items"): add_item,
        ("GET", "/stream"): stream,
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        handler = routes.get((scope["method"], scope["path"]))
        if handler is None:
            await send_json(send, 404, {"error": "not_found"}, [])
        else:
            await handler(scope, receive, send)

    return TokenGuardMiddleware(app, side.authenticator)


class UvicornServer:
    """uvicorn serving the app in front of ``side`` on 127.0.0.1, in a thread."""

    def __init__(self, side: TokenSide) -> None:
        self.side = side
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            make_app(side),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            http="h11",
            ws="none",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="uvicorn"
        )

    def __enter__(self) -> UvicornServer:
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=10, what="uvicorn to start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
        assert not self._thread.is_alive()
