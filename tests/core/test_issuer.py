"""TokenIssuer: login, rotation, reuse detection, revocation and key rotation."""

from __future__ import annotations

import json
import logging
import math
import secrets
import sys
import threading
import time
from typing import Any

import pytest

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock, signing_key
from tokenguard import (
    BackendUnavailableError,
    ConfigError,
    ExpiredTokenError,
    InactiveTokenError,
    Key,
    MalformedTokenError,
    RevokedTokenError,
    UnknownKeyError,
)
from tokenguard._jose import b64url_decode
from tokenguard.issuer import RESERVED_CLAIMS, TokenIssuer, TokenPair
from tokenguard.keyring import SigningKeys
from tokenguard.stores import MemoryStore, hash_token

GRACE = 5


@pytest.fixture
def memory(clock: FrozenClock) -> MemoryStore:
    return MemoryStore(clock=clock)


def make_issuer(
    memory: MemoryStore, clock: FrozenClock, key: Key | SigningKeys | None = None, **options: Any
) -> TokenIssuer:
    options.setdefault("refresh_grace", GRACE)
    return TokenIssuer(
        key or signing_key("EdDSA"),
        store=memory,
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
        **options,
    )


@pytest.fixture
def issuer(memory: MemoryStore, clock: FrozenClock) -> TokenIssuer:
    return make_issuer(memory, clock)


def header_of(token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(token.split(".")[0]))
    return header


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


def raises_exactly(cls: type[BaseException], func: Any, *args: Any) -> BaseException:
    with pytest.raises(cls) as info:
        func(*args)
    assert type(info.value) is cls, repr(info.value)
    return info.value


async def araises_exactly(cls: type[BaseException], coro: Any) -> BaseException:
    with pytest.raises(cls) as info:
        await coro
    assert type(info.value) is cls, repr(info.value)
    return info.value


# -- login ------------------------------------------------------------------------------


def test_issue_pair_access_token_validates(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice", scopes=["cart:write", "cart:read", "cart:read"])
    principal = issuer.validator().validate(pair.access_token)
    assert principal.subject == "alice"
    assert principal.kind == "jwt"
    assert principal.scopes == {"cart:read", "cart:write"}
    assert pair.expires_in == 900
    assert pair.refresh_expires_in == 14 * 86_400
    assert pair.token_type == "Bearer"


def test_access_token_header_and_claims(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice", scopes=["cart:write", "cart:read", "cart:read"])
    assert header_of(pair.access_token) == {"alg": "EdDSA", "typ": "at+jwt", "kid": "eddsa-1"}
    claims = claims_of(pair.access_token)
    jti = claims.pop("jti")
    assert type(jti) is str
    assert type(claims.pop("sid")) is str  # the refresh family
    assert len(jti) >= 16
    assert claims == {
        "iss": ISSUER,
        "sub": "alice",
        "aud": AUDIENCE,
        "iat": int(NOW),
        "exp": int(NOW) + 900,
        "scope": "cart:read cart:write",
        "auth_time": int(NOW),
        "fresh": True,
        "client_id": ISSUER,  # RFC 9068 section 2.2: required; the issuer by default
    }
    assert type(claims["iat"]) is int
    assert claims_of(issuer.issue_pair("alice").access_token)["jti"] != jti


def test_no_scope_claim_without_scopes(issuer: TokenIssuer) -> None:
    assert "scope" not in claims_of(issuer.issue_pair("alice").access_token)


def test_iat_has_millisecond_precision(issuer: TokenIssuer, clock: FrozenClock) -> None:
    clock.advance(0.0127)
    claims = claims_of(issuer.issue_pair("alice").access_token)
    assert claims["iat"] == math.floor((NOW + 0.0127) * 1000) / 1000
    # exp is rounded up, so the token never dies before the expires_in its client was told.
    assert claims["exp"] == int(NOW) + 1 + 900
    assert claims["exp"] - claims["iat"] >= 900


def test_a_key_without_kid_signs_as_kid_1(memory: MemoryStore, clock: FrozenClock) -> None:
    issuer = make_issuer(memory, clock, Key.hmac(b"k" * 32))
    pair = issuer.issue_pair("alice")
    assert header_of(pair.access_token) == {"alg": "HS256", "typ": "at+jwt", "kid": "1"}
    assert issuer.validator().validate(pair.access_token).subject == "alice"
    assert issuer.jwks() == {"keys": []}  # HMAC secrets are never published


def test_refresh_drops_fresh_and_keeps_auth_time(issuer: TokenIssuer, clock: FrozenClock) -> None:
    login = issuer.issue_pair("alice", scopes=["a"], claims={"tenant": "acme"})
    clock.advance(100)
    first = issuer.refresh(login.refresh_token)
    clock.advance(100)
    second = issuer.refresh(first.refresh_token)
    for pair, issued in ((first, NOW + 100), (second, NOW + 200)):
        claims = claims_of(pair.access_token)
        assert "fresh" not in claims
        assert claims["auth_time"] == int(NOW)
        assert claims["iat"] == int(issued)
        assert claims["exp"] == int(issued) + 900
        assert claims["scope"] == "a"
        assert claims["tenant"] == "acme"
    jtis = {claims_of(p.access_token)["jti"] for p in (login, first, second)}
    assert len(jtis) == 3


def test_extra_claims_are_carried_and_kept_across_refresh(
    issuer: TokenIssuer, clock: FrozenClock
) -> None:
    extra = {"tenant": {"id": 7, "name": "acme"}, "roles": ["admin", "ops"], "n": 1.5}
    pair = issuer.issue_pair("alice", claims=extra)
    clock.advance(1)
    refreshed = issuer.refresh(pair.refresh_token)
    for token in (pair.access_token, refreshed.access_token):
        claims = claims_of(token)
        assert {k: claims[k] for k in extra} == extra
    principal = issuer.validator().validate(refreshed.access_token)
    assert principal.claims["roles"] == ["admin", "ops"]


@pytest.mark.parametrize("name", sorted(RESERVED_CLAIMS))
def test_reserved_claims_are_refused(issuer: TokenIssuer, memory: MemoryStore, name: str) -> None:
    claims = {"tenant": "acme", name: "x"}
    raises_exactly(ConfigError, lambda: issuer.issue_pair("alice", claims=claims))
    raises_exactly(ConfigError, lambda: issuer.issue_access("alice", claims=claims))
    raises_exactly(ConfigError, lambda: issuer.issue_opaque("alice", claims=claims))
    assert len(memory._tokens) == 0  # nothing was stored


# -- refresh rotation -------------------------------------------------------------------


def test_refresh_rotates_into_a_new_pair(
    issuer: TokenIssuer, memory: MemoryStore, clock: FrozenClock
) -> None:
    login = issuer.issue_pair("alice")
    clock.advance(60)
    pair = issuer.refresh(login.refresh_token)
    assert pair.access_token != login.access_token
    assert pair.refresh_token != login.refresh_token
    assert issuer.validator().validate(pair.access_token).subject == "alice"
    old = memory.get(hash_token(login.refresh_token))
    new = memory.get(hash_token(pair.refresh_token))
    assert old is not None
    assert new is not None
    assert old.retired_at == NOW + 60
    assert old.successor is not None
    assert new.retired_at is None
    assert new.family_id == old.family_id
    assert new.issued_at == NOW + 60
    # The new token rotates in turn.
    clock.advance(60)
    assert issuer.refresh(pair.refresh_token).refresh_token != pair.refresh_token


def test_grace_window_returns_the_identical_pair(issuer: TokenIssuer, clock: FrozenClock) -> None:
    login = issuer.issue_pair("alice")
    clock.advance(10)
    pair = issuer.refresh(login.refresh_token)
    assert issuer.refresh(login.refresh_token) == pair  # same instant: equal in every field
    clock.advance(GRACE)  # the last moment of the window
    again = issuer.refresh(login.refresh_token)
    assert (again.access_token, again.refresh_token) == (pair.access_token, pair.refresh_token)
    # Lifetimes are what remains of the stored successor's, not a fresh pair's.
    assert again.expires_in == pair.expires_in - GRACE
    assert again.refresh_expires_in == pair.refresh_expires_in - GRACE
    # The family is still alive: the successor rotates normally.
    nxt = issuer.refresh(pair.refresh_token)
    assert issuer.validator().validate(nxt.access_token).subject == "alice"


def test_reuse_after_grace_revokes_the_whole_family(
    issuer: TokenIssuer,
    memory: MemoryStore,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    login = issuer.issue_pair("alice")
    first = issuer.refresh(login.refresh_token)
    clock.advance(1)
    newest = issuer.refresh(first.refresh_token)
    clock.advance(GRACE + 0.001)
    with caplog.at_level(logging.WARNING, logger="tokenguard.issuer"):
        raises_exactly(RevokedTokenError, issuer.refresh, login.refresh_token)
    raises_exactly(RevokedTokenError, issuer.refresh, newest.refresh_token)
    raises_exactly(RevokedTokenError, issuer.refresh, first.refresh_token)
    record = memory.get(hash_token(newest.refresh_token))
    assert record is not None
    assert record.family_id is not None
    assert memory.family_revoked(record.family_id)
    # Other families of the same subject are untouched.
    other = issuer.issue_pair("alice")
    issuer.refresh(other.refresh_token)
    assert "reuse" in caplog.text
    for token in (login, first, newest):
        assert token.refresh_token not in caplog.text
        assert token.access_token not in caplog.text


@pytest.mark.parametrize(
    ("token", "error"),
    [
        pytest.param("", MalformedTokenError, id="empty"),
        pytest.param("not a token", MalformedTokenError, id="spaces"),
        pytest.param("tøken", MalformedTokenError, id="non-ascii"),
        pytest.param("abc\n", MalformedTokenError, id="newline"),
        pytest.param("a" * 257, MalformedTokenError, id="over-long"),
        pytest.param(None, MalformedTokenError, id="none"),
        pytest.param(b"bytes-token", MalformedTokenError, id="bytes"),
        pytest.param("a" * 256, InactiveTokenError, id="longest-unknown"),
        pytest.param("unknown-but-well-formed", InactiveTokenError, id="unknown"),
    ],
)
def test_refresh_of_garbage_or_unknown_tokens(
    issuer: TokenIssuer, token: Any, error: type[Exception]
) -> None:
    issuer.issue_pair("alice")
    exc = raises_exactly(error, issuer.refresh, token)
    if isinstance(token, str) and token:
        assert token not in str(exc)


def test_refresh_with_an_access_token_is_refused(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice")
    # A JWT is longer than any refresh token may be: refused before any lookup.
    assert len(pair.access_token) > 256
    raises_exactly(MalformedTokenError, issuer.refresh, pair.access_token)
    opaque = issuer.issue_opaque("alice")
    raises_exactly(InactiveTokenError, issuer.refresh, opaque)


def test_idle_timeout(memory: MemoryStore, clock: FrozenClock) -> None:
    issuer = make_issuer(memory, clock, refresh_ttl=10_000, idle_timeout=300)
    login = issuer.issue_pair("alice")
    assert login.refresh_expires_in == 300
    clock.advance(299)
    pair = issuer.refresh(login.refresh_token)
    assert pair.refresh_expires_in == 300
    clock.advance(300)  # unused for idle_timeout seconds
    raises_exactly(InactiveTokenError, issuer.refresh, pair.refresh_token)


def test_rotation_never_extends_the_family_end(memory: MemoryStore, clock: FrozenClock) -> None:
    issuer = make_issuer(memory, clock, refresh_ttl=1_000, idle_timeout=300)
    pair = issuer.issue_pair("alice")
    family_end = NOW + 1_000
    for _ in range(3):
        clock.advance(250)
        pair = issuer.refresh(pair.refresh_token)
        assert pair.refresh_expires_in == min(300, int(family_end - clock.now))
        record = memory.get(hash_token(pair.refresh_token))
        assert record is not None
        assert record.family_expires_at == family_end
        assert record.expires_at == min(family_end, clock.now + 300)
    clock.advance(249)  # NOW + 999
    pair = issuer.refresh(pair.refresh_token)
    assert pair.refresh_expires_in == 1
    clock.advance(1)  # the family's absolute end
    raises_exactly(InactiveTokenError, issuer.refresh, pair.refresh_token)


def test_refresh_ttl_is_absolute_without_idle_timeout(
    memory: MemoryStore, clock: FrozenClock
) -> None:
    issuer = make_issuer(memory, clock, refresh_ttl=1_000)
    login = issuer.issue_pair("alice")
    assert login.refresh_expires_in == 1_000
    clock.advance(600)
    pair = issuer.refresh(login.refresh_token)
    assert pair.refresh_expires_in == 400
    clock.advance(400)
    raises_exactly(InactiveTokenError, issuer.refresh, pair.refresh_token)


# -- revocation -------------------------------------------------------------------------


def test_revoke_refresh_logs_the_family_out(issuer: TokenIssuer, clock: FrozenClock) -> None:
    login = issuer.issue_pair("alice")
    clock.advance(1)
    pair = issuer.refresh(login.refresh_token)
    other = issuer.issue_pair("alice")  # another device: another family
    assert issuer.revoke_refresh(pair.refresh_token) is True
    raises_exactly(RevokedTokenError, issuer.refresh, pair.refresh_token)
    # Within the grace window, the retired token yields nothing either.
    raises_exactly(RevokedTokenError, issuer.refresh, login.refresh_token)
    assert issuer.revoke_refresh(login.refresh_token) is True  # retired, still known
    assert issuer.refresh(other.refresh_token).refresh_token
    assert issuer.revoke_refresh(secrets.token_urlsafe(32)) is False
    raises_exactly(MalformedTokenError, issuer.revoke_refresh, "bad token")


def test_revoke_access_by_jti_also_on_a_cache_hit(issuer: TokenIssuer, clock: FrozenClock) -> None:
    validator = issuer.validator()
    pair, kept = issuer.issue_pair("alice"), issuer.issue_pair("alice")
    principal = validator.validate(pair.access_token)  # now cached
    validator.validate(kept.access_token)
    issuer.revoke_access(principal)
    raises_exactly(RevokedTokenError, validator.validate, pair.access_token)
    raises_exactly(RevokedTokenError, issuer.validator().validate, pair.access_token)
    assert validator.validate(kept.access_token).subject == "alice"
    # The refresh token was not touched: logout does that.
    assert issuer.refresh(pair.refresh_token).access_token
    clock.advance(900)  # the denylist entry ends with the token
    raises_exactly(ExpiredTokenError, issuer.validator().validate, pair.access_token)


def test_revoke_access_needs_jti_and_exp(issuer: TokenIssuer) -> None:
    opaque = issuer.validator().validate(issuer.issue_opaque("alice"))
    raises_exactly(ConfigError, issuer.revoke_access, opaque)


def test_revoke_subject(issuer: TokenIssuer, clock: FrozenClock) -> None:
    validator = issuer.validator()
    alice, bob = issuer.issue_pair("alice"), issuer.issue_pair("bob")
    opaque = issuer.issue_opaque("alice")
    validator.validate(alice.access_token)  # cached
    # Revoked at the very instant the tokens were issued: they are held "now", so they go.
    issuer.revoke_subject("alice")
    raises_exactly(RevokedTokenError, validator.validate, alice.access_token)
    raises_exactly(RevokedTokenError, validator.validate, opaque)
    raises_exactly(RevokedTokenError, issuer.refresh, alice.refresh_token)
    assert validator.validate(bob.access_token).subject == "bob"
    assert issuer.refresh(bob.refresh_token).access_token
    # A new login works once the clock has moved on by a millisecond or more: access
    # tokens carry iat floored to the millisecond, so a login within the same millisecond
    # as the revocation cannot prove it came after it, and is refused (fail closed).
    clock.advance(0.002)
    fresh = issuer.issue_pair("alice")
    assert validator.validate(fresh.access_token).subject == "alice"
    assert validator.validate(issuer.issue_opaque("alice")).subject == "alice"
    clock.advance(1)
    assert validator.validate(issuer.refresh(fresh.refresh_token).access_token)


def test_revoke_subject_refuses_tokens_issued_earlier(
    issuer: TokenIssuer, clock: FrozenClock
) -> None:
    old = issuer.issue_pair("alice")
    clock.advance(30)
    refreshed = issuer.refresh(old.refresh_token)
    clock.advance(30)
    issuer.revoke_subject("alice")
    for token in (old.access_token, refreshed.access_token):
        raises_exactly(RevokedTokenError, issuer.validator().validate, token)
    raises_exactly(RevokedTokenError, issuer.refresh, refreshed.refresh_token)


# -- opaque access tokens -----------------------------------------------------------------


def test_opaque_access_tokens(issuer: TokenIssuer, clock: FrozenClock) -> None:
    token = issuer.issue_opaque("alice", scopes=["b", "a", "a"], claims={"tenant": "acme"}, ttl=60)
    assert "." not in token
    validator = issuer.validator()
    principal = validator.validate(token)
    assert principal.kind == "opaque"
    assert principal.subject == "alice"
    assert principal.scopes == {"a", "b"}
    assert principal.claims["scope"] == "a b"
    assert principal.claims["tenant"] == "acme"
    assert principal.claims["iat"] == NOW
    assert principal.expires_at == NOW + 60
    clock.advance(59)
    assert validator.validate(token).subject == "alice"
    clock.advance(1)
    raises_exactly(InactiveTokenError, validator.validate, token)


def test_opaque_ttl_defaults_to_access_ttl(issuer: TokenIssuer, clock: FrozenClock) -> None:
    token = issuer.issue_opaque("alice")
    assert issuer.validator().validate(token).expires_at == NOW + 900


def test_revoke_opaque(issuer: TokenIssuer) -> None:
    token, kept = issuer.issue_opaque("alice"), issuer.issue_opaque("alice")
    validator = issuer.validator()
    validator.validate(token)
    issuer.revoke_opaque(token)
    raises_exactly(InactiveTokenError, validator.validate, token)
    assert validator.validate(kept).kind == "opaque"
    raises_exactly(MalformedTokenError, issuer.revoke_opaque, "bad token")


# -- TokenPair ----------------------------------------------------------------------------


def test_token_pair_to_dict_and_redacted_repr(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice")
    body = pair.to_dict()
    assert body == {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": 900,
    }
    assert json.loads(json.dumps(body)) == body
    assert repr(pair) == "TokenPair(expires_in=900, tokens=<redacted>)"
    for text in (repr(pair), str(pair), f"{pair}", f"{pair!r}", repr([pair])):
        assert pair.access_token not in text
        assert pair.refresh_token not in text


def test_token_pair_is_immutable(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice")
    with pytest.raises(AttributeError):
        pair.access_token = "x"  # type: ignore[misc]
    assert isinstance(pair, TokenPair)


# -- async twins ------------------------------------------------------------------------


async def test_async_login_refresh_grace_and_reuse(
    issuer: TokenIssuer, memory: MemoryStore, clock: FrozenClock
) -> None:
    validator = issuer.validator()
    login = await issuer.aissue_pair("alice", scopes=["a"], claims={"tenant": "acme"})
    principal = await validator.avalidate(login.access_token)
    assert principal.claims["fresh"] is True
    assert principal.claims["tenant"] == "acme"
    clock.advance(10)
    pair = await issuer.arefresh(login.refresh_token)
    assert "fresh" not in claims_of(pair.access_token)
    assert claims_of(pair.access_token)["auth_time"] == int(NOW)
    assert await issuer.arefresh(login.refresh_token) == pair  # grace
    assert memory.get(hash_token(login.refresh_token)).retired_at == NOW + 10  # type: ignore[union-attr]
    clock.advance(GRACE + 0.001)
    await araises_exactly(RevokedTokenError, issuer.arefresh(login.refresh_token))
    await araises_exactly(RevokedTokenError, issuer.arefresh(pair.refresh_token))
    await araises_exactly(MalformedTokenError, issuer.arefresh("bad token"))
    await araises_exactly(InactiveTokenError, issuer.arefresh("well-formed-unknown"))


async def test_async_logout(issuer: TokenIssuer) -> None:
    pair = await issuer.aissue_pair("alice")
    assert await issuer.arevoke_refresh(pair.refresh_token) is True
    await araises_exactly(RevokedTokenError, issuer.arefresh(pair.refresh_token))
    assert await issuer.arevoke_refresh("well-formed-unknown") is False


async def test_async_opaque_and_access_revocation(issuer: TokenIssuer) -> None:
    validator = issuer.validator()
    opaque = await issuer.aissue_opaque("alice", scopes=["x"], ttl=30)
    assert (await validator.avalidate(opaque)).kind == "opaque"
    await issuer.arevoke_opaque(opaque)
    await araises_exactly(InactiveTokenError, validator.avalidate(opaque))

    pair = await issuer.aissue_pair("alice")
    principal = await validator.avalidate(pair.access_token)
    await issuer.arevoke_access(principal)
    await araises_exactly(RevokedTokenError, validator.avalidate(pair.access_token))


async def test_async_revoke_subject(issuer: TokenIssuer, clock: FrozenClock) -> None:
    validator = issuer.validator()
    pair = await issuer.aissue_pair("alice")
    opaque = await issuer.aissue_opaque("alice")
    await issuer.arevoke_subject("alice")
    await araises_exactly(RevokedTokenError, validator.avalidate(pair.access_token))
    await araises_exactly(RevokedTokenError, validator.avalidate(opaque))
    await araises_exactly(RevokedTokenError, issuer.arefresh(pair.refresh_token))
    clock.advance(0.002)  # past the revocation's millisecond (see test_revoke_subject)
    fresh = await issuer.aissue_pair("alice")
    assert (await validator.avalidate(fresh.access_token)).subject == "alice"


# -- nothing at rest can be used as a token -------------------------------------------------


def test_the_store_never_holds_a_raw_token(
    issuer: TokenIssuer, memory: MemoryStore, clock: FrozenClock
) -> None:
    login = issuer.issue_pair("alice", claims={"tenant": "acme"})
    clock.advance(1)
    pair = issuer.refresh(login.refresh_token)
    opaque = issuer.issue_opaque("alice")
    issuer.revoke_access(issuer.validator().validate(pair.access_token))
    raw = [login.access_token, login.refresh_token, pair.access_token, pair.refresh_token, opaque]

    records = [record for record, _ in memory._tokens.values()]
    assert len(records) == 3  # the retired and the current refresh token, the opaque one
    assert {r.token_hash for r in records} == {
        hash_token(login.refresh_token),
        hash_token(pair.refresh_token),
        hash_token(opaque),
    }
    successors = [r.successor for r in records if r.successor is not None]
    assert len(successors) == 1
    for token in raw:
        # Signature segments too: a JWT's pieces must not be stored either.
        pieces = [token, *token.split(".")]
        for record in records:
            stored = [record.token_hash, record.to_json(), repr(record)]
            for piece in pieces:
                assert not any(piece in text for text in stored)
        for blob in successors:
            for piece in pieces:
                assert piece.encode() not in blob
        for key, value in memory._revoked.items():
            assert token not in repr(key)
            assert token not in repr(value)
        assert token not in repr(memory)


# -- key rotation -------------------------------------------------------------------------


def test_signing_key_rotation(memory: MemoryStore, clock: FrozenClock) -> None:
    old_key = Key.generate("ES256", kid="old")
    new_key = Key.generate("ES256", kid="new")
    issuer = make_issuer(memory, clock, old_key)  # access_ttl 900: old key kept 1200 s
    issuer.keys.add(new_key, activate_after=600)

    def kids() -> list[str]:
        return sorted(jwk["kid"] for jwk in issuer.jwks()["keys"])

    # Published at once, so verifiers can fetch it before it signs anything.
    assert kids() == ["new", "old"]
    assert header_of(issuer.issue_pair("alice").access_token)["kid"] == "old"
    clock.now = NOW + 599.999
    last_old = issuer.issue_pair("alice").access_token
    assert header_of(last_old)["kid"] == "old"
    clock.now = NOW + 600  # the new key signs
    first_new = issuer.issue_pair("alice").access_token
    assert header_of(first_new)["kid"] == "new"
    assert kids() == ["new", "old"]
    for token in (last_old, first_new):
        assert issuer.validator().validate(token).subject == "alice"

    clock.now = NOW + 1_498  # the last token of the old key (exp NOW + 1499) still valid
    assert issuer.validator().validate(last_old).subject == "alice"
    clock.now = NOW + 1_799.999  # still published
    assert kids() == ["new", "old"]
    clock.now = NOW + 1_800  # superseded + access_ttl + 300: withdrawn
    assert kids() == ["new"]
    raises_exactly(UnknownKeyError, issuer.validator().validate, last_old)
    assert header_of(issuer.issue_pair("alice").access_token)["kid"] == "new"


def test_signing_keys_ring_can_be_passed_in(memory: MemoryStore, clock: FrozenClock) -> None:
    ring = SigningKeys(Key.generate("ES256", kid="a"), retain=60, clock=clock)
    issuer = make_issuer(memory, clock, ring, access_ttl=60)
    assert issuer.keys is ring
    ring.add(Key.generate("ES256", kid="b"), activate_after=0)
    token = issuer.issue_pair("alice").access_token
    assert header_of(token)["kid"] == "b"
    assert issuer.validator().validate(token).subject == "alice"
    clock.advance(60)  # "a" was superseded 60 s ago: every token it signed has expired
    assert [jwk["kid"] for jwk in issuer.jwks()["keys"]] == ["b"]


def test_readers_never_see_a_ring_without_its_keys(clock: FrozenClock) -> None:
    """current() and published() run without a lock while add() changes the ring."""
    secret = b"s" * 32
    added = [Key.hmac(secret, kid=f"k{i}") for i in range(1, 60)]
    errors: list[BaseException] = []
    done = threading.Event()
    ring_box: list[SigningKeys] = []

    def reader() -> None:
        while not done.is_set():
            try:
                ring = ring_box[-1]
                ring.current()
                ring.published()
            except Exception as exc:  # any error at all is the failure
                errors.append(exc)
                return

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        ring_box.append(SigningKeys(Key.hmac(secret, kid="k0"), clock=clock))
        thread = threading.Thread(target=reader)
        thread.start()
        deadline = time.monotonic() + 0.5
        while not errors and time.monotonic() < deadline:
            ring = SigningKeys(Key.hmac(secret, kid="k0"), clock=clock)
            ring_box.append(ring)
            for key in added:
                ring.add(key, activate_after=600)
        done.set()
        thread.join(timeout=10)
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    # Whatever the reader cached meanwhile, every added key is published now.
    assert {key.kid for key in ring_box[-1].published()} == {"k0", *(k.kid for k in added)}


# -- configuration errors -----------------------------------------------------------------


def test_a_key_without_private_part_cannot_sign(memory: MemoryStore, clock: FrozenClock) -> None:
    private = signing_key("ES256")
    public = Key.from_pem(private.public_pem(), alg="ES256", kid="pub")
    raises_exactly(ConfigError, make_issuer, memory, clock, public)
    issuer = make_issuer(memory, clock)
    raises_exactly(ConfigError, lambda: issuer.keys.add(public, activate_after=0))


def test_duplicate_kid_and_missing_kid_are_refused(
    issuer: TokenIssuer, memory: MemoryStore, clock: FrozenClock
) -> None:
    raises_exactly(ConfigError, lambda: issuer.keys.add(Key.generate("ES256", kid="eddsa-1")))
    raises_exactly(ConfigError, lambda: issuer.keys.add(Key.hmac(b"x" * 32)))
    raises_exactly(ConfigError, SigningKeys, Key.hmac(b"x" * 32))
    # The failed additions changed nothing.
    assert header_of(issuer.issue_pair("alice").access_token)["kid"] == "eddsa-1"
    assert [jwk["kid"] for jwk in issuer.jwks()["keys"]] == ["eddsa-1"]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"access_ttl": 0}, id="access-ttl-zero"),
        pytest.param({"access_ttl": -900}, id="access-ttl-negative"),
        pytest.param({"access_ttl": math.nan}, id="access-ttl-nan"),
        pytest.param({"access_ttl": math.inf}, id="access-ttl-inf"),
        pytest.param({"refresh_ttl": 0}, id="refresh-ttl-zero"),
        pytest.param({"refresh_ttl": -1}, id="refresh-ttl-negative"),
        pytest.param({"refresh_ttl": math.nan}, id="refresh-ttl-nan"),
        pytest.param({"refresh_ttl": math.inf}, id="refresh-ttl-inf"),
        pytest.param({"idle_timeout": 0}, id="idle-zero"),
        pytest.param({"idle_timeout": -5}, id="idle-negative"),
        pytest.param({"idle_timeout": math.nan}, id="idle-nan"),
        pytest.param({"refresh_ttl": 100, "idle_timeout": 101}, id="idle-beyond-refresh-ttl"),
        pytest.param({"refresh_grace": -1}, id="grace-negative"),
        pytest.param({"refresh_grace": 61}, id="grace-too-long"),
        pytest.param({"refresh_grace": math.nan}, id="grace-nan"),
        pytest.param({"issuer": ""}, id="empty-issuer"),
    ],
)
def test_bad_options_are_config_errors(
    memory: MemoryStore, clock: FrozenClock, options: dict[str, Any]
) -> None:
    settings: dict[str, Any] = {"store": memory, "issuer": ISSUER, "audience": AUDIENCE}
    settings.update(options)
    raises_exactly(ConfigError, lambda: TokenIssuer(signing_key("EdDSA"), clock=clock, **settings))


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"refresh_grace": 0}, id="grace-zero"),
        pytest.param({"refresh_grace": 60}, id="grace-max"),
        pytest.param({"refresh_ttl": 100, "idle_timeout": 100}, id="idle-equals-refresh-ttl"),
        pytest.param({"access_ttl": 1, "refresh_ttl": 1}, id="one-second"),
    ],
)
def test_boundary_options_are_accepted(
    memory: MemoryStore, clock: FrozenClock, options: dict[str, Any]
) -> None:
    issuer = make_issuer(memory, clock, **options)
    pair = issuer.issue_pair("alice")
    assert issuer.validator().validate(pair.access_token).subject == "alice"


def test_grace_zero_turns_every_second_use_into_reuse(
    memory: MemoryStore, clock: FrozenClock
) -> None:
    issuer = make_issuer(memory, clock, refresh_grace=0)
    login = issuer.issue_pair("alice")
    pair = issuer.refresh(login.refresh_token)
    # Same instant, no grace: a replay, not a parallel request.
    raises_exactly(RevokedTokenError, issuer.refresh, login.refresh_token)
    raises_exactly(RevokedTokenError, issuer.refresh, pair.refresh_token)


@pytest.mark.parametrize("ttl", [0, -5, 1.5, 14 * 86_400 + 1])
def test_access_ttl_override_is_bounded(issuer: TokenIssuer, ttl: float) -> None:
    # No access token may outlive the memory of a subject-wide revocation (refresh_ttl).
    with pytest.raises(ConfigError):
        issuer.issue_access("alice", ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        issuer.issue_opaque("alice", ttl=ttl)  # type: ignore[arg-type]


def test_signing_keys_must_outlive_the_access_tokens(clock: FrozenClock) -> None:
    ring = SigningKeys(signing_key("EdDSA"), retain=60, clock=clock)
    with pytest.raises(ConfigError, match="retain"):
        TokenIssuer(ring, store=MemoryStore(clock=clock), issuer="i", audience="a", clock=clock)


def test_client_id_names_the_application(memory: MemoryStore, clock: FrozenClock) -> None:
    issuer = make_issuer(memory, clock, client_id="shop-web")
    assert claims_of(issuer.issue_access("alice"))["client_id"] == "shop-web"
    with pytest.raises(ConfigError):
        issuer.issue_access("alice", claims={"client_id": "forged"})


def test_signing_keys_can_switch_at_an_absolute_time(clock: FrozenClock) -> None:
    ring = SigningKeys(Key.generate("ES256", kid="a"), retain=900, clock=clock)
    ring.add(Key.generate("ES256", kid="b"), activate_at=NOW + 30)
    assert ring.current().kid == "a"
    assert {key.kid for key in ring.published()} == {"a", "b"}  # announced before it signs
    clock.advance(30)
    assert ring.current().kid == "b"


def test_revocations_are_reported_to_listeners(memory: MemoryStore, clock: FrozenClock) -> None:
    from tokenguard import AuthEvent

    events: list[AuthEvent] = []
    issuer = make_issuer(memory, clock, listeners=[events.append])
    login = issuer.issue_pair("alice")
    principal = issuer.validator().validate(login.access_token)
    issuer.revoke_access(principal)
    issuer.revoke_refresh(login.refresh_token)
    issuer.revoke_subject("bob")
    second = issuer.issue_pair("carol")
    clock.advance(1)
    issuer.refresh(second.refresh_token)
    clock.advance(GRACE + 1)
    with pytest.raises(RevokedTokenError):
        issuer.refresh(second.refresh_token)  # reuse after the grace window
    assert [(e.kind, e.subject, e.detail) for e in events] == [
        ("revoked", "alice", "access"),
        ("revoked", "alice", "family"),
        ("revoked", "bob", "subject"),
        ("revoked", "carol", "reuse"),
    ]
    assert events[0].principal is principal


def test_a_failing_revocation_listener_fails_closed_after_the_write(
    memory: MemoryStore, clock: FrozenClock
) -> None:
    def broken(event: object) -> None:
        raise RuntimeError("audit log down")

    issuer = make_issuer(memory, clock, listeners=[broken])
    login = issuer.issue_pair("alice")
    with pytest.raises(BackendUnavailableError):
        issuer.revoke_refresh(login.refresh_token)
    with pytest.raises(RevokedTokenError):  # the revocation itself was stored
        issuer.refresh(login.refresh_token)
