"""tokenguard_starlette under Starlette's own TestClient.

Routes (``/a/...`` is the ``async def`` twin of a sync endpoint):

    GET  /whoami                request.user / request.auth, no guard
    GET  /starlette/cart(/a)    Starlette's own ``requires("cart:read")``
    GET  /me, /a/me             tokenguard ``require_auth``
    GET  /cart, /a/cart         tokenguard ``require_scopes("cart:read")``
    GET  /login                 ``set_login_cookies`` on a Starlette response
    POST /logout                ``clear_login_cookies``
    WS   /ws                    websocket.user / websocket.auth
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")  # what Starlette's TestClient runs on

from starlette.applications import Starlette
from starlette.authentication import UnauthenticatedUser, requires
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

import tokenguard
from tests.integrations.conftest import (
    ACCESS,
    CSRF,
    MISSING_BODY,
    MISSING_CHALLENGE,
    POLICY,
    REFRESH,
    Shop,
    assert_refreshed,
    cookie_names,
    scope_body,
    scope_challenge,
)
from tokenguard import Authenticator, CookiePolicy, TokenPair, get_auth
from tokenguard_starlette import (
    TokenGuardStarlette,
    TokenUser,
    clear_login_cookies,
    install,
    set_login_cookies,
)


def _describe(request: Request | WebSocket) -> dict[str, Any]:
    user, creds = request.user, request.auth
    principal = tokenguard.current_principal()
    auth = get_auth(request.scope)
    return {
        "user_type": type(user).__name__,
        "is_authenticated": user.is_authenticated,
        "display_name": user.display_name,
        "identity": user.identity if isinstance(user, TokenUser) else None,
        "scopes": creds.scopes,
        "same_principal": isinstance(user, TokenUser) and user.principal is principal,
        "jti": principal.token_id if principal is not None else None,
        "refreshed": auth is not None and auth.result.refreshed,
    }


def whoami(request: Request) -> JSONResponse:
    return JSONResponse(_describe(request))


def _owner(request: Request) -> JSONResponse:
    principal = tokenguard.current_principal()
    assert principal is not None
    return JSONResponse({"owner": principal.subject})


@requires("cart:read")
async def starlette_cart(request: Request) -> JSONResponse:
    return _owner(request)


@requires("cart:read")
def starlette_cart_sync(request: Request) -> JSONResponse:
    return _owner(request)


@tokenguard.require_auth
def me(request: Request) -> JSONResponse:
    return _owner(request)


@tokenguard.require_auth
async def ame(request: Request) -> JSONResponse:
    return _owner(request)


@tokenguard.require_scopes("cart:read")
def cart(request: Request) -> JSONResponse:
    return _owner(request)


@tokenguard.require_scopes("cart:read")
async def acart(request: Request) -> JSONResponse:
    return _owner(request)


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(_describe(websocket))
    await websocket.close()


ROUTES = [
    Route("/whoami", whoami),
    Route("/starlette/cart", starlette_cart_sync),
    Route("/a/starlette/cart", starlette_cart),
    Route("/me", me),
    Route("/a/me", ame),
    Route("/cart", cart),
    Route("/a/cart", acart),
    WebSocketRoute("/ws", ws),
]


def make_app(
    shop: Shop, authenticator: Authenticator, *, policy: CookiePolicy, installed: bool = True
) -> Starlette:
    """The test app; ``installed=False`` adds only the middleware (no exception handler)."""

    async def login(request: Request) -> Response:
        pair = shop.issuer.issue_pair("alice", claims={"csrf": "c5rf"})
        return set_login_cookies(JSONResponse(pair.to_dict()), pair, policy, csrf_value="c5rf")

    async def logout(request: Request) -> Response:
        return clear_login_cookies(JSONResponse({"logged_out": True}), policy)

    routes = [*ROUTES, Route("/login", login), Route("/logout", logout, methods=["POST"])]
    app = Starlette(routes=routes)
    if installed:
        install(app, authenticator)
    else:
        app.add_middleware(TokenGuardStarlette, authenticator=authenticator)
    return app


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(shop: Shop) -> MakeClient:
    def make(**options: Any) -> TestClient:
        policy = options.pop("cookies", POLICY)
        installed = options.pop("installed", True)
        authenticator = shop.authenticator(cookies=policy, **options)
        return TestClient(make_app(shop, authenticator, policy=policy, installed=installed))

    return make


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


# -- request.user / request.auth -------------------------------------------------------------


def test_token_sets_request_user_and_auth(client: TestClient, shop: Shop) -> None:
    login = shop.login(scopes=("cart:write", "cart:read"))
    reply = client.get("/whoami", headers=login.bearer())
    assert reply.status_code == 200
    assert reply.json() == {
        "user_type": "TokenUser",
        "is_authenticated": True,
        "display_name": "alice",
        "identity": "alice",
        "scopes": ["cart:read", "cart:write"],  # AuthCredentials, sorted
        "same_principal": True,
        "jti": shop.principal(login.access).token_id,
        "refreshed": False,
    }
    assert "set-cookie" not in reply.headers


def test_anonymous_request_has_unauthenticated_user(client: TestClient) -> None:
    reply = client.get("/whoami")
    assert reply.status_code == 200
    body = reply.json()
    assert body["user_type"] == UnauthenticatedUser.__name__
    assert body["is_authenticated"] is False
    assert body["display_name"] == ""
    assert body["scopes"] == []
    assert body["jti"] is None


def test_token_user_wraps_the_principal(shop: Shop) -> None:
    principal = shop.principal(shop.login("bob").access)
    user = TokenUser(principal)
    assert (user.is_authenticated, user.display_name, user.identity) == (True, "bob", "bob")
    assert user.principal is principal


# -- Starlette's own requires() ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/starlette/cart", "/a/starlette/cart"], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        pytest.param(("cart:read",), 200, id="with-scope"),
        pytest.param(("cart:write", "profile"), 403, id="without-scope"),
    ],
)
def test_starlette_requires_reads_request_auth(
    client: TestClient, shop: Shop, path: str, scopes: tuple[str, ...], status: int
) -> None:
    reply = client.get(path, headers=shop.login(scopes=scopes).bearer())
    assert reply.status_code == status
    if status == 200:
        assert reply.json() == {"owner": "alice"}
    else:
        assert reply.text == "Forbidden"  # Starlette's HTTPException, not tokenguard's
        assert "www-authenticate" not in reply.headers


def test_starlette_requires_refuses_anonymous(client: TestClient) -> None:
    reply = client.get("/a/starlette/cart")
    assert reply.status_code == 403
    assert reply.text == "Forbidden"


# -- tokenguard guards through install()'s exception handler ------------------------------------

STYLES = [pytest.param("", id="sync"), pytest.param("/a", id="async")]


@pytest.mark.parametrize("prefix", STYLES)
@pytest.mark.parametrize("route", ["/me", "/cart"])
def test_guard_answers_401_without_token(client: TestClient, prefix: str, route: str) -> None:
    reply = client.get(prefix + route)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == MISSING_CHALLENGE
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.json() == MISSING_BODY


@pytest.mark.parametrize("prefix", STYLES)
def test_scope_guard_answers_403(client: TestClient, shop: Shop, prefix: str) -> None:
    reply = client.get(prefix + "/cart", headers=shop.login(scopes=("profile",)).bearer())
    assert reply.status_code == 403
    assert reply.headers.get_list("www-authenticate") == [scope_challenge("cart:read")]
    assert reply.headers.get_list("content-type") == ["application/json"]
    assert reply.json() == scope_body("cart:read")


@pytest.mark.parametrize("prefix", STYLES)
@pytest.mark.parametrize("route", ["/me", "/cart"])
def test_guard_passes_with_token(client: TestClient, shop: Shop, prefix: str, route: str) -> None:
    reply = client.get(prefix + route, headers=shop.login().bearer())
    assert reply.status_code == 200
    assert reply.json() == {"owner": "alice"}


@pytest.mark.parametrize("prefix", STYLES)
def test_guard_without_install_handler_is_answered_by_the_middleware(
    make_client: MakeClient, shop: Shop, prefix: str
) -> None:
    # Only the middleware: Starlette turns the guard's error into its 500 page, which the
    # ASGI adapter replaces with the guard's answer.
    client = make_client(installed=False)
    reply = client.get(prefix + "/cart", headers=shop.login(scopes=("profile",)).bearer())
    assert reply.status_code == 403
    assert reply.headers["www-authenticate"] == scope_challenge("cart:read")
    assert reply.json() == scope_body("cart:read")


def test_expired_bearer_is_refused_by_the_middleware(client: TestClient, shop: Shop) -> None:
    login = shop.login()
    shop.expire()
    reply = client.get("/whoami", headers=login.bearer())
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The access token has expired."'
    )
    assert reply.json() == {
        "error": "invalid_token",
        "error_description": "The access token has expired.",
    }


def test_protected_prefix_is_refused_before_routing(make_client: MakeClient) -> None:
    client = make_client(protected=("/whoami",))
    reply = client.get("/whoami")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == MISSING_CHALLENGE


# -- silent refresh ---------------------------------------------------------------------------


@pytest.mark.parametrize("with_access", [True, False], ids=["expired-access", "no-access"])
def test_silent_refresh_sets_cookies_on_starlette_response(
    client: TestClient, shop: Shop, with_access: bool
) -> None:
    login = shop.login()
    shop.expire()
    reply = client.get("/whoami", headers=login.cookie_header(access=with_access))
    assert reply.status_code == 200
    body = reply.json()
    assert body["refreshed"] is True
    assert body["user_type"] == "TokenUser"
    assert body["display_name"] == "alice"
    new = assert_refreshed(reply.headers.get_list("set-cookie"), shop, login)
    assert body["jti"] == shop.principal(new.access_token).token_id


@pytest.mark.parametrize("prefix", STYLES)
def test_refresh_cookies_survive_a_guard_refusal(
    client: TestClient, shop: Shop, prefix: str
) -> None:
    # The refresh happened (the old refresh token is retired): the browser must get the
    # new cookies even though the route refuses, and each of them exactly once.
    login = shop.login(scopes=("profile",))
    shop.expire()
    reply = client.get(prefix + "/cart", headers=login.cookie_header())
    assert reply.status_code == 403
    assert reply.headers["www-authenticate"] == scope_challenge("cart:read")
    assert_refreshed(reply.headers.get_list("set-cookie"), shop, login)


def test_failed_refresh_clears_cookies(client: TestClient, shop: Shop) -> None:
    login = shop.login()
    shop.issuer.revoke_refresh(login.refresh)
    shop.expire()
    reply = client.get("/whoami", headers=login.cookie_header())
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The refresh token has been revoked."'
    )
    assert reply.headers.get_list("set-cookie") == POLICY.clear_cookies()


# -- cookie helpers ---------------------------------------------------------------------------

POLICIES = [
    pytest.param(CookiePolicy(), id="secure"),
    pytest.param(CookiePolicy(secure=False), id="insecure"),
]


@pytest.mark.parametrize("policy", POLICIES)
def test_set_login_cookies_appends_the_policy_values(shop: Shop, policy: CookiePolicy) -> None:
    pair = shop.login().pair
    response = JSONResponse({"ok": True})
    assert set_login_cookies(response, pair, policy, csrf_value="c5rf") is response
    assert response.headers.getlist("set-cookie") == policy.login_cookies(pair, csrf_value="c5rf")
    bare = set_login_cookies(Response(), pair, policy, csrf_value=None)
    assert bare.headers.getlist("set-cookie") == policy.login_cookies(pair, csrf_value=None)
    assert cookie_names(bare.headers.getlist("set-cookie")) == [
        policy.access_cookie,
        policy.refresh_cookie,
    ]


@pytest.mark.parametrize("policy", POLICIES)
def test_clear_login_cookies_appends_the_policy_values(policy: CookiePolicy) -> None:
    response = Response()
    assert clear_login_cookies(response, policy) is response
    assert response.headers.getlist("set-cookie") == policy.clear_cookies()


@pytest.mark.parametrize("policy", POLICIES)
def test_cookie_helpers_through_the_app(make_client: MakeClient, policy: CookiePolicy) -> None:
    client = make_client(cookies=policy)
    reply = client.get("/login")
    assert reply.status_code == 200
    body = reply.json()
    pair = TokenPair(body["access_token"], body["refresh_token"], body["expires_in"], 14 * 86_400)
    assert reply.headers.get_list("set-cookie") == policy.login_cookies(pair, csrf_value="c5rf")
    expected_prefix = "__Host-" if policy.secure else ""
    assert policy.access_cookie == expected_prefix + "access_token"
    client.cookies.clear()  # the insecure policy's cookies went into the client's jar
    reply = client.post("/logout")
    assert reply.status_code == 200
    assert reply.headers.get_list("set-cookie") == policy.clear_cookies()


def test_default_policy_names() -> None:
    assert (ACCESS, REFRESH, CSRF) == (
        "__Host-access_token",
        "__Host-refresh_token",
        "__Host-csrf_token",
    )


# -- websockets -------------------------------------------------------------------------------


def test_websocket_sees_request_user(client: TestClient, shop: Shop) -> None:
    login = shop.login(scopes=("chat",))
    with client.websocket_connect("/ws", headers=login.bearer()) as websocket:
        body = websocket.receive_json()
    assert body["user_type"] == "TokenUser"
    assert body["identity"] == "alice"
    assert body["scopes"] == ["chat"]
    assert body["same_principal"] is True


def test_websocket_anonymous_user(client: TestClient) -> None:
    with client.websocket_connect("/ws") as websocket:
        body = websocket.receive_json()
    assert body["user_type"] == "UnauthenticatedUser"
    assert body["is_authenticated"] is False
    assert body["scopes"] == []
