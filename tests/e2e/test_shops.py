"""The three sample shops (FastAPI, Flask, Django) over real HTTP, with one suite.

Each shop runs as its own process with a 2-second access token and a 1-second rotation
grace window, so expiry, silent refresh and reuse detection take real seconds only.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import (
    PASSWORD,
    TOKEN_COOKIES,
    USER,
    api_login,
    bearer,
    challenge,
    issue_token,
    jwt_part,
    login_json,
    set_cookies,
    wait_past,
)
from tests.e2e.servers import AppServer

pytestmark = pytest.mark.e2e

SHOPS = ["shop", "flask_shop", "django_shop"]
ACCESS_TTL = 2
REFRESH_GRACE = 1
SHOP_ENV = {
    "TOKENGUARD_ACCESS_TTL": str(ACCESS_TTL),
    "TOKENGUARD_REFRESH_GRACE": str(REFRESH_GRACE),
}
LOGIN_FORM = re.compile(r'<form method="post" action="/login"[^>]*>')


@pytest.fixture(scope="module", params=SHOPS)
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """One shop process per module and framework; its data folder is a fresh one."""
    root = tmp_path_factory.mktemp(request.param)
    server = AppServer(request.param, log_dir=root, data=root / "data", env=SHOP_ENV)
    server.start()
    yield server
    server.stop()


class Clients:
    """httpx clients on one shop, each with its own cookie jar; closed at teardown."""

    def __init__(self, shop: AppServer, stack: ExitStack) -> None:
        self.shop = shop
        self.stack = stack

    def new(self, **options: object) -> httpx.Client:
        client = httpx.Client(base_url=self.shop.url, timeout=10, **options)  # type: ignore[arg-type]
        return self.stack.enter_context(client)


@pytest.fixture
def clients(shop: AppServer) -> Iterator[Clients]:
    with ExitStack() as stack:
        yield Clients(shop, stack)


@pytest.fixture
def client(clients: Clients) -> httpx.Client:
    return clients.new()


def csrf_header(client: httpx.Client) -> dict[str, str]:
    return {"x-csrf-token": client.cookies["csrf_token"]}


def new_item() -> str:
    return f"book-{uuid.uuid4().hex[:8]}"


# -- login ----------------------------------------------------------------------------


def test_index_shows_the_login_form(client: httpx.Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert LOGIN_FORM.search(response.text), response.text
    assert 'name="username"' in response.text
    assert 'name="password" type="password"' in response.text
    assert 'id="profile"' not in response.text
    assert "set-cookie" not in response.headers


def test_form_login_redirects_with_cookies_and_shows_profile_and_cart(
    client: httpx.Client,
) -> None:
    response = client.post("/login", data={"username": USER, "password": PASSWORD})

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookies = set_cookies(response)
    assert sorted(cookies) == sorted(TOKEN_COOKIES)
    assert cookies["access_token"].http_only
    assert cookies["refresh_token"].http_only
    assert not cookies["csrf_token"].http_only
    assert cookies["access_token"].max_age == ACCESS_TTL
    for cookie in cookies.values():
        assert cookie.attributes["path"] == "/"
        assert cookie.attributes["samesite"].lower() == "lax"
        assert "secure" not in cookie.attributes  # plain http on 127.0.0.1
        assert cookie.value
    assert jwt_part(cookies["access_token"].value, 1)["sub"] == USER

    item = new_item()
    added = client.post("/cart/items", json={"item": item}, headers=csrf_header(client))
    assert added.status_code == 201, added.text
    page = client.get(response.headers["location"])

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<b id="subject">alice</b>' in page.text
    assert f"<li>{item}</li>" in page.text
    assert '<ul id="cart">' in page.text
    assert not LOGIN_FORM.search(page.text)


def test_json_login_answers_the_token_pair_and_sets_cookies(client: httpx.Client) -> None:
    response = client.post("/login", json={"username": USER, "password": PASSWORD})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"  # RFC 6749 section 5.1
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "refresh_token", "token_type"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_TTL
    cookies = set_cookies(response)
    assert sorted(cookies) == sorted(TOKEN_COOKIES)
    assert cookies["access_token"].value == body["access_token"]
    assert cookies["refresh_token"].value == body["refresh_token"]
    assert cookies["access_token"].http_only
    assert cookies["refresh_token"].http_only
    assert not cookies["csrf_token"].http_only
    claims = jwt_part(body["access_token"], 1)
    assert claims["sub"] == USER
    assert claims["csrf"] == cookies["csrf_token"].value
    # exp is rounded up: the token lives at least as long as expires_in says.
    assert ACCESS_TTL <= claims["exp"] - claims["iat"] <= ACCESS_TTL + 1


@pytest.mark.parametrize(
    ("send", "content_type"),
    [
        pytest.param("json", "application/json", id="json"),
        pytest.param("data", "text/html; charset=utf-8", id="form"),
    ],
)
def test_wrong_password_is_refused(client: httpx.Client, send: str, content_type: str) -> None:
    credentials = {"username": USER, "password": "not-" + PASSWORD}
    response = client.post("/login", **{send: credentials})  # type: ignore[arg-type]

    assert response.status_code == 401
    assert response.headers["content-type"] == content_type
    assert "set-cookie" not in response.headers
    if send == "json":
        assert response.json()["error_description"] == "Wrong username or password."
    else:
        assert "Wrong username or password." in response.text
        assert LOGIN_FORM.search(response.text), response.text


# -- access -----------------------------------------------------------------------------


def test_me_by_cookie(client: httpx.Client) -> None:
    login_json(client)

    response = client.get("/me")

    assert response.status_code == 200
    profile = response.json()
    assert profile["subject"] == USER
    assert profile["scopes"] == ["cart:read", "cart:write", "profile"]
    assert profile["fresh"] is True


def test_me_by_bearer(shop: AppServer, client: httpx.Client) -> None:
    token = api_login(shop.url)["access_token"]

    response = client.get("/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["subject"] == USER
    assert response.json()["expires_at"] == jwt_part(token, 1)["exp"]
    assert "set-cookie" not in response.headers


def test_me_without_a_token_is_challenged(client: httpx.Client) -> None:
    response = client.get("/me")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.headers["cache-control"] == "no-store"


def test_garbage_bearer_token_is_an_invalid_token(client: httpx.Client) -> None:
    response = client.get("/me", headers=bearer("garbage.garbage.garbage"))

    assert response.status_code == 401
    params = challenge(response)
    assert params["realm"] == "api"
    assert params["error"] == "invalid_token"
    assert "garbage" not in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer two tokens", id="two-tokens"),
        pytest.param("Bearer not,a;token", id="not-b64token"),
    ],
)
def test_malformed_authorization_header_is_a_bad_request(
    client: httpx.Client, authorization: str
) -> None:
    response = client.get("/me", headers={"authorization": authorization})

    assert response.status_code == 400
    params = challenge(response)
    assert params["realm"] == "api"
    assert params["error"] == "invalid_request"
    assert response.json()["error"] == "invalid_request"


# -- scopes ---------------------------------------------------------------------------


def test_cart_needs_cart_read_and_lists_items(shop: AppServer, client: httpx.Client) -> None:
    token = api_login(shop.url)["access_token"]
    item = new_item()
    added = client.post("/cart/items", json={"item": item}, headers=bearer(token))
    assert added.status_code == 201, added.text

    response = client.get("/cart", headers=bearer(token))

    assert response.status_code == 200
    assert list(response.json()) == ["items"]
    assert response.json()["items"][-1] == item


def test_token_without_cart_write_is_refused_on_cart_items(
    shop: AppServer, client: httpx.Client
) -> None:
    assert shop.data is not None
    token = issue_token(shop.data / "signing-key.pem", scopes=["cart:read"])
    jwks = client.get("/.well-known/jwks.json").json()
    assert jwt_part(token, 0)["kid"] == jwks["keys"][0]["kid"]

    read = client.get("/cart", headers=bearer(token))
    write = client.post("/cart/items", json={"item": new_item()}, headers=bearer(token))

    assert read.status_code == 200, read.text
    assert write.status_code == 403
    params = challenge(write)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "cart:write"
    assert write.json()["error"] == "insufficient_scope"


# -- CSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"x-csrf-token": "not-the-cookie-value"}, id="wrong-header"),
    ],
)
def test_cookie_post_without_csrf_proof_is_forbidden(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    login_json(client)
    item = new_item()

    response = client.post("/cart/items", json={"item": item}, headers=headers)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_request"
    assert "set-cookie" not in response.headers
    assert item not in client.get("/cart").json()["items"]


def test_cookie_post_with_the_csrf_cookie_value_is_accepted(client: httpx.Client) -> None:
    login_json(client)
    item = new_item()

    response = client.post("/cart/items", json={"item": item}, headers=csrf_header(client))

    assert response.status_code == 201
    assert item in response.json()["items"]
    cart = client.get("/cart")
    assert cart.status_code == 200
    assert item in cart.json()["items"]


def test_bearer_post_needs_no_csrf_header(shop: AppServer, client: httpx.Client) -> None:
    token = api_login(shop.url)["access_token"]
    item = new_item()

    response = client.post("/cart/items", json={"item": item}, headers=bearer(token))

    assert response.status_code == 201
    assert item in response.json()["items"]


# -- refresh --------------------------------------------------------------------------


def test_refresh_rotates_allows_a_grace_window_then_revokes_the_family(
    client: httpx.Client,
) -> None:
    first = login_json(client)
    client.cookies.clear()

    sent_at = time.monotonic()
    rotated = client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    rotated_at = time.monotonic()  # the server rotated between sent_at and now
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()
    assert second["token_type"] == "Bearer"
    assert second["expires_in"] == ACCESS_TTL
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    me = client.get("/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200
    assert me.json()["fresh"] is False

    # Within the grace window (a parallel request, a lost response) the old token yields
    # the very same pair instead of a second one.
    again = client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    assert time.monotonic() - sent_at < REFRESH_GRACE, "too slow to test the grace window"
    assert again.status_code == 200, again.text
    assert again.json() == second

    time.sleep(max(0.0, rotated_at + REFRESH_GRACE + 0.2 - time.monotonic()))
    reused = client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    newest = client.post("/refresh", json={"refresh_token": second["refresh_token"]})

    assert reused.status_code == 401
    assert challenge(reused)["error"] == "invalid_token"
    assert newest.status_code == 401, "reuse must revoke the whole family"
    assert challenge(newest)["error"] == "invalid_token"


def test_silent_refresh_after_the_access_token_expired(client: httpx.Client) -> None:
    body = login_json(client)
    old_csrf = client.cookies["csrf_token"]
    wait_past(jwt_part(body["access_token"], 1)["exp"])

    response = client.get("/me")

    assert response.status_code == 200, response.text
    assert response.json()["fresh"] is False
    cookies = set_cookies(response)
    assert sorted(cookies) == sorted(TOKEN_COOKIES)
    assert cookies["access_token"].value != body["access_token"]
    assert cookies["refresh_token"].value != body["refresh_token"]
    assert cookies["access_token"].http_only
    assert cookies["refresh_token"].http_only
    assert cookies["csrf_token"].value == old_csrf
    assert cookies["access_token"].max_age == ACCESS_TTL
    after = client.get("/me")
    assert after.status_code == 200
    assert after.json()["fresh"] is False
    assert "set-cookie" not in after.headers
    # The refreshed session keeps its CSRF binding.
    item = new_item()
    added = client.post("/cart/items", json={"item": item}, headers=csrf_header(client))
    assert added.status_code == 201, added.text


def test_silent_refresh_without_an_access_cookie(shop: AppServer, clients: Clients) -> None:
    browser = clients.new()
    body = login_json(browser)
    csrf = browser.cookies["csrf_token"]
    # The access cookie is gone (its Max-Age ran out); the refresh and CSRF ones remain.
    dropped = clients.new(cookies={"refresh_token": body["refresh_token"], "csrf_token": csrf})

    response = dropped.get("/me")

    assert response.status_code == 200, response.text
    assert response.json()["subject"] == USER
    assert response.json()["fresh"] is False
    cookies = set_cookies(response)
    assert sorted(cookies) == sorted(TOKEN_COOKIES)
    assert cookies["refresh_token"].value != body["refresh_token"]
    assert cookies["csrf_token"].value == csrf
    assert jwt_part(cookies["access_token"].value, 1)["csrf"] == csrf


# -- logout ---------------------------------------------------------------------------


def test_logout_clears_cookies_and_revokes_both_tokens(clients: Clients) -> None:
    browser = clients.new()
    body = login_json(browser)

    response = browser.post("/logout", headers=csrf_header(browser))

    assert response.status_code == 200, response.text
    assert response.json() == {"logged_out": True}
    cookies = set_cookies(response)
    assert sorted(cookies) == sorted(TOKEN_COOKIES)
    for cookie in cookies.values():
        assert cookie.max_age == 0
        assert cookie.value == ""
    assert not browser.cookies

    api = clients.new()
    me = api.get("/me", headers=bearer(body["access_token"]))
    assert me.status_code == 401
    assert challenge(me)["error"] == "invalid_token"
    # Revoked, not merely expired: the token still had time left.
    assert challenge(me)["error_description"] == "The access token has been revoked."
    refresh = api.post("/refresh", json={"refresh_token": body["refresh_token"]})
    assert refresh.status_code == 401
    assert challenge(refresh)["error"] == "invalid_token"


# -- keys -----------------------------------------------------------------------------


def test_jwks_publishes_one_public_ed25519_key(client: httpx.Client, shop: AppServer) -> None:
    response = client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    keys = response.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert key["kid"]
    assert key["x"]
    assert set(key) <= {"kty", "crv", "x", "kid", "alg", "use", "key_ops"}, key
    assert "d" not in key
    token = api_login(shop.url)["access_token"]
    assert jwt_part(token, 0) == {"alg": "EdDSA", "typ": "at+jwt", "kid": key["kid"]}


def test_shop_keeps_its_key_on_disk(shop: AppServer) -> None:
    assert shop.data is not None
    key_file: Path = shop.data / "signing-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in key_file.read_bytes()
