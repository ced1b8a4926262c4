"""A Litestar app behind the plain ASGI adapter, with no integration code at all.

The handlers reach the principal through `tokenguard.current_principal()` and use the
framework-free guards; Litestar turns a guard's error into its own 500 page, which the
adapter replaces with the guard's 401/403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("litestar")

import httpx
from litestar import Litestar, get

import tokenguard
from tests.integrations.conftest import (
    MISSING_BODY,
    MISSING_CHALLENGE,
    Shop,
    assert_refreshed,
    scope_body,
    scope_challenge,
    who,
)
from tokenguard.asgi import TokenGuardMiddleware


@get("/open")
async def open_page() -> dict[str, Any]:
    return who()


@get("/open/sync", sync_to_thread=True)
def open_page_sync() -> dict[str, Any]:
    return who()


@get("/api/me")
async def me() -> dict[str, Any]:
    return who()


@get("/api/cart")
@tokenguard.require_scopes("cart:read")
async def cart() -> dict[str, Any]:
    return who()


@get("/api/sync/cart", sync_to_thread=True)
@tokenguard.require_scopes("cart:read")
def cart_sync() -> dict[str, Any]:
    return who()


@get("/me")
@tokenguard.require_auth
async def guarded_me() -> dict[str, Any]:
    return who()


@pytest.fixture
async def client(shop: Shop) -> AsyncIterator[httpx.AsyncClient]:
    app = Litestar(
        [open_page, open_page_sync, me, cart, cart_sync, guarded_me],
        logging_config=None,  # the 500 pages of guard errors would be logged otherwise
    )
    protected = TokenGuardMiddleware(app, shop.authenticator(protected=("/api",)))
    transport = httpx.ASGITransport(app=protected)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_anonymous_is_refused_on_the_protected_prefix(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/me")
    assert reply.status_code == 401
    assert reply.headers.get_list("www-authenticate") == [MISSING_CHALLENGE]
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == MISSING_BODY


@pytest.mark.parametrize("path", ["/open", "/open/sync"], ids=["async", "sync"])
async def test_anonymous_passes_outside_the_prefix(client: httpx.AsyncClient, path: str) -> None:
    reply = await client.get(path)
    assert reply.status_code == 200
    assert reply.json() == {"sub": None}


@pytest.mark.parametrize("path", ["/api/me", "/open", "/open/sync"])
async def test_token_reaches_the_handler(client: httpx.AsyncClient, shop: Shop, path: str) -> None:
    reply = await client.get(path, headers=shop.login("bob", scopes=("profile",)).bearer())
    assert reply.status_code == 200
    assert reply.json() == {"sub": "bob", "scopes": ["profile"]}


@pytest.mark.parametrize("path", ["/api/cart", "/api/sync/cart"], ids=["async", "sync"])
async def test_guard_answers_403_instead_of_litestars_500(
    client: httpx.AsyncClient, shop: Shop, path: str
) -> None:
    reply = await client.get(path, headers=shop.login(scopes=("profile",)).bearer())
    assert reply.status_code == 403
    assert reply.headers.get_list("www-authenticate") == [scope_challenge("cart:read")]
    assert reply.headers.get_list("content-type") == ["application/json"]
    assert reply.json() == scope_body("cart:read")
    allowed = await client.get(path, headers=shop.login(scopes=("cart:read",)).bearer())
    assert allowed.status_code == 200
    assert allowed.json() == {"sub": "alice", "scopes": ["cart:read"]}


async def test_guard_answers_401_outside_the_prefix(client: httpx.AsyncClient) -> None:
    reply = await client.get("/me")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == MISSING_CHALLENGE
    assert reply.json() == MISSING_BODY


async def test_silent_refresh_sets_cookies(client: httpx.AsyncClient, shop: Shop) -> None:
    login = shop.login()
    shop.expire()
    reply = await client.get("/api/me", headers=login.cookie_header())
    assert reply.status_code == 200
    assert reply.json()["sub"] == "alice"
    assert_refreshed(reply.headers.get_list("set-cookie"), shop, login)


async def test_refresh_then_guard_refusal_keeps_the_new_cookies(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    login = shop.login(scopes=("profile",))
    shop.expire()
    reply = await client.get("/api/cart", headers=login.cookie_header())
    assert reply.status_code == 403
    assert reply.headers["www-authenticate"] == scope_challenge("cart:read")
    assert_refreshed(reply.headers.get_list("set-cookie"), shop, login)
