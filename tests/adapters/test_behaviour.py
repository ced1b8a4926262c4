"""Extraction, attaching the principal, and RFC 6750 error responses, on both adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.adapters.clients import Client, Reply
from tests.adapters.conftest import ACCESS, CSRF, REFRESH, MakeClient, Shop
from tokenguard.extract import TokenLocation
from tokenguard.responses import login_redirect

NO_CREDENTIALS = 'Bearer realm="api"'


def assert_invalid_request(reply: Reply, description: str) -> None:
    assert reply.status == 400
    assert reply.challenge() == (
        "Bearer",
        {"realm": "api", "error": "invalid_request", "error_description": description},
    )
    assert reply.json() == {"error": "invalid_request", "error_description": description}
    assert reply.header("cache-control") == "no-store"


def assert_no_credentials(reply: Reply) -> None:
    """RFC 6750 section 3.1: a request without credentials gets no error code."""
    assert reply.status == 401
    assert reply.header("www-authenticate") == NO_CREDENTIALS
    assert reply.json() == {
        "error": "unauthorized",
        "error_description": "Authentication is required.",
    }


# -- extraction --------------------------------------------------------------------------


def test_bearer_header(client: Client, shop: Shop) -> None:
    reply = client.get("/me", headers=shop.login().bearer())
    assert reply.status == 200
    assert reply.json()["sub"] == "alice"
    assert reply.json()["location"] == "bearer"


def test_access_cookie(client: Client, shop: Shop) -> None:
    session = shop.login()
    reply = client.get("/me", cookies=session.cookies(refresh=False))
    assert reply.status == 200
    assert reply.json()["sub"] == "alice"
    assert reply.json()["location"] == "cookie"
    assert reply.values("set-cookie") == []


def test_named_header_location(make_client: MakeClient, shop: Shop) -> None:
    client = make_client(locations=[TokenLocation.header("X-API-Token")])
    session = shop.login()
    reply = client.get("/me", headers={"X-API-Token": session.access})
    assert reply.status == 200
    assert reply.json()["location"] == "header"
    # The Bearer header is not a configured location any more.
    assert_no_credentials(client.get("/me", headers=session.bearer()))


def test_query_parameter_when_configured(make_client: MakeClient, shop: Shop) -> None:
    client = make_client(locations=[TokenLocation.bearer(), TokenLocation.query()])
    reply = client.get(f"/me?access_token={shop.login().access}")
    assert reply.status == 200
    assert reply.json()["location"] == "query"


def test_query_parameter_ignored_by_default(client: Client, shop: Shop) -> None:
    assert_no_credentials(client.get(f"/me?access_token={shop.login().access}"))


@pytest.mark.parametrize(
    ("value", "description"),
    [
        pytest.param("Bearer", "The Authorization header is malformed.", id="no-token"),
        pytest.param("Bearer ", "The Authorization header is malformed.", id="empty-token"),
        pytest.param("Bearer  {token}", "The Authorization header is malformed.", id="two-spaces"),
        pytest.param("Bearer a b", "The Authorization header is malformed.", id="two-parts"),
        pytest.param(
            "Bearer {token}$",
            "The access token in the Authorization header is malformed.",
            id="bad-characters",
        ),
        pytest.param(
            "Bearer ==", "The access token in the Authorization header is malformed.", id="padding"
        ),
    ],
)
@pytest.mark.parametrize("path", ["/me", "/open"])
def test_malformed_bearer_is_invalid_request(
    client: Client, shop: Shop, value: str, description: str, path: str
) -> None:
    token = shop.login().access
    reply = client.get(path, headers={"Authorization": value.format(token=token)})
    assert_invalid_request(reply, description)
    reply.assert_secret_free(token)


def test_other_scheme_is_no_token(client: Client) -> None:
    basic = {"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="}
    assert_no_credentials(client.get("/me", headers=basic))
    reply = client.get("/open", headers=basic)
    assert reply.status == 200
    assert reply.json()["sub"] is None


def test_same_token_in_header_and_cookie(client: Client, shop: Shop) -> None:
    session = shop.login()
    reply = client.get("/me", headers=session.bearer(), cookies=session.cookies(refresh=False))
    assert reply.status == 200
    assert reply.json()["location"] == "bearer"


def test_two_different_tokens_are_refused(client: Client, shop: Shop) -> None:
    first, second = shop.login(), shop.login()
    reply = client.get("/me", headers=first.bearer(), cookies=second.cookies(refresh=False))
    assert_invalid_request(reply, "The request carries two different access tokens.")


@pytest.mark.parametrize("same", [pytest.param(True, id="same"), pytest.param(False, id="other")])
def test_authorization_header_sent_twice(client: Client, shop: Shop, same: bool) -> None:
    first = shop.login()
    second = first if same else shop.login()
    headers = [
        ("Authorization", f"Bearer {first.access}"),
        ("Authorization", f"Bearer {second.access}"),
    ]
    reply = client.get("/me", headers=headers)
    assert reply.status == 400
    assert reply.challenge()[1]["error"] == "invalid_request"
    reply.assert_secret_free(first.access, second.access)


# -- attaching the principal ---------------------------------------------------------------


def test_principal_reachable_from_slot_and_context(client: Client, shop: Shop) -> None:
    reply = client.get("/me", headers=shop.login().bearer())
    assert reply.status == 200
    body = reply.json()
    assert (body["sub"], body["slot_sub"], body["slot_is_current"]) == ("alice", "alice", True)
    slot = {"asgi": ["tokenguard"], "wsgi": ["tokenguard.auth"]}[client.adapter]
    assert body["slot_keys"] == slot


def test_anonymous_open_route(client: Client) -> None:
    reply = client.get("/open")
    assert reply.status == 200
    body = reply.json()
    assert (body["sub"], body["slot_sub"], body["slot_is_current"]) == (None, None, True)
    assert body["skipped"] is False


def test_no_token_on_protected_prefix(client: Client) -> None:
    # /admin/panel has no guard: the middleware itself refuses.
    assert_no_credentials(client.get("/admin/panel"))


def test_protected_prefix_with_token(client: Client, shop: Shop) -> None:
    reply = client.get("/admin/panel", headers=shop.login().bearer())
    assert reply.status == 200
    assert reply.json()["sub"] == "alice"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer a b"}, id="malformed-bearer"),
        pytest.param({"Authorization": "Bearer forged.token.value"}, id="garbage-token"),
        pytest.param({"Cookie": f"{ACCESS}=x$y; {REFRESH}=junk"}, id="garbage-cookies"),
    ],
)
def test_public_paths_are_never_looked_at(
    client: Client, shop: Shop, headers: dict[str, str]
) -> None:
    reply = client.get("/health", headers=headers)
    assert reply.status == 200
    assert reply.json()["sub"] is None
    assert reply.json()["skipped"] is True
    assert reply.values("set-cookie") == []
    assert shop.source.calls == 0


def test_public_path_ignores_even_a_valid_token(client: Client, shop: Shop) -> None:
    reply = client.get("/health", headers=shop.login().bearer())
    assert reply.status == 200
    assert reply.json()["sub"] is None


# -- RFC 6750 errors ---------------------------------------------------------------------


def tampered(shop: Shop, session_token: str) -> str:
    head, payload, signature = session_token.split(".")
    return f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


def expired(shop: Shop, token: str) -> str:
    shop.clock.advance(61)
    return token


def revoked(shop: Shop, token: str) -> str:
    shop.issuer.revoke_access(shop.principal(token))
    return token


@pytest.mark.parametrize(
    ("spoil", "description"),
    [
        pytest.param(tampered, "The access token signature is invalid.", id="bad-signature"),
        pytest.param(expired, "The access token has expired.", id="expired"),
        pytest.param(revoked, "The access token has been revoked.", id="revoked"),
        pytest.param(
            lambda s, t: "abc.def.ghi", "The access token header is not valid JSON.", id="malformed"
        ),
        pytest.param(lambda s, t: "opaque-abc", "The access token is not active.", id="unknown"),
    ],
)
def test_invalid_bearer_token(
    client: Client, shop: Shop, spoil: Callable[[Shop, str], str], description: str
) -> None:
    session = shop.login()
    token = spoil(shop, session.access)
    reply = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 401
    assert reply.challenge() == (
        "Bearer",
        {"realm": "api", "error": "invalid_token", "error_description": description},
    )
    assert reply.json() == {"error": "invalid_token", "error_description": description}
    assert reply.header("cache-control") == "no-store"
    assert reply.header("content-type") == "application/json"
    assert reply.values("set-cookie") == []  # a Bearer client has no cookies to clear
    reply.assert_secret_free(token, session.access, session.refresh)


def test_invalid_token_on_open_route_is_refused(client: Client, shop: Shop) -> None:
    # A presented token is judged even where none is required (RFC 6750 section 3.1).
    reply = client.get("/open", headers={"Authorization": "Bearer abc.def"})
    assert reply.status == 401
    assert reply.challenge()[1]["error"] == "invalid_token"


def test_expired_cookie_without_refresh_cookie(client: Client, shop: Shop) -> None:
    session = shop.login()
    shop.clock.advance(61)
    reply = client.get("/me", cookies=session.cookies(refresh=False))
    assert reply.status == 401
    assert reply.challenge()[1]["error"] == "invalid_token"
    assert reply.challenge()[1]["error_description"] == "The access token has expired."
    cleared = reply.cookies
    assert set(cleared) == {ACCESS, REFRESH, CSRF}
    assert all(c.value == "" and c.attrs["max-age"] == "0" for c in cleared.values())
    assert shop.source.calls == 0


def test_insufficient_scope(client: Client, shop: Shop) -> None:
    session = shop.login(scopes=["cart:read"])
    reply = client.post("/cart/items", headers=session.bearer())
    description = "The access token lacks the privileges this request needs."
    assert reply.status == 403
    assert reply.challenge() == (
        "Bearer",
        {
            "realm": "api",
            "error": "insufficient_scope",
            "error_description": description,
            "scope": "cart:write",
        },
    )
    assert reply.json() == {
        "error": "insufficient_scope",
        "error_description": description,
        "scope": "cart:write",
    }
    reply.assert_secret_free(session.access)


@pytest.mark.parametrize(
    "by_cookie", [pytest.param(False, id="bearer"), pytest.param(True, id="cookie")]
)
def test_store_down_is_503(client: Client, shop: Shop, by_cookie: bool) -> None:
    session = shop.login()
    shop.store.down = True
    if by_cookie:
        shop.clock.advance(61)  # the refresh needs the store too
        reply = client.get("/me", cookies=session.cookies())
    else:
        reply = client.get("/me", headers=session.bearer())
    assert reply.status == 503
    assert reply.header("retry-after") == "5"
    assert reply.header("www-authenticate") is None
    assert reply.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The token store is temporarily unavailable.",
    }
    # An outage is not the session's fault: the cookies stay.
    assert reply.values("set-cookie") == []


def test_login_redirect_for_browsers(make_client: MakeClient, shop: Shop) -> None:
    client = make_client(error_handler=login_redirect("/login"))
    reply = client.get("/me", headers={"Accept": "text/html,application/xhtml+xml"})
    assert reply.status == 303
    assert reply.header("location") == "/login?next=/me"
    assert reply.header("www-authenticate") is None
    assert reply.body == b""


@pytest.mark.parametrize(
    ("method", "path", "accept", "status"),
    [
        pytest.param("GET", "/me", "application/json", 401, id="api-get"),
        pytest.param("POST", "/cart/items", "text/html", 401, id="browser-post"),
        pytest.param("GET", "/cart", "text/html", 403, id="browser-forbidden"),
    ],
)
def test_login_redirect_keeps_json_elsewhere(
    make_client: MakeClient, shop: Shop, method: str, path: str, accept: str, status: int
) -> None:
    client = make_client(error_handler=login_redirect("/login"))
    headers = {"Accept": accept}
    if status == 403:
        headers.update(shop.login(scopes=[]).bearer())
    reply = client.request(method, path, headers=headers)
    assert reply.status == status
    assert reply.header("content-type") == "application/json"
    assert reply.header("location") is None
    assert reply.challenge()[0] == "Bearer"
