"""tokenguard_django under Django's Client (sync middleware) and AsyncClient (async path)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

import pytest

pytest.importorskip("django")

from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client

from tests.integrations.conftest import (
    ACCESS,
    ACCESS_TTL,
    AUDIENCE,
    CSRF,
    ISSUER,
    MISSING_BODY,
    MISSING_CHALLENGE,
    POLICY,
    REFRESH,
    REFRESH_TTL,
    Login,
    Shop,
    scope_body,
    scope_challenge,
)
from tests.integrations.django.conftest import use_tokenguard
from tests.integrations.django.views import SECRET
from tokenguard import (
    Authenticator,
    ConfigError,
    Key,
    MemoryStore,
    TokenIssuer,
    TokenPair,
)
from tokenguard_django import (
    TokenGuardMiddleware,
    clear_login_cookies,
    get_authenticator,
    set_login_cookies,
)

pytestmark = pytest.mark.usefixtures("authenticator")

Get = Callable[..., HttpResponse]

#: Guarded routes in both styles: (sync view, async view).
GUARDED = [
    pytest.param("/me", id="function"),
    pytest.param("/a/me", id="async-function"),
]
SCOPED = [
    pytest.param("/cart", id="function"),
    pytest.param("/a/cart", id="async-function"),
    pytest.param("/cbv/cart", id="method-decorator"),
    pytest.param("/cbv/a/cart", id="async-method-decorator"),
]


@pytest.fixture(params=["sync", "async"])
def get(request: pytest.FixtureRequest) -> Get:
    """GET through Client (WSGI: the middleware's sync path) or AsyncClient (ASGI: its
    async path), with an optional ``cookies`` jar; one client per test."""
    client: Client | AsyncClient = Client() if request.param == "sync" else AsyncClient()

    def get(path: str, *, cookies: dict[str, str] | None = None, **kwargs: Any) -> HttpResponse:
        if cookies:
            client.cookies.load(cookies)
        if isinstance(client, AsyncClient):
            return asyncio.run(client.get(path, **kwargs))  # type: ignore[no-any-return]
        return client.get(path, **kwargs)  # type: ignore[no-any-return]

    return get


def assert_missing(reply: HttpResponse) -> None:
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == MISSING_CHALLENGE
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.json() == MISSING_BODY  # type: ignore[attr-defined]


def assert_scope_refused(reply: HttpResponse, *scopes: str) -> None:
    assert reply.status_code == 403
    assert reply.headers["WWW-Authenticate"] == scope_challenge(*scopes)
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == scope_body(*scopes)  # type: ignore[attr-defined]


def morsels(values: list[str]) -> list[str]:
    """Set-Cookie values as Django renders them (attribute order of SimpleCookie)."""
    jar: SimpleCookie = SimpleCookie()
    for value in values:
        jar.load(value)
    return [morsel.OutputString() for morsel in jar.values()]


def assert_refreshed_cookies(reply: HttpResponse, shop: Shop, login: Login) -> TokenPair:
    cookies = reply.cookies
    assert list(cookies) == [ACCESS, REFRESH, CSRF]
    new = TokenPair(
        cookies[ACCESS].value, cookies[REFRESH].value, ACCESS_TTL, REFRESH_TTL - ACCESS_TTL - 1
    )
    assert new.access_token != login.access
    assert new.refresh_token != login.refresh
    assert shop.principal(new.access_token).subject == login.subject
    rendered = [morsel.OutputString() for morsel in cookies.values()]
    assert rendered == morsels(POLICY.login_cookies(new, csrf_value=login.csrf))
    assert cookies[ACCESS]["httponly"] is True
    assert cookies[ACCESS]["secure"] is True
    assert cookies[ACCESS]["samesite"] == "Lax"
    assert cookies[ACCESS]["max-age"] == str(ACCESS_TTL)
    assert cookies[CSRF]["httponly"] == ""  # page script reads it
    assert cookies[CSRF].value == login.csrf
    return new


# -- request.principal ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/whoami", "/a/whoami"], ids=["sync-view", "async-view"])
def test_request_principal(get: Get, shop: Shop, path: str) -> None:
    login = shop.login("bob")
    reply = get(path, headers=login.bearer())
    assert reply.status_code == 200
    assert reply.json() == {  # type: ignore[attr-defined]
        "sub": "bob",
        "jti": shop.principal(login.access).token_id,
        "same_as_context": True,
        "refreshed": False,
    }


@pytest.mark.parametrize("path", ["/whoami", "/a/whoami"], ids=["sync-view", "async-view"])
def test_request_principal_is_none_for_anonymous(get: Get, path: str) -> None:
    reply = get(path)
    assert reply.status_code == 200
    assert reply.json()["sub"] is None  # type: ignore[attr-defined]
    assert reply.json()["same_as_context"] is True  # type: ignore[attr-defined]


def test_middleware_picks_its_mode() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    async def aview(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    assert TokenGuardMiddleware(view).async_mode is False
    middleware = TokenGuardMiddleware(aview)
    assert middleware.async_mode is True
    assert asyncio.iscoroutinefunction(middleware)


def test_async_client_drives_the_async_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = TokenGuardMiddleware._acall

    async def counting(self: TokenGuardMiddleware, request: HttpRequest) -> Any:
        calls.append(request.path)
        return await original(self, request)

    monkeypatch.setattr(TokenGuardMiddleware, "_acall", counting)
    assert Client().get("/a/whoami").status_code == 200
    assert calls == []
    assert asyncio.run(AsyncClient().get("/whoami")).status_code == 200
    assert calls == ["/whoami"]


# -- guards on function views and class-based views -------------------------------------------


@pytest.mark.parametrize("path", GUARDED)
def test_guard_refuses_anonymous(get: Get, path: str) -> None:
    assert_missing(get(path))


@pytest.mark.parametrize("path", GUARDED)
def test_guard_passes_with_token(get: Get, shop: Shop, path: str) -> None:
    reply = get(path, headers=shop.login().bearer())
    assert reply.status_code == 200
    assert reply.json()["sub"] == "alice"  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", SCOPED)
def test_scope_guard_refuses_without_scope(get: Get, shop: Shop, path: str) -> None:
    assert_scope_refused(
        get(path, headers=shop.login(scopes=("profile",)).bearer()),
        "cart:read",
    )


@pytest.mark.parametrize("path", SCOPED)
def test_scope_guard_refuses_anonymous(get: Get, path: str) -> None:
    assert_missing(get(path))


@pytest.mark.parametrize("path", SCOPED)
def test_scope_guard_passes_with_scope(get: Get, shop: Shop, path: str) -> None:
    reply = get(path, headers=shop.login(scopes=("cart:read",)).bearer())
    assert reply.status_code == 200
    assert reply.json()["sub"] == "alice"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        pytest.param(("cart:read", "cart:write"), 200, id="both"),
        pytest.param(("cart:read",), 403, id="one-missing"),
    ],
)
def test_scopes_required_mixin(get: Get, shop: Shop, scopes: tuple[str, ...], status: int) -> None:
    reply = get("/cbv/mixin", headers=shop.login(scopes=scopes).bearer())
    if status == 403:
        assert_scope_refused(reply, "cart:read", "cart:write")
    else:
        assert reply.status_code == 200


def test_scopes_required_mixin_refuses_anonymous(get: Get) -> None:
    assert_missing(get("/cbv/mixin"))


def test_token_error_raised_in_a_view_is_answered(get: Get) -> None:
    # process_exception answers any TokenError, not only the guards'.
    reply = get("/refresh?token=not-a-known-refresh-token")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The refresh token is not active."'
    )
    assert reply.json() == {  # type: ignore[attr-defined]
        "error": "invalid_token",
        "error_description": "The refresh token is not active.",
    }


def test_middleware_refuses_an_expired_bearer(get: Get, shop: Shop) -> None:
    login = shop.login()
    shop.expire()
    reply = get("/whoami", headers=login.bearer())
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The access token has expired."'
    )
    assert reply.headers["Content-Type"] == "application/json"


def test_view_exceptions_other_than_token_errors_propagate(shop: Shop) -> None:
    # process_exception leaves other errors to Django (the test client re-raises them).
    with pytest.raises(RuntimeError, match="not a token error"):
        Client().get("/boom", headers=shop.login().bearer())


# -- silent refresh ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/whoami", "/a/whoami"], ids=["sync-view", "async-view"])
def test_silent_refresh_sets_cookies(get: Get, shop: Shop, path: str) -> None:
    login = shop.login()
    shop.expire()
    reply = get(path, cookies=login.cookies())
    assert reply.status_code == 200
    body = reply.json()  # type: ignore[attr-defined]
    assert body["refreshed"] is True
    assert body["sub"] == "alice"
    new = assert_refreshed_cookies(reply, shop, login)
    assert body["jti"] == shop.principal(new.access_token).token_id


def test_refresh_then_guard_refusal_keeps_the_new_cookies(get: Get, shop: Shop) -> None:
    login = shop.login(scopes=("profile",))
    shop.expire()
    reply = get("/cart", cookies=login.cookies())
    assert_scope_refused(reply, "cart:read")
    assert_refreshed_cookies(reply, shop, login)


def test_failed_refresh_clears_cookies(get: Get, shop: Shop) -> None:
    login = shop.login()
    shop.issuer.revoke_refresh(login.refresh)
    shop.expire()
    reply = get("/whoami", cookies=login.cookies())
    assert reply.status_code == 401
    assert list(reply.cookies) == [ACCESS, REFRESH, CSRF]
    assert [m.OutputString() for m in reply.cookies.values()] == morsels(POLICY.clear_cookies())


def test_refreshed_cookies_carry_the_next_request(shop: Shop) -> None:
    client = Client()
    client.cookies.load(shop.login().cookies())
    shop.expire()
    first = client.get("/whoami")
    assert first.json()["refreshed"] is True
    second = client.get("/whoami")  # the client's jar now holds the new cookies
    assert second.status_code == 200
    assert second.json()["refreshed"] is False
    assert list(second.cookies) == []


# -- cookie helpers ---------------------------------------------------------------------------


def test_cookie_helpers_on_django_responses(shop: Shop) -> None:
    pair = shop.login().pair
    response = HttpResponse()
    assert set_login_cookies(response, pair, csrf_value="c5rf") is response
    rendered = [morsel.OutputString() for morsel in response.cookies.values()]
    assert rendered == morsels(POLICY.login_cookies(pair, csrf_value="c5rf"))
    cleared = clear_login_cookies(HttpResponse())
    rendered = [morsel.OutputString() for morsel in cleared.cookies.values()]
    assert rendered == morsels(POLICY.clear_cookies())


def test_cookie_helpers_through_views(get: Get) -> None:
    reply = get("/login")
    assert reply.status_code == 200
    body = reply.json()  # type: ignore[attr-defined]
    pair = TokenPair(body["access_token"], body["refresh_token"], body["expires_in"], REFRESH_TTL)
    rendered = [morsel.OutputString() for morsel in reply.cookies.values()]
    assert rendered == morsels(POLICY.login_cookies(pair, csrf_value="c5rf"))
    reply = get("/logout")
    rendered = [morsel.OutputString() for morsel in reply.cookies.values()]
    assert rendered == morsels(POLICY.clear_cookies())


# -- settings.TOKENGUARD ----------------------------------------------------------------------


def _hs256_token(subject: str, secret: str = SECRET) -> dict[str, str]:
    issuer = TokenIssuer(Key.hmac(secret), store=MemoryStore(), issuer=ISSUER, audience=AUDIENCE)
    return {"Authorization": f"Bearer {issuer.issue_access(subject)}"}


def test_plain_settings_validate_hs256_tokens() -> None:
    config = {"ISSUER": ISSUER, "AUDIENCE": AUDIENCE, "SECRET": SECRET, "PROTECTED": ["/me"]}
    with use_tokenguard(config):
        client = Client()
        reply = client.get("/whoami", headers=_hs256_token("carol"))
        assert (reply.status_code, reply.json()["sub"]) == (200, "carol")
        forged = client.get("/whoami", headers=_hs256_token("eve", "x" * 40))
        assert forged.status_code == 401
        assert forged.headers["WWW-Authenticate"] == (
            'Bearer realm="api", error="invalid_token", '
            'error_description="The access token signature is invalid."'
        )
        assert_missing(client.get("/me"))


def test_authenticator_as_a_dotted_path_to_a_factory() -> None:
    with use_tokenguard({"AUTHENTICATOR": "tests.integrations.django.views.hs256_authenticator"}):
        authenticator = get_authenticator()
        assert isinstance(authenticator, Authenticator)
        assert get_authenticator() is authenticator  # built once
        reply = Client().get("/me", headers=_hs256_token("dave"))
        assert (reply.status_code, reply.json()["sub"]) == (200, "dave")
        assert Client().get("/me").headers["WWW-Authenticate"] == 'Bearer realm="factory"'


@pytest.mark.parametrize(
    ("config", "named"),
    [
        pytest.param({"ISSUER": ISSUER, "SECRET": SECRET, "LEEWAY": "30"}, "LEEWAY", id="leeway"),
        pytest.param(
            {"ISSUER": ISSUER, "SECRET": SECRET, "JWKS": "x"}, "TOKENGUARD['JWKS']", id="unknown"
        ),
        pytest.param({"SECRET": SECRET}, "TOKENGUARD['ISSUER'] is required", id="missing-issuer"),
        pytest.param(
            {"ISSUER": ISSUER, "SECRET": SECRET, "JWKS_URL": "https://issuer.example/jwks"},
            "Set exactly one of",
            id="two-key-sources",
        ),
        pytest.param(
            {"AUTHENTICATOR": "tests.integrations.conftest.ISSUER"},
            "AUTHENTICATOR",
            id="not-an-authenticator",
        ),
        pytest.param(["ISSUER", ISSUER], "settings.TOKENGUARD must be a dict", id="not-a-dict"),
    ],
)
def test_bad_settings_raise_config_error_naming_them(config: Any, named: str) -> None:
    with use_tokenguard(config):
        with pytest.raises(ConfigError) as caught:
            get_authenticator()
        message = str(caught.value)
        assert named in message
        assert "TOKENGUARD" in message
        with pytest.raises(ConfigError, match="TOKENGUARD"):
            Client().get("/whoami")  # the middleware is built on the first request
