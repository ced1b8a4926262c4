"""Shared fixtures: keys generated once per session, a frozen clock, a token factory."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tokenguard import Key, KeySet, TokenValidator
from tokenguard._jose import b64url_encode

ISSUER = "https://issuer.example"
AUDIENCE = "api://shop"
NOW = 1_800_000_000.0

ALGORITHMS = (
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_KEYS: dict[str, Key] = {}


def signing_key(alg: str) -> Key:
    """One private key per algorithm for the whole session, kid '<alg>-1'."""
    if alg not in _KEYS:
        _KEYS[alg] = Key.generate(alg, kid=f"{alg.lower()}-1")
    return _KEYS[alg]


def encode_jws(
    header: Mapping[str, Any] | bytes,
    payload: Mapping[str, Any] | bytes,
    key: Key | None,
) -> str:
    """A compact JWS with full control over the raw header and payload (for attacks)."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url_encode(h)}.{b64url_encode(p)}"
    signature = key.sign(signing_input.encode()) if key is not None else b""
    return f"{signing_input}.{b64url_encode(signature)}"


def default_claims(now: float = NOW, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(now),
        "exp": int(now) + 900,
        "jti": "jti-1",
        "scope": "cart:read cart:write",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def make_token(clock: FrozenClock) -> Callable[..., str]:
    """make_token(alg="HS256", header={...extra}, key=None, **claim_overrides)."""

    def make(
        alg: str = "HS256",
        *,
        header: Mapping[str, Any] | None = None,
        key: Key | None = None,
        **claims: Any,
    ) -> str:
        key = key or signing_key(alg)
        full_header: dict[str, Any] = {"alg": alg, "typ": "at+jwt", "kid": key.kid}
        full_header.update(header or {})
        full_header = {k: v for k, v in full_header.items() if v is not None}
        return encode_jws(full_header, default_claims(clock.now, **claims), key)

    return make


@pytest.fixture
def keyset() -> KeySet:
    return KeySet(signing_key(alg) for alg in ("HS256", "RS256", "ES256", "EdDSA"))


@pytest.fixture
def validator(keyset: KeySet, clock: FrozenClock) -> TokenValidator:
    return TokenValidator(keyset, issuer=ISSUER, audience=AUDIENCE, clock=clock)


pytest_plugins = ["tests.redisserver"]
