"""What every integration's tests share: an issuer on a frozen clock, logins, expectations.

Nothing here imports a web framework: each framework's package imports its own (and skips
when it is absent). Cookies are sent as an explicit ``Cookie`` header, because the default
policy's cookies are ``Secure`` and the test clients speak plain http.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest

import tokenguard
from tests.conftest import ACCESS_TTL, REFRESH_TTL, FrozenClock, Login, short_lived_issuer
from tokenguard import Authenticator, CookiePolicy, Principal, TokenIssuer, TokenPair

ISSUER = "https://shop.example"
AUDIENCE = "api://shop"
REALM = "api"

POLICY = CookiePolicy()
ACCESS, REFRESH, CSRF = POLICY.access_cookie, POLICY.refresh_cookie, POLICY.csrf_cookie

SCOPE_DESCRIPTION = "The access token lacks the privileges this request needs."
MISSING_DESCRIPTION = "Authentication is required."

#: ``WWW-Authenticate`` of a request without credentials (RFC 6750 section 3.1: no code).
MISSING_CHALLENGE = f'Bearer realm="{REALM}"'
MISSING_BODY = {"error": "unauthorized", "error_description": MISSING_DESCRIPTION}


def who() -> dict[str, Any]:
    """What a handler sees of the current request: subject and scopes (None anonymous)."""
    principal = tokenguard.current_principal()
    if principal is None:
        return {"sub": None}
    return {"sub": principal.subject, "scopes": sorted(principal.scopes)}


def scope_challenge(*scopes: str) -> str:
    """``WWW-Authenticate`` of a 403 ``insufficient_scope`` for ``scopes``."""
    return (
        f'Bearer realm="{REALM}", error="insufficient_scope", '
        f'error_description="{SCOPE_DESCRIPTION}", scope="{" ".join(scopes)}"'
    )


def scope_body(*scopes: str) -> dict[str, str]:
    """The JSON body of a 403 ``insufficient_scope`` for ``scopes``."""
    return {
        "error": "insufficient_scope",
        "error_description": SCOPE_DESCRIPTION,
        "scope": " ".join(scopes),
    }


@dataclass
class Shop:
    """An issuer with an in-memory store on a frozen clock, and authenticators over it."""

    clock: FrozenClock
    issuer: TokenIssuer

    def login(
        self, subject: str = "alice", *, scopes: Sequence[str] = ("cart:read", "cart:write")
    ) -> Login:
        return Login.issue(self.issuer, subject, scopes=scopes, policy=POLICY)

    def authenticator(self, **options: Any) -> Authenticator:
        """The issuer's validator, silent refresh through the issuer, the frozen clock."""
        options.setdefault("source", self.issuer)
        options.setdefault("clock", self.clock)
        return Authenticator(self.issuer.validator(), **options)

    def expire(self) -> None:
        """Let every access token issued so far expire."""
        self.clock.advance(ACCESS_TTL + 1)

    def principal(self, token: str) -> Principal:
        return self.issuer.validator().validate(token)


@pytest.fixture
def shop(clock: FrozenClock) -> Shop:
    return Shop(clock, short_lived_issuer(clock, issuer=ISSUER, audience=AUDIENCE))


def cookie_names(set_cookies: Iterable[str]) -> list[str]:
    """The cookie names of ``Set-Cookie`` values, in order."""
    return [value.split("=", 1)[0] for value in set_cookies]


def assert_refreshed(
    set_cookies: Sequence[str], shop: Shop, login: Login, *, elapsed: int = ACCESS_TTL + 1
) -> TokenPair:
    """``set_cookies`` are exactly the policy's cookies for a rotated pair of ``login``.

    Returns the new pair, read back from the cookies.
    """
    assert cookie_names(set_cookies) == [ACCESS, REFRESH, CSRF]
    parsed: SimpleCookie = SimpleCookie()
    for value in set_cookies:
        parsed.load(value)
    new = TokenPair(parsed[ACCESS].value, parsed[REFRESH].value, ACCESS_TTL, REFRESH_TTL - elapsed)
    assert new.access_token != login.access
    assert new.refresh_token != login.refresh  # rotated
    assert shop.principal(new.access_token).subject == login.subject
    assert list(set_cookies) == POLICY.login_cookies(new, csrf_value=login.csrf)
    return new
