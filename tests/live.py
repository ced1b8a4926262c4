"""What the real-server tests share: the token side, the server interface, client helpers.

The servers are uvicorn (`tests.asgi.uvicorn_server`) and werkzeug
(`tests.wsgi.werkzeug_server`), each serving the same small raw app behind tokenguard's
middleware on 127.0.0.1, driven by httpx over loopback. The cases every server must pass run
once per server in `tests/test_live_servers.py`; what only one of them does (chunked ASGI
body messages, a WSGI generator and its close()) is tested in its own folder.

The token side is an issuer with an in-memory store on an adjustable clock (so access tokens
expire without sleeping, even behind a real server) and a counting token source in front of
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Protocol

import httpx

from tests.conftest import (
    ACCESS_TTL,
    NOW,
    REFRESH_TTL,
    CountingSource,
    FrozenClock,
    Login,
    short_lived_issuer,
)
from tokenguard.authenticator import Authenticator
from tokenguard.context import current_auth
from tokenguard.cookies import CookiePolicy
from tokenguard.issuer import TokenIssuer, TokenPair

SCOPES = ("cart:read", "cart:write")
#: Plain HTTP on loopback: no Secure flag, hence no __Host- prefix either.
POLICY = CookiePolicy(secure=False)
ACCESS, REFRESH, CSRF = POLICY.access_cookie, POLICY.refresh_cookie, POLICY.csrf_cookie
#: The streamed body: four 64 KiB chunks of different bytes.
CHUNKS = [bytes([ord("A") + i]) * 65_536 for i in range(4)]


# -- the token side ----------------------------------------------------------------------


@dataclass
class TokenSide:
    clock: FrozenClock
    issuer: TokenIssuer
    source: CountingSource
    authenticator: Authenticator

    def login(self, subject: str = "alice") -> Login:
        """A login made directly at the issuer (for tests that need no /login round trip)."""
        return Login.issue(self.issuer, subject, scopes=SCOPES, policy=POLICY)

    def expire_access(self) -> None:
        """Move past the access tokens' lifetime (refresh tokens live on)."""
        self.clock.advance(ACCESS_TTL + 1)


def token_side(*, delay: float = 0.0) -> TokenSide:
    """A fresh token side; each refresh stays in flight for ``delay`` seconds."""
    clock = FrozenClock(NOW)
    issuer = short_lived_issuer(clock, issuer="https://live.example", audience="api://live")
    source = CountingSource(issuer, delay=delay)
    authenticator = Authenticator(
        issuer.validator(), source=source, cookies=POLICY, public=("/login",), clock=clock
    )
    return TokenSide(clock, issuer, source, authenticator)


def whoami() -> dict[str, Any]:
    """What the apps' ``GET /me`` answers: who the request is and how it was authenticated."""
    auth = current_auth()
    assert auth.principal is not None
    return {
        "sub": auth.principal.subject,
        "refreshed": auth.result.refreshed,
        "location": auth.result.location.kind if auth.result.location else None,
    }


# -- the servers -------------------------------------------------------------------------


class LiveServer(Protocol):
    """A real server on 127.0.0.1, running in a thread between ``__enter__`` and ``__exit__``,
    serving the app in front of its ``side``."""

    side: TokenSide
    url: str

    def __enter__(self) -> LiveServer: ...

    def __exit__(self, *exc_info: object) -> None: ...


def browser(server: LiveServer) -> httpx.Client:
    """A browser-like client of ``server``: it keeps the cookies it is sent."""
    return httpx.Client(base_url=server.url, timeout=10)


def login(client: httpx.Client) -> dict[str, str]:
    """Log in through ``POST /login``; returns the cookies the client then holds."""
    response = client.post("/login")
    assert response.status_code == 200
    return dict(client.cookies)


def stream_after_refresh(side: TokenSide, client: httpx.Client) -> None:
    """Read ``GET /stream`` to its end with an expired access cookie: a chunked body without
    Content-Length, whose headers carry the refreshed cookies, after exactly one refresh."""
    before = login(client)
    side.expire_access()
    with client.stream("GET", "/stream") as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        set_cookies = response.headers.get_list("set-cookie")
        body = b"".join(response.iter_bytes())
    assert body == b"".join(CHUNKS)
    assert set_cookies == expected_refresh_cookies(set_cookies, before[CSRF], ACCESS_TTL + 1)
    assert client.cookies[REFRESH] != before[REFRESH]
    assert side.source.calls == 1


# -- Set-Cookie ----------------------------------------------------------------------------


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
