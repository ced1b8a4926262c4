"""RemoteJWKS against a real HTTP server on 127.0.0.1, with a frozen clock for every TTL."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import AUDIENCE, ISSUER, FrozenClock, signing_key
from tests.core.httpserver import (
    ScriptedHTTPServer,
    async_wait_until,
    count_ca_bundle_loads,
    wait_until,
)
from tests.core.httpserver import http_server as http_server  # the fixture
from tokenguard import (
    ConfigError,
    InvalidSignatureError,
    Key,
    KeySet,
    KeySourceUnavailableError,
    RemoteJWKS,
    TokenValidator,
    UnknownKeyError,
)

PATH = "/.well-known/jwks.json"
MakeToken = Callable[..., str]


@pytest.fixture(scope="module")
def rotated_key() -> Key:
    return Key.generate("EdDSA", kid="eddsa-2")


def document(*keys: Key) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def serve(server: ScriptedHTTPServer, *keys: Key, max_age: int | None = None, **reply: Any) -> None:
    headers = {} if max_age is None else {"Cache-Control": f"max-age={max_age}"}
    server.reply(PATH, body=document(*keys), headers=headers, **reply)


def remote(url: str, clock: FrozenClock, **options: Any) -> RemoteJWKS:
    options.setdefault("timeout", 2.0)
    return RemoteJWKS(url, allow_http=True, clock=clock, **options)


def validator_for(jwks: RemoteJWKS, clock: FrozenClock) -> TokenValidator:
    # No validation cache: every token goes through the key provider.
    return TokenValidator(jwks, issuer=ISSUER, audience=AUDIENCE, clock=clock, cache_size=0)


def kids(keys: KeySet) -> set[str | None]:
    return {key.kid for key in keys}


def failures(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        1
        for r in caplog.records
        if r.name == "tokenguard.jwks" and r.levelno == logging.WARNING and "failed" in r.msg
    )


# -- fetching and TTL -------------------------------------------------------------------


def test_first_fetch_loads_the_served_keys(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    serve(http_server, signing_key("EdDSA"), signing_key("RS256"))
    jwks = remote(http_server.url(PATH), clock)
    assert jwks.keys is None
    assert http_server.count() == 0  # nothing is fetched before it is needed

    keys = jwks.get_keys()

    assert kids(keys) == {"eddsa-1", "rs256-1"}
    assert {key.alg for key in keys} == {"EdDSA", "RS256"}
    assert not any(key.can_sign for key in keys)
    assert jwks.keys is keys
    [request] = http_server.requests()
    assert (request.method, request.path) == ("GET", PATH)
    assert jwks.get_keys() is keys
    assert http_server.count() == 1


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [
        pytest.param("max-age=120", 120, id="max-age"),
        pytest.param("public, max-age=300, must-revalidate", 300, id="max-age-among-others"),
        pytest.param('max-age="240"', 240, id="quoted-max-age"),
        pytest.param("max-age=5", 60, id="clamped-to-min_ttl"),
        pytest.param("max-age=0", 60, id="zero-clamped-to-min_ttl"),
        pytest.param("max-age=999999", 3600, id="clamped-to-max_ttl"),
        pytest.param(None, 600, id="no-header-default_ttl"),
        pytest.param("no-cache", 600, id="no-max-age-default_ttl"),
        pytest.param("s-maxage=100", 600, id="s-maxage-is-not-max-age"),
    ],
)
def test_ttl_comes_from_max_age_clamped(
    http_server: ScriptedHTTPServer, clock: FrozenClock, cache_control: str | None, ttl: int
) -> None:
    headers = {"Cache-Control": cache_control} if cache_control else {}
    http_server.reply(PATH, body=document(signing_key("EdDSA")), headers=headers)
    jwks = remote(http_server.url(PATH), clock, min_ttl=60, default_ttl=600, max_ttl=3600)
    first = jwks.get_keys()

    clock.advance(ttl - 1)
    assert jwks.get_keys() is first
    assert http_server.count() == 1

    clock.advance(1)
    assert jwks.get_keys() is first  # stale: served at once, refreshed behind
    http_server.wait_for_count(2)
    wait_until(lambda: jwks.keys is not first, what="the background refresh")
    assert jwks.get_keys() is jwks.keys
    assert http_server.count() == 2


def test_stale_keys_are_served_while_one_background_fetch_runs(
    http_server: ScriptedHTTPServer, clock: FrozenClock, rotated_key: Key
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=60)
    jwks = remote(http_server.url(PATH), clock, min_ttl=60)
    old = jwks.get_keys()
    gate = threading.Event()
    serve(http_server, rotated_key, max_age=60, gate=gate)  # held until the gate opens
    clock.advance(61)

    try:
        for _ in range(25):
            assert jwks.get_keys() is old  # never waits on the held fetch
        http_server.wait_for_count(2)
        for _ in range(25):
            assert jwks.get_keys() is old
        assert http_server.count() == 2
    finally:
        gate.set()

    wait_until(lambda: jwks.keys is not old, what="the background refresh")
    assert kids(jwks.get_keys()) == {"eddsa-2"}
    assert http_server.count() == 2


async def test_async_stale_keys_are_served_while_one_background_task_runs(
    http_server: ScriptedHTTPServer, clock: FrozenClock, rotated_key: Key
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=60)
    jwks = remote(http_server.url(PATH), clock, min_ttl=60)
    old = await jwks.aget_keys()
    gate = threading.Event()
    serve(http_server, rotated_key, max_age=60, gate=gate)
    clock.advance(61)

    try:
        for _ in range(25):
            assert await jwks.aget_keys() is old
        await async_wait_until(lambda: http_server.count() == 2, what="the background fetch")
        for _ in range(25):
            assert await jwks.aget_keys() is old
        assert http_server.count() == 2
    finally:
        gate.set()

    await async_wait_until(lambda: jwks.keys is not old, what="the background refresh")
    assert kids(await jwks.aget_keys()) == {"eddsa-2"}
    assert http_server.count() == 2


# -- rotation and unknown kids ----------------------------------------------------------


def test_key_rotation_refetches_once_for_the_new_kid(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken, rotated_key: Key
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=3600)
    validator = validator_for(remote(http_server.url(PATH), clock), clock)
    assert validator.validate(make_token("EdDSA")).subject == "alice"

    serve(http_server, rotated_key, max_age=3600)  # the issuer rotates
    assert validator.validate(make_token("EdDSA", key=rotated_key, sub="bob")).subject == "bob"
    assert http_server.count() == 2
    assert validator.validate(make_token("EdDSA", key=rotated_key)).subject == "alice"
    assert http_server.count() == 2

    # The withdrawn key is gone, and asking for it again does not refetch at once.
    with pytest.raises(UnknownKeyError):
        validator.validate(make_token("EdDSA"))
    assert http_server.count() == 2


async def test_async_key_rotation_refetches_once_for_the_new_kid(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken, rotated_key: Key
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=3600)
    validator = validator_for(remote(http_server.url(PATH), clock), clock)
    assert (await validator.avalidate(make_token("EdDSA"))).subject == "alice"

    serve(http_server, rotated_key, max_age=3600)
    principal = await validator.avalidate(make_token("EdDSA", key=rotated_key, sub="bob"))
    assert principal.subject == "bob"
    assert http_server.count() == 2
    await validator.avalidate(make_token("EdDSA", key=rotated_key))
    assert http_server.count() == 2


def test_forged_kids_cause_at_most_one_fetch_per_interval(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=3600)
    jwks = remote(http_server.url(PATH), clock, unknown_kid_interval=60)
    validator = validator_for(jwks, clock)
    validator.validate(make_token("EdDSA"))
    assert http_server.count() == 1

    def forged() -> str:
        return make_token("EdDSA", header={"kid": secrets.token_urlsafe(12)})

    for _ in range(50):
        with pytest.raises(UnknownKeyError):
            validator.validate(forged())
    assert http_server.count() == 2

    clock.advance(59)
    with pytest.raises(UnknownKeyError):
        validator.validate(forged())
    assert http_server.count() == 2

    clock.advance(1)
    for _ in range(20):
        with pytest.raises(UnknownKeyError):
            validator.validate(forged())
    assert http_server.count() == 3
    validator.validate(make_token("EdDSA"))  # the real key still works throughout
    assert http_server.count() == 3


async def test_async_forged_kids_cause_at_most_one_fetch_per_interval(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=3600)
    validator = validator_for(remote(http_server.url(PATH), clock), clock)
    await validator.avalidate(make_token("EdDSA"))

    async def attempt() -> None:
        with pytest.raises(UnknownKeyError):
            await validator.avalidate(
                make_token("EdDSA", header={"kid": secrets.token_urlsafe(12)})
            )

    await asyncio.gather(*(attempt() for _ in range(50)))
    assert http_server.count() == 2


# -- single flight ----------------------------------------------------------------------


def _in_threads(call: Callable[[], object], count: int = 20) -> list[object]:
    barrier = threading.Barrier(count)

    def run() -> object:
        barrier.wait(5)
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: run(), range(count)))


def test_concurrent_threads_on_a_cold_cache_share_one_fetch(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    serve(http_server, signing_key("EdDSA"), delay=0.3)
    jwks = remote(http_server.url(PATH), clock)

    results = _in_threads(jwks.get_keys)

    assert http_server.count() == 1
    assert all(isinstance(r, KeySet) for r in results), results
    assert len({id(r) for r in results}) == 1


def test_concurrent_threads_share_one_failing_fetch(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, status=500, body="boom", delay=0.3)
    jwks = remote(http_server.url(PATH), clock)

    results = _in_threads(jwks.get_keys)

    assert http_server.count() == 1  # not one more attempt per waiting thread
    assert all(type(r) is KeySourceUnavailableError for r in results), results


async def test_concurrent_tasks_on_a_cold_cache_share_one_fetch(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    serve(http_server, signing_key("EdDSA"), delay=0.3)
    jwks = remote(http_server.url(PATH), clock)

    results = await asyncio.gather(*(jwks.aget_keys() for _ in range(20)))

    assert http_server.count() == 1
    assert len({id(r) for r in results}) == 1
    assert kids(results[0]) == {"eddsa-1"}


async def test_concurrent_tasks_share_one_failing_fetch(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, status=500, body="boom", delay=0.3)
    jwks = remote(http_server.url(PATH), clock)

    results = await asyncio.gather(*(jwks.aget_keys() for _ in range(20)), return_exceptions=True)

    assert http_server.count() == 1
    assert all(type(r) is KeySourceUnavailableError for r in results), results


# -- outages ----------------------------------------------------------------------------

OUTAGES = [
    pytest.param("status-500", id="status-500"),
    pytest.param("status-404", id="status-404"),
    pytest.param("refused", id="connection-refused"),
    pytest.param("timeout", id="timeout"),
]


def break_server(server: ScriptedHTTPServer, outage: str) -> None:
    if outage == "status-500":
        server.reply(PATH, status=500, body="Internal Server Error")
    elif outage == "status-404":
        server.reply(PATH, status=404, body={"keys": []})
    elif outage == "refused":
        server.close()
    else:
        serve(server, signing_key("EdDSA"), delay=3)  # longer than the 0.2 s timeout


@pytest.mark.parametrize("outage", OUTAGES)
def test_outage_keeps_the_last_good_keys(
    http_server: ScriptedHTTPServer,
    clock: FrozenClock,
    make_token: MakeToken,
    caplog: pytest.LogCaptureFixture,
    outage: str,
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=60)
    jwks = remote(http_server.url(PATH), clock, min_ttl=60, timeout=0.2, retry_interval=30)
    validator = validator_for(jwks, clock)
    validator.validate(make_token("EdDSA"))
    good = jwks.keys
    break_server(http_server, outage)

    clock.advance(61)
    assert validator.validate(make_token("EdDSA")).subject == "alice"  # stale keys, at once
    wait_until(lambda: failures(caplog) == 1, what="the failed background fetch")
    assert jwks.keys is good
    assert validator.validate(make_token("EdDSA")).subject == "alice"

    # A blocking refetch for an unknown kid fails the same way and keeps the keys too.
    clock.advance(30)
    assert jwks.get_keys("eddsa-new") is good
    assert failures(caplog) == 2
    assert validator.validate(make_token("EdDSA")).subject == "alice"
    assert failures(caplog) == 2  # no attempt before retry_interval has passed


@pytest.mark.parametrize("outage", OUTAGES)
async def test_async_outage_keeps_the_last_good_keys(
    http_server: ScriptedHTTPServer,
    clock: FrozenClock,
    make_token: MakeToken,
    caplog: pytest.LogCaptureFixture,
    outage: str,
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=60)
    jwks = remote(http_server.url(PATH), clock, min_ttl=60, timeout=0.2)
    validator = validator_for(jwks, clock)
    await validator.avalidate(make_token("EdDSA"))
    good = jwks.keys
    break_server(http_server, outage)

    clock.advance(61)
    assert (await validator.avalidate(make_token("EdDSA"))).subject == "alice"
    await async_wait_until(lambda: failures(caplog) == 1, what="the failed background fetch")
    assert jwks.keys is good
    assert await jwks.aget_keys("eddsa-new") is good
    assert failures(caplog) == 1  # no attempt before retry_interval has passed
    clock.advance(30)
    assert await jwks.aget_keys("eddsa-new") is good
    assert failures(caplog) == 2
    assert (await validator.avalidate(make_token("EdDSA"))).subject == "alice"


def test_recovers_after_retry_interval(
    http_server: ScriptedHTTPServer,
    clock: FrozenClock,
    rotated_key: Key,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=60)
    jwks = remote(http_server.url(PATH), clock, min_ttl=60, retry_interval=30)
    good = jwks.get_keys()
    http_server.reply(PATH, status=503)
    clock.advance(60)
    assert jwks.get_keys() is good
    wait_until(lambda: failures(caplog) == 1, what="the failed background fetch")

    serve(http_server, rotated_key, max_age=60)
    clock.advance(29)
    for _ in range(10):
        assert jwks.get_keys() is good
    assert http_server.count() == 2  # the failure pushed the next attempt 30 s out

    clock.advance(1)
    assert jwks.get_keys() is good
    wait_until(lambda: jwks.keys is not good, what="the refresh after the outage")
    assert kids(jwks.get_keys()) == {"eddsa-2"}
    assert http_server.count() == 3


@pytest.mark.parametrize("outage", OUTAGES)
def test_no_keys_ever_fails_closed_with_503(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken, outage: str
) -> None:
    break_server(http_server, outage)
    jwks = remote(http_server.url(PATH), clock, timeout=0.2)
    validator = validator_for(jwks, clock)

    with pytest.raises(KeySourceUnavailableError) as caught:
        validator.validate(make_token("EdDSA"))
    assert caught.value.status == 503
    assert caught.value.error == "temporarily_unavailable"
    assert jwks.keys is None
    if outage != "refused":
        assert http_server.count() == 1


def test_no_keys_retries_only_every_retry_interval(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, status=500)
    jwks = remote(http_server.url(PATH), clock, retry_interval=30)

    for _ in range(10):
        with pytest.raises(KeySourceUnavailableError):
            jwks.get_keys()
    assert http_server.count() == 1

    clock.advance(29)
    with pytest.raises(KeySourceUnavailableError):
        jwks.get_keys("some-kid")
    assert http_server.count() == 1

    clock.advance(1)
    serve(http_server, signing_key("EdDSA"))
    assert kids(jwks.get_keys()) == {"eddsa-1"}
    assert http_server.count() == 2


async def test_async_no_keys_fails_closed_and_waits_retry_interval(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, status=500)
    jwks = remote(http_server.url(PATH), clock, retry_interval=30)

    for _ in range(5):
        with pytest.raises(KeySourceUnavailableError) as caught:
            await jwks.aget_keys()
        assert caught.value.status == 503
    assert http_server.count() == 1

    clock.advance(30)
    serve(http_server, signing_key("EdDSA"))
    assert kids(await jwks.aget_keys()) == {"eddsa-1"}
    assert http_server.count() == 2


# -- garbage documents ------------------------------------------------------------------


def _usable() -> dict[str, Any]:
    return signing_key("EdDSA").public_jwk()


GARBAGE = [
    pytest.param({"body": b"this is not json"}, id="not-json"),
    pytest.param({"body": b"\xff\xfe{\x00"}, id="not-utf8"),
    pytest.param({"body": [_usable()]}, id="json-array"),
    pytest.param({"body": None}, id="json-null"),
    pytest.param({"body": {"keys": "x"}}, id="keys-not-a-list"),
    pytest.param({"body": {"jwks": [_usable()]}}, id="no-keys-member"),
    pytest.param({"body": {"keys": []}}, id="empty-keys"),
    pytest.param(
        {"body": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "alg": "EdDSA"}]}},
        id="bad-key-material",
    ),
    pytest.param({"body": {"keys": [dict(_usable(), use="enc")]}}, id="only-encryption-keys"),
    pytest.param({"body": {"keys": [dict(_usable(), alg="none")]}}, id="alg-none"),
    pytest.param({"body": {"keys": [dict(_usable(), key_ops=[{}])]}}, id="unhashable-key_ops"),
    pytest.param({"body": {"keys": [1, "x", None]}}, id="keys-not-objects"),
    pytest.param({"body": {"keys": [_usable(), _usable()]}}, id="duplicate-kids"),
    pytest.param({"body": b"[" * 4000}, id="deeply-nested"),
    pytest.param(
        {"body": {"keys": [_usable()], "padding": "x" * 5000}}, id="larger-than-max_bytes"
    ),
    pytest.param(
        {
            "body": "<html><body><h1>Maintenance</h1></body></html>",
            "headers": {"Content-Type": "text/html"},
        },
        id="html-page-with-200",
    ),
    pytest.param({"status": 204}, id="no-content"),
    pytest.param({"status": 301, "headers": {"Location": "/elsewhere"}}, id="redirect"),
]


@pytest.mark.parametrize("reply", GARBAGE)
def test_garbage_document_without_keys_fails_closed(
    http_server: ScriptedHTTPServer, clock: FrozenClock, reply: dict[str, Any]
) -> None:
    http_server.reply(PATH, **reply)
    http_server.reply("/elsewhere", body=document(signing_key("EdDSA")))
    jwks = remote(http_server.url(PATH), clock, max_bytes=4096)

    with pytest.raises(KeySourceUnavailableError) as caught:
        jwks.get_keys()
    assert caught.value.status == 503
    assert jwks.keys is None
    assert http_server.count() == 1  # redirects are not followed


@pytest.mark.parametrize("reply", GARBAGE)
def test_garbage_document_keeps_the_last_good_keys(
    http_server: ScriptedHTTPServer,
    clock: FrozenClock,
    make_token: MakeToken,
    reply: dict[str, Any],
) -> None:
    serve(http_server, signing_key("EdDSA"))
    jwks = remote(http_server.url(PATH), clock, max_bytes=4096)
    validator = validator_for(jwks, clock)
    good = jwks.get_keys()
    http_server.reply(PATH, **reply)

    # An unknown kid forces a blocking refetch, which gets the garbage.
    assert jwks.get_keys("eddsa-new") is good
    assert http_server.count() == 2
    assert validator.validate(make_token("EdDSA")).subject == "alice"


async def test_async_garbage_document_keeps_the_last_good_keys(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    serve(http_server, signing_key("EdDSA"))
    jwks = remote(http_server.url(PATH), clock)
    good = await jwks.aget_keys()
    http_server.reply(PATH, body={"keys": [dict(_usable(), key_ops=[{}])]})

    assert await jwks.aget_keys("eddsa-new") is good
    assert http_server.count() == 2


def test_document_at_max_bytes_is_accepted(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    size = len(json.dumps(document(signing_key("EdDSA"))).encode())
    serve(http_server, signing_key("EdDSA"))
    with pytest.raises(KeySourceUnavailableError):
        remote(http_server.url(PATH), clock, max_bytes=size - 1).get_keys()
    assert kids(remote(http_server.url(PATH), clock, max_bytes=size).get_keys()) == {"eddsa-1"}


def test_unusable_entries_are_skipped_next_to_usable_ones(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(
        PATH,
        body={
            "keys": [
                {"kty": "RSA", "use": "enc", "kid": "enc-1", "n": "AQAB", "e": "AQAB"},
                {"kty": "unknown", "kid": "x-1"},
                signing_key("ES256").public_jwk(),
            ]
        },
    )
    assert kids(remote(http_server.url(PATH), clock).get_keys()) == {"es256-1"}


def test_published_hmac_secrets_are_never_trusted(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken
) -> None:
    # A JWKS is public: an oct key in it would let anyone mint tokens.
    secret = {"kty": "oct", "alg": "HS256", "kid": "hs-pub", "k": "A" * 43}
    http_server.reply(PATH, body={"keys": [secret, signing_key("ES256").public_jwk()]})
    jwks = remote(http_server.url(PATH), clock)
    assert kids(jwks.get_keys()) == {"es256-1"}
    forged = make_token("HS256", key=Key.hmac(b"\x00" * 32, kid="hs-pub"))
    validator = TokenValidator(jwks, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    with pytest.raises(UnknownKeyError) as excinfo:
        validator.validate(forged)
    assert type(excinfo.value) is UnknownKeyError


def test_a_document_of_only_hmac_secrets_is_unusable(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, body={"keys": [{"kty": "oct", "alg": "HS256", "k": "A" * 43}]})
    with pytest.raises(KeySourceUnavailableError):
        remote(http_server.url(PATH), clock).get_keys()


# -- JWKs without alg -------------------------------------------------------------------


def _without_alg(key: Key) -> dict[str, Any]:
    jwk = key.public_jwk()
    del jwk["alg"]
    return jwk


def test_jwks_without_alg_are_skipped(http_server: ScriptedHTTPServer, clock: FrozenClock) -> None:
    http_server.reply(
        PATH, body={"keys": [_without_alg(signing_key("EdDSA")), signing_key("ES256").public_jwk()]}
    )
    assert kids(remote(http_server.url(PATH), clock).get_keys()) == {"es256-1"}


def test_document_with_only_alg_less_jwks_is_unusable(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    http_server.reply(PATH, body={"keys": [_without_alg(signing_key("EdDSA"))]})
    with pytest.raises(KeySourceUnavailableError):
        remote(http_server.url(PATH), clock).get_keys()


def test_default_alg_binds_alg_less_jwks(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken
) -> None:
    http_server.reply(
        PATH, body={"keys": [_without_alg(signing_key("EdDSA")), signing_key("ES256").public_jwk()]}
    )
    jwks = remote(http_server.url(PATH), clock, default_alg="EdDSA")
    keys = jwks.get_keys()
    assert {(key.kid, key.alg) for key in keys} == {("eddsa-1", "EdDSA"), ("es256-1", "ES256")}
    validator = validator_for(jwks, clock)
    assert validator.validate(make_token("EdDSA")).subject == "alice"
    assert validator.validate(make_token("ES256")).subject == "alice"


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:1/jwks", id="http"),
        pytest.param("HTTP://127.0.0.1:1/jwks", id="upper-case-http"),
        pytest.param("ftp://issuer.example/jwks", id="ftp"),
        pytest.param("issuer.example/jwks", id="no-scheme"),
        pytest.param("", id="empty"),
    ],
)
def test_plain_http_needs_allow_http(url: str) -> None:
    with pytest.raises(ConfigError, match=r"https://"):
        RemoteJWKS(url)


def test_allow_http_still_refuses_other_schemes() -> None:
    with pytest.raises(ConfigError):
        RemoteJWKS("ftp://issuer.example/jwks", allow_http=True)
    assert RemoteJWKS("https://issuer.example/jwks").url == "https://issuer.example/jwks"
    assert RemoteJWKS("http://127.0.0.1:1/jwks", allow_http=True).keys is None


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"min_ttl": 0}, id="zero-min_ttl"),
        pytest.param({"min_ttl": 700}, id="min-above-default"),
        pytest.param({"max_ttl": 500}, id="max-below-default"),
    ],
)
def test_inconsistent_ttls_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RemoteJWKS("https://issuer.example/jwks", **options)


async def test_the_ca_bundle_is_read_once_not_per_fetch(
    http_server: ScriptedHTTPServer, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = count_ca_bundle_loads(monkeypatch)
    serve(http_server, signing_key("EdDSA"))
    jwks = remote(http_server.url(PATH), clock, unknown_kid_interval=1)
    for _ in range(3):
        clock.advance(1)
        jwks.get_keys(secrets.token_hex(4))
        clock.advance(1)
        await jwks.aget_keys(secrets.token_hex(4))
    assert http_server.count() == 6
    assert len(loads) <= 1


# -- end to end -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["EdDSA", "RS256", "ES256", "PS256"])
def test_validator_checks_tokens_signed_by_the_served_key(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken, alg: str
) -> None:
    serve(http_server, *(signing_key(a) for a in ("EdDSA", "RS256", "ES256", "PS256")))
    validator = TokenValidator(
        remote(http_server.url(PATH), clock), issuer=ISSUER, audience=AUDIENCE, clock=clock
    )
    principal = validator.validate(make_token(alg))
    assert (principal.subject, principal.kind) == ("alice", "jwt")
    assert principal.scopes == {"cart:read", "cart:write"}
    assert http_server.count() == 1


async def test_validator_checks_tokens_signed_by_the_served_key_async(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken
) -> None:
    serve(http_server, signing_key("EdDSA"), signing_key("RS256"))
    validator = validator_for(remote(http_server.url(PATH), clock), clock)
    assert (await validator.avalidate(make_token("EdDSA"))).subject == "alice"
    assert (await validator.avalidate(make_token("RS256", sub="bob"))).subject == "bob"
    assert http_server.count() == 1


def test_a_key_not_served_does_not_verify(
    http_server: ScriptedHTTPServer, clock: FrozenClock, make_token: MakeToken, rotated_key: Key
) -> None:
    serve(http_server, signing_key("EdDSA"))
    validator = validator_for(remote(http_server.url(PATH), clock), clock)
    # Signed with another key under the served kid: the signature must not verify.
    impostor = make_token("EdDSA", key=rotated_key, header={"kid": "eddsa-1"})
    with pytest.raises(InvalidSignatureError):
        validator.validate(impostor)


def test_shared_clients_are_used_and_left_open(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    serve(http_server, signing_key("EdDSA"), max_age=60)
    with httpx.Client(headers={"X-Test": "shared"}) as client:
        jwks = remote(http_server.url(PATH), clock, client=client)
        jwks.get_keys()
        jwks.get_keys("another-kid")
        assert not client.is_closed
    assert [r.headers.get("x-test") for r in http_server.requests()] == ["shared", "shared"]


async def test_shared_async_client_is_used(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    serve(http_server, signing_key("EdDSA"))
    async with httpx.AsyncClient(headers={"X-Test": "shared-async"}) as client:
        jwks = remote(http_server.url(PATH), clock, async_client=client)
        await jwks.aget_keys()
    assert [r.headers.get("x-test") for r in http_server.requests()] == ["shared-async"]


def test_a_compressed_bomb_is_cut_off_while_it_is_read(
    http_server: ScriptedHTTPServer, clock: FrozenClock
) -> None:
    # 64 MiB of JSON-ish bytes in ~64 KiB of gzip: the limit must stop the decompression,
    # not judge the document after all of it sits in memory.
    import gzip
    import tracemalloc

    bomb = gzip.compress(b'{"keys": [' + b" " * (64 * 1024 * 1024) + b"]}", compresslevel=9)
    http_server.reply(PATH, body=bomb, headers={"Content-Encoding": "gzip"})
    jwks = remote(http_server.url(PATH), clock, max_bytes=4096)
    tracemalloc.start()
    try:
        with pytest.raises(KeySourceUnavailableError):
            jwks.get_keys()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
