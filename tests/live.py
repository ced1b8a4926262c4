"""The token side of the real-server tests (tests/asgi, tests/wsgi).

An issuer with an in-memory store on an adjustable clock (so access tokens expire without
sleeping, even behind a real server), a counting token source in front of it, and helpers
to read Set-Cookie headers as a browser would receive them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie

from tests.conftest import NOW, FrozenClock, signing_key
from tokenguard.authenticator import Authenticator
from tokenguard.cookies import CookiePolicy, new_csrf_value
from tokenguard.errors import TokenError
from tokenguard.issuer import TokenIssuer, TokenPair
from tokenguard.stores import MemoryStore

ISSUER = "https://live.example"
AUDIENCE = "api://live"
ACCESS_TTL = 60
REFRESH_TTL = 14 * 86_400
SCOPES = ("cart:read", "cart:write")
#: Plain HTTP on loopback: no Secure flag, hence no __Host- prefix either.
POLICY = CookiePolicy(secure=False)
ACCESS, REFRESH, CSRF = POLICY.access_cookie, POLICY.refresh_cookie, POLICY.csrf_cookie
#: The streamed body: four 64 KiB chunks of different bytes.
CHUNKS = [bytes([ord("A") + i]) * 65_536 for i in range(4)]


class CountingSource:
    """A TokenSource in front of the issuer: counts the calls that reach it, and stays in
    flight for ``delay`` seconds so concurrent requests overlap; ``error`` fails them."""

    def __init__(self, inner: TokenIssuer, *, delay: float = 0.0) -> None:
        self.inner = inner
        self.delay = delay
        self.error: TokenError | None = None
        self.calls = 0
        self._lock = threading.Lock()

    def refresh(self, refresh_token: str) -> TokenPair:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.inner.refresh(refresh_token)

    async def arefresh(self, refresh_token: str) -> TokenPair:
        with self._lock:
            self.calls += 1
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return await self.inner.arefresh(refresh_token)


@dataclass(frozen=True)
class Session:
    """A login made directly at the issuer (for tests that need no /login round trip)."""

    pair: TokenPair
    csrf: str

    def cookie_header(self) -> str:
        return f"{ACCESS}={self.pair.access_token}; {REFRESH}={self.pair.refresh_token}; " + (
            f"{CSRF}={self.csrf}"
        )


@dataclass
class TokenSide:
    clock: FrozenClock
    issuer: TokenIssuer
    source: CountingSource
    authenticator: Authenticator

    def login(self, subject: str = "alice") -> Session:
        csrf = new_csrf_value()
        pair = self.issuer.issue_pair(subject, scopes=SCOPES, claims={"csrf": csrf})
        return Session(pair, csrf)

    def expire_access(self) -> None:
        """Move past the access tokens' lifetime (refresh tokens live on)."""
        self.clock.advance(ACCESS_TTL + 1)


def token_side(*, delay: float = 0.0) -> TokenSide:
    clock = FrozenClock(NOW)
    issuer = TokenIssuer(
        signing_key("EdDSA"),
        store=MemoryStore(clock=clock),
        issuer=ISSUER,
        audience=AUDIENCE,
        access_ttl=ACCESS_TTL,
        refresh_ttl=REFRESH_TTL,
        clock=clock,
    )
    source = CountingSource(issuer, delay=delay)
    authenticator = Authenticator(
        issuer.validator(), source=source, cookies=POLICY, public=("/login",), clock=clock
    )
    return TokenSide(clock, issuer, source, authenticator)


def cookie_values(set_cookies: Sequence[str]) -> dict[str, str]:
    """Cookie name to value, for a response's Set-Cookie headers."""
    values: dict[str, str] = {}
    for header in set_cookies:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            values[name] = morsel.value
    return values


def expected_refresh_cookies(set_cookies: Sequence[str], csrf: str, elapsed: int) -> list[str]:
    """The exact Set-Cookie values a refresh ``elapsed`` seconds after login must carry,
    built from the new tokens the response itself announces."""
    values = cookie_values(set_cookies)
    pair = TokenPair(values[ACCESS], values[REFRESH], ACCESS_TTL, REFRESH_TTL - elapsed)
    return POLICY.login_cookies(pair, csrf_value=csrf)
