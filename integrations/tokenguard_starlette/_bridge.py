"""The glue: scope["user"]/scope["auth"], error rendering, cookie helpers."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenguard import Authenticator, CookiePolicy, Principal, TokenError, TokenPair, get_auth
from tokenguard.asgi import TokenGuardMiddleware, request_view


class TokenUser(BaseUser):
    """Starlette's user object for a tokenguard principal."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.subject

    @property
    def identity(self) -> str:
        return self.principal.subject


class _StarletteAuthBridge:
    """Runs inside tokenguard's middleware: fills ``scope["user"]`` and ``scope["auth"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            auth = get_auth(scope)
            principal = auth.principal if auth is not None else None
            if principal is None:
                scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
            else:
                scope["user"] = TokenUser(principal)
                scope["auth"] = AuthCredentials(sorted(principal.scopes))
        await self.app(scope, receive, send)


class TokenGuardStarlette:
    """tokenguard's ASGI middleware plus Starlette's ``request.user``/``request.auth``.

    Use with ``app.add_middleware(TokenGuardStarlette, authenticator=...)`` or `install`.
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = TokenGuardMiddleware(_StarletteAuthBridge(app), authenticator)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def error_response(authenticator: Authenticator, request: Request, error: TokenError) -> Response:
    """The RFC 6750 response for ``error`` as a Starlette Response."""
    # No refresh cookies here: the middleware adds them to every response on its way out.
    rendered = authenticator.error_response(error, request_view(request.scope))
    response = Response(rendered.body, status_code=rendered.status)
    for name, value in rendered.headers:
        response.headers.append(name, value)
    return response


def install(app: Starlette, authenticator: Authenticator) -> None:
    """Add the middleware and an exception handler that answers guards' TokenErrors."""
    app.add_middleware(TokenGuardStarlette, authenticator=authenticator)

    async def handle(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, TokenError):  # pragma: no cover - registered for TokenError
            raise exc
        return error_response(authenticator, request, exc)

    app.add_exception_handler(TokenError, handle)


def set_login_cookies(
    response: Response, pair: TokenPair, policy: CookiePolicy, *, csrf_value: str | None
) -> Response:
    """Put the access, refresh and CSRF cookies of a login on ``response``."""
    for value in policy.login_cookies(pair, csrf_value=csrf_value):
        response.headers.append("set-cookie", value)
    return response


def clear_login_cookies(response: Response, policy: CookiePolicy) -> Response:
    """Delete the three cookies (logout)."""
    for value in policy.clear_cookies():
        response.headers.append("set-cookie", value)
    return response
