"""Guards on ``def`` handlers (both adapters) and ``async def`` handlers (ASGI)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from tests.adapters.apps import ROUTES, Req, at
from tests.adapters.clients import Client
from tests.adapters.conftest import ACCESS, CSRF, REFRESH, STYLES, Shop
from tests.conftest import ACCESS_TTL
from tokenguard.errors import ConfigError

#: asgi-sync, asgi-async, wsgi-sync
styles = pytest.mark.parametrize(("adapter", "style"), STYLES, indirect=["adapter"])

SCOPE_DESCRIPTION = "The access token lacks the privileges this request needs."


@styles
def test_require_auth(client: Client, shop: Shop, style: str) -> None:
    refused = client.get(at(style, "/me"))
    assert refused.status == 401
    assert refused.header("www-authenticate") == 'Bearer realm="api"'
    reply = client.get(at(style, "/me"), headers=shop.login().bearer())
    assert reply.status == 200
    assert reply.json()["sub"] == "alice"


@styles
def test_optional_auth(client: Client, shop: Shop, style: str) -> None:
    assert client.get(at(style, "/optional")).json()["sub"] is None
    reply = client.get(at(style, "/optional"), headers=shop.login().bearer())
    assert reply.json()["sub"] == "alice"


@styles
@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        pytest.param("GET", "/cart", "cart:read", id="read"),
        pytest.param("POST", "/cart/items", "cart:write", id="write"),
    ],
)
def test_require_scopes(
    client: Client, shop: Shop, style: str, method: str, path: str, needed: str
) -> None:
    granted = shop.login(scopes=[needed])
    reply = client.request(method, at(style, path), headers=granted.bearer())
    assert reply.status in (200, 201)
    assert reply.json()["sub"] == "alice"

    lacking = shop.login(scopes=["profile"])
    reply = client.request(method, at(style, path), headers=lacking.bearer())
    assert reply.status == 403
    assert reply.challenge() == (
        "Bearer",
        {
            "realm": "api",
            "error": "insufficient_scope",
            "error_description": SCOPE_DESCRIPTION,
            "scope": needed,
        },
    )
    anonymous = client.request(method, at(style, path))
    assert anonymous.status == 401
    assert anonymous.header("www-authenticate") == 'Bearer realm="api"'


@styles
@pytest.mark.parametrize(
    ("role", "status"),
    [
        pytest.param("admin", 200, id="equal"),
        pytest.param(["ops", "admin"], 200, id="in-list"),
        pytest.param("user", 403, id="other"),
        pytest.param(None, 403, id="missing"),
    ],
)
def test_require_claims(client: Client, shop: Shop, style: str, role: object, status: int) -> None:
    session = shop.login(claims={} if role is None else {"role": role})
    reply = client.get(at(style, "/claims"), headers=session.bearer())
    assert reply.status == status
    if status == 403:
        description = "The access token lacks the required 'role'."
        assert reply.challenge() == (
            "Bearer",
            {"realm": "api", "error": "insufficient_scope", "error_description": description},
        )
        assert reply.json() == {"error": "insufficient_scope", "error_description": description}


@styles
def test_require_fresh_passes_for_a_login_token(client: Client, shop: Shop, style: str) -> None:
    reply = client.get(at(style, "/fresh"), headers=shop.login().bearer())
    assert reply.status == 200


@styles
def test_require_fresh_fails_after_a_refresh(client: Client, shop: Shop, style: str) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    reply = client.get(at(style, "/fresh"), cookies=session.cookies())
    assert reply.status == 401
    description = "This action needs a fresh login."
    assert reply.challenge() == (
        "Bearer",
        {"realm": "api", "error": "invalid_token", "error_description": description},
    )
    # The refresh did happen: the browser must get its rotated cookies even on refusal.
    cookies = reply.cookies
    assert set(cookies) == {ACCESS, REFRESH, CSRF}
    assert cookies[REFRESH].value not in ("", session.refresh)
    assert cookies[ACCESS].attrs["max-age"] == str(ACCESS_TTL)
    # ... and the refreshed token stays "not fresh" on its own.
    again = client.get(at(style, "/fresh"), cookies={ACCESS: cookies[ACCESS].value})
    assert again.status == 401
    assert again.values("set-cookie") == []


@styles
def test_guard_error_replaces_the_apps_500(
    client: Client, shop: Shop, style: str, adapter: str
) -> None:
    # The app turns the guard's exception into its own 500 page; the middleware answers
    # with the guard's 403 instead.
    reply = client.get(at(style, "/caught/cart"), headers=shop.login(scopes=[]).bearer())
    assert reply.status == 403
    assert reply.challenge()[1]["scope"] == "cart:read"
    assert reply.json()["error"] == "insufficient_scope"
    if adapter == "wsgi":
        assert shop.probe.closed == 1  # the dropped 500 body was closed


GUARDED = [
    pytest.param(("GET", "/me"), id="require_auth"),
    pytest.param(("GET", "/optional"), id="optional_auth"),
    pytest.param(("GET", "/cart"), id="require_scopes"),
    pytest.param(("GET", "/claims"), id="require_claims"),
    pytest.param(("GET", "/fresh"), id="require_fresh"),
]


@pytest.mark.parametrize("style", ["sync", "async"])
@pytest.mark.parametrize("key", GUARDED)
def test_guard_without_middleware_is_a_config_error(key: tuple[str, str], style: str) -> None:
    # Calls the handler directly: no adapter ran, so the guard cannot know who asks.
    handler = ROUTES[key].async_ if style == "async" else ROUTES[key].sync
    request = Req(key[0], key[1], {})
    if style == "async":
        assert inspect.iscoroutinefunction(handler)
        with pytest.raises(ConfigError, match="No tokenguard middleware ran"):
            asyncio.run(handler(request))
    else:
        with pytest.raises(ConfigError, match="No tokenguard middleware ran"):
            handler(request)
