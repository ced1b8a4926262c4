"""FastAPI dependencies over tokenguard's request state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from tokenguard import (
    Authenticator,
    ConfigError,
    InsufficientScopeError,
    MissingTokenError,
    Principal,
    get_auth,
)
from tokenguard_starlette import install as install_starlette

#: Shown in OpenAPI so that /docs offers "Authorize"; tokenguard's middleware does the work.
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearerAuth", description="A tokenguard access token."
)
#: The access cookie, for documentation; `install` renames it to the policy's cookie.
cookie_scheme = APIKeyCookie(
    name="access_token", auto_error=False, scheme_name="cookieAuth", description="Browser session."
)


async def optional_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    _cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal | None:
    """The request's principal, or None when anonymous."""
    auth = get_auth(request.scope)
    if auth is None:
        raise ConfigError("tokenguard is not installed on this app: call install(app, ...).")
    return auth.principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The request's principal; 401 when there is none."""
    if principal is None:
        raise MissingTokenError()
    return principal


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency requiring every scope given (403 ``insufficient_scope`` otherwise)."""
    if not scopes:
        raise ConfigError("require_scopes needs at least one scope.")

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has_scopes(*scopes):
            raise InsufficientScopeError(scope=scopes)
        return principal

    return dependency


def install(app: FastAPI, authenticator: Authenticator) -> None:
    """Add the middleware, the TokenError handler, and fix the cookie scheme's name."""
    install_starlette(app, authenticator)
    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schemes = schema.get("components", {}).get("securitySchemes", {})
        if "cookieAuth" in schemes:
            schemes["cookieAuth"]["name"] = authenticator.cookies.access_cookie
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
