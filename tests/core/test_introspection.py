"""IntrospectionResolver (RFC 7662) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import httpx
import pytest

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock
from tests.core.httpserver import (
    Reply,
    Request,
    ScriptedHTTPServer,
    count_ca_bundle_loads,
    refused_url,
)
from tests.core.httpserver import http_server as http_server  # the fixture
from tokenguard import (
    ConfigError,
    InactiveTokenError,
    IntrospectionResolver,
    IntrospectionUnavailableError,
    KeySet,
    MalformedTokenError,
    Principal,
    TokenError,
    TokenValidator,
)

PATH = "/oauth2/introspect"
CLIENT_ID = "resource-server"
CLIENT_SECRET = "introspection-secret-42"
MakeToken = Callable[..., str]


def opaque_token() -> str:
    return secrets.token_urlsafe(32)


def active(**claims: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "active": True,
        "sub": "alice",
        "scope": "cart:read cart:write",
        "client_id": "shop-web",
        "token_type": "Bearer",
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    answer.update(claims)
    return {k: v for k, v in answer.items() if v is not None}


async def drive(
    mode: str,
    sync: Callable[[str], Principal],
    async_: Callable[[str], Awaitable[Principal]],
    token: str,
) -> Principal:
    """Call the sync or the async entry point, as the test's mode says."""
    return sync(token) if mode == "sync" else await async_(token)


def resolver_for(url: str, clock: FrozenClock, **options: Any) -> IntrospectionResolver:
    if "auth" not in options:
        options.setdefault("client_id", CLIENT_ID)
        options.setdefault("client_secret", CLIENT_SECRET)
    options.setdefault("timeout", 2.0)
    return IntrospectionResolver(url, allow_http=True, clock=clock, **options)


@pytest.fixture
def resolver(http_server: ScriptedHTTPServer, clock: FrozenClock) -> IntrospectionResolver:
    return resolver_for(http_server.url(PATH), clock)


# -- the request ------------------------------------------------------------------------


def _check_request(request: Request, token: str) -> None:
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert request.form() == {"token": [token], "token_type_hint": ["access_token"]}
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(opaque_token(), id="urlsafe"),
        pytest.param("a+b/c=d~e-f_g.h=", id="b64token-specials"),
    ],
)
def test_request_is_a_basic_authenticated_form_post(
    http_server: ScriptedHTTPServer, resolver: IntrospectionResolver, token: str
) -> None:
    http_server.reply(PATH, body=active())
    resolver.resolve(token)
    [request] = http_server.requests()
    _check_request(request, token)


async def test_async_request_is_a_basic_authenticated_form_post(
    http_server: ScriptedHTTPServer, resolver: IntrospectionResolver
) -> None:
    http_server.reply(PATH, body=active())
    token = opaque_token()
    await resolver.aresolve(token)
    [request] = http_server.requests()
    _check_request(request, token)


class _BearerAuth(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer rs-credential"
        yield request


def test_custom_auth_replaces_basic(http_server: ScriptedHTTPServer, clock: FrozenClock) -> None:
    http_server.reply(PATH, body=active())
    resolver = resolver_for(http_server.url(PATH), clock, auth=_BearerAuth())
    resolver.resolve(opaque_token())
    [request] = http_server.requests()
    assert request.headers["authorization"] == "Bearer rs-credential"


def test_shared_clients_are_used(http_server: ScriptedHTTPServer, clock: FrozenClock) -> None:
    http_server.reply(PATH, body=active())
    with httpx.Client(headers={"X-Test": "sync"}) as client:
        resolver = resolver_for(http_server.url(PATH), clock, client=client)
        resolver.resolve(opaque_token())
        assert not client.is_closed
    [request] = http_server.requests()
    assert request.headers["x-test"] == "sync"
    assert request.headers["authorization"].startswith("Basic ")


async def test_shared_async_client_is_used(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, body=active())
    async with httpx.AsyncClient(headers={"X-Test": "async"}) as client:
        resolver = resolver_for(http_server.url(PATH), clock, async_client=client)
        await resolver.aresolve(opaque_token())
    [request] = http_server.requests()
    assert request.headers["x-test"] == "async"
    assert request.headers["authorization"].startswith("Basic ")


async def test_the_ca_bundle_is_read_once_not_per_call(
    http_server: ScriptedHTTPServer, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = count_ca_bundle_loads(monkeypatch)
    http_server.reply(PATH, body=active())
    resolver = resolver_for(http_server.url(PATH), clock)
    for _ in range(3):
        resolver.resolve(opaque_token())
        await resolver.aresolve(opaque_token())
    assert http_server.count() == 6
    assert len(loads) <= 1


# -- answers ----------------------------------------------------------------------------


def test_active_token_becomes_an_opaque_principal(
    http_server: ScriptedHTTPServer, resolver: IntrospectionResolver
) -> None:
    answer = active(username="alice@example.com", custom={"tier": "gold"})
    http_server.reply(PATH, body=answer)

    principal = resolver.resolve(opaque_token())

    assert isinstance(principal, Principal)
    assert principal.kind == "opaque"
    assert principal.subject == "alice"
    assert principal.scopes == {"cart:read", "cart:write"}
    assert dict(principal.claims) == {k: v for k, v in answer.items() if k != "active"}
    assert principal.expires_at == NOW + 600
    assert principal.issuer == ISSUER


async def test_async_active_token_becomes_an_opaque_principal(
    http_server: ScriptedHTTPServer, resolver: IntrospectionResolver
) -> None:
    http_server.reply(PATH, body=active(sub="bob", scope="orders:read"))
    principal = await resolver.aresolve(opaque_token())
    assert (principal.kind, principal.subject) == ("opaque", "bob")
    assert principal.scopes == {"orders:read"}


@pytest.mark.parametrize(
    ("answer", "subject"),
    [
        pytest.param(active(sub=None, username="carol"), "carol", id="username-without-sub"),
        pytest.param(active(sub=None), "", id="neither"),
        pytest.param(active(sub=42), "", id="sub-not-a-string"),
        pytest.param({"active": True}, "", id="only-active"),
    ],
)
def test_subject_falls_back_to_username(
    http_server: ScriptedHTTPServer,
    resolver: IntrospectionResolver,
    answer: dict[str, Any],
    subject: str,
) -> None:
    http_server.reply(PATH, body=answer)
    principal = resolver.resolve(opaque_token())
    assert (principal.kind, principal.subject) == ("opaque", subject)


INACTIVE = [
    pytest.param({"active": False}, id="active-false"),
    pytest.param(active(active=False), id="active-false-with-claims"),
    pytest.param(active(exp=int(NOW) - 1), id="exp-in-the-past"),
    pytest.param(active(exp=int(NOW)), id="exp-now"),
    pytest.param(active(nbf=int(NOW) + 1), id="nbf-in-the-future"),
    pytest.param(active(iss="https://other.example"), id="wrong-iss"),
    pytest.param(active(iss=None), id="missing-iss"),
    pytest.param(active(aud="api://other"), id="wrong-aud"),
    pytest.param(active(aud=["api://other", "api://more"]), id="aud-list-without-ours"),
    pytest.param(active(aud=None), id="missing-aud"),
    pytest.param(active(aud=7), id="aud-a-number"),
    pytest.param(active(aud=True), id="aud-a-bool"),
    pytest.param(active(aud={AUDIENCE: True}), id="aud-an-object"),
    pytest.param(active(aud=AUDIENCE + "/x"), id="aud-prefix-is-not-aud"),
]


def with_modes(cases: list[Any], async_ids: set[str]) -> list[Any]:
    """Every case through the sync driver, the named ones through the async one too."""
    params = [pytest.param(*case.values, "sync", id=f"sync-{case.id}") for case in cases]
    params += [
        pytest.param(*case.values, "async", id=f"async-{case.id}")
        for case in cases
        if case.id in async_ids
    ]
    assert {p.id for p in params} >= {f"async-{i}" for i in async_ids}
    return params


@pytest.mark.parametrize(
    ("answer", "mode"),
    with_modes(INACTIVE, {"active-false", "exp-in-the-past", "wrong-iss", "aud-an-object"}),
)
async def test_inactive_answers_raise_inactive_token_error(
    http_server: ScriptedHTTPServer, clock: FrozenClock, answer: dict[str, Any], mode: str
) -> None:
    http_server.reply(PATH, body=answer)
    resolver = resolver_for(http_server.url(PATH), clock, issuer=ISSUER, audience=AUDIENCE)
    token = opaque_token()

    with pytest.raises(InactiveTokenError) as caught:
        await drive(mode, resolver.resolve, resolver.aresolve, token)
    assert type(caught.value) is InactiveTokenError
    assert (caught.value.status, caught.value.error) == (401, "invalid_token")
    assert http_server.count() == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(active(nbf=int(NOW)), id="nbf-now"),
        pytest.param(active(aud=["api://other", AUDIENCE]), id="aud-list-with-ours"),
        pytest.param(active(exp=None), id="no-exp"),
    ],
)
def test_edge_answers_that_are_active(
    http_server: ScriptedHTTPServer, clock: FrozenClock, answer: dict[str, Any]
) -> None:
    http_server.reply(PATH, body=answer)
    resolver = resolver_for(http_server.url(PATH), clock, issuer=ISSUER, audience=AUDIENCE)
    assert resolver.resolve(opaque_token()).subject == "alice"


def test_iss_and_aud_are_not_checked_unless_configured(
    http_server: ScriptedHTTPServer, resolver: IntrospectionResolver
) -> None:
    http_server.reply(PATH, body=active(iss="https://other.example", aud="api://other"))
    assert resolver.resolve(opaque_token()).subject == "alice"


# -- failures ---------------------------------------------------------------------------

BROKEN = [
    pytest.param(Reply(status=500, body="Internal Server Error"), id="status-500"),
    pytest.param(Reply(status=401, body={"error": "invalid_client"}), id="status-401"),
    pytest.param(Reply(status=403, body=active()), id="status-403-with-active-body"),
    pytest.param(Reply(status=404), id="status-404"),
    pytest.param(Reply(status=302, headers={"Location": "/elsewhere"}), id="redirect"),
    pytest.param(Reply(body=b"{not json"), id="malformed-json"),
    pytest.param(Reply(body=b"\xff\xfe"), id="not-utf8"),
    pytest.param(Reply(body=b""), id="empty-body"),
    pytest.param(
        Reply(body="<html>Maintenance</html>", headers={"Content-Type": "text/html"}),
        id="html-page-with-200",
    ),
    pytest.param(Reply(body=[active()]), id="json-array"),
    pytest.param(Reply(body="true"), id="json-scalar"),
    pytest.param(Reply(body={"sub": "alice"}), id="active-missing"),
    pytest.param(Reply(body=active(active="true")), id="active-a-string"),
    pytest.param(Reply(body=active(active=1)), id="active-a-number"),
    pytest.param(Reply(body={"active": None}), id="active-null"),
]


@pytest.mark.parametrize(
    ("reply", "mode"),
    with_modes(BROKEN, {"status-500", "redirect", "malformed-json", "active-a-string"}),
)
async def test_broken_endpoint_is_unavailable_and_not_cached(
    http_server: ScriptedHTTPServer,
    resolver: IntrospectionResolver,
    reply: Reply,
    mode: str,
) -> None:
    http_server.respond(PATH, reply)
    http_server.reply("/elsewhere", body=active())
    token = opaque_token()

    with pytest.raises(IntrospectionUnavailableError) as caught:
        await drive(mode, resolver.resolve, resolver.aresolve, token)
    assert (caught.value.status, caught.value.error) == (503, "temporarily_unavailable")
    assert http_server.count() == 1  # and redirects are not followed

    http_server.reply(PATH, body=active())  # the endpoint recovers: nothing was cached
    assert (await drive(mode, resolver.resolve, resolver.aresolve, token)).subject == "alice"
    assert http_server.count(PATH) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_connection_refused_is_unavailable(clock: FrozenClock, mode: str) -> None:
    resolver = resolver_for(refused_url(PATH), clock)
    with pytest.raises(IntrospectionUnavailableError) as caught:
        await drive(mode, resolver.resolve, resolver.aresolve, opaque_token())
    assert caught.value.status == 503


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_timeout_is_unavailable(
    http_server: ScriptedHTTPServer, clock: FrozenClock, mode: str
) -> None:
    http_server.reply(PATH, body=active(), delay=3)
    resolver = resolver_for(http_server.url(PATH), clock, timeout=0.2)
    with pytest.raises(IntrospectionUnavailableError) as caught:
        await drive(mode, resolver.resolve, resolver.aresolve, opaque_token())
    assert caught.value.status == 503
    assert http_server.count() == 1


# -- caching ----------------------------------------------------------------------------


async def test_second_resolve_is_answered_from_the_cache(
    http_server: ScriptedHTTPServer, resolver: IntrospectionResolver
) -> None:
    http_server.reply(PATH, body=active())
    token = opaque_token()
    first = resolver.resolve(token)
    assert resolver.resolve(token) == first
    assert await resolver.aresolve(token) == first  # one cache for both drivers
    assert http_server.count() == 1

    other = opaque_token()
    await resolver.aresolve(other)
    resolver.resolve(other)
    assert [r.form()["token"] for r in http_server.requests()] == [[token], [other]]


@pytest.mark.parametrize(
    ("exp_in", "cache_ttl", "cached_for"),
    [
        pytest.param(100, 300, 100, id="exp-first"),
        pytest.param(1000, 60, 60, id="cache_ttl-first"),
        pytest.param(None, 60, 60, id="no-exp"),
    ],
)
def test_active_answers_are_cached_until_exp_or_cache_ttl(
    http_server: ScriptedHTTPServer,
    clock: FrozenClock,
    exp_in: int | None,
    cache_ttl: float,
    cached_for: int,
) -> None:
    exp = None if exp_in is None else int(NOW) + exp_in
    http_server.reply(PATH, body=active(exp=exp))
    resolver = resolver_for(http_server.url(PATH), clock, cache_ttl=cache_ttl)
    token = opaque_token()
    resolver.resolve(token)

    clock.advance(cached_for - 1)
    assert resolver.resolve(token).subject == "alice"
    assert http_server.count() == 1

    clock.advance(1)
    if exp_in is not None and exp_in <= cache_ttl:
        with pytest.raises(InactiveTokenError):  # asked again: now expired
            resolver.resolve(token)
    else:
        assert resolver.resolve(token).subject == "alice"
    assert http_server.count() == 2


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"active": False}, id="active-false"),
        pytest.param(active(exp=int(NOW) - 5), id="expired"),
    ],
)
async def test_negative_answers_are_cached_for_negative_ttl(
    http_server: ScriptedHTTPServer, clock: FrozenClock, answer: dict[str, Any]
) -> None:
    http_server.reply(PATH, body=answer)
    resolver = resolver_for(http_server.url(PATH), clock, negative_ttl=30)
    token = opaque_token()
    for _ in range(5):
        with pytest.raises(InactiveTokenError):
            resolver.resolve(token)
        with pytest.raises(InactiveTokenError):
            await resolver.aresolve(token)
    assert http_server.count() == 1

    http_server.reply(PATH, body=active(exp=int(NOW) + 600))
    clock.advance(29)
    with pytest.raises(InactiveTokenError):
        resolver.resolve(token)
    assert http_server.count() == 1

    clock.advance(1)
    assert resolver.resolve(token).subject == "alice"
    assert http_server.count() == 2


def test_cache_size_zero_asks_every_time(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, body=active())
    resolver = resolver_for(http_server.url(PATH), clock, cache_size=0)
    token = opaque_token()
    for _ in range(3):
        resolver.resolve(token)
    http_server.reply(PATH, body={"active": False})
    with pytest.raises(InactiveTokenError):
        resolver.resolve(token)
    assert http_server.count() == 4


def test_a_revoked_token_is_seen_once_its_cache_entry_ends(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, body=active())
    resolver = resolver_for(http_server.url(PATH), clock, cache_ttl=10)
    token = opaque_token()
    resolver.resolve(token)
    http_server.reply(PATH, body={"active": False})  # revoked at the authorization server
    clock.advance(10)
    with pytest.raises(InactiveTokenError):
        resolver.resolve(token)


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({}, id="none"),
        pytest.param({"client_id": CLIENT_ID}, id="id-only"),
        pytest.param({"client_secret": CLIENT_SECRET}, id="secret-only"),
    ],
)
def test_credentials_are_required(credentials: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="RFC 7662"):
        IntrospectionResolver("https://issuer.example/introspect", **credentials)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:1/introspect", id="http"),
        pytest.param("ftp://issuer.example/introspect", id="ftp"),
        pytest.param("issuer.example/introspect", id="no-scheme"),
    ],
)
def test_https_is_required_without_allow_http(url: str) -> None:
    with pytest.raises(ConfigError, match=r"https://"):
        IntrospectionResolver(url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def test_allow_http_accepts_http_only() -> None:
    with pytest.raises(ConfigError):
        IntrospectionResolver(
            "ftp://issuer.example/x", client_id="a", client_secret="b", allow_http=True
        )
    resolver = IntrospectionResolver(
        "http://127.0.0.1:1/x", client_id="a", client_secret="b", allow_http=True
    )
    assert resolver.url == "http://127.0.0.1:1/x"
    https = IntrospectionResolver("https://issuer.example/x", client_id="a", client_secret="b")
    assert https.url == "https://issuer.example/x"


# -- through the validator --------------------------------------------------------------


@pytest.fixture
def opaque_validator(
    keyset: KeySet, clock: FrozenClock, resolver: IntrospectionResolver
) -> TokenValidator:
    return TokenValidator(
        keyset, issuer=ISSUER, audience=AUDIENCE, clock=clock, opaque_resolver=resolver
    )


def test_validator_sends_opaque_tokens_to_introspection(
    http_server: ScriptedHTTPServer, opaque_validator: TokenValidator, make_token: MakeToken
) -> None:
    http_server.reply(PATH, body=active(sub="bob"))
    token = opaque_token()

    principal = opaque_validator.validate(token)

    assert (principal.kind, principal.subject) == ("opaque", "bob")
    [request] = http_server.requests()
    _check_request(request, token)

    jwt_principal = opaque_validator.validate(make_token("HS256"))
    assert (jwt_principal.kind, jwt_principal.subject) == ("jwt", "alice")
    assert http_server.count() == 1  # JWTs never go to the endpoint


async def test_async_validator_sends_opaque_tokens_to_introspection(
    http_server: ScriptedHTTPServer, opaque_validator: TokenValidator, make_token: MakeToken
) -> None:
    http_server.reply(PATH, body=active(sub="bob"))
    token = opaque_token()

    principal = await opaque_validator.avalidate(token)

    assert (principal.kind, principal.subject) == ("opaque", "bob")
    [request] = http_server.requests()
    _check_request(request, token)
    assert (await opaque_validator.avalidate(make_token("EdDSA"))).kind == "jwt"
    assert http_server.count() == 1


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        pytest.param(Reply(body={"active": False}), InactiveTokenError, id="inactive"),
        pytest.param(Reply(status=500), IntrospectionUnavailableError, id="unavailable"),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_validator_passes_introspection_errors_through(
    http_server: ScriptedHTTPServer,
    opaque_validator: TokenValidator,
    reply: Reply,
    error: type[TokenError],
    mode: str,
) -> None:
    http_server.respond(PATH, reply)
    token = opaque_token()
    with pytest.raises(error) as caught:
        await drive(mode, opaque_validator.validate, opaque_validator.avalidate, token)
    assert type(caught.value) is error


def test_validator_does_not_introspect_malformed_tokens(
    http_server: ScriptedHTTPServer, opaque_validator: TokenValidator
) -> None:
    http_server.reply(PATH, body=active())
    for token in ("has space", "bad!chars", "a.b.c!", "", "=leading", "tok\nen"):
        with pytest.raises(MalformedTokenError):
            opaque_validator.validate(token)
    assert http_server.count() == 0


# -- the token stays secret -------------------------------------------------------------

SECRET_SCENARIOS = [
    pytest.param("active", id="active"),
    pytest.param("inactive", id="inactive"),
    pytest.param("status-500", id="status-500"),
    pytest.param("malformed", id="malformed"),
    pytest.param("timeout", id="timeout"),
    pytest.param("refused", id="refused"),
]


def _script(server: ScriptedHTTPServer, scenario: str, token: str) -> None:
    # Answers that echo the token, as a careless endpoint might.
    if scenario == "active":
        server.reply(PATH, body=active(sub=token))
    elif scenario == "inactive":
        server.reply(PATH, body={"active": False, "token": token})
    elif scenario == "status-500":
        server.reply(PATH, status=500, body=f"cannot introspect {token}")
    elif scenario == "malformed":
        server.reply(PATH, body=f"{{{token}")
    elif scenario == "timeout":
        server.reply(PATH, body=active(), delay=3)
    else:
        server.close()


def _assert_never_logged(caplog: pytest.LogCaptureFixture, *secrets_: str) -> None:
    assert caplog.records  # the scenario did log something
    for record in caplog.records:
        text = " ".join(
            [record.getMessage(), repr(record.args), record.exc_text or "", str(record.exc_info)]
        )
        for secret in secrets_:
            assert secret not in text, record


def _assert_not_in_error(exc: BaseException, token: str) -> None:
    seen: BaseException | None = exc
    while seen is not None:
        assert token not in str(seen)
        assert token not in repr(seen)
        assert token not in getattr(seen, "description", "")
        seen = seen.__cause__ or seen.__context__


@pytest.mark.parametrize("scenario", SECRET_SCENARIOS)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_token_never_appears_in_logs_or_errors(
    http_server: ScriptedHTTPServer,
    clock: FrozenClock,
    keyset: KeySet,
    caplog: pytest.LogCaptureFixture,
    scenario: str,
    mode: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore, asyncio
    token = opaque_token()
    _script(http_server, scenario, token)
    resolver = resolver_for(http_server.url(PATH), clock, timeout=0.2)
    validator = TokenValidator(
        keyset, issuer=ISSUER, audience=AUDIENCE, clock=clock, opaque_resolver=resolver
    )

    drivers = [(resolver.resolve, resolver.aresolve), (validator.validate, validator.avalidate)]
    for sync, async_ in drivers:  # directly, then through the validator
        try:
            await drive(mode, sync, async_, token)
        except TokenError as exc:
            assert scenario != "active"
            _assert_not_in_error(exc, token)
        else:
            assert scenario == "active"

    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    _assert_never_logged(caplog, token, CLIENT_SECRET, basic)
