"""User loader, listeners and logging, on both adapters."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from tests.adapters.apps import at
from tests.adapters.clients import Client
from tests.adapters.conftest import ACCESS, REFRESH, STYLES, CountingLoader, MakeClient, Shop
from tests.conftest import ACCESS_TTL, Login
from tokenguard.errors import ExpiredTokenError, InvalidSignatureError, RevokedTokenError
from tokenguard.events import AuthEvent

# -- user loader -------------------------------------------------------------------------


@pytest.mark.parametrize(("adapter", "style"), STYLES, indirect=["adapter"])
def test_user_loader_runs_once_and_only_when_asked(
    make_client: MakeClient, shop: Shop, style: str
) -> None:
    loader = CountingLoader()
    client = make_client(user_loader=loader)
    session = shop.login()

    assert client.get(at(style, "/me"), headers=session.bearer()).status == 200
    assert loader.calls == 0  # the handler never asked

    reply = client.get(at(style, "/user"), headers=session.bearer())
    assert reply.status == 200
    assert reply.json() == {"user": {"name": "Alice"}, "same": True}
    assert loader.calls == 1  # asked twice, loaded once

    assert client.get(at(style, "/user")).status == 401
    assert loader.calls == 1


# -- listeners ---------------------------------------------------------------------------


def bearer_request(client: Client, session: Login, shop: Shop) -> tuple[int, str]:
    return client.get("/me", headers=session.bearer()).status, "/me"


def refreshing_request(client: Client, session: Login, shop: Shop) -> tuple[int, str]:
    shop.clock.advance(ACCESS_TTL + 1)
    return client.get("/cart", cookies=session.cookies()).status, "/cart"


def forged_bearer(session: Login) -> dict[str, str]:
    head, payload, signature = session.access.split(".")
    forged = f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    return {"Authorization": f"Bearer {forged}"}


def forged_request(client: Client, session: Login, shop: Shop) -> tuple[int, str]:
    return client.get("/open", headers=forged_bearer(session)).status, "/open"


def expired_request(client: Client, session: Login, shop: Shop) -> tuple[int, str]:
    shop.clock.advance(ACCESS_TTL + 1)
    return client.get("/me", headers=session.bearer()).status, "/me"


def revoked_refresh(client: Client, session: Login, shop: Shop) -> tuple[int, str]:
    shop.issuer.revoke_refresh(session.refresh)
    return client.get("/me", cookies=session.cookies(access=False)).status, "/me"


def anonymous_request(client: Client, session: Login, shop: Shop) -> tuple[int, str]:
    return client.get("/open").status, "/open"


@pytest.mark.parametrize(
    ("act", "status", "kind", "error"),
    [
        pytest.param(bearer_request, 200, "validated", None, id="validated"),
        pytest.param(refreshing_request, 200, "refreshed", None, id="refreshed"),
        pytest.param(forged_request, 401, "rejected", InvalidSignatureError, id="forged"),
        pytest.param(expired_request, 401, "rejected", ExpiredTokenError, id="expired"),
        pytest.param(revoked_refresh, 401, "rejected", RevokedTokenError, id="revoked-refresh"),
        pytest.param(anonymous_request, 200, "anonymous", None, id="anonymous"),
    ],
)
def test_listener_events(
    make_client: MakeClient,
    shop: Shop,
    act: Callable[[Client, Login, Shop], tuple[int, str]],
    status: int,
    kind: str,
    error: type[Exception] | None,
) -> None:
    events: list[AuthEvent] = []
    client = make_client(listeners=[events.append])
    session = shop.login()
    got, path = act(client, session, shop)
    assert got == status
    assert len(events) == 1
    event = events[0]
    assert (event.kind, event.path) == (kind, path)
    if kind in ("validated", "refreshed"):
        assert event.principal is not None
        assert event.principal.subject == "alice"
        assert event.error is None
    else:
        assert event.principal is None
    if error is None:
        assert event.error is None
    else:
        assert type(event.error) is error
    if kind == "refreshed":
        assert event.principal is not None
        assert event.principal.claims.get("fresh") is None  # the new token's principal


def test_public_path_emits_nothing(make_client: MakeClient) -> None:
    events: list[AuthEvent] = []
    client = make_client(listeners=[events.append])
    assert client.get("/health").status == 200
    assert events == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param("/me", Login.bearer, id="validated"),
        pytest.param("/open", forged_bearer, id="rejected"),
        pytest.param("/open", lambda session: {}, id="anonymous"),
    ],
)
def test_failing_listener_is_503(
    make_client: MakeClient,
    shop: Shop,
    caplog: pytest.LogCaptureFixture,
    path: str,
    headers: Callable[[Login], dict[str, str]],
) -> None:
    def listener(event: AuthEvent) -> None:
        raise RuntimeError("metrics backend down")

    client = make_client(listeners=[listener])
    with caplog.at_level(logging.ERROR, logger="tokenguard"):
        reply = client.get(path, headers=headers(shop.login()))
    assert reply.status == 503
    assert reply.header("retry-after") == "5"
    assert reply.header("www-authenticate") is None
    assert reply.json() == {
        "error": "temporarily_unavailable",
        "error_description": "An authentication hook failed.",
    }
    assert any("auth listener" in r.getMessage() for r in caplog.records)


# -- logging -----------------------------------------------------------------------------


def test_no_token_in_any_log_record(
    make_client: MakeClient, shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    secrets: list[str] = []

    def remember(session: Login) -> Login:
        secrets.extend([session.access, session.refresh, session.csrf])
        return session

    # Failing requests.
    forged_request(client, remember(shop.login()), shop)
    client.get("/me", headers={"Authorization": "Bearer a b"})
    revoked = remember(shop.login())
    shop.issuer.revoke_refresh(revoked.refresh)
    client.get("/me", cookies=revoked.cookies(access=False))
    client.get("/me", cookies={REFRESH: "garbage-refresh-token"})
    secrets.append("garbage-refresh-token")
    # A refreshing request, and its new tokens.
    session = remember(shop.login())
    shop.clock.advance(ACCESS_TTL + 1)
    refreshed = client.get("/me", cookies=session.cookies())
    assert refreshed.status == 200
    secrets.extend([refreshed.cookies[ACCESS].value, refreshed.cookies[REFRESH].value])
    # Reuse detection logs a warning; the replayed token must not be in it either. (A new
    # middleware: the first one remembers a just-refreshed token's pair for a while.)
    shop.clock.advance(30)
    reused = make_client().get("/me", cookies=session.cookies(access=False))
    assert reused.status == 401
    assert any("reuse detected" in r.getMessage() for r in caplog.records)

    assert caplog.records, "nothing was logged at all"
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, f"{record.name}: {record.getMessage()}"
