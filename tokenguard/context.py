"""The per-request auth state, and how handlers and guards reach it.

Adapters put one `RequestAuth` into ``scope["tokenguard"]`` (ASGI) or
``environ["tokenguard.auth"]`` (WSGI) and into a request-scoped context variable, so guards
find it without any framework code.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ConfigError, TokenError
from .extract import TokenLocation
from .principal import Principal

__all__ = [
    "ASGI_SCOPE_KEY",
    "WSGI_ENVIRON_KEY",
    "AuthResult",
    "RequestAuth",
    "UserLoader",
    "current_auth",
    "current_principal",
    "get_auth",
]

ASGI_SCOPE_KEY = "tokenguard"
WSGI_ENVIRON_KEY = "tokenguard.auth"


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What authentication decided for one request.

    Attributes:
        principal: the authenticated party, or None (anonymous or skipped).
        location: where the token was found (None when it came from a silent refresh
            without an access token, or when there was none).
        refreshed: True when the tokens were refreshed during this request.
        response_headers: headers to add to the response (Set-Cookie after a refresh).
        skipped: the path is excluded from authentication.
    """

    principal: Principal | None
    location: TokenLocation | None = None
    refreshed: bool = False
    response_headers: tuple[tuple[str, str], ...] = ()
    skipped: bool = False


class UserLoader(Protocol):
    """Turns a principal into the app's user object (a database row, say)."""

    def load(self, principal: Principal) -> Any:
        """The user, or None."""
        ...

    def aload(self, principal: Principal) -> Awaitable[Any]:
        """Async `load`."""
        ...


_UNSET: Any = object()


class RequestAuth:
    """One request's auth state: the `AuthResult` and a lazily loaded user.

    The user loader runs at most once per request, and only when a handler asks.
    """

    __slots__ = ("_loader", "_lock", "_user", "guard_error", "result")

    def __init__(self, result: AuthResult, loader: UserLoader | None = None) -> None:
        self.result = result
        #: The error a guard raised, so the adapters can answer 401/403 even when the
        #: framework turned the exception into its own 500 page.
        self.guard_error: TokenError | None = None
        self._loader = loader
        self._user: Any = _UNSET
        # Only a request that can load a user needs the lock (and pays for it).
        self._lock = threading.Lock() if loader is not None else None

    @property
    def principal(self) -> Principal | None:
        """The authenticated principal, or None."""
        return self.result.principal

    def user(self) -> Any:
        """The app's user for the principal (loaded once), or None when anonymous."""
        if self._user is _UNSET:
            if self._lock is None:
                self._user = None
                return None
            with self._lock:
                if self._user is _UNSET:
                    principal = self.result.principal
                    if principal is None or self._loader is None:
                        self._user = None
                    else:
                        self._user = self._loader.load(principal)
        return self._user

    async def auser(self) -> Any:
        """Async `user` (uses the loader's ``aload``)."""
        if self._user is _UNSET:
            principal = self.result.principal
            if principal is None or self._loader is None:
                self._user = None
            else:
                user = await self._loader.aload(principal)
                if self._user is _UNSET:  # a concurrent await may have won
                    self._user = user
        return self._user


_current: ContextVar[RequestAuth | None] = ContextVar("tokenguard_auth", default=None)


def set_current(auth: RequestAuth) -> Token[RequestAuth | None]:
    """Make ``auth`` the current request's state; pass the result to `reset_current`."""
    return _current.set(auth)


def reset_current(token: Token[RequestAuth | None]) -> None:
    """Undo `set_current`."""
    _current.reset(token)


@contextmanager
def bind(auth: RequestAuth) -> Iterator[None]:
    """Make ``auth`` the current request's state for the duration of the block."""
    token = _current.set(auth)
    try:
        yield
    finally:
        _current.reset(token)


def current_auth() -> RequestAuth:
    """The current request's auth state.

    Raises:
        ConfigError: no tokenguard middleware handled this request.
    """
    auth = _current.get()
    if auth is None:
        raise ConfigError(
            "No tokenguard middleware ran for this request: add the ASGI or WSGI "
            "middleware (or a framework integration) in front of this handler."
        )
    return auth


def current_principal() -> Principal | None:
    """The current request's principal, or None when anonymous."""
    return current_auth().principal


def get_auth(scope_or_environ: MutableMapping[str, Any]) -> RequestAuth | None:
    """The auth state stored in an ASGI scope or a WSGI environ, or None."""
    auth = scope_or_environ.get(ASGI_SCOPE_KEY) or scope_or_environ.get(WSGI_ENVIRON_KEY)
    return auth if isinstance(auth, RequestAuth) else None
