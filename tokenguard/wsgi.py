"""WSGI middleware: authenticate every request before the app sees it.

The response is edited only by wrapping ``start_response`` (Set-Cookie after a silent
refresh); ``exc_info`` is passed through and the app's iterable is returned as it is, so
its ``close()`` is kept. Guards raising a `TokenError` inside the app are answered here
with 401/403.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING

from ._flow import run_sync
from .authenticator import Authenticator
from .context import WSGI_ENVIRON_KEY, AuthResult, RequestAuth, _current
from .errors import TokenError
from .extract import RequestView
from .responses import ErrorResponse, extra_headers

if TYPE_CHECKING:
    from .types import OptExcInfo, StartResponse, WSGIApp, WSGIEnviron

__all__ = ["TokenGuardMiddleware", "request_view"]

_SPECIAL_HEADERS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


class _EnvironHeaders(Mapping[str, Sequence[str]]):
    """The environ's HTTP headers, looked up on demand instead of scanning every key."""

    __slots__ = ("_environ",)

    def __init__(self, environ: WSGIEnviron) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> Sequence[str]:
        key = _SPECIAL_HEADERS.get(name) or "HTTP_" + name.upper().replace("-", "_")
        return (self._environ[key],)

    def _names(self) -> list[str]:
        names = [k[5:].replace("_", "-").lower() for k in self._environ if k.startswith("HTTP_")]
        return names + [n for n, k in _SPECIAL_HEADERS.items() if k in self._environ]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def request_view(environ: WSGIEnviron) -> RequestView:
    """The `RequestView` of a WSGI environ."""
    return RequestView(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=environ.get("PATH_INFO", "/") or "/",
        headers=_EnvironHeaders(environ),
        query_string=environ.get("QUERY_STRING", ""),
        scheme=environ.get("wsgi.url_scheme", "http"),
    )


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _respond(
    start_response: StartResponse, response: ErrorResponse, exc_info: OptExcInfo | None = None
) -> list[bytes]:
    headers = [*response.headers, ("content-length", str(len(response.body)))]
    start_response(_status_line(response.status), headers, exc_info)
    return [response.body]


class TokenGuardMiddleware:
    """Authenticate requests before the WSGI app sees them.

    Args:
        app: the WSGI app to protect.
        authenticator: the shared configuration (validator, token source, cookies ...).

    Example:

        app.wsgi_app = TokenGuardMiddleware(app.wsgi_app, Authenticator(validator))
    """

    def __init__(self, app: WSGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        authenticator = self.authenticator
        result = self._memoized(environ) if authenticator.memo_enabled else None
        if result is None:
            outcome = run_sync(authenticator.flow(request_view(environ)))
            if isinstance(outcome, ErrorResponse):
                return _respond(start_response, outcome)
            result = outcome
        auth = RequestAuth(result, authenticator.user_loader)
        environ[WSGI_ENVIRON_KEY] = auth
        extra = list(result.response_headers)
        started = False
        replaced = False

        def start_with_headers(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            nonlocal started, replaced
            if auth.guard_error is not None and status.startswith("5"):
                # The framework turned a guard's TokenError into its own 500 page:
                # hold it back and answer with the guard's 401/403 below.
                replaced = True
                return _discard
            started = True
            if extra:
                headers = [*headers, *extra_headers(headers, extra)]
            return start_response(status, headers, exc_info)

        token = _current.set(auth)
        try:
            body = self.app(environ, start_with_headers)
        except TokenError as error:
            response = authenticator.error_response(error, request_view(environ), extra)
            # PEP 3333: start_response may be called again only with exc_info.
            info = sys.exc_info() if started else None
            return _respond(start_response, response, info)
        finally:
            _current.reset(token)
        if replaced and auth.guard_error is not None:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            request = request_view(environ)
            response = authenticator.error_response(auth.guard_error, request, extra)
            return _respond(start_response, response)
        if isinstance(body, (list, tuple)):
            return body  # produced already: nothing runs while the server sends it
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            return body  # keep the server's sendfile path
        return _BoundBody(body, auth)

    def _memoized(self, environ: WSGIEnviron) -> AuthResult | None:
        """A repeated Bearer-only request: the decision made for its first occurrence."""
        value = environ.get("HTTP_AUTHORIZATION")
        if value is None or "HTTP_COOKIE" in environ:
            return None  # cookies bring CSRF rules and refresh: the flow decides
        path = environ.get("PATH_INFO", "/") or "/"
        return self.authenticator.memoized(value.encode("latin-1"), path)


def _discard(data: bytes) -> None:
    """The ``write`` callable handed out for a response that is being replaced."""


class _BoundBody:
    """A lazily produced body, run with the request's auth state current, so a streaming
    generator can still call `current_principal` (the app returned before the server
    iterates it). ``close()`` is passed on, as PEP 3333 requires."""

    __slots__ = ("_auth", "_body", "_iterator")

    def __init__(self, body: Iterable[bytes], auth: RequestAuth) -> None:
        self._body = body
        self._auth = auth
        self._iterator: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        token = _current.set(self._auth)
        try:
            if self._iterator is None:
                self._iterator = iter(self._body)
            return next(self._iterator)
        finally:
            _current.reset(token)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            token = _current.set(self._auth)
            try:
                close()
            finally:
                _current.reset(token)
