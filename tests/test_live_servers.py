"""The cases every real server must pass, run once behind uvicorn and once behind werkzeug.

Each server serves the same small raw app (ASGI or WSGI) behind tokenguard's middleware on
127.0.0.1, driven by httpx over loopback; the token side (`tests.live`) runs on an
adjustable clock, so tokens expire without sleeping. What only one server does is tested in
tests/asgi/test_uvicorn.py and tests/wsgi/test_werkzeug.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.asgi.uvicorn_server import UvicornServer
from tests.live import (
    ACCESS,
    ACCESS_TTL,
    CSRF,
    POLICY,
    REFRESH,
    LiveServer,
    TokenSide,
    browser,
    cookie_values,
    expected_refresh_cookies,
    login,
    token_side,
)
from tests.wsgi.werkzeug_server import WerkzeugServer

#: Starts a server in front of a token side.
Serve = Callable[[TokenSide], LiveServer]
SERVERS: dict[str, Serve] = {"uvicorn": UvicornServer, "werkzeug": WerkzeugServer}


@pytest.fixture(params=list(SERVERS))
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """serve(side) -> this test's server, running in front of ``side`` until the test ends."""
    start = SERVERS[request.param]
    with ExitStack() as running:
        yield lambda side: running.enter_context(start(side))


@pytest.fixture
def side() -> TokenSide:
    return token_side()


@pytest.fixture
def server(serve: Serve, side: TokenSide) -> LiveServer:
    return serve(side)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with browser(server) as client:
        yield client


# -- Bearer ------------------------------------------------------------------------------------


def test_bearer_access(side: TokenSide, client: httpx.Client) -> None:
    session = side.login()
    headers = {"Authorization": f"Bearer {session.pair.access_token}"}
    response = client.get("/me", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"sub": "alice", "refreshed": False, "location": "bearer"}
    assert "set-cookie" not in response.headers

    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "error": "unauthorized",
        "error_description": "Authentication is required.",
    }

    response = client.get("/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="api", error="invalid_token", error_description='
    )

    response = client.get("/me", headers={"Authorization": "Bearer a b"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"

    side.expire_access()
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token",'
        ' error_description="The access token has expired."'
    )
    assert "set-cookie" not in response.headers
    assert side.source.calls == 0


def test_bearer_scope_refused(side: TokenSide, server: LiveServer) -> None:
    pair = side.issuer.issue_pair("bob", scopes=("cart:read",))
    response = httpx.post(
        server.url + "/cart/items", headers={"Authorization": f"Bearer {pair.access_token}"}
    )
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope",'
        ' error_description="The access token lacks the privileges this request needs.",'
        ' scope="cart:write"'
    )


# -- cookies -----------------------------------------------------------------------------------


def test_cookie_login_flow(client: httpx.Client) -> None:
    response = client.post("/login")
    assert response.status_code == 200
    body = response.json()
    set_cookies = response.headers.get_list("set-cookie")
    csrf = cookie_values(set_cookies)[CSRF]
    assert set_cookies == [
        f"{ACCESS}={body['access_token']}; Path=/; Max-Age={ACCESS_TTL}; HttpOnly; SameSite=Lax",
        f"{REFRESH}={body['refresh_token']}; Path=/; Max-Age=1209600; HttpOnly; SameSite=Lax",
        f"{CSRF}={csrf}; Path=/; Max-Age=1209600; SameSite=Lax",
    ]
    assert dict(client.cookies) == {
        ACCESS: body["access_token"],
        REFRESH: body["refresh_token"],
        CSRF: csrf,
    }

    response = client.get("/me")
    assert response.status_code == 200
    assert response.json() == {"sub": "alice", "refreshed": False, "location": "cookie"}
    assert "set-cookie" not in response.headers


def test_expired_access_cookie_is_refreshed_silently(side: TokenSide, client: httpx.Client) -> None:
    before = login(client)
    side.expire_access()

    response = client.get("/me")
    assert response.status_code == 200
    assert response.json() == {"sub": "alice", "refreshed": True, "location": "cookie"}
    set_cookies = response.headers.get_list("set-cookie")
    assert set_cookies == expected_refresh_cookies(set_cookies, before[CSRF], ACCESS_TTL + 1)
    after = dict(client.cookies)
    assert after[REFRESH] != before[REFRESH]  # rotated
    assert after[ACCESS] != before[ACCESS]
    assert after[CSRF] == before[CSRF]  # the CSRF value is bound into the new token too
    assert after == cookie_values(set_cookies)
    assert side.source.calls == 1

    # The browser now holds the new pair: no further refresh.
    response = client.get("/me")
    assert response.status_code == 200
    assert response.json()["refreshed"] is False
    assert "set-cookie" not in response.headers
    assert side.source.calls == 1


def test_failed_refresh_clears_cookies(side: TokenSide, client: httpx.Client) -> None:
    before = login(client)
    assert side.issuer.revoke_refresh(before[REFRESH])  # logout elsewhere
    side.expire_access()

    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token",'
        ' error_description="The refresh token has been revoked."'
    )
    assert response.headers.get_list("set-cookie") == POLICY.clear_cookies()
    assert dict(client.cookies) == {}  # the client dropped them
    assert side.source.calls == 1

    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_unknown_refresh_cookie(side: TokenSide, server: LiveServer) -> None:
    session = side.login()
    side.expire_access()
    cookie = f"{ACCESS}={session.pair.access_token}; {REFRESH}=unknown-refresh-token-value"
    response = httpx.get(server.url + "/me", headers={"Cookie": cookie})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token",'
        ' error_description="The refresh token is not active."'
    )
    assert response.headers.get_list("set-cookie") == POLICY.clear_cookies()


# -- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "description"),
    [
        pytest.param({}, "Send the csrf_token cookie's value in x-csrf-token.", id="no-proof"),
        pytest.param(
            {"X-CSRF-Token": "forged"},
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="wrong-proof",
        ),
        pytest.param(
            {"X-CSRF-Token": "<csrf>", "Origin": "https://evil.example"},
            "The request's Origin is not trusted.",
            id="foreign-origin",
        ),
        pytest.param(
            {"X-CSRF-Token": "<csrf>", "Sec-Fetch-Site": "cross-site"},
            "Cross-site requests may not use cookie credentials.",
            id="cross-site",
        ),
    ],
)
def test_csrf_rejected(
    headers: dict[str, str], description: str, side: TokenSide, client: httpx.Client
) -> None:
    cookies = login(client)
    side.expire_access()  # a forged request must not even rotate the tokens
    sent = {k: cookies[CSRF] if v == "<csrf>" else v for k, v in headers.items()}
    response = client.post("/cart/items", headers=sent)
    assert response.status_code == 403
    assert response.json() == {"error": "invalid_request", "error_description": description}
    assert "www-authenticate" not in response.headers
    assert "set-cookie" not in response.headers
    assert dict(client.cookies) == cookies
    assert side.source.calls == 0


def test_csrf_passes(side: TokenSide, client: httpx.Client, server: LiveServer) -> None:
    cookies = login(client)
    proof = {"X-CSRF-Token": cookies[CSRF]}
    response = client.post("/cart/items", headers=proof)
    assert response.status_code == 201
    assert response.json() == {"added": "book"}

    same_origin = {**proof, "Origin": server.url, "Sec-Fetch-Site": "same-origin"}
    response = client.post("/cart/items", headers=same_origin)
    assert response.status_code == 201

    side.expire_access()  # proof also carries a refresh through
    response = client.post("/cart/items", headers=same_origin)
    assert response.status_code == 201
    assert cookie_values(response.headers.get_list("set-cookie"))[CSRF] == cookies[CSRF]
    assert side.source.calls == 1


# -- concurrency -------------------------------------------------------------------------------


async def test_thirty_concurrent_requests_one_refresh(serve: Serve) -> None:
    slow_side = token_side(delay=0.2)  # keeps the refresh in flight while the others arrive
    slow_server = serve(slow_side)
    session = slow_side.login()
    slow_side.expire_access()
    headers = session.cookie_header()
    limits = httpx.Limits(max_connections=30, max_keepalive_connections=30)
    async with httpx.AsyncClient(base_url=slow_server.url, limits=limits, timeout=10) as client:
        responses = await asyncio.gather(*(client.get("/me", headers=headers) for _ in range(30)))
    assert [r.status_code for r in responses] == [200] * 30
    assert all(
        r.json() == {"sub": "alice", "refreshed": True, "location": "cookie"} for r in responses
    )
    assert slow_side.source.calls == 1
    new_cookies = {tuple(r.headers.get_list("set-cookie")) for r in responses}
    assert len(new_cookies) == 1  # everyone got the same new pair
    (set_cookies,) = new_cookies
    assert cookie_values(set_cookies)[REFRESH] != session.pair.refresh_token
