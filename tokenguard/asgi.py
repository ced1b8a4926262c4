"""Pure ASGI middleware: authenticate every HTTP request and websocket connection.

Lifespan and unknown scope types pass through untouched. The response is edited only by
wrapping ``send`` at ``http.response.start`` (Set-Cookie after a silent refresh). Guards
raising a `TokenError` inside the app are answered here with 401/403, as long as the
response has not started.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._flow import run_async
from .authenticator import Authenticator
from .context import ASGI_SCOPE_KEY, RequestAuth, bind
from .errors import TokenError
from .extract import RequestView
from .responses import ErrorResponse
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TokenGuardMiddleware", "request_view"]


def request_view(scope: Scope) -> RequestView:
    """The `RequestView` of an ASGI ``http`` or ``websocket`` scope."""
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            headers[name].append(value)
        else:
            headers[name] = [value]
    return RequestView(
        method=scope.get("method", "GET"),
        path=scope.get("path", "/"),
        headers=headers,
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

    Example::

        app = TokenGuardMiddleware(app, Authenticator(validator, source=issuer))
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request = request_view(scope)
        outcome = await run_async(self.authenticator.flow(request))
        if isinstance(outcome, ErrorResponse):
            await _send_error(scope, receive, send, outcome)
            return
        auth = RequestAuth(outcome, self.authenticator.user_loader)
        scope[ASGI_SCOPE_KEY] = auth
        extra = _encode(outcome.response_headers)
        started = False
        replaced = False
        connected = False

        async def receive_tracked() -> Message:
            nonlocal connected
            message = await receive()
            if message["type"] == "websocket.connect":
                connected = True
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the framework's error page for a guard's error is dropped
            kind = message["type"]
            if kind == "http.response.start":
                error = auth.guard_error
                if error is not None and message["status"] >= 500:
                    # The framework turned a guard's TokenError into its own 500 page.
                    replaced = True
                    response = self._guard_response(error, auth, request)
                    await _send_error(scope, receive, send, response)
                    return
                started = True
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            elif kind == "websocket.accept":
                started = True
                if extra:  # the handshake response carries the refreshed cookies
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        with bind(auth):
            try:
                app_receive = receive_tracked if scope["type"] == "websocket" else receive
                await self.app(scope, app_receive, send_with_headers)
            except TokenError as error:
                if replaced:
                    return
                if started:
                    raise
                response = self._guard_response(error, auth, request)
                await _send_error(scope, receive, send, response, connected=connected)

    def _guard_response(
        self, error: TokenError, auth: RequestAuth, request: RequestView
    ) -> ErrorResponse:
        return self.authenticator.error_response(error, request, auth.result.response_headers)
