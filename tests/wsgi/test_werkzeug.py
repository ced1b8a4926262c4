"""The WSGI middleware behind a real werkzeug server, driven by httpx over loopback.

The app is a raw WSGI callable with sync handlers and tokenguard's guards; the token side
(tests.live) runs on an adjustable clock, so tokens expire without sleeping.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

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
from tokenguard.context import current_auth, current_principal
from tokenguard.cookies import new_csrf_value
from tokenguard.guards import require_auth, require_scopes
from tokenguard.wsgi import TokenGuardMiddleware

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]
Handler = WSGIApp


def json_response(
    start_response: StartResponse, status: str, body: Any, headers: list[tuple[str, str]]
) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *headers,
        ],
    )
    return [payload]


class Stream:
    """The streamed body, as a generator; records whether the server closed it."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def body(self) -> Iterator[bytes]:
        try:
            yield from CHUNKS
        finally:
            self.closed.set()


def make_app(side: TokenSide, stream_probe: Stream) -> WSGIApp:
    def login(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        csrf = new_csrf_value()
        pair = side.issuer.issue_pair("alice", scopes=SCOPES, claims={"csrf": csrf})
        cookies = POLICY.login_cookies(pair, csrf_value=csrf)
        return json_response(
            start_response, "200 OK", pair.to_dict(), [("Set-Cookie", c) for c in cookies]
        )

    @require_auth
    def me(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        auth = current_auth()
        assert auth.principal is not None
        body = {
            "sub": auth.principal.subject,
            "refreshed": auth.result.refreshed,
            "location": auth.result.location.kind if auth.result.location else None,
        }
        return json_response(start_response, "200 OK", body, [])

    @require_scopes("cart:write")
    def add_item(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        return json_response(start_response, "201 Created", {"added": "book"}, [])

    @require_auth
    def stream(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        # No Content-Length: the server streams the generator chunk by chunk.
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return stream_probe.body()

    @require_auth
    def stream_whoami(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            yield b"streaming for "
            principal = current_principal()  # read while the server iterates the body
            yield (principal.subject if principal else "nobody").encode()

        return body()

    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/login"): login,
        ("GET", "/me"): me,
        ("POST", "/cart/items"): add_item,
        ("GET", "/stream"): stream,
        ("GET", "/stream/whoami"): stream_whoami,
    }

    def app(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        handler = routes.get((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        if handler is None:
            return json_response(start_response, "404 Not Found", {"error": "not_found"}, [])
        return handler(environ, start_response)

    return TokenGuardMiddleware(app, side.authenticator)


class QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class LiveServer:
    """werkzeug's threaded development server on 127.0.0.1, in a thread."""

    def __init__(self, app: WSGIApp) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="werkzeug"
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        assert not self._thread.is_alive()


@pytest.fixture
def side() -> TokenSide:
    return token_side()


@pytest.fixture
def stream_probe() -> Stream:
    return Stream()


@pytest.fixture
def server(side: TokenSide, stream_probe: Stream) -> Iterator[LiveServer]:
    with LiveServer(make_app(side, stream_probe)) as live:
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


def test_stream_after_refresh(side: TokenSide, client: httpx.Client, stream_probe: Stream) -> None:
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
    # close() reached the app's own iterable through the middleware's wrapper.
    assert stream_probe.closed.wait(5)


def test_streaming_body_sees_the_request_auth(side: TokenSide, server: LiveServer) -> None:
    session = side.login()
    headers = {"Authorization": f"Bearer {session.pair.access_token}"}
    response = httpx.get(server.url + "/stream/whoami", headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.text == "streaming for alice"


# -- concurrency -------------------------------------------------------------------------------


@pytest.fixture
def slow_side() -> TokenSide:
    return token_side(delay=0.2)  # keeps the refresh in flight while the others arrive


@pytest.fixture
def slow_server(slow_side: TokenSide, stream_probe: Stream) -> Iterator[LiveServer]:
    with LiveServer(make_app(slow_side, stream_probe)) as live:
        yield live


def test_thirty_concurrent_requests_one_refresh(
    slow_side: TokenSide, slow_server: LiveServer
) -> None:
    session = slow_side.login()
    slow_side.expire_access()
    headers = {"Cookie": session.cookie_header()}

    limits = httpx.Limits(max_connections=30, max_keepalive_connections=30)
    with (
        httpx.Client(base_url=slow_server.url, limits=limits, timeout=10) as client,
        ThreadPoolExecutor(max_workers=30) as pool,
    ):
        responses = list(pool.map(lambda _: client.get("/me", headers=headers), range(30)))
    assert [r.status_code for r in responses] == [200] * 30
    assert all(
        r.json() == {"sub": "alice", "refreshed": True, "location": "cookie"} for r in responses
    )
    assert slow_side.source.calls == 1
    new_cookies = {tuple(r.headers.get_list("set-cookie")) for r in responses}
    assert len(new_cookies) == 1  # everyone got the same new pair
    (set_cookies,) = new_cookies
    assert cookie_values(set_cookies)[REFRESH] != session.pair.refresh_token
