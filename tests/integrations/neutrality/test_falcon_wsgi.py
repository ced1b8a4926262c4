"""A Falcon WSGI app behind the plain WSGI adapter, with no integration code at all.

The resources reach the principal through `tokenguard.current_principal()` and use the
framework-free guards; Falcon turns a guard's error into its own 500 page, which the
adapter replaces with the guard's 401/403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

pytest.importorskip("falcon")

import falcon
import falcon.testing

import tokenguard
from tests.integrations.conftest import (
    ACCESS,
    MISSING_BODY,
    MISSING_CHALLENGE,
    Shop,
    assert_refreshed,
    scope_body,
    scope_challenge,
    who,
)
from tokenguard.wsgi import TokenGuardMiddleware


class Who:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = who()


class Cart:
    @tokenguard.require_scopes("cart:read")
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = who()


class Me:
    @tokenguard.require_auth
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = who()


class Recorder:
    """Keeps the raw response headers: Falcon's test Result folds repeated headers."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.headers: list[tuple[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def recording(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            self.headers = list(headers)
            return start_response(status, headers, *exc_info)

        return self.app(environ, recording)

    def get_list(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


@pytest.fixture
def recorder(shop: Shop) -> Recorder:
    app = falcon.App()
    app.add_route("/open", Who())
    app.add_route("/api/me", Who())
    app.add_route("/api/cart", Cart())
    app.add_route("/me", Me())
    return Recorder(TokenGuardMiddleware(app, shop.authenticator(protected=("/api",))))


@pytest.fixture
def client(recorder: Recorder) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(recorder)


def test_anonymous_is_refused_on_the_protected_prefix(
    client: falcon.testing.TestClient, recorder: Recorder
) -> None:
    result = client.simulate_get("/api/me")
    assert result.status_code == 401
    assert recorder.get_list("www-authenticate") == [MISSING_CHALLENGE]
    assert recorder.get_list("content-type") == ["application/json"]
    assert result.json == MISSING_BODY


def test_anonymous_passes_outside_the_prefix(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/open")
    assert result.status_code == 200
    assert result.json == {"sub": None}


@pytest.mark.parametrize("path", ["/api/me", "/open"])
def test_token_reaches_the_resource(
    client: falcon.testing.TestClient, shop: Shop, path: str
) -> None:
    login = shop.login("bob", scopes=("profile",))
    result = client.simulate_get(path, headers=login.bearer())
    assert result.status_code == 200
    assert result.json == {"sub": "bob", "scopes": ["profile"]}


def test_guard_answers_403_instead_of_falcons_500(
    client: falcon.testing.TestClient, recorder: Recorder, shop: Shop
) -> None:
    result = client.simulate_get("/api/cart", headers=shop.login(scopes=("profile",)).bearer())
    assert result.status_code == 403
    assert recorder.get_list("www-authenticate") == [scope_challenge("cart:read")]
    assert recorder.get_list("content-type") == ["application/json"]
    assert result.json == scope_body("cart:read")
    allowed = client.simulate_get("/api/cart", headers=shop.login(scopes=("cart:read",)).bearer())
    assert allowed.status_code == 200
    assert allowed.json == {"sub": "alice", "scopes": ["cart:read"]}


def test_guard_answers_401_outside_the_prefix(
    client: falcon.testing.TestClient, recorder: Recorder
) -> None:
    result = client.simulate_get("/me")
    assert result.status_code == 401
    assert recorder.get_list("www-authenticate") == [MISSING_CHALLENGE]
    assert result.json == MISSING_BODY


def test_silent_refresh_sets_cookies(
    client: falcon.testing.TestClient, recorder: Recorder, shop: Shop
) -> None:
    login = shop.login()
    shop.expire()
    result = client.simulate_get("/api/me", headers=login.cookie_header())
    assert result.status_code == 200
    assert result.json["sub"] == "alice"
    new = assert_refreshed(recorder.get_list("set-cookie"), shop, login)
    cookie = result.cookies[ACCESS]  # and Falcon's own cookie parser reads them
    assert (cookie.value, cookie.secure, cookie.http_only) == (new.access_token, True, True)


def test_refresh_then_guard_refusal_keeps_the_new_cookies(
    client: falcon.testing.TestClient, recorder: Recorder, shop: Shop
) -> None:
    login = shop.login(scopes=("profile",))
    shop.expire()
    result = client.simulate_get("/api/cart", headers=login.cookie_header())
    assert result.status_code == 403
    assert recorder.get_list("www-authenticate") == [scope_challenge("cart:read")]
    assert_refreshed(recorder.get_list("set-cookie"), shop, login)
