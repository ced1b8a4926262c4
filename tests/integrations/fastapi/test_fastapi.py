"""tokenguard_fastapi under FastAPI's TestClient: dependencies, guards, OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx2")  # what Starlette's TestClient runs on

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

import tokenguard
from tests.integrations.conftest import (
    MISSING_BODY,
    MISSING_CHALLENGE,
    Shop,
    assert_refreshed,
    scope_body,
    scope_challenge,
)
from tokenguard import Authenticator, ConfigError, CookiePolicy, Principal
from tokenguard_fastapi import (
    bearer_scheme,
    cookie_scheme,
    current_principal,
    install,
    optional_principal,
    require_scopes,
)

SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


def _who(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {"sub": None}
    return {"sub": principal.subject, "scopes": sorted(principal.scopes)}


def make_app(authenticator: Authenticator | None) -> FastAPI:
    app = FastAPI()
    if authenticator is not None:
        install(app, authenticator)

    @app.get("/me")
    async def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
        return _who(principal)

    @app.get("/maybe")
    def maybe(
        principal: Annotated[Principal | None, Depends(optional_principal)],
    ) -> dict[str, Any]:
        return _who(principal)

    @app.get("/cart")
    async def cart(
        principal: Annotated[Principal, Depends(require_scopes("cart:read"))],
    ) -> dict[str, Any]:
        return _who(principal)

    @app.post("/checkout")
    def checkout(
        principal: Annotated[Principal, Depends(require_scopes("cart:read", "cart:write"))],
    ) -> dict[str, Any]:
        return _who(principal)

    @app.get("/guarded/me")
    @tokenguard.require_auth
    def guarded_me(q: int = 0) -> dict[str, Any]:
        return {**_who(tokenguard.current_principal()), "q": q}

    @app.get("/a/guarded/me")
    @tokenguard.require_auth
    async def aguarded_me(q: int = 0) -> dict[str, Any]:
        return {**_who(tokenguard.current_principal()), "q": q}

    @app.get("/guarded/cart")
    @tokenguard.require_scopes("cart:read")
    def guarded_cart() -> dict[str, Any]:
        return _who(tokenguard.current_principal())

    @app.get("/a/guarded/cart")
    @tokenguard.require_scopes("cart:read")
    async def aguarded_cart() -> dict[str, Any]:
        return _who(tokenguard.current_principal())

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.fixture
def client(shop: Shop) -> TestClient:
    return TestClient(make_app(shop.authenticator()))


# -- dependencies -----------------------------------------------------------------------------


def test_current_principal_refuses_anonymous(client: TestClient) -> None:
    reply = client.get("/me")
    assert reply.status_code == 401
    assert reply.headers.get_list("www-authenticate") == [MISSING_CHALLENGE]
    assert reply.headers.get_list("content-type") == ["application/json"]
    assert reply.headers["cache-control"] == "no-store"
    assert reply.json() == MISSING_BODY


def test_current_principal_with_token(client: TestClient, shop: Shop) -> None:
    reply = client.get("/me", headers=shop.login("bob", scopes=("profile",)).bearer())
    assert reply.status_code == 200
    assert reply.json() == {"sub": "bob", "scopes": ["profile"]}


def test_current_principal_with_cookie(client: TestClient, shop: Shop) -> None:
    reply = client.get("/me", headers=shop.login().cookie_header())
    assert reply.status_code == 200
    assert reply.json()["sub"] == "alice"
    assert "set-cookie" not in reply.headers


def test_optional_principal_is_none_for_anonymous(client: TestClient) -> None:
    reply = client.get("/maybe")
    assert reply.status_code == 200
    assert reply.json() == {"sub": None}


def test_optional_principal_with_token(client: TestClient, shop: Shop) -> None:
    reply = client.get("/maybe", headers=shop.login().bearer())
    assert reply.status_code == 200
    assert reply.json() == {"sub": "alice", "scopes": ["cart:read", "cart:write"]}


def test_optional_principal_still_refuses_a_bad_token(client: TestClient) -> None:
    reply = client.get("/maybe", headers={"Authorization": "Bearer not-a-token"})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The access token is not active."'
    )


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        pytest.param("GET", "/cart", ("cart:read",), id="one-scope"),
        pytest.param("POST", "/checkout", ("cart:read", "cart:write"), id="two-scopes"),
    ],
)
def test_require_scopes_answers_403_with_scope(
    client: TestClient, shop: Shop, method: str, path: str, scopes: tuple[str, ...]
) -> None:
    reply = client.request(method, path, headers=shop.login(scopes=("profile",)).bearer())
    assert reply.status_code == 403
    assert reply.headers.get_list("www-authenticate") == [scope_challenge(*scopes)]
    assert reply.json() == scope_body(*scopes)


def test_require_scopes_passes_with_scope(client: TestClient, shop: Shop) -> None:
    reply = client.get("/cart", headers=shop.login(scopes=("cart:read",)).bearer())
    assert reply.status_code == 200
    assert reply.json() == {"sub": "alice", "scopes": ["cart:read"]}
    reply = client.post("/checkout", headers=shop.login().bearer())
    assert reply.status_code == 200


def test_require_scopes_refuses_anonymous_with_401(client: TestClient) -> None:
    reply = client.get("/cart")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == MISSING_CHALLENGE


def test_require_scopes_needs_a_scope() -> None:
    with pytest.raises(ConfigError, match="at least one scope"):
        require_scopes()


def test_dependencies_without_install_fail_loudly() -> None:
    client = TestClient(make_app(None))
    with pytest.raises(ConfigError, match=r"call install\(app, \.\.\.\)"):
        client.get("/maybe")


# -- tokenguard guards as decorators ---------------------------------------------------------

STYLES = [pytest.param("", id="sync"), pytest.param("/a", id="async")]


@pytest.mark.parametrize("prefix", STYLES)
def test_guard_decorator_refuses_anonymous(client: TestClient, prefix: str) -> None:
    reply = client.get(prefix + "/guarded/me")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == MISSING_CHALLENGE
    assert reply.json() == MISSING_BODY


@pytest.mark.parametrize("prefix", STYLES)
def test_guard_decorator_keeps_the_route_signature(
    client: TestClient, shop: Shop, prefix: str
) -> None:
    reply = client.get(prefix + "/guarded/me?q=7", headers=shop.login().bearer())
    assert reply.status_code == 200
    assert reply.json() == {"sub": "alice", "scopes": ["cart:read", "cart:write"], "q": 7}
    reply = client.get(prefix + "/guarded/me?q=x", headers=shop.login().bearer())
    assert reply.status_code == 422  # FastAPI still validates the wrapped handler's query


@pytest.mark.parametrize("prefix", STYLES)
@pytest.mark.parametrize(
    ("scopes", "status"),
    [pytest.param(("cart:read",), 200, id="with-scope"), pytest.param((), 403, id="no-scope")],
)
def test_scope_guard_decorator(
    client: TestClient, shop: Shop, prefix: str, scopes: tuple[str, ...], status: int
) -> None:
    reply = client.get(prefix + "/guarded/cart", headers=shop.login(scopes=scopes).bearer())
    assert reply.status_code == status
    if status == 403:
        assert reply.headers["www-authenticate"] == scope_challenge("cart:read")
        assert reply.json() == scope_body("cart:read")
    else:
        assert reply.json()["sub"] == "alice"


# -- silent refresh ---------------------------------------------------------------------------


def test_silent_refresh_through_fastapi_sets_cookies(client: TestClient, shop: Shop) -> None:
    login = shop.login()
    shop.expire()
    reply = client.get("/me", headers=login.cookie_header())
    assert reply.status_code == 200
    assert reply.json()["sub"] == "alice"
    assert_refreshed(reply.headers.get_list("set-cookie"), shop, login)


def test_refresh_then_scope_refusal_sets_each_cookie_once(client: TestClient, shop: Shop) -> None:
    login = shop.login(scopes=("profile",))
    shop.expire()
    reply = client.get("/cart", headers=login.cookie_header())
    assert reply.status_code == 403
    assert reply.headers["www-authenticate"] == scope_challenge("cart:read")
    assert_refreshed(reply.headers.get_list("set-cookie"), shop, login)


# -- OpenAPI ----------------------------------------------------------------------------------


def _schemes(name: str) -> dict[str, Any]:
    return {
        "bearerAuth": {
            "type": "http",
            "description": "A tokenguard access token.",
            "scheme": "bearer",
        },
        "cookieAuth": {
            "type": "apiKey",
            "description": "Browser session.",
            "in": "cookie",
            "name": name,
        },
    }


@pytest.mark.parametrize(
    ("policy", "cookie"),
    [
        pytest.param(CookiePolicy(), "__Host-access_token", id="secure"),
        pytest.param(CookiePolicy(secure=False), "access_token", id="insecure"),
        pytest.param(CookiePolicy(access_name="sid"), "__Host-sid", id="renamed"),
    ],
)
def test_openapi_security_schemes(shop: Shop, policy: CookiePolicy, cookie: str) -> None:
    client = TestClient(make_app(shop.authenticator(cookies=policy)))
    reply = client.get("/openapi.json")
    assert reply.status_code == 200
    schema = reply.json()
    assert schema["components"]["securitySchemes"] == _schemes(cookie)
    paths = schema["paths"]
    for path, method in [
        ("/me", "get"),
        ("/maybe", "get"),
        ("/cart", "get"),
        ("/checkout", "post"),
    ]:
        assert paths[path][method]["security"] == SECURITY, path
    assert "security" not in paths["/health"]["get"]
    assert client.get("/openapi.json").json() == schema  # stable once cached


def test_openapi_schemes_of_two_apps_do_not_leak(shop: Shop) -> None:
    secure = TestClient(make_app(shop.authenticator()))
    insecure = TestClient(make_app(shop.authenticator(cookies=CookiePolicy(secure=False))))
    name = "components", "securitySchemes", "cookieAuth", "name"

    def cookie_name(client: TestClient) -> str:
        node: Any = client.get("/openapi.json").json()
        for key in name:
            node = node[key]
        return str(node)

    assert cookie_name(insecure) == "access_token"
    assert cookie_name(secure) == "__Host-access_token"
    assert cookie_name(insecure) == "access_token"
    assert cookie_scheme.model.name == "access_token"  # the shared scheme is untouched
    assert bearer_scheme.scheme_name == "bearerAuth"
