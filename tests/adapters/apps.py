"""The tiny framework-free app, as a raw ASGI callable and a raw WSGI callable.

Routes (``/a/<route>`` serves the same route from an ``async def`` handler, ASGI only):

    GET  /open          no guard             GET  /fresh       require_fresh()
    GET  /health        public prefix        GET  /claims      require_claims(role="admin")
    GET  /admin/panel   protected prefix     GET  /optional    optional_auth
    GET  /me            require_auth         GET  /user        require_auth + user loader
    GET  /cart          cart:read            GET  /caught/cart cart:read, app answers 500
    POST /cart/items    cart:write           GET  /stream      body in several chunks
    POST /open          no guard
    WS   /ws, /a/ws (require_auth), /ws/open, /admin/ws, /ws/late (guard after connect)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from tokenguard.context import current_auth, current_principal, get_auth
from tokenguard.guards import (
    optional_auth,
    require_auth,
    require_claims,
    require_fresh,
    require_scopes,
)


def at(style: str, path: str) -> str:
    """The path of ``path``'s handler in the given style (``sync`` or ``async``)."""
    return "/a" + path if style == "async" else path


@dataclass
class Probe:
    """What the apps saw, for assertions."""

    closed: int = 0
    lifespan: list[MutableMapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    env: MutableMapping[str, Any]  # the ASGI scope or the WSGI environ


Answer = dict[str, Any] | tuple[int, dict[str, Any]]


def whoami(req: Req) -> dict[str, Any]:
    auth = current_auth()
    slot = get_auth(req.env)
    principal = current_principal()
    return {
        "sub": principal.subject if principal else None,
        "slot_sub": slot.principal.subject if slot and slot.principal else None,
        "slot_is_current": slot is auth,
        "slot_keys": sorted(k for k in req.env if k.startswith("tokenguard")),
        "jti": principal.token_id if principal else None,
        "refreshed": auth.result.refreshed,
        "skipped": auth.result.skipped,
        "location": auth.result.location.kind if auth.result.location else None,
    }


def add_item(req: Req) -> Answer:
    principal = current_principal()
    return 201, {"added": "book", "sub": principal.subject if principal else None}


def user_twice(req: Req) -> Answer:
    auth = current_auth()
    first = auth.user()
    return {"user": first, "same": auth.user() is first}


async def auser_twice(req: Req) -> Answer:
    auth = current_auth()
    first = await auth.auser()
    return {"user": first, "same": (await auth.auser()) is first}


Guard = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class Route:
    sync: Callable[[Req], Answer]
    async_: Callable[[Req], Awaitable[Answer]]
    catch: bool = False  # the app turns exceptions into its own 500 page


def route(
    guard: Guard | None,
    body: Callable[[Req], Answer],
    abody: Callable[[Req], Awaitable[Answer]] | None = None,
    *,
    catch: bool = False,
) -> Route:
    def handler(req: Req) -> Answer:
        return body(req)

    async def ahandler(req: Req) -> Answer:
        return await abody(req) if abody is not None else body(req)

    if guard is None:
        return Route(handler, ahandler, catch)
    return Route(guard(handler), guard(ahandler), catch)


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/open"): route(None, whoami),
    ("POST", "/open"): route(None, whoami),
    ("GET", "/health"): route(None, whoami),
    ("GET", "/admin/panel"): route(None, whoami),
    ("GET", "/me"): route(require_auth, whoami),
    ("GET", "/optional"): route(optional_auth, whoami),
    ("GET", "/cart"): route(require_scopes("cart:read"), whoami),
    ("POST", "/cart/items"): route(require_scopes("cart:write"), add_item),
    ("GET", "/fresh"): route(require_fresh(), whoami),
    ("GET", "/claims"): route(require_claims(role="admin"), whoami),
    ("GET", "/user"): route(require_auth, user_twice, auser_twice),
    ("GET", "/caught/cart"): route(require_scopes("cart:read"), whoami, catch=True),
}
WS_ROUTES: dict[str, Route] = {
    "/ws": route(require_auth, whoami),
    "/ws/open": route(None, whoami),
    "/admin/ws": route(None, whoami),
    "/ws/late": route(require_auth, whoami),
}
STREAM_PARTS = [b"part-1\n", b"part-2\n", b"part-3\n", b"part-4\n"]


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True).encode()


def make_asgi_app(probe: Probe) -> Callable[..., Awaitable[None]]:
    async def respond(send: Any, status: int, payload: dict[str, Any]) -> None:
        body = json_body(payload)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def lifespan(scope: Any, receive: Any, send: Any) -> None:
        probe.lifespan.append(scope)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def websocket(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        style, name = ("async", path[2:]) if path.startswith("/a/") else ("sync", path)
        ws_route = WS_ROUTES[name]
        if name == "/ws/late":  # a raw app that reads the handshake before checking
            assert (await receive())["type"] == "websocket.connect"
        handler = ws_route.async_ if style == "async" else ws_route.sync
        answer = handler(Req("GET", name, scope))
        payload = await answer if inspect.isawaitable(answer) else answer
        if name != "/ws/late":
            assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(payload)})
        await send({"type": "websocket.close", "code": 1000})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan(scope, receive, send)
        if scope["type"] == "websocket":
            return await websocket(scope, receive, send)
        while (await receive()).get("more_body"):
            pass
        path, method = scope["path"], scope["method"]
        if path == "/stream":
            principal = current_principal()
            first = f"sub={principal.subject if principal else None}\n".encode()
            start = {"type": "http.response.start", "status": 200}
            await send({**start, "headers": [(b"content-type", b"text/plain")]})
            for part in [first, *STREAM_PARTS]:
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return None
        style, name = ("async", path[2:]) if path.startswith("/a/") else ("sync", path)
        found = ROUTES.get((method, name))
        if found is None:
            return await respond(send, 404, {"error": "not found"})
        handler = found.async_ if style == "async" else found.sync
        try:
            answer = handler(Req(method, name, scope))
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception:
            if not found.catch:
                raise
            return await respond(send, 500, {"error": "server error"})
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        return await respond(send, status, payload)

    return app


class ClosingBody:
    """A WSGI iterable whose ``close()`` is counted; parts may be computed lazily."""

    def __init__(self, parts: Callable[[], list[bytes]], probe: Probe) -> None:
        self._parts = parts
        self._probe = probe

    def __iter__(self) -> Iterator[bytes]:
        yield from self._parts()

    def close(self) -> None:
        self._probe.closed += 1


def make_wsgi_app(probe: Probe) -> Callable[..., Any]:
    def respond(start_response: Any, status: str, payload: dict[str, Any]) -> ClosingBody:
        body = json_body(payload)
        headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
        start_response(status, headers)
        return ClosingBody(lambda: [body], probe)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        if path == "/stream":

            def parts() -> list[bytes]:
                # Read lazily through the environ: the context variable is gone by now.
                auth = get_auth(environ)
                principal = auth.principal if auth else None
                first = f"sub={principal.subject if principal else None}\n".encode()
                return [first, *STREAM_PARTS]

            start_response("200 OK", [("content-type", "text/plain")])
            return ClosingBody(parts, probe)
        found = ROUTES.get((method, path))
        if found is None:
            return respond(start_response, "404 Not Found", {"error": "not found"})
        try:
            answer = found.sync(Req(method, path, environ))
        except Exception:
            if not found.catch:
                raise
            return respond(start_response, "500 Internal Server Error", {"error": "server error"})
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        line = {200: "200 OK", 201: "201 Created"}[status]
        return respond(start_response, line, payload)

    return app
