"""A cookie the app sets itself wins over the adapter's refreshed one: a logout that clears
the cookies during a request that also refreshed them must leave the browser logged out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import FrozenClock, short_lived_issuer
from tokenguard import Authenticator, CookiePolicy, TokenIssuer, new_csrf_value
from tokenguard.asgi import TokenGuardMiddleware as ASGIMiddleware
from tokenguard.wsgi import TokenGuardMiddleware as WSGIMiddleware

POLICY = CookiePolicy(secure=False)


@pytest.fixture
def issuer(clock: FrozenClock) -> TokenIssuer:
    return short_lived_issuer(clock, issuer="https://shop", audience="api")


def expired_session(issuer: TokenIssuer, clock: FrozenClock) -> dict[str, str]:
    csrf = new_csrf_value()
    pair = issuer.issue_pair("alice", claims={"csrf": csrf})
    clock.advance(61)  # the access token has expired: the next request refreshes
    return {
        "cookie": f"access_token={pair.access_token}; refresh_token={pair.refresh_token}; "
        f"csrf_token={csrf}",
        "x-csrf-token": csrf,
    }


def last_values(set_cookies: list[str]) -> dict[str, str]:
    """What the browser keeps: the last Set-Cookie of each name wins."""
    kept: dict[str, str] = {}
    for value in set_cookies:
        kept[value.split("=", 1)[0]] = value
    return kept


def call_asgi(
    app: ASGIMiddleware, method: str, path: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """Send one request without a body through ``app``; returns the messages it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(n.encode(), v.encode()) for n, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    return sent


async def asgi_logout(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"set-cookie", c.encode()) for c in POLICY.clear_cookies()]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"bye"})


def wsgi_logout(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Set-Cookie", c) for c in POLICY.clear_cookies()])
    return [b"bye"]


def test_asgi_app_clearing_cookies_wins(issuer: TokenIssuer, clock: FrozenClock) -> None:
    middleware = ASGIMiddleware(
        asgi_logout, Authenticator(issuer.validator(), source=issuer, cookies=POLICY)
    )
    headers = expired_session(issuer, clock)
    sent = call_asgi(middleware, "POST", "/logout", headers)
    cookies = [v.decode() for n, v in sent[0]["headers"] if n == b"set-cookie"]
    kept = last_values(cookies)
    assert set(kept) == {"access_token", "refresh_token", "csrf_token"}
    assert all("Max-Age=0" in value for value in kept.values())
    assert len(cookies) == 3  # the refreshed cookies were not added at all


def test_wsgi_app_clearing_cookies_wins(issuer: TokenIssuer, clock: FrozenClock) -> None:
    middleware = WSGIMiddleware(
        wsgi_logout, Authenticator(issuer.validator(), source=issuer, cookies=POLICY)
    )
    headers = expired_session(issuer, clock)
    started: list[list[tuple[str, str]]] = []

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        started.append(response_headers)
        return lambda data: None

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/logout",
        "wsgi.url_scheme": "http",
        "HTTP_COOKIE": headers["cookie"],
        "HTTP_X_CSRF_TOKEN": headers["x-csrf-token"],
    }
    assert b"".join(middleware(environ, start_response)) == b"bye"
    cookies = [v for n, v in started[0] if n.lower() == "set-cookie"]
    kept = last_values(cookies)
    assert all("Max-Age=0" in value for value in kept.values())
    assert len(cookies) == 3


def _asgi_with_headers(headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


@pytest.mark.parametrize(
    ("app_headers", "expected"),
    [
        pytest.param([], ["no-store"], id="added"),
        pytest.param([(b"cache-control", b"private, max-age=0")], ["private, max-age=0"], id="app"),
    ],
)
def test_refreshed_responses_are_not_cached(
    issuer: TokenIssuer,
    clock: FrozenClock,
    app_headers: list[tuple[bytes, bytes]],
    expected: list[str],
) -> None:
    auth = Authenticator(issuer.validator(), source=issuer, cookies=POLICY)
    middleware = ASGIMiddleware(_asgi_with_headers(app_headers), auth)
    cookie = expired_session(issuer, clock)["cookie"]
    sent = call_asgi(middleware, "GET", "/", {"cookie": cookie})
    response = sent[0]["headers"]
    assert [v.decode() for n, v in response if n == b"cache-control"] == expected
    assert any(n == b"set-cookie" for n, _ in response)  # the refresh did happen
