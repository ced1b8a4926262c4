"""CSRF: cookie credentials on unsafe methods need proof; Bearer and safe methods do not."""

from __future__ import annotations

import pytest

from tests.adapters.clients import HOST, Client, Reply
from tests.adapters.conftest import ACCESS, CSRF, REFRESH, MakeClient, Shop
from tests.conftest import ACCESS_TTL
from tokenguard.cookies import CookiePolicy

MISSING = f"Send the {CSRF} cookie's value in x-csrf-token."
UNBOUND = "The CSRF value does not belong to this session."
CROSS_SITE = "Cross-site requests may not use cookie credentials."
FOREIGN = "The request's Origin is not trusted."


def assert_csrf_refused(reply: Reply, description: str) -> None:
    assert reply.status == 403
    assert reply.json() == {"error": "invalid_request", "error_description": description}
    # 403 without a Bearer challenge: the credentials are fine, the request is not.
    assert reply.header("www-authenticate") is None
    assert reply.values("set-cookie") == []  # a forged request must not log anyone out


@pytest.mark.parametrize(
    ("headers", "csrf_cookie", "refused"),
    [
        pytest.param({}, True, MISSING, id="no-header"),
        pytest.param({"X-CSRF-Token": "wrong"}, True, MISSING, id="wrong-header"),
        pytest.param({"X-CSRF-Token": "{csrf}"}, False, MISSING, id="no-csrf-cookie"),
        pytest.param({"X-CSRF-Token": "{csrf}"}, True, None, id="right-header"),
        pytest.param(
            {"X-CSRF-Token": "{csrf}", "Sec-Fetch-Site": "cross-site"},
            True,
            CROSS_SITE,
            id="cross-site",
        ),
        pytest.param(
            {"X-CSRF-Token": "{csrf}", "Sec-Fetch-Site": "same-origin"},
            True,
            None,
            id="same-origin",
        ),
        pytest.param(
            {"X-CSRF-Token": "{csrf}", "Origin": "https://evil.example"},
            True,
            FOREIGN,
            id="foreign-origin",
        ),
        pytest.param({"X-CSRF-Token": "{csrf}", "Origin": "null"}, True, FOREIGN, id="null-origin"),
        pytest.param(
            {"X-CSRF-Token": "{csrf}", "Origin": f"https://{HOST}"}, True, None, id="same-host"
        ),
    ],
)
def test_cookie_post_needs_csrf_proof(
    client: Client, shop: Shop, headers: dict[str, str], csrf_cookie: bool, refused: str | None
) -> None:
    session = shop.login()
    sent = {name: value.format(csrf=session.csrf) for name, value in headers.items()}
    cookies = session.cookies(refresh=False, csrf=csrf_cookie)
    reply = client.post("/cart/items", headers=sent, cookies=cookies)
    if refused is None:
        assert reply.status == 201
        assert reply.json() == {"added": "book", "sub": "alice"}
    else:
        assert_csrf_refused(reply, refused)


def test_csrf_value_must_be_the_tokens(client: Client, shop: Shop) -> None:
    # Header and cookie agree, but the value was planted: it is not the token's claim.
    session = shop.login()
    cookies = {ACCESS: session.access, CSRF: "planted"}
    reply = client.post("/cart/items", headers={"X-CSRF-Token": "planted"}, cookies=cookies)
    assert_csrf_refused(reply, UNBOUND)


def test_trusted_origin(make_client: MakeClient, shop: Shop) -> None:
    client = make_client(cookies=CookiePolicy(trusted_origins=("https://app.example",)))
    session = shop.login()
    headers = {"X-CSRF-Token": session.csrf, "Origin": "https://app.example"}
    reply = client.post("/cart/items", headers=headers, cookies=session.cookies(refresh=False))
    assert reply.status == 201
    headers["Origin"] = "https://other.example"
    reply = client.post("/cart/items", headers=headers, cookies=session.cookies(refresh=False))
    assert_csrf_refused(reply, FOREIGN)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="plain"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, id="xs"),
    ],
)
def test_bearer_post_needs_no_csrf(client: Client, shop: Shop, headers: dict[str, str]) -> None:
    # A forged cross-site request cannot set Authorization; the cookies it could send
    # are not what authenticates here.
    session = shop.login()
    reply = client.post(
        "/cart/items", headers={**headers, **session.bearer()}, cookies=session.cookies()
    )
    assert reply.status == 201


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="plain"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, id="xs"),
    ],
)
def test_get_never_needs_csrf(client: Client, shop: Shop, headers: dict[str, str]) -> None:
    reply = client.get("/cart", headers=headers, cookies=shop.login().cookies(refresh=False))
    assert reply.status == 200


def test_anonymous_post_needs_no_csrf(client: Client) -> None:
    reply = client.post("/open", headers={"Origin": "https://evil.example"})
    assert reply.status == 200
    assert reply.json()["sub"] is None


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"X-CSRF-Token": "wrong"}, id="wrong-header"),
        pytest.param({"X-CSRF-Token": "{csrf}", "Sec-Fetch-Site": "cross-site"}, id="cross-site"),
    ],
)
@pytest.mark.parametrize(
    "access", [pytest.param(True, id="expired"), pytest.param(False, id="gone")]
)
def test_forged_post_does_not_rotate(
    client: Client, shop: Shop, headers: dict[str, str], access: bool
) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    sent = {name: value.format(csrf=session.csrf) for name, value in headers.items()}
    reply = client.post("/cart/items", headers=sent, cookies=session.cookies(access=access))
    assert reply.status == 403
    assert reply.json()["error"] == "invalid_request"
    assert shop.source.calls == 0
    assert reply.values("set-cookie") == []
    # The refresh token is still good: the real tab refreshes normally afterwards.
    assert client.get("/me", cookies=session.cookies()).status == 200


def test_refresh_on_proper_post(client: Client, shop: Shop) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    reply = client.post(
        "/cart/items", headers={"X-CSRF-Token": session.csrf}, cookies=session.cookies()
    )
    assert reply.status == 201
    assert shop.source.calls == 1
    assert set(reply.cookies) == {ACCESS, REFRESH, CSRF}
