"""Silent refresh through the token source, on both adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.adapters.clients import Client, Reply
from tests.adapters.conftest import ACCESS, CSRF, REFRESH, MakeClient, Shop
from tests.conftest import ACCESS_TTL, REFRESH_TTL, Login
from tokenguard.responses import login_redirect
from tokenguard.stores import hash_token


def assert_login_cookies(reply: Reply, session: Login, *, elapsed: int) -> None:
    """Fresh access, refresh and CSRF cookies with the policy's flags."""
    cookies = reply.cookies
    assert set(cookies) == {ACCESS, REFRESH, CSRF}
    access, refresh, csrf = cookies[ACCESS], cookies[REFRESH], cookies[CSRF]
    assert access.value not in ("", session.access)
    assert refresh.value not in ("", session.refresh)  # rotated
    assert csrf.value == session.csrf  # the claim travels into every refreshed token
    for cookie in (access, refresh, csrf):
        assert cookie.attrs["path"] == "/"
        assert cookie.attrs["samesite"] == "Lax"
        assert "secure" in cookie.attrs
    assert "httponly" in access.attrs
    assert "httponly" in refresh.attrs
    assert "httponly" not in csrf.attrs  # page script echoes it
    assert access.attrs["max-age"] == str(ACCESS_TTL)
    assert refresh.attrs["max-age"] == str(REFRESH_TTL - elapsed)
    assert csrf.attrs["max-age"] == str(REFRESH_TTL - elapsed)


def assert_cleared(reply: Reply) -> None:
    cookies = reply.cookies
    assert set(cookies) == {ACCESS, REFRESH, CSRF}
    for cookie in cookies.values():
        assert cookie.value == ""
        assert cookie.attrs["max-age"] == "0"
        assert cookie.attrs["path"] == "/"


def test_expired_access_cookie_is_refreshed(client: Client, shop: Shop) -> None:
    session = shop.login()
    old_jti = shop.principal(session.access).token_id
    shop.clock.advance(ACCESS_TTL + 1)
    reply = client.get("/me", cookies=session.cookies())
    assert reply.status == 200
    body = reply.json()
    assert body["sub"] == "alice"
    assert body["refreshed"] is True
    assert body["jti"] != old_jti  # served with the new token
    assert body["jti"] == shop.principal(reply.cookies[ACCESS].value).token_id
    assert_login_cookies(reply, session, elapsed=ACCESS_TTL + 1)
    assert shop.source.calls == 1

    # The new cookies work as they are: no second refresh.
    jar = {name: cookie.value for name, cookie in reply.cookies.items()}
    again = client.get("/me", cookies=jar)
    assert again.status == 200
    assert again.json()["refreshed"] is False
    assert again.values("set-cookie") == []
    assert shop.source.calls == 1


def test_refresh_cookie_alone_is_refreshed(client: Client, shop: Shop) -> None:
    session = shop.login()
    reply = client.get("/me", cookies=session.cookies(access=False))
    assert reply.status == 200
    assert reply.json()["sub"] == "alice"
    assert reply.json()["refreshed"] is True
    assert reply.json()["location"] is None
    assert_login_cookies(reply, session, elapsed=0)
    assert shop.source.calls == 1


@pytest.mark.parametrize(
    ("elapsed", "refreshed"),
    [
        pytest.param(20, False, id="not-due"),
        pytest.param(35, True, id="due"),
    ],
)
def test_refresh_ahead(make_client: MakeClient, shop: Shop, elapsed: int, refreshed: bool) -> None:
    client = make_client(refresh_ahead=30)
    session = shop.login()
    shop.clock.advance(elapsed)  # 60 s tokens: due once 30 s or less are left
    reply = client.get("/me", cookies=session.cookies())
    assert reply.status == 200
    assert reply.json()["refreshed"] is refreshed
    assert shop.source.calls == int(refreshed)
    if refreshed:
        assert_login_cookies(reply, session, elapsed=elapsed)
    else:
        assert reply.values("set-cookie") == []


def test_refresh_ahead_failure_serves_current_token(make_client: MakeClient, shop: Shop) -> None:
    client = make_client(refresh_ahead=30)
    session = shop.login()
    # The refresh token is gone (expired, purged) but nothing revoked the access token.
    shop.issuer.store.revoke_token(hash_token(session.refresh))
    shop.clock.advance(35)
    reply = client.get("/me", cookies=session.cookies())
    assert reply.status == 200
    assert reply.json()["refreshed"] is False
    assert reply.json()["jti"] == shop.principal(session.access).token_id
    assert reply.values("set-cookie") == []


def test_revoking_the_family_revokes_its_access_tokens(make_client: MakeClient, shop: Shop) -> None:
    # Access tokens carry their refresh family as sid: a logout ends them all at once.
    client = make_client()
    session = shop.login()
    assert client.get("/me", headers=session.bearer()).status == 200
    shop.issuer.revoke_refresh(session.refresh)
    reply = client.get("/me", headers=session.bearer())
    assert reply.status == 401
    assert reply.json()["error_description"] == "The access token has been revoked."


def revoke_family(shop: Shop, session: Login) -> str:
    shop.issuer.revoke_refresh(session.refresh)
    return session.refresh


def reuse_after_grace(shop: Shop, session: Login) -> str:
    shop.issuer.refresh(session.refresh)  # another tab rotated it already
    shop.clock.advance(30)  # past the grace window
    return session.refresh


@pytest.mark.parametrize(
    ("spoil", "description"),
    [
        pytest.param(revoke_family, "The refresh token has been revoked.", id="revoked-family"),
        pytest.param(
            reuse_after_grace,
            "The refresh token was used twice; its family is revoked.",
            id="reused",
        ),
        pytest.param(lambda s, _: "garbage", "The refresh token is not active.", id="unknown"),
        pytest.param(lambda s, _: "gar bage!", "The refresh token is malformed.", id="garbage"),
    ],
)
def test_failed_refresh_clears_cookies(
    client: Client, shop: Shop, spoil: Callable[[Shop, Login], str], description: str
) -> None:
    session = shop.login()
    refresh = spoil(shop, session)
    shop.clock.advance(ACCESS_TTL + 1)
    cookies = {**session.cookies(), REFRESH: refresh}
    reply = client.get("/me", cookies=cookies)
    assert reply.status == 401
    assert reply.challenge() == (
        "Bearer",
        {"realm": "api", "error": "invalid_token", "error_description": description},
    )
    assert_cleared(reply)
    reply.assert_secret_free(session.access, refresh)
    assert shop.source.calls == 1


def test_failed_refresh_redirects_browsers(make_client: MakeClient, shop: Shop) -> None:
    client = make_client(error_handler=login_redirect("/login"))
    session = shop.login()
    shop.issuer.revoke_refresh(session.refresh)
    shop.clock.advance(ACCESS_TTL + 1)
    reply = client.get("/cart", headers={"Accept": "text/html"}, cookies=session.cookies())
    assert reply.status == 303
    assert reply.header("location") == "/login?next=/cart"
    assert_cleared(reply)


@pytest.mark.parametrize(
    "expose", [pytest.param("X-Access-Token", id="exposed"), pytest.param(None, id="hidden")]
)
def test_bearer_client_refresh(make_client: MakeClient, shop: Shop, expose: str | None) -> None:
    client = make_client(expose_refreshed_token=expose)
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    reply = client.get("/me", headers=session.bearer(), cookies=session.cookies(access=False))
    assert reply.status == 200
    assert reply.json()["refreshed"] is True
    assert reply.json()["location"] == "bearer"
    # No access cookie: the client's next request would carry two different tokens.
    assert set(reply.cookies) == {REFRESH, CSRF}
    assert reply.cookies[REFRESH].value != session.refresh
    exposed = reply.header("x-access-token")
    if expose is None:
        assert exposed is None
    else:
        assert exposed is not None
        assert exposed != session.access
        assert shop.principal(exposed).token_id == reply.json()["jti"]
        again = client.get("/me", headers={"Authorization": f"Bearer {exposed}"})
        assert again.status == 200
        assert again.json()["refreshed"] is False
    assert shop.source.calls == 1


def test_source_outage_keeps_the_session(client: Client, shop: Shop) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    shop.store.down = True
    reply = client.get("/me", cookies=session.cookies())
    assert reply.status == 503
    assert reply.header("retry-after") == "5"
    assert reply.values("set-cookie") == []
    shop.store.down = False
    assert client.get("/me", cookies=session.cookies()).status == 200
