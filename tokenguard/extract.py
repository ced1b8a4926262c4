"""Where tokens come from: a sans-I/O view of a request and the token locations.

The adapters turn an ASGI scope or a WSGI environ into a `RequestView` (plain values);
everything here works on that view only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from .errors import InvalidRequestError, MalformedTokenError

__all__ = [
    "SAFE_METHODS",
    "Extracted",
    "RequestView",
    "TokenLocation",
    "extract_token",
    "parse_cookies",
]

#: Methods that must not change state; CSRF proof is needed on every other one.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_MAX_TOKEN_LENGTH = 16 * 1024


def parse_cookies(header: str) -> dict[str, str]:
    """Parse a Cookie header the way browsers send it (first occurrence of a name wins)."""
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(name, value)
    return cookies


@dataclass(frozen=True, slots=True)
class RequestView:
    """The parts of a request tokenguard reads, as plain values.

    Attributes:
        method: upper-case HTTP method (``"GET"`` for websockets).
        path: the URL path, without the query string.
        headers: lower-case header names to every value sent under that name.
        query_string: the raw query string.
        scheme: ``http``, ``https``, ``ws`` or ``wss``.
    """

    method: str
    path: str
    headers: Mapping[str, Sequence[str]]
    query_string: str = ""
    scheme: str = "http"

    def header(self, name: str) -> str | None:
        """The single value of a header; `InvalidRequestError` when it was sent twice."""
        values = self.headers.get(name)
        if not values:
            return None
        if len(values) > 1 and name != "cookie":
            raise InvalidRequestError(f"The {name} header was sent more than once.")
        return "; ".join(values) if name == "cookie" else values[0]

    def cookies(self) -> dict[str, str]:
        """The request's cookies."""
        raw = self.header("cookie")
        return parse_cookies(raw) if raw else {}


@dataclass(frozen=True, slots=True)
class TokenLocation:
    """A place a token may be carried."""

    kind: Literal["bearer", "header", "cookie", "query"]
    name: str

    @classmethod
    def bearer(cls) -> TokenLocation:
        """``Authorization: Bearer <token>`` (RFC 6750 section 2.1)."""
        return cls("bearer", "authorization")

    @classmethod
    def header(cls, name: str) -> TokenLocation:
        """A token alone in a named header, e.g. ``X-API-Token``."""
        return cls("header", name.lower())

    @classmethod
    def cookie(cls, name: str) -> TokenLocation:
        """A token in a named cookie."""
        return cls("cookie", name)

    @classmethod
    def query(cls, name: str = "access_token") -> TokenLocation:
        """A token in the query string. Opt-in only: RFC 6750 section 2.3 warns that URLs
        end up in logs and Referer headers."""
        return cls("query", name)

    def find(self, request: RequestView, cookies: Mapping[str, str]) -> str | None:
        """The token at this location, or None; malformed values raise InvalidRequestError."""
        if self.kind == "bearer":
            return _bearer(request.header("authorization"))
        if self.kind == "header":
            return _checked(request.header(self.name), self.name)
        if self.kind == "cookie":
            return _checked(cookies.get(self.name), "cookie")
        values = _query_values(request.query_string, self.name)
        if values and len(values) > 1:
            raise InvalidRequestError("The access token was sent twice in the query string.")
        return _checked(values[0] if values else None, "query parameter")


def _query_values(query: str, name: str) -> list[str]:
    # Not parse_qs: it turns "+" into a space, and "+" is legal in a bearer token.
    values = []
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and unquote(key) == name:
            values.append(unquote(value))
    return values


def _checked(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    if not value or len(value) > _MAX_TOKEN_LENGTH or _B64TOKEN.fullmatch(value) is None:
        if where == "cookie":
            # A broken cookie is a broken session, not a broken request: answer 401 so
            # the adapters clear it, or the browser would be stuck with it.
            raise MalformedTokenError("The access token cookie is malformed.")
        if not value:
            raise InvalidRequestError(f"The access token {where} is empty.")
        raise InvalidRequestError(f"The access token {where} is malformed.")
    return value


def _bearer(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer":
        return None  # another scheme (Basic, DPoP ...) is not ours to judge
    if not credentials or credentials != credentials.strip(" ") or " " in credentials:
        raise InvalidRequestError("The Authorization header is malformed.")
    return _checked(credentials, "in the Authorization header")


@dataclass(frozen=True, slots=True)
class Extracted:
    """A token and where it was found."""

    token: str
    location: TokenLocation


def extract_token(
    request: RequestView, locations: Sequence[TokenLocation], cookies: Mapping[str, str]
) -> Extracted | None:
    """The request's token from the first location that has one.

    Raises:
        InvalidRequestError: a malformed value, or two different tokens in two places
            (RFC 6750 section 2: a client uses only one method per request).
    """
    found: Extracted | None = None
    for location in locations:
        token = location.find(request, cookies)
        if token is None:
            continue
        if found is None:
            found = Extracted(token, location)
        elif token != found.token:
            raise InvalidRequestError("The request carries two different access tokens.")
    return found
