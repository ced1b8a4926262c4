"""Pure ASGI middleware: authenticate every HTTP request and websocket connection.

Lifespan and unknown scope types pass through untouched. The response is edited only by
wrapping ``send`` at ``http.response.start`` (Set-Cookie after a silent refresh). Guards
raising a `TokenError` inside the app are answered here with 401/403, as long as the
response has not started.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence

from ._flow import run_async
from .authenticator import Authenticator
from .context import ASGI_SCOPE_KEY, AuthResult, RequestAuth, _current
from .errors import TokenError
from .extract import RequestView
from .responses import ErrorResponse, extra_headers
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TokenGuardMiddleware", "request_view"]


class _ScopeHeaders(Mapping[str, Sequence[str]]):
    """The scope's headers, looked up on demand (most requests need two or three)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def __getitem__(self, name: str) -> Sequence[str]:
        key = name.encode("latin-1")
        values = [v.decode("latin-1") for n, v in self._raw if n == key]
        if not values:
            raise KeyError(name)
        return values

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(n.decode("latin-1") for n, _ in self._raw))

    def __len__(self) -> int:
        return len({n for n, _ in self._raw})


def request_view(scope: Scope) -> RequestView:
    """The `RequestView` of an ASGI ``http`` or ``websocket`` scope."""
    return RequestView(
        method=scope.get("method", "GET"),
        path=scope.get("path", "/"),
        # ASGI header names are lower-case already (ASGI spec, HTTP connection scope).
        headers=_ScopeHeaders(scope.get("headers", ())),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        scheme=scope.get("scheme", "http"),
    )


def _encode(headers: Sequence[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def _send_error(
    scope: Scope, receive: Receive, send: Send, response: ErrorResponse, *, connected: bool = False
) -> None:
    if scope["type"] == "websocket":
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status,
                    "headers": _encode(response.headers),
                }
            )
            await send({"type": "websocket.http.response.body", "body": response.body})
        else:
            if not connected:
                # Before the handshake is answered, a server yields websocket.connect and
                # then waits for the answer: never receive twice here.
                await receive()  # websocket.connect
            # 1008: policy violation; the server answers the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                *_encode(response.headers),
                (b"content-length", str(len(response.body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class TokenGuardMiddleware:
    """Authenticate requests before the app sees them.

    Args:
        app: the ASGI app to protect.
        authenticator: the shared configuration (validator, token source, cookies ...).

    Example:

        app = TokenGuardMiddleware(app, Authenticator(validator, source=issuer))
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        authenticator = self.authenticator
        result = self._memoized(scope) if authenticator._memo is not None else None
        if result is None:
            outcome = await run_async(authenticator.flow(request_view(scope)))
            if isinstance(outcome, ErrorResponse):
                await _send_error(scope, receive, send, outcome)
                return
            result = outcome
        auth = RequestAuth(result, authenticator.user_loader)
        scope[ASGI_SCOPE_KEY] = auth
        guarded_send = _GuardedSend(send, auth, (self, scope, receive))
        connected = False
        app_receive = receive
        if kind == "websocket":

            async def tracked_receive() -> Message:
                nonlocal connected
                message = await receive()
                if message["type"] == "websocket.connect":
                    connected = True
                return message

            app_receive = tracked_receive
        token = _current.set(auth)
        try:
            await self.app(scope, app_receive, guarded_send)
        except TokenError as error:
            if guarded_send.replaced:
                return
            if guarded_send.started:
                raise
            response = self._guard_response(error, scope)
            await _send_error(scope, receive, send, response, connected=connected)
        finally:
            _current.reset(token)

    def _memoized(self, scope: Scope) -> AuthResult | None:
        """A repeated Bearer-only request: the decision made for its first occurrence."""
        value = None
        for name, raw in scope["headers"]:
            if name == b"authorization":
                if value is not None:
                    return None  # sent twice: the flow answers 400
                value = raw
            elif name == b"cookie":
                return None  # cookies bring CSRF rules and refresh: the flow decides
        if value is None:
            return None
        return self.authenticator.memoized(value, scope["path"])

    def _guard_response(self, error: TokenError, scope: Scope) -> ErrorResponse:
        auth = scope[ASGI_SCOPE_KEY]
        return self.authenticator.error_response(
            error, request_view(scope), auth.result.response_headers
        )


def _with_extra(message: Message, extra: Sequence[tuple[str, str]]) -> Message:
    """The response start plus our headers, minus cookies the app sets itself."""
    headers = list(message.get("headers", ()))
    app = ((n.decode("latin-1"), v.decode("latin-1")) for n, v in headers)
    return {**message, "headers": headers + _encode(extra_headers(app, extra))}


async def _nothing() -> None:
    """What sending a message of a replaced response amounts to."""


class _GuardedSend:
    """The ``send`` the app gets. It adds refreshed cookies to the response start and swaps
    a framework's 500 page for a guard's 401/403 (see `RequestAuth.guard_error`).

    ``__call__`` is a plain method returning the next awaitable: once the response has
    started, a message costs one attribute check and no extra coroutine.
    """

    __slots__ = ("_context", "_send", "auth", "replaced", "started")

    def __init__(
        self,
        send: Send,
        auth: RequestAuth,
        context: tuple[TokenGuardMiddleware, Scope, Receive],
    ) -> None:
        self._send = send
        self.auth = auth
        self._context = context
        self.started = False
        self.replaced = False

    def __call__(self, message: Message) -> Awaitable[None]:
        if self.started:
            return self._send(message)
        if self.replaced:
            return _nothing()  # the framework's error page for a guard's error is dropped
        kind = message["type"]
        if kind == "http.response.start":
            error = self.auth.guard_error
            if error is not None and message["status"] >= 500:
                # The framework turned a guard's TokenError into its own 500 page.
                self.replaced = True
                middleware, scope, receive = self._context
                response = middleware._guard_response(error, scope)
                return _send_error(scope, receive, self._send, response)
            self.started = True
        elif kind == "websocket.accept":
            self.started = True
        extra = self.auth.result.response_headers
        if self.started and extra:  # refreshed cookies ride on the response start
            message = _with_extra(message, extra)
        return self._send(message)
