"""Error responses as plain values: RFC 6750 challenges, JSON bodies, login redirects."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .errors import BackendUnavailableError, InsufficientScopeError, MissingTokenError, TokenError
from .extract import RequestView

__all__ = [
    "ErrorHandler",
    "ErrorResponse",
    "challenge",
    "default_error_response",
    "extra_headers",
    "login_redirect",
]

# RFC 6750 section 3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """A complete HTTP response: status, headers (lower-case names) and body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _quoted(value: str) -> str:
    return '"' + _NOT_DESCRIPTION.sub("?", value) + '"'


def challenge(error: TokenError, realm: str) -> str | None:
    """The ``WWW-Authenticate`` value for an error, or None where none belongs (503)."""
    if isinstance(error, BackendUnavailableError):
        return None
    params = [f"realm={_quoted(realm)}"]
    if not isinstance(error, MissingTokenError):
        # A request without credentials gets no error code (RFC 6750 section 3.1).
        params.append(f"error={_quoted(error.error)}")
        params.append(f"error_description={_quoted(error.description)}")
    if isinstance(error, InsufficientScopeError) and error.scope:
        params.append(f"scope={_quoted(' '.join(error.scope))}")
    return "Bearer " + ", ".join(params)


def default_error_response(error: TokenError, realm: str) -> ErrorResponse:
    """The JSON error response: status, challenge, ``no-store``, and a small body."""
    headers = [("content-type", "application/json"), ("cache-control", "no-store")]
    www = challenge(error, realm)
    scoped = isinstance(error, InsufficientScopeError)
    if www is not None and (error.status in (400, 401) or scoped):
        headers.append(("www-authenticate", www))
    if isinstance(error, BackendUnavailableError):
        headers.append(("retry-after", "5"))
    body: dict[str, object] = {"error": error.error or "unauthorized"}
    body["error_description"] = error.description
    if isinstance(error, InsufficientScopeError) and error.scope:
        body["scope"] = " ".join(error.scope)
    return ErrorResponse(error.status, headers, json.dumps(body).encode())


def extra_headers(
    app_headers: Iterable[tuple[str, str]], extra: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The adapter's ``extra`` headers that may join the app's response.

    The app's word is final: a cookie it sets itself (a logout clearing them) beats a
    refreshed one of the same name, and its own Cache-Control beats ours.
    """
    cookies: set[str] = set()
    has_cache_control = False
    for name, value in app_headers:
        lowered = name.lower()
        if lowered == "set-cookie":
            cookies.add(value.split("=", 1)[0].strip())
        elif lowered == "cache-control":
            has_cache_control = True
    return [
        (name, value)
        for name, value in extra
        if not (name == "set-cookie" and value.split("=", 1)[0].strip() in cookies)
        and not (name == "cache-control" and has_cache_control)
    ]


class ErrorHandler(Protocol):
    """Turns an auth error into a response; return None to use the default JSON one."""

    def __call__(self, error: TokenError, request: RequestView) -> ErrorResponse | None: ...


def login_redirect(url: str, *, param: str = "next") -> ErrorHandler:
    """An `ErrorHandler` for HTML apps: browsers asking for a page get a 303 to ``url``
    on 401 (with the original path in ``param``); API calls keep the JSON answers."""
    from urllib.parse import quote

    def handler(error: TokenError, request: RequestView) -> ErrorResponse | None:
        accept = request.header("accept") or ""
        if error.status != 401 or request.method != "GET" or "text/html" not in accept:
            return None
        # "//evil.example" would be another host to a login page that follows ``next``.
        path = "/" + request.path.lstrip("/")
        target = f"{url}{'&' if '?' in url else '?'}{param}={quote(path)}"
        return ErrorResponse(303, [("location", target), ("cache-control", "no-store")])

    return handler
