"""Route guards: one set of decorators for sync and async handlers of any framework.

They read the request's auth state from the context variable the adapters set, and raise
a `TokenError`; the adapters (or the integrations' error handlers) answer 401/403.

Example:

    @require_scopes("cart:read")
    async def cart(request): ...

    @require_auth
    def profile(request): ...
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from .context import RequestAuth, current_auth
from .errors import (
    ConfigError,
    FreshTokenRequiredError,
    InsufficientScopeError,
    MissingTokenError,
    TokenError,
)
from .principal import Principal
from .protocols import Clock

__all__ = [
    "optional_auth",
    "require_auth",
    "require_claims",
    "require_fresh",
    "require_scopes",
]

P = ParamSpec("P")
R = TypeVar("R")


def _run(check: Callable[[RequestAuth], object]) -> None:
    auth = current_auth()
    try:
        check(auth)
    except TokenError as error:
        auth.guard_error = error
        raise


def _guard(check: Callable[[RequestAuth], object]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(handler: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def async_guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
                _run(check)
                return await handler(*args, **kwargs)

            return cast(Callable[P, R], async_guarded)

        @functools.wraps(handler)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            _run(check)
            return handler(*args, **kwargs)

        return guarded

    return decorate


def _principal(auth: RequestAuth) -> Principal:
    principal = auth.principal
    if principal is None:
        raise MissingTokenError()
    return principal


def require_auth(handler: Callable[P, R]) -> Callable[P, R]:
    """The request must carry a valid token (401 otherwise)."""
    return _guard(_principal)(handler)


def optional_auth(handler: Callable[P, R]) -> Callable[P, R]:
    """Anonymous requests pass; the middleware must still have run (a wiring check)."""
    return _guard(lambda auth: None)(handler)


def require_scopes(*scopes: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The token must grant every scope given (403 ``insufficient_scope`` otherwise)."""
    if not scopes or not all(isinstance(s, str) and s and " " not in s for s in scopes):
        raise ConfigError("require_scopes takes one or more scope names without spaces.")

    def check(auth: RequestAuth) -> None:
        if not _principal(auth).has_scopes(*scopes):
            raise InsufficientScopeError(scope=scopes)

    return _guard(check)


def require_claims(**expected: object) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Each named claim must equal the value given, or contain it when it is a list.

    Example: ``@require_claims(role="admin", tenant="acme")``.
    """
    if not expected:
        raise ConfigError("require_claims needs at least one claim=value.")

    def check(auth: RequestAuth) -> None:
        claims = _principal(auth).claims
        for name, value in expected.items():
            if name not in claims:  # a missing claim is not None
                raise InsufficientScopeError(f"The access token lacks the required {name!r}.")
            actual = claims[name]
            if not (_same(actual, value) or (isinstance(actual, list) and value in actual)):
                raise InsufficientScopeError(f"The access token lacks the required {name!r}.")

    return _guard(check)


def _same(actual: object, expected: object) -> bool:
    # Strict where Python is loose: True is not 1 (nor 1.0).
    return actual == expected and isinstance(actual, bool) is isinstance(expected, bool)


def require_fresh(
    max_age: float | None = None, *, clock: Clock = time.time
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The token must come from a login, not a refresh (401 otherwise).

    Args:
        max_age: also require the login (``auth_time``) to be at most this many seconds old.
        clock: the time source for ``max_age``.

    Raises:
        ConfigError: ``max_age`` is not a number of seconds (``@require_fresh`` written
            without parentheses would otherwise replace the handler with the decorator).
    """
    age: object = max_age
    if age is not None and (isinstance(age, bool) or not isinstance(age, (int, float)) or age < 0):
        raise ConfigError("max_age must be seconds >= 0; write @require_fresh() with parentheses.")

    def check(auth: RequestAuth) -> None:
        claims = _principal(auth).claims
        if claims.get("fresh") is not True:
            raise FreshTokenRequiredError()
        if max_age is not None:
            auth_time = claims.get("auth_time")
            if not isinstance(auth_time, (int, float)) or clock() - auth_time > max_age:
                raise FreshTokenRequiredError("This action needs a recent login.")

    return _guard(check)
