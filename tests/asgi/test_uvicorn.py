"""The ASGI middleware behind a real uvicorn server, driven by httpx over loopback.

The app is a raw ASGI callable with async handlers and tokenguard's guards; the token side
(tests.live) runs on an adjustable clock, so tokens expire without sleeping.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from tests.core.httpserver import wait_until
from tests.live import (
    ACCESS,
    ACCESS_TTL,
    CHUNKS,
    CSRF,
    POLICY,
    REFRESH,
    SCOPES,
    TokenSide,
    cookie_values,
    expected_refresh_cookies,
    token_side,
)
from tokenguard.asgi import TokenGuardMiddleware
from tokenguard.context import current_auth
from tokenguard.cookies import new_csrf_value
from tokenguard.guards import require_auth, require_scopes
from tokenguard.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(send: Send, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def make_app(side: TokenSide) -> ASGIApp:
    async def login(scope: Scope, receive: Receive, send: Send) -> None:
        await drain(receive)
        csrf = new_csrf_value()
        pair = await side.issuer.aissue_pair("alice", scopes=SCOPES, claims={"csrf": csrf})
        cookies = POLICY.login_cookies(pair, csrf_value=csrf)
        await send_json(send, 200, pair.to_dict(), [("set-cookie", c) for c in cookies])

    @require_auth
    async def me(scope: Scope, receive: Receive, send: Send) -> None:
        auth = current_auth()
        assert auth.principal is not None
        body = {
            "sub": auth.principal.subject,
            "refreshed": auth.result.refreshed,
            "location": auth.result.location.kind if auth.result.location else None,
        }
        await send_json(send, 200, body, [])

    @require_scopes("cart:write")
    async def add_item(scope: Scope, receive: Receive, send: Send) -> None:
        await drain(receive)
        await send_json(send, 201, {"added": "book"}, [])

    @require_auth
    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/octet-stream")]  # no length: chunked
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in CHUNKS:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/login"): login,
        ("GET", "/me"): me,
        ("POST", "/cart/items"): add_item,
        ("GET", "/stream"): stream,
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        handler = routes.get((scope["method"], scope["path"]))
        if handler is None:
            await send_json(send, 404, {"error": "not_found"}, [])
        else:
            await handler(scope, receive, send)

    return TokenGuardMiddleware(app, side.authenticator)


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.host = f"127.0.0.1:{port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            http="h11",
            ws="none",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="uvicorn"
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=10, what="uvicorn to start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
        assert not self._thread.is_alive()


@pytest.fixture
def side() -> TokenSide:
    return token_side()


@pytest.fixture
def server(side: TokenSide) -> Iterator[LiveServer]:
    with LiveServer(make_app(side)) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """A browser-like client: it keeps the cookies it is sent."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def login(client: httpx.Client) -> dict[str, str]:
    response = client.post("/login")
    assert response.status_code == 200
    return dict(client.cookies)


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


# -- streaming ---------------------------------------------------------------------------------


def test_stream_after_refresh(side: TokenSide, client: httpx.Client) -> None:
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


# -- concurrency -------------------------------------------------------------------------------


@pytest.fixture
def slow_side() -> TokenSide:
    return token_side(delay=0.2)  # keeps the refresh in flight while the others arrive


@pytest.fixture
def slow_server(slow_side: TokenSide) -> Iterator[LiveServer]:
    with LiveServer(make_app(slow_side)) as live:
        yield live


async def test_thirty_concurrent_requests_one_refresh(
    slow_side: TokenSide, slow_server: LiveServer
) -> None:
    session = slow_side.login()
    slow_side.expire_access()
    headers = {"Cookie": session.cookie_header()}
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
