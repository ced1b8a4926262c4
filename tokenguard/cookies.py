"""Cookie policy for browser clients, and the CSRF check that cookie credentials need.

Warning:
    Tokens in cookies are sent by the browser on every request, including forged
    cross-site ones. Keep ``HttpOnly`` (always on here), ``Secure`` (on by default) and
    the CSRF check (on by default) unless you know exactly why not.

The CSRF proof is a double submit bound to the token: at login a random value goes both
into a readable CSRF cookie and into the access token's ``csrf`` claim (and from there into
every refreshed token). A state-changing request authenticated by cookies must echo the
value in a header; a forged cross-site request can send the cookies but cannot read the
value. Fetch metadata and ``Origin`` are checked as well.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from .errors import ConfigError, CSRFError
from .extract import SAFE_METHODS, RequestView

__all__ = ["CSRF_CLAIM", "CookiePolicy", "IssuedPair", "new_csrf_value"]

#: The access-token claim that carries the CSRF value.
CSRF_CLAIM = "csrf"
_HOST_PREFIX = "__Host-"


def _same(a: str, b: str) -> bool:
    # On bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500),
    # and header values arrive latin-1 decoded, so a client can send any of them.
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def new_csrf_value() -> str:
    """A fresh CSRF value (128 random bits)."""
    return secrets.token_urlsafe(16)


class IssuedPair(Protocol):
    """What the cookie helpers need of a token pair (`TokenPair` is one)."""

    @property
    def access_token(self) -> str: ...

    @property
    def refresh_token(self) -> str: ...

    @property
    def expires_in(self) -> int: ...

    @property
    def refresh_expires_in(self) -> int: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class CookiePolicy:
    """Names and flags of the access, refresh and CSRF cookies, and the CSRF rules.

    Args:
        access_name: the access cookie's base name.
        refresh_name: the refresh cookie's base name.
        csrf_name: the CSRF cookie's base name.
        csrf_header: the header that must echo the CSRF value on unsafe methods.
        secure: send cookies over HTTPS only (turn off only for http://127.0.0.1 demos).
        samesite: ``"lax"`` (default), ``"strict"`` or ``"none"`` (needs ``secure``).
        path: the cookies' ``Path``.
        domain: the cookies' ``Domain`` (None: host-only cookies).
        host_prefix: use the ``__Host-`` prefix when allowed (secure, no domain, path /),
            which stops subdomains from planting cookies.
        trusted_origins: other origins (``https://app.example``) allowed to send unsafe
            requests with cookies.
        csrf: check CSRF proof on unsafe methods with cookie credentials.
    """

    access_name: str = "access_token"
    refresh_name: str = "refresh_token"
    csrf_name: str = "csrf_token"
    csrf_header: str = "x-csrf-token"
    secure: bool = True
    samesite: Literal["lax", "strict", "none"] = "lax"
    path: str = "/"
    domain: str | None = None
    host_prefix: bool = True
    trusted_origins: Sequence[str] = ()
    csrf: bool = True

    def __post_init__(self) -> None:
        if self.samesite not in ("lax", "strict", "none"):
            raise ConfigError("samesite must be 'lax', 'strict' or 'none'.")
        if self.samesite == "none" and not self.secure:
            raise ConfigError("SameSite=None cookies must be Secure (browsers drop them).")
        if not self.path.startswith("/"):
            raise ConfigError("The cookie path must start with '/'.")
        # RFC 6265 section 4.1.1: a ';' or a control character would end the attribute
        # and let the rest be read as attributes of its own.
        if any(c == ";" or c < " " or c == "\x7f" for c in self.path):
            raise ConfigError("The cookie path may not contain ';' or control characters.")
        if self.domain is not None and not re.fullmatch(
            r"\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", self.domain
        ):
            raise ConfigError(f"{self.domain!r} is not a valid cookie domain.")
        if isinstance(self.trusted_origins, str):
            raise ConfigError("trusted_origins is a list of origins, not one string.")
        for name in (self.access_name, self.refresh_name, self.csrf_name):
            if not name or any(c in name for c in ' ;,="\t\r\n'):
                raise ConfigError(f"{name!r} is not a valid cookie name.")
        object.__setattr__(self, "csrf_header", self.csrf_header.lower())
        object.__setattr__(self, "trusted_origins", tuple(self.trusted_origins))

    # -- names -------------------------------------------------------------------------

    @property
    def _prefix(self) -> str:
        usable = self.host_prefix and self.secure and self.domain is None and self.path == "/"
        return _HOST_PREFIX if usable else ""

    @property
    def access_cookie(self) -> str:
        """The access cookie's full name."""
        return self._prefix + self.access_name

    @property
    def refresh_cookie(self) -> str:
        """The refresh cookie's full name."""
        return self._prefix + self.refresh_name

    @property
    def csrf_cookie(self) -> str:
        """The CSRF cookie's full name."""
        return self._prefix + self.csrf_name

    # -- Set-Cookie values -----------------------------------------------------------

    def _cookie(self, name: str, value: str, max_age: int, *, http_only: bool = True) -> str:
        parts = [f"{name}={value}", f"Path={self.path}", f"Max-Age={max(0, max_age)}"]
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.secure:
            parts.append("Secure")
        if http_only:
            parts.append("HttpOnly")
        parts.append(f"SameSite={self.samesite.capitalize()}")
        return "; ".join(parts)

    def login_cookies(self, pair: IssuedPair, *, csrf_value: str | None) -> list[str]:
        """Set-Cookie values for a new or refreshed pair.

        Args:
            pair: the tokens.
            csrf_value: the pair's CSRF value (its ``csrf`` claim); None sets no CSRF cookie.
        """
        cookies = [
            self._cookie(self.access_cookie, pair.access_token, pair.expires_in),
            self._cookie(self.refresh_cookie, pair.refresh_token, pair.refresh_expires_in),
        ]
        if csrf_value is not None:
            cookies.append(
                # Readable by page JavaScript on purpose: the page echoes it in a header.
                self._cookie(self.csrf_cookie, csrf_value, pair.refresh_expires_in, http_only=False)
            )
        return cookies

    def clear_cookies(self) -> list[str]:
        """Set-Cookie values that delete all three cookies (logout, failed refresh)."""
        return [
            self._cookie(self.access_cookie, "", 0),
            self._cookie(self.refresh_cookie, "", 0),
            self._cookie(self.csrf_cookie, "", 0, http_only=False),
        ]

    # -- CSRF --------------------------------------------------------------------------

    def check_request_origin(self, request: RequestView, cookies: Mapping[str, str]) -> None:
        """Checks that need no token: fetch metadata, Origin, and the double submit.

        Raises:
            CSRFError: the request may be forged.
        """
        if not self.csrf:
            return
        if request.scheme in ("ws", "wss"):
            # Browsers send Origin on every websocket handshake but page JavaScript cannot
            # add headers to it: the Origin is the proof (cross-site websocket hijacking).
            origin = request.header("origin")
            if origin is not None and not self._origin_allowed(origin, request.header("host")):
                raise CSRFError("The websocket's Origin is not trusted.")
            return
        if request.method in SAFE_METHODS:
            return
        if request.header("sec-fetch-site") == "cross-site":
            raise CSRFError("Cross-site requests may not use cookie credentials.")
        origin = request.header("origin")
        if origin is not None and not self._origin_allowed(origin, request.header("host")):
            raise CSRFError("The request's Origin is not trusted.")
        sent = request.header(self.csrf_header)
        cookie = cookies.get(self.csrf_cookie)
        if not sent or not cookie or not _same(sent, cookie):
            raise CSRFError(f"Send the {self.csrf_cookie} cookie's value in {self.csrf_header}.")

    def check_token_binding(self, request: RequestView, claims: Mapping[str, Any]) -> None:
        """The echoed CSRF value must be the one bound into the token.

        Raises:
            CSRFError: the token has no CSRF value or it differs.
        """
        if not self.csrf or request.method in SAFE_METHODS:
            return
        expected = claims.get(CSRF_CLAIM)
        sent = request.header(self.csrf_header) or ""
        # An empty claim binds nothing: it would match a request without the header.
        if not isinstance(expected, str) or not expected or not _same(sent, expected):
            raise CSRFError("The CSRF value does not belong to this session.")

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        if origin in self.trusted_origins:
            return True
        if host is None:
            return False
        # The scheme is unreliable behind TLS-terminating proxies: compare host and port,
        # with the port the Origin's scheme implies when it names none.
        try:
            parts = urlsplit(origin)
            default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
            origin_port = parts.port or default
            served = urlsplit(f"//{host}")
            host_port = served.port or default
        except ValueError:
            return False
        return (
            parts.hostname is not None
            and parts.hostname == served.hostname
            and origin_port is not None
            and origin_port == host_port
        )
