"""TokenValidator: a token string in, a Principal (or a TokenError) out.

The checks, in order (each failure is its own TokenError subclass):

1. size and shape, before any decoding (RFC 7515 section 5.2, step 1);
2. header: ``alg`` is a supported algorithm and never ``none`` (RFC 8725 section 3.1),
   no unknown ``crit`` (RFC 7515 section 4.1.11), an accepted ``typ`` (RFC 8725 section 3.11),
   no duplicate JSON members anywhere;
3. issuer policy chosen by ``iss``: each issuer's keys verify only its own tokens
   (RFC 8725 section 3.8);
4. the signature, with keys chosen by kid and bound to one algorithm; ``jku``, ``x5u``,
   ``jwk`` and ``x5c`` headers are never used to find a key;
5. claims: required ones present, ``iss``, ``aud`` (RFC 8725 section 3.9), ``nbf``, ``iat``,
   max age, then ``exp`` last, so that `ExpiredTokenError` means "all else was valid";
6. revocation, when a checker is given, also on cache hits.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import FIFOCache

from . import _jose
from ._flow import Call, Flow, run_async, run_sync
from .errors import (
    ConfigError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    MalformedTokenError,
    RevokedTokenError,
)
from .keyring import SigningKeys
from .keys import SUPPORTED_ALGORITHMS, Key, KeySet
from .principal import Principal
from .protocols import Clock, KeyProvider, OpaqueTokenResolver, RevocationChecker

__all__ = ["DEFAULT_ALLOWED_TYPES", "IssuerPolicy", "TokenValidator"]

#: ``typ`` values accepted by default, compared without case and ``application/`` prefix
#: (RFC 7515 section 4.1.9); None stands for "no typ header".
DEFAULT_ALLOWED_TYPES: tuple[str | None, ...] = (None, "jwt", "at+jwt")
_MAX_FLOAT = sys.float_info.max


def _is_number(value: object) -> bool:
    # Finite and within float range: JSON allows 1e400 (read as inf, an exp that never
    # comes) and 10**400 (which float() cannot convert); neither is a usable NumericDate.
    return (type(value) is int or type(value) is float) and abs(value) <= _MAX_FLOAT


def _names(value: str | Iterable[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    # Typed as strings, but settings files deliver anything: check at run time too.
    candidate: object = value
    if isinstance(candidate, str):
        names = frozenset([candidate])
    elif isinstance(candidate, Iterable):
        names = frozenset(candidate)
    else:
        names = frozenset()
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{what} must be a non-empty string, a list of them, or None.")
    return names


def _normalise_type(typ: str) -> str:
    typ = typ.lower()
    return typ[12:] if typ.startswith("application/") else typ


@dataclass(frozen=True, kw_only=True, slots=True)
class IssuerPolicy:
    """How the tokens of one issuer (tenant) are checked.

    Args:
        issuer: the accepted ``iss`` value(s); None accepts any issuer, which is safe only
            when the keys belong to a single issuer.
        keys: that issuer's keys: a `KeySet` or a `KeyProvider` such as `RemoteJWKS`.
        audience: accepted ``aud`` value(s); when None, a token that has ``aud`` is refused
            (RFC 7519 section 4.1.3).
        leeway: seconds of clock skew allowed for ``exp``, ``nbf`` and ``iat``.
        required_claims: claims every token must carry.
        max_age: refuse tokens whose ``iat`` is older than this many seconds.
        allowed_types: accepted ``typ`` headers (None: no typ header).
    """

    issuer: str | Sequence[str] | None
    keys: KeySet | KeyProvider
    audience: str | Sequence[str] | None = None
    leeway: float = 0
    required_claims: Sequence[str] = ("exp", "iat", "sub")
    max_age: float | None = None
    allowed_types: Collection[str | None] = DEFAULT_ALLOWED_TYPES
    _issuers: frozenset[str] | None = field(init=False, repr=False, compare=False)
    _audiences: frozenset[str] | None = field(init=False, repr=False, compare=False)
    _types: frozenset[str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        if not isinstance(self.keys, (KeySet, KeyProvider)):
            raise ConfigError("IssuerPolicy keys must be a KeySet or a KeyProvider.")
        if isinstance(self.keys, KeySet) and not len(self.keys):
            raise ConfigError("The KeySet is empty: no token could ever verify.")
        if not _is_number(self.leeway) or not 0 <= self.leeway <= 600:
            raise ConfigError("leeway must be a number of seconds between 0 and 600.")
        if self.max_age is not None and (not _is_number(self.max_age) or self.max_age <= 0):
            raise ConfigError("max_age must be a positive number of seconds or None.")
        required = tuple(self.required_claims)
        if isinstance(self.required_claims, str) or not all(isinstance(c, str) for c in required):
            raise ConfigError("required_claims must be a sequence of claim names.")
        setattr_(self, "required_claims", required)
        setattr_(self, "_issuers", _names(self.issuer, "issuer"))
        setattr_(self, "_audiences", _names(self.audience, "audience"))
        if isinstance(self.allowed_types, str) or not all(
            t is None or isinstance(t, str) for t in self.allowed_types
        ):
            raise ConfigError("allowed_types must be a collection of typ strings (or None).")
        types = frozenset(None if t is None else _normalise_type(t) for t in self.allowed_types)
        setattr_(self, "_types", types)

    def check_header(self, header: dict[str, Any]) -> None:
        """Refuse ``crit``, ``b64`` and unaccepted ``typ`` headers."""
        if "crit" in header or "b64" in header:
            # We understand no JWS extension, so any critical one must be refused
            # (RFC 7515 section 4.1.11; b64 needs crit, RFC 7797 section 6).
            raise InvalidClaimError("The access token uses an unsupported critical extension.")
        typ = header.get("typ")
        if typ is not None:
            if type(typ) is not str:
                raise InvalidClaimError("The access token's typ header is not a string.")
            typ = _normalise_type(typ)
        if typ not in self._types:
            # Explicit typing keeps other JWT kinds (ID tokens, logout tokens) out
            # (RFC 8725 section 3.11).
            raise InvalidClaimError("The access token's type is not accepted.")

    def check_claims(self, claims: dict[str, Any], now: float) -> None:
        """Check every claim; raise `ExpiredTokenError` only when all else is valid."""
        for name in self.required_claims:
            # A null value is no value: '"exp": null' must not pass for a present exp.
            if claims.get(name) is None:
                raise InvalidClaimError(f"The access token lacks the {name!r} claim.")
        leeway = self.leeway
        get = claims.get
        for name in ("sub", "jti", "scope"):
            value = get(name)
            if value is not None and type(value) is not str:
                raise InvalidClaimError(f"The access token's {name!r} claim is not a string.")
        iss = get("iss")
        if iss is not None and type(iss) is not str:
            raise InvalidClaimError("The access token's 'iss' claim is not a string.")
        if self._issuers is not None and iss not in self._issuers:
            raise InvalidClaimError("The access token's issuer is not accepted.")
        self._check_audience(get("aud"))
        nbf = get("nbf")
        if nbf is not None:
            if not _is_number(nbf):
                raise InvalidClaimError("The access token's 'nbf' claim is not a number.")
            if nbf > now + leeway:
                raise ImmatureTokenError()
        iat = get("iat")
        if iat is not None:
            if not _is_number(iat):
                raise InvalidClaimError("The access token's 'iat' claim is not a number.")
            if iat > now + leeway:
                raise ImmatureTokenError("The access token was issued in the future.")
        exp = get("exp")
        if exp is not None and not _is_number(exp):
            raise InvalidClaimError("The access token's 'exp' claim is not a number.")
        if self.max_age is not None:
            if iat is None:
                raise InvalidClaimError("The access token lacks the 'iat' claim.")
            if now - iat > self.max_age + leeway:
                raise ExpiredTokenError("The access token is older than its maximum age.")
        if exp is not None and exp <= now - leeway:
            raise ExpiredTokenError()

    def _check_audience(self, aud: object) -> None:
        if aud is None:
            if self._audiences is not None:
                raise InvalidClaimError("The access token lacks the 'aud' claim.")
            return
        if type(aud) is str:
            given: Collection[str] = (aud,)
        elif type(aud) is list and aud and all(type(a) is str for a in aud):
            given = aud
        else:
            raise InvalidClaimError("The access token's 'aud' claim is malformed.")
        if self._audiences is None:
            raise InvalidClaimError("The access token names an audience; none is configured.")
        if self._audiences.isdisjoint(given):
            raise InvalidClaimError("The access token is meant for another audience.")


def _digest(token: str) -> bytes:
    # The cache holds hashes, never raw tokens.
    return hashlib.sha256(token.encode()).digest()


class TokenValidator:
    """Validates JWT (and, with a resolver, opaque) tokens into Principals.

    Args:
        keys: trusted keys: a `KeySet`, a list of `Key`, or a `KeyProvider` (`RemoteJWKS`).
            Leave it out and pass ``issuers`` to serve several issuers.
        issuer: accepted ``iss`` value(s) for tokens checked with ``keys``; see
            `IssuerPolicy` for this and the next five options.
        audience: accepted ``aud`` value(s).
        leeway: seconds of clock skew allowed for ``exp``, ``nbf`` and ``iat``.
        required_claims: claims every token must carry.
        max_age: refuse tokens whose ``iat`` is older than this many seconds.
        allowed_types: accepted ``typ`` headers (None: no typ header).
        issuers: one `IssuerPolicy` per trusted issuer (tenant), chosen by ``iss``; a key of
            one issuer never verifies a token claiming another.
        clock: the time source for every time check.
        max_token_length: longer tokens are refused before anything is decoded.
        cache_size: validated tokens remembered (by hash) until their ``exp``; 0 turns the
            cache off. Revocation is still checked on every hit.
        opaque_resolver: resolves tokens that are not JWTs (store lookup, introspection).
        revocation: consulted after every successful validation.
        revocation_ttl: seconds a "not revoked" answer may be reused in this process
            (default 0: ask the store every time). With a value above 0, a revocation
            made elsewhere takes up to that long to be honoured here; in exchange, cache
            hits stop costing a store round trip each.

    Raises:
        ConfigError: inconsistent or unsafe options.
    """

    def __init__(
        self,
        keys: KeySet | KeyProvider | Iterable[Key] | None = None,
        *,
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = 0,
        required_claims: Sequence[str] = ("exp", "iat", "sub"),
        max_age: float | None = None,
        allowed_types: Collection[str | None] = DEFAULT_ALLOWED_TYPES,
        issuers: Sequence[IssuerPolicy] = (),
        clock: Clock = time.time,
        max_token_length: int = 8192,
        cache_size: int = 10_000,
        opaque_resolver: OpaqueTokenResolver | None = None,
        revocation: RevocationChecker | None = None,
        revocation_ttl: float = 0,
    ) -> None:
        if keys is not None and not isinstance(keys, (KeySet, KeyProvider)):
            keys = KeySet(keys)
        if keys is not None and issuers:
            raise ConfigError("Pass either keys (one issuer) or issuers (several), not both.")
        if keys is not None:
            issuers = (
                IssuerPolicy(
                    issuer=issuer,
                    keys=keys,
                    audience=audience,
                    leeway=leeway,
                    required_claims=required_claims,
                    max_age=max_age,
                    allowed_types=allowed_types,
                ),
            )
        if not issuers and opaque_resolver is None:
            raise ConfigError("TokenValidator needs keys, issuers, or an opaque_resolver.")
        self._policies = tuple(issuers)
        self._by_issuer: dict[str, IssuerPolicy] = {}
        if len(self._policies) > 1:
            for policy in self._policies:
                if policy._issuers is None:
                    raise ConfigError("With several issuers, each policy must name its issuer.")
                for name in policy._issuers:
                    if name in self._by_issuer:
                        raise ConfigError(f"Issuer {name!r} has two policies.")
                    self._by_issuer[name] = policy
        if not isinstance(max_token_length, int) or max_token_length < 64:
            raise ConfigError("max_token_length must be an integer of at least 64.")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigError("cache_size must be a non-negative integer (0 turns it off).")
        self._clock = clock
        self._max_length = max_token_length
        self._opaque = opaque_resolver
        self._revocation = revocation
        if not _is_number(revocation_ttl) or not 0 <= revocation_ttl <= 300:
            raise ConfigError("revocation_ttl must be between 0 and 300 seconds.")
        self._revocation_ttl = revocation_ttl
        self._not_revoked: FIFOCache[bytes, float] | None = (
            FIFOCache(maxsize=cache_size or 10_000) if revocation and revocation_ttl else None
        )
        self._cache: FIFOCache[bytes, tuple[Principal, float]] | None = (
            FIFOCache(maxsize=cache_size) if cache_size else None
        )
        self._cache_lock = threading.Lock()
        self._generation = 0

    # -- public API -------------------------------------------------------------------

    def validate(self, token: str) -> Principal:
        """Validate a token and return its Principal.

        Raises:
            TokenError: a subclass that says precisely why (see `tokenguard.errors`).
        """
        digest, hit = self._lookup(token)
        if hit is not None and (self._revocation is None or self._known_unrevoked(digest)):
            return hit
        return run_sync(self._flow(token, digest, hit))

    async def avalidate(self, token: str) -> Principal:
        """Async `validate`: key fetches, introspection and store checks never block."""
        digest, hit = self._lookup(token)
        if hit is not None and (self._revocation is None or self._known_unrevoked(digest)):
            return hit
        return await run_async(self._flow(token, digest, hit))

    def flow(self, token: str) -> Flow[Principal]:
        """The validation as an effect generator, for adapters composing larger flows."""
        return self._flow(token, *self._lookup(token))

    def clear_cache(self) -> None:
        """Forget every validated token (after a key was withdrawn, for instance)."""
        self._generation += 1  # results memoised from the cache are void too
        with self._cache_lock:
            if self._cache is not None:
                self._cache.clear()
            if self._not_revoked is not None:
                self._not_revoked.clear()

    @property
    def clock(self) -> Clock:
        """The time source of every time check."""
        return self._clock

    @property
    def generation(self) -> int:
        """Changes whenever `clear_cache` runs."""
        return self._generation

    @property
    def checks_revocation(self) -> bool:
        """True when every validation consults a revocation checker."""
        return self._revocation is not None

    def cached_until(self, token: str) -> float | None:
        """Until when the cache vouches for this token without a new check, or None."""
        if self._cache is None:
            return None
        entry = self._cache.get(_digest(token))
        return entry[1] if entry is not None else None

    # -- internals ---------------------------------------------------------------------

    def _lookup(self, token: str) -> tuple[bytes | None, Principal | None]:
        """The token's digest (when there is a cache) and its cached principal."""
        if type(token) is not str:
            raise MalformedTokenError("The access token must be a string.")
        if len(token) > self._max_length:
            raise MalformedTokenError("The access token is too long.")
        cache = self._cache
        if cache is None:
            return None, None
        digest = _digest(token)
        try:
            principal, expires = cache[digest]
        except KeyError:
            return digest, None
        if self._clock() < expires:
            return digest, principal
        return digest, None

    def _known_unrevoked(self, digest: bytes | None) -> bool:
        """True while a 'not revoked' answer for this token may still be reused."""
        remembered = self._not_revoked
        if remembered is None or digest is None:
            return False
        until = remembered.get(digest)
        return until is not None and self._clock() < until

    def _remember(
        self, digest: bytes | None, principal: Principal, now: float, policy: IssuerPolicy
    ) -> None:
        exp = principal.expires_at
        if exp is not None and policy.max_age is not None:
            # Nor its maximum age: the full check must run again once that has passed.
            exp = min(exp, float(principal.claims["iat"]) + policy.max_age)
        # An entry never outlives the token's exp, whatever the leeway.
        if self._cache is not None and digest is not None and exp is not None and exp > now:
            with self._cache_lock:
                self._cache[digest] = (principal, exp)

    def _flow(self, token: str, digest: bytes | None, hit: Principal | None) -> Flow[Principal]:
        """``digest`` and ``hit`` come from `_lookup`: the token is hashed once."""
        if hit is not None:
            principal = hit
        elif _jose.is_compact_jws(token):
            principal = yield from self._jwt_flow(token, digest)
        elif self._opaque is not None and _jose.is_opaque_shape(token):
            principal = yield Call(self._opaque.resolve, self._opaque.aresolve, token)
        else:
            raise MalformedTokenError(
                "The access token is not a compact JWT."
                if self._opaque is None
                else "The access token is malformed."
            )
        if self._revocation is not None:
            yield from self._revocation_flow(token, digest, principal)
        return principal

    def _revocation_flow(
        self, token: str, digest: bytes | None, principal: Principal
    ) -> Flow[None]:
        remembered = self._not_revoked
        if remembered is not None and digest is None:
            digest = _digest(token)  # the validated-token cache is off: hash here
        if self._known_unrevoked(digest):
            return
        checker = self._revocation
        if checker is None:  # pragma: no cover - callers check
            return
        if (yield Call(checker.is_revoked, checker.ais_revoked, principal)):
            raise RevokedTokenError()
        if remembered is not None and digest is not None:
            with self._cache_lock:
                remembered[digest] = self._clock() + self._revocation_ttl

    def _jwt_flow(self, token: str, digest: bytes | None) -> Flow[Principal]:
        header_seg, payload_seg, signature_seg = token.split(".")
        header = _jose.json_object(_jose.b64url_decode(header_seg), "header")
        alg = header.get("alg")
        if type(alg) is not str or alg not in SUPPORTED_ALGORITHMS:
            # Covers "none" in every spelling (RFC 8725 section 2.1).
            raise DisallowedAlgorithmError()
        kid = header.get("kid")
        if kid is not None and (type(kid) is not str or len(kid) > 1024):
            raise MalformedTokenError("The access token's kid header is malformed.")
        claims = _jose.json_object(_jose.b64url_decode(payload_seg), "payload")
        signature = _jose.b64url_decode(signature_seg)
        policy = self._policy_for(claims)
        policy.check_header(header)
        keys = policy.keys
        if isinstance(keys, SigningKeys):
            keys = keys.published()  # in memory: no effect round trip
        elif not isinstance(keys, KeySet):
            keys = yield Call(keys.get_keys, keys.aget_keys, kid)
        signing_input = token[: len(header_seg) + len(payload_seg) + 1].encode("ascii")
        for key in keys.candidates(kid, alg):
            if key.verify(signing_input, signature):
                break
        else:
            raise InvalidSignatureError()
        now = self._clock()
        policy.check_claims(claims, now)
        principal = Principal(claims.get("sub") or "", claims, kind="jwt")
        self._remember(digest, principal, now, policy)
        return principal

    def _policy_for(self, claims: dict[str, Any]) -> IssuerPolicy:
        if not self._by_issuer:
            if not self._policies:
                raise MalformedTokenError("JWT access tokens are not accepted here.")
            return self._policies[0]
        iss = claims.get("iss")
        policy = self._by_issuer.get(iss) if type(iss) is str else None
        if policy is None:
            raise InvalidClaimError("The access token's issuer is not accepted.")
        return policy
