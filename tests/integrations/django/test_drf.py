"""tokenguard_django.drf under Django's Client: authentication class and scope permission."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("django")
pytest.importorskip("rest_framework")

from django.test import Client

from tests.integrations.conftest import MISSING_CHALLENGE, Shop
from tests.integrations.django.conftest import use_tokenguard
from tokenguard import Principal
from tokenguard_django.drf import PrincipalUser, TokenGuardAuthentication

pytestmark = pytest.mark.usefixtures("authenticator")

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
DENIED = {"detail": "You do not have permission to perform this action."}


@pytest.fixture
def client() -> Client:
    return Client()


def test_authenticated_request_user_and_auth(client: Client, shop: Shop) -> None:
    reply = client.get("/drf/me", headers=shop.login("bob").bearer())
    assert reply.status_code == 200
    assert reply.json() == {
        "user": "bob",
        "user_type": "PrincipalUser",
        "auth_type": "Principal",
        "auth_sub": "bob",
        "authenticator": "TokenGuardAuthentication",
    }


def test_cookie_credentials_work_for_drf(client: Client, shop: Shop) -> None:
    client.cookies.load(shop.login().cookies())
    reply = client.get("/drf/me")
    assert reply.status_code == 200
    assert reply.json()["auth_sub"] == "alice"


def test_anonymous_is_401_with_bearer_challenge(client: Client) -> None:
    reply = client.get("/drf/me")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == MISSING_CHALLENGE
    assert reply.json() == NOT_PROVIDED


def test_challenge_uses_the_configured_realm(shop: Shop) -> None:
    with use_tokenguard({"AUTHENTICATOR": shop.authenticator(realm="shop")}):
        reply = Client().get("/drf/me")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="shop"'


def test_settings_default_authentication(client: Client, shop: Shop) -> None:
    reply = client.get("/drf/open", headers=shop.login().bearer())
    assert reply.json()["authenticator"] == "TokenGuardAuthentication"
    anonymous = client.get("/drf/open")
    assert anonymous.status_code == 200
    assert anonymous.json() == {
        "user": None,
        "user_type": "NoneType",
        "auth_type": "NoneType",
        "auth_sub": None,
        "authenticator": "NoneType",
    }


@pytest.mark.parametrize(
    ("scopes", "status", "body"),
    [
        pytest.param(("cart:read",), 200, None, id="with-scope"),
        pytest.param(("cart:write",), 403, DENIED, id="without-scope"),
    ],
)
def test_token_has_scopes(
    client: Client, shop: Shop, scopes: tuple[str, ...], status: int, body: Any
) -> None:
    reply = client.get("/drf/cart", headers=shop.login(scopes=scopes).bearer())
    assert reply.status_code == status
    if body is None:
        assert reply.json()["auth_sub"] == "alice"
    else:
        assert reply.json() == body
        assert "WWW-Authenticate" not in reply.headers


def test_token_has_scopes_refuses_anonymous_with_401(client: Client) -> None:
    reply = client.get("/drf/cart")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == MISSING_CHALLENGE


def test_tokenguard_guard_on_a_drf_method(client: Client, shop: Shop) -> None:
    # DRF does not handle TokenError: it reaches the middleware's process_exception.
    reply = client.get("/drf/guarded", headers=shop.login(scopes=("cart:read",)).bearer())
    assert reply.status_code == 403
    assert reply.headers["WWW-Authenticate"].endswith(', scope="cart:write"')
    assert reply.json()["error"] == "insufficient_scope"
    ok = client.get("/drf/guarded", headers=shop.login(scopes=("cart:write",)).bearer())
    assert ok.status_code == 200


class AppUser:
    """The app's own user object, as a database row would be."""

    is_authenticated = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"AppUser {self.name}"


class Loader:
    """A UserLoader returning AppUser objects."""

    def load(self, principal: Principal) -> AppUser:
        return AppUser(principal.subject.upper())

    async def aload(self, principal: Principal) -> AppUser:
        return self.load(principal)


def test_user_loader_provides_request_user(shop: Shop) -> None:
    with use_tokenguard({"AUTHENTICATOR": shop.authenticator(user_loader=Loader())}):
        reply = Client().get("/drf/me", headers=shop.login().bearer())
    assert reply.status_code == 200
    assert reply.json()["user"] == "AppUser ALICE"
    assert reply.json()["user_type"] == "AppUser"
    assert reply.json()["auth_type"] == "Principal"


def test_principal_user(shop: Shop) -> None:
    principal = shop.principal(shop.login("erin").access)
    user = PrincipalUser(principal)
    assert (user.is_authenticated, user.is_anonymous, user.is_active) == (True, False, True)
    assert (user.username, user.pk, str(user)) == ("erin", "erin", "erin")
    assert user.principal is principal


def test_authentication_without_middleware_is_a_config_error() -> None:
    from django.test import RequestFactory
    from rest_framework.request import Request

    from tokenguard import ConfigError

    request = Request(RequestFactory().get("/drf/me"))
    with pytest.raises(ConfigError, match="TokenGuardMiddleware"):
        TokenGuardAuthentication().authenticate(request)
