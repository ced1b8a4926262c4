"""Property tests: a damaged token never validates, and no input escapes the TokenError tree.

The runs are derandomised (the same examples on every machine) and kept small enough for
the whole file to take a few seconds.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock, default_claims, signing_key
from tokenguard import (
    SUPPORTED_ALGORITHMS,
    InactiveTokenError,
    InvalidTokenError,
    Key,
    KeySet,
    Principal,
    TokenError,
    TokenValidator,
)
from tokenguard._jose import b64url_encode

PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TRUSTED_ALGS = ("HS256", "RS256", "ES256", "EdDSA")
ALG_NAMES = [*sorted(SUPPORTED_ALGORITHMS), "none", "None", "NONE", "nOnE", "", "HS1", "RSA-OAEP"]

CLOCK = FrozenClock()
KEYS = KeySet(signing_key(alg) for alg in TRUSTED_ALGS)
VALIDATOR = TokenValidator(KEYS, issuer=ISSUER, audience=AUDIENCE, clock=CLOCK)
# Attacker keys: same algorithms and kids as the trusted ones, other material.
ATTACKERS = {
    "HS256": Key.hmac(b"attacker-secret-" * 2, kid="hs256-1"),
    "ES256": Key.generate("ES256", kid="es256-1"),
    "EdDSA": Key.generate("EdDSA", kid="eddsa-1"),
}


class NoOpaqueTokens:
    """A resolver that knows no token, so the opaque path can be fuzzed as well."""

    def resolve(self, token: str) -> Principal:
        raise InactiveTokenError()

    async def aresolve(self, token: str) -> Principal:
        raise InactiveTokenError()


WITH_RESOLVER = TokenValidator(
    KEYS, issuer=ISSUER, audience=AUDIENCE, clock=CLOCK, opaque_resolver=NoOpaqueTokens()
)


def b64(data: bytes) -> str:
    return b64url_encode(data)


def make(alg: str, header: dict[str, Any] | None = None, key: Key | None = None) -> str:
    key = key or signing_key(alg)
    head = b64(json.dumps(header or {"alg": alg, "typ": "at+jwt", "kid": key.kid}).encode())
    body = b64(json.dumps(default_claims(NOW)).encode())
    return f"{head}.{body}.{b64(key.sign(f'{head}.{body}'.encode()))}"


TOKENS = {alg: make(alg) for alg in TRUSTED_ALGS}


def refusal(validator: TokenValidator, token: Any) -> TokenError:
    """The TokenError the validator raises; any other outcome fails the test."""
    try:
        validator.validate(token)
    except TokenError as exc:
        return exc
    raise AssertionError("a damaged token was accepted")


def async_refusal(validator: TokenValidator, token: Any) -> TokenError:
    try:
        asyncio.run(validator.avalidate(token))
    except TokenError as exc:
        return exc
    raise AssertionError("a damaged token was accepted")


def assert_invalid_token(exc: TokenError, token: Any) -> None:
    assert isinstance(exc, InvalidTokenError)
    assert exc.status == 401
    assert exc.error == "invalid_token"
    if isinstance(token, str) and len(token) >= 24:
        assert token not in exc.description


@pytest.mark.parametrize("alg", TRUSTED_ALGS)
def test_the_undamaged_tokens_are_valid(alg: str) -> None:
    assert VALIDATOR.validate(TOKENS[alg]).subject == "alice"
    assert WITH_RESOLVER.validate(TOKENS[alg]).subject == "alice"


# -- mutations of valid tokens -------------------------------------------------------------

CHARACTERS = st.sampled_from(B64URL + ".=+/ \n\t\x00") | st.characters()


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    token = TOKENS[draw(st.sampled_from(TRUSTED_ALGS))]
    head, body, signature = token.split(".")
    how = draw(
        st.sampled_from(
            ["flip", "insert", "delete", "truncate", "swap", "alg", "resign", "header-member"]
        )
    )
    if how == "flip":
        index = draw(st.integers(0, len(token) - 1))
        char = draw(CHARACTERS)
        assume(char != token[index])
        result = token[:index] + char + token[index + 1 :]
    elif how == "insert":
        index = draw(st.integers(0, len(token)))
        result = token[:index] + draw(CHARACTERS) + token[index:]
    elif how == "delete":
        index = draw(st.integers(0, len(token) - 1))
        result = token[:index] + token[index + 1 :]
    elif how == "truncate":
        result = token[: draw(st.integers(0, len(token) - 1))]
    elif how == "swap":
        parts = draw(st.permutations([head, body, signature]))
        if draw(st.booleans()):
            parts[draw(st.integers(0, 2))] = parts[draw(st.integers(0, 2))]
        result = ".".join(parts)
    else:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        if how == "alg":
            header["alg"] = draw(st.sampled_from(ALG_NAMES) | st.text(max_size=12))
            result = f"{b64(json.dumps(header).encode())}.{body}.{signature}"
        elif how == "resign":
            # Signed by an attacker key under a trusted kid, with a chosen alg label.
            attacker = ATTACKERS[draw(st.sampled_from(sorted(ATTACKERS)))]
            header["alg"] = draw(st.sampled_from([attacker.alg, header["alg"]]))
            new_head = b64(json.dumps(header).encode())
            mac = attacker.sign(f"{new_head}.{body}".encode())
            result = f"{new_head}.{body}.{b64(mac)}"
        else:
            name = draw(st.sampled_from(["kid", "typ", "crit", "jwk", "jku", "b64", "x"]))
            header[name] = draw(
                st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.just([])
            )
            result = f"{b64(json.dumps(header).encode())}.{body}.{signature}"
    assume(result != token)
    return result


@PROPERTY
@given(mutated_tokens())
def test_a_mutated_token_never_validates(token: str) -> None:
    assert_invalid_token(refusal(VALIDATOR, token), token)


@PROPERTY
@given(mutated_tokens())
def test_a_mutated_token_never_validates_with_an_opaque_resolver(token: str) -> None:
    assert_invalid_token(refusal(WITH_RESOLVER, token), token)


@settings(PROPERTY, max_examples=100)
@given(mutated_tokens())
def test_validate_and_avalidate_refuse_alike(token: str) -> None:
    sync = refusal(VALIDATOR, token)
    asynchronous = async_refusal(VALIDATOR, token)
    assert type(asynchronous) is type(sync)
    assert asynchronous.description == sync.description


# -- garbage -------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from([10**400, -(10**400), 1e308, -0.0, NOW, 2**63]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=6,
)


@st.composite
def jws_shaped_garbage(draw: st.DrawFn) -> str:
    """Three base64url segments: random JSON header and payload, random signature."""
    header = draw(
        st.dictionaries(
            st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jwk", "x"]), JSON, max_size=5
        )
        | JSON
    )
    if isinstance(header, dict) and draw(st.booleans()):
        header["alg"] = draw(st.sampled_from(ALG_NAMES))
        header["kid"] = draw(st.sampled_from(["hs256-1", "rs256-1", "es256-1", "eddsa-1", "x"]))
    payload = draw(JSON)
    if isinstance(payload, dict) and draw(st.booleans()):
        payload = {**default_claims(NOW), **payload}
    signature = draw(st.binary(max_size=300))
    segments = [
        b64(json.dumps(header).encode()),
        b64(json.dumps(payload).encode()),
        b64(signature),
    ]
    return ".".join(segments)


GARBAGE = (
    st.text(max_size=300)
    | st.text(alphabet=B64URL + ".", max_size=300)
    | st.lists(st.text(alphabet=B64URL, max_size=120), min_size=1, max_size=6).map(".".join)
    | st.binary(max_size=300).map(lambda data: data.decode("latin-1"))
    | jws_shaped_garbage()
)


@PROPERTY
@given(GARBAGE)
def test_text_garbage_only_raises_token_errors(token: str) -> None:
    assert_invalid_token(refusal(VALIDATOR, token), token)
    assert_invalid_token(refusal(WITH_RESOLVER, token), token)


@PROPERTY
@given(st.binary(max_size=300) | st.none() | st.integers() | st.lists(st.text(), max_size=3))
def test_non_str_garbage_only_raises_token_errors(token: Any) -> None:
    assert_invalid_token(refusal(VALIDATOR, token), None)
    assert_invalid_token(refusal(WITH_RESOLVER, token), None)


# -- validly signed tokens with arbitrary claims -------------------------------------------

CLAIM_NAMES = st.sampled_from(
    ["iss", "aud", "sub", "iat", "exp", "nbf", "jti", "scope", "scp", "x"]
)


# Edge values first: null, wrong types, numbers beyond float range, the current time.
CLAIM_VALUES = st.sampled_from([None, True, "", [], {}, 10**400, 1e308, NOW, -1]) | JSON


@settings(PROPERTY, max_examples=200)
@given(st.dictionaries(CLAIM_NAMES, CLAIM_VALUES, max_size=3), st.sampled_from(TRUSTED_ALGS))
def test_any_claims_from_a_trusted_key_validate_or_raise_token_errors(
    overrides: dict[str, Any], alg: str
) -> None:
    """The claim checks never crash, whatever a trusted signer put in the payload."""
    key = signing_key(alg)
    claims = {**default_claims(NOW), **overrides}
    head = b64(json.dumps({"alg": alg, "typ": "at+jwt", "kid": key.kid}).encode())
    body = b64(json.dumps(claims).encode())
    token = f"{head}.{body}.{b64(key.sign(f'{head}.{body}'.encode()))}"
    validator = TokenValidator(KEYS, issuer=ISSUER, audience=AUDIENCE, clock=CLOCK, cache_size=0)
    try:
        principal = validator.validate(token)
    except TokenError as exc:
        assert_invalid_token(exc, token)
        return
    assert isinstance(principal.subject, str)
    assert all(isinstance(scope, str) for scope in principal.scopes)
    assert principal.claims["iss"] == ISSUER
    exp = principal.claims["exp"]
    assert type(exp) in (int, float)
    assert exp > NOW
    assert principal.expires_at == float(exp)
