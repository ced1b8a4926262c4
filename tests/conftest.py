"""Shared fixtures: keys generated once per session, a frozen clock, a token factory.

And the token side the adapter, integration and real-server tests share: a short-lived
issuer, a source counting the refreshes that reach it, and a `Login` to send.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tokenguard import Key, KeySet, TokenValidator
from tokenguard._jose import b64url_encode
from tokenguard.cookies import CookiePolicy, new_csrf_value
from tokenguard.issuer import TokenIssuer, TokenPair
from tokenguard.stores import MemoryStore, TokenStore

# Helpers outside conftest files that assert: pytest must rewrite them to explain failures.
pytest.register_assert_rewrite("tests.live")

ISSUER = "https://issuer.example"
AUDIENCE = "api://shop"
NOW = 1_800_000_000.0
#: Lifetimes of `short_lived_issuer`'s tokens.
ACCESS_TTL = 60
REFRESH_TTL = 14 * 86_400
#: The default cookie policy: Secure cookies with ``__Host-`` names.
DEFAULT_COOKIES = CookiePolicy()

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


# -- the token side of adapter, integration and real-server tests ------------------------


def short_lived_issuer(
    clock: FrozenClock,
    *,
    store: TokenStore | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
) -> TokenIssuer:
    """An EdDSA issuer on ``clock`` with ACCESS_TTL and REFRESH_TTL lifetimes, over ``store``
    (an in-memory store on the same clock by default)."""
    return TokenIssuer(
        signing_key("EdDSA"),
        store=store if store is not None else MemoryStore(clock=clock),
        issuer=issuer,
        audience=audience,
        access_ttl=ACCESS_TTL,
        refresh_ttl=REFRESH_TTL,
        clock=clock,
    )


class CountingSource:
    """A TokenSource in front of an issuer that counts the calls reaching it.

    Each call stays in flight for ``delay`` seconds (an async one for at least one turn of
    the event loop), so that concurrent requests overlap.
    """

    def __init__(self, inner: TokenIssuer, *, delay: float = 0.0) -> None:
        self.inner = inner
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def refresh(self, refresh_token: str) -> TokenPair:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return self.inner.refresh(refresh_token)

    async def arefresh(self, refresh_token: str) -> TokenPair:
        with self._lock:
            self.calls += 1
        await asyncio.sleep(self.delay)
        return await self.inner.arefresh(refresh_token)


def cookie_header(cookies: Mapping[str, str]) -> dict[str, str]:
    """An explicit ``Cookie`` request header."""
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


@dataclass(frozen=True)
class Login:
    """One login made directly at an issuer: the token pair, the CSRF value bound into it,
    and the credentials a client sends with them (cookies named by ``policy``)."""

    pair: TokenPair
    csrf: str
    subject: str = "alice"
    policy: CookiePolicy = DEFAULT_COOKIES

    @classmethod
    def issue(
        cls,
        issuer: TokenIssuer,
        subject: str = "alice",
        *,
        scopes: Sequence[str] = ("cart:read", "cart:write"),
        claims: Mapping[str, Any] | None = None,
        policy: CookiePolicy = DEFAULT_COOKIES,
    ) -> Login:
        csrf = new_csrf_value()
        pair = issuer.issue_pair(subject, scopes=scopes, claims={"csrf": csrf, **(claims or {})})
        return cls(pair, csrf, subject, policy)

    @property
    def access(self) -> str:
        return self.pair.access_token

    @property
    def refresh(self) -> str:
        return self.pair.refresh_token

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def cookies(
        self, *, access: bool = True, refresh: bool = True, csrf: bool = True
    ) -> dict[str, str]:
        """The browser's cookies; ``access=False`` once the access cookie has expired."""
        jar = {
            self.policy.access_cookie: (access, self.access),
            self.policy.refresh_cookie: (refresh, self.refresh),
            self.policy.csrf_cookie: (csrf, self.csrf),
        }
        return {name: value for name, (keep, value) in jar.items() if keep}

    def cookie_header(self, *, access: bool = True) -> dict[str, str]:
        return cookie_header(self.cookies(access=access))


pytest_plugins = ["tests.redisserver"]
