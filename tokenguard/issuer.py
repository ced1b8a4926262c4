"""TokenIssuer: mint access JWTs and opaque refresh tokens; rotate them; revoke them.

Refresh tokens rotate on every use (RFC 9700 section 4.14.2): the old token is retired in
the same atomic store step that stores its successor. A retired token presented again
after the grace window revokes its whole family. Within the grace window (parallel
requests of one browser) it yields the very same successor pair, which the store keeps
only encrypted under a key derived from the retired token: nothing at rest can recover
a usable token without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import _jose
from ._flow import Call, Flow, run_async, run_sync
from .errors import ConfigError, InactiveTokenError, MalformedTokenError, RevokedTokenError
from .events import AuthEvent, AuthListener, emit
from .keyring import SigningKeys
from .keys import Key
from .principal import Principal
from .protocols import Clock
from .stores.base import TokenRecord, TokenStore, hash_token
from .stores.resolver import StoreResolver
from .validator import TokenValidator

__all__ = ["RESERVED_CLAIMS", "TokenIssuer", "TokenPair"]

logger = logging.getLogger("tokenguard.issuer")

#: Claims the issuer sets itself; extra claims may not override them.
RESERVED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "scope",
        "fresh",
        "auth_time",
        "client_id",
        "sid",
    }
)
_SUCCESSOR_INFO = b"tokenguard/refresh-successor/v1"
_MAX_OPAQUE_LENGTH = 256


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access token and its refresh token, as a login or refresh returns them."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    token_type: str = "Bearer"

    def to_dict(self) -> dict[str, Any]:
        """The OAuth 2.0 token response body (RFC 6749 section 5.1)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }

    def __repr__(self) -> str:
        return f"TokenPair(expires_in={self.expires_in}, tokens=<redacted>)"


def _extra_claims(claims: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's extra claims, refused when one would override a reserved claim."""
    extra = dict(claims or {})
    clash = RESERVED_CLAIMS & extra.keys()
    if clash:
        raise ConfigError(f"Extra claims may not set {sorted(clash)}.")
    return extra


def _successor_cipher(refresh_token: str) -> AESGCM:
    # A key only the holder of the raw refresh token can derive; the store holds the
    # token's SHA-256, from which this key cannot be computed.
    return AESGCM(hmac.new(refresh_token.encode(), _SUCCESSOR_INFO, hashlib.sha256).digest())


def _seal(refresh_token: str, old_hash: str, pair: TokenPair, now: float) -> bytes:
    nonce = secrets.token_bytes(12)
    # Absolute times, so a replay inside the grace window is told the real remaining lives.
    ends = [now + pair.expires_in, now + pair.refresh_expires_in]
    body = json.dumps([pair.access_token, pair.refresh_token, *ends]).encode()
    return nonce + _successor_cipher(refresh_token).encrypt(nonce, body, old_hash.encode())


def _unseal(refresh_token: str, old_hash: str, blob: bytes, now: float) -> TokenPair:
    try:
        body = _successor_cipher(refresh_token).decrypt(blob[:12], blob[12:], old_hash.encode())
    except InvalidTag as exc:  # pragma: no cover - only a corrupted store gets here
        raise InactiveTokenError("The refresh token is not active.") from exc
    access, refresh, access_end, refresh_end = json.loads(body)
    return TokenPair(
        access, refresh, max(0, round(access_end - now)), max(0, int(refresh_end - now))
    )


class TokenIssuer:
    """Mints, rotates and revokes tokens; sync methods and ``a``-prefixed async twins.

    Args:
        keys: the signing `Key` (EdDSA, ES256, RS256 or HS256) or a `SigningKeys` ring.
        store: where refresh tokens, opaque tokens and revocations live.
        issuer: the ``iss`` of every token.
        audience: the ``aud`` of every access token.
        access_ttl: access-token lifetime in seconds (default 15 minutes).
        refresh_ttl: the absolute lifetime of a refresh-token family (default 14 days);
            rotation never extends it.
        idle_timeout: when set, a refresh token unused for this long expires.
        refresh_grace: seconds during which a just-rotated refresh token yields the same
            successor pair (0 disables it).
        listeners: receive an `AuthEvent` of kind ``revoked`` for every revocation (and
            reuse detection), for audit logs and metrics.
        client_id: the ``client_id`` claim of access tokens (RFC 9068 section 2.2): the
            application the tokens are minted for; the issuer's URL by default.
        clock: the time source of every timestamp.
    """

    def __init__(
        self,
        keys: Key | SigningKeys,
        *,
        store: TokenStore,
        issuer: str,
        audience: str | Sequence[str],
        access_ttl: int = 900,
        refresh_ttl: int = 14 * 86_400,
        idle_timeout: int | None = None,
        refresh_grace: float = 5,
        client_id: str | None = None,
        listeners: Sequence[AuthListener] = (),
        clock: Clock = time.time,
    ) -> None:
        if not (0 < access_ttl < math.inf and 0 < refresh_ttl < math.inf):  # NaN fails too
            raise ConfigError("access_ttl and refresh_ttl must be positive, finite seconds.")
        if idle_timeout is not None and not 0 < idle_timeout <= refresh_ttl:
            raise ConfigError("idle_timeout must be positive and at most refresh_ttl.")
        if not 0 <= refresh_grace <= 60:
            raise ConfigError("refresh_grace must be between 0 and 60 seconds.")
        if not issuer:
            raise ConfigError("issuer must be a non-empty string.")
        if isinstance(keys, Key):
            keys = SigningKeys(keys.with_kid(keys.kid or "1"), retain=access_ttl + 300, clock=clock)
        elif keys.retain < access_ttl:
            raise ConfigError(
                f"SigningKeys(retain={keys.retain}) would withdraw a key before the tokens it "
                f"signed expire: retain must be at least access_ttl ({access_ttl})."
            )
        self.keys = keys
        self.store = store
        self.issuer = issuer
        self.client_id = client_id or issuer
        self.listeners = tuple(listeners)
        self.audience = audience if isinstance(audience, str) else list(audience)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.idle_timeout = idle_timeout
        self.refresh_grace = refresh_grace
        self._clock = clock

    # -- minting (pure) ---------------------------------------------------------------

    def issue_access(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        fresh: bool = False,
        auth_time: float | None = None,
        ttl: int | None = None,
    ) -> str:
        """A signed access JWT (``typ: at+jwt``, RFC 9068). Needs no store.

        Raises:
            ConfigError: an extra claim would override a reserved one.
        """
        extra = _extra_claims(claims)
        return self._access_token(subject, scopes, extra, fresh, auth_time, ttl, None)

    def _access_token(
        self,
        subject: str,
        scopes: Iterable[str],
        extra: Mapping[str, Any],
        fresh: bool,
        auth_time: float | None,
        ttl: int | None,
        session_id: str | None,
    ) -> str:
        now = self._clock()
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            # Millisecond precision, so a subject-wide revocation can tell tokens issued
            # just before it from a new login just after it (RFC 7519 allows fractions).
            "iat": math.floor(now * 1000) / 1000 if now % 1 else int(now),
            # Rounded up: a token never dies before the expires_in its client was told.
            "exp": math.ceil(now) + self._lifetime(ttl),
            "jti": secrets.token_urlsafe(16),
            "client_id": self.client_id,  # required in JWT access tokens (RFC 9068 section 2.2)
            **extra,
        }
        scope_list = sorted(set(scopes))
        if scope_list:
            payload["scope"] = " ".join(scope_list)
        if auth_time is not None:
            payload["auth_time"] = int(auth_time)
        if fresh:
            payload["fresh"] = True
        if session_id is not None:
            # The refresh family: revoking it (logout, reuse) revokes these tokens too.
            payload["sid"] = session_id
        key = self.keys.current()
        header = {"alg": key.alg, "typ": "at+jwt", "kid": key.kid}
        signing_input = (
            _jose.b64url_encode(_jose.dumps_compact(header))
            + "."
            + _jose.b64url_encode(_jose.dumps_compact(payload))
        )
        return signing_input + "." + _jose.b64url_encode(key.sign(signing_input.encode()))

    def _mint_pair(
        self,
        subject: str,
        scopes: Sequence[str],
        claims: Mapping[str, Any],
        *,
        now: float,
        family_id: str,
        family_expires_at: float,
        fresh: bool,
    ) -> tuple[TokenPair, TokenRecord]:
        auth_time = claims.get("auth_time", now)
        extra = {k: v for k, v in claims.items() if k != "auth_time"}
        access = self._access_token(subject, scopes, extra, fresh, auth_time, None, family_id)
        refresh = secrets.token_urlsafe(32)  # 256 bits
        expires_at = family_expires_at
        if self.idle_timeout is not None:
            expires_at = min(expires_at, now + self.idle_timeout)
        record = TokenRecord(
            token_hash=hash_token(refresh),
            kind="refresh",
            subject=subject,
            scopes=tuple(scopes),
            claims={**extra, "auth_time": auth_time},
            issued_at=now,
            expires_at=expires_at,
            family_id=family_id,
            family_expires_at=family_expires_at,
        )
        pair = TokenPair(access, refresh, self.access_ttl, max(0, int(expires_at - now)))
        return pair, record

    # -- flows -------------------------------------------------------------------------

    def _issue_pair_flow(
        self, subject: str, scopes: Iterable[str], claims: Mapping[str, Any] | None
    ) -> Flow[TokenPair]:
        now = self._clock()
        extra = _extra_claims(claims)
        pair, record = self._mint_pair(
            subject,
            tuple(sorted(set(scopes))),
            extra,
            now=now,
            family_id=secrets.token_urlsafe(12),
            family_expires_at=now + self.refresh_ttl,
            fresh=True,
        )
        yield Call(self.store.put, self.store.aput, record)
        return pair

    def _refresh_flow(self, refresh_token: str) -> Flow[TokenPair]:
        old_hash = self._opaque_hash(refresh_token, "refresh token")
        store = self.store
        record: TokenRecord | None = yield Call(store.get, store.aget, old_hash)
        if record is None or record.kind != "refresh" or record.family_id is None:
            raise InactiveTokenError("The refresh token is not active.")
        now = self._clock()
        pair, new = self._mint_pair(
            record.subject,
            record.scopes,
            record.claims,
            now=now,
            family_id=record.family_id,
            family_expires_at=record.family_expires_at or record.expires_at,
            fresh=False,
        )
        sealed = _seal(refresh_token, old_hash, pair, now)
        rotation = yield Call(
            store.rotate, store.arotate, old_hash, new, sealed, now=now, grace=self.refresh_grace
        )
        if rotation.outcome == "rotated":
            return pair
        if rotation.outcome == "grace" and rotation.successor is not None:
            return _unseal(refresh_token, old_hash, rotation.successor, now)
        if rotation.outcome == "reused":
            logger.warning(
                "refresh token reuse detected for subject %r; family revoked", record.subject
            )
            self._revoked(record.subject, "reuse")
            raise RevokedTokenError("The refresh token was used twice; its family is revoked.")
        if rotation.outcome == "revoked":
            raise RevokedTokenError("The refresh token has been revoked.")
        if rotation.outcome == "expired":
            raise InactiveTokenError("The refresh token has expired.")
        raise InactiveTokenError("The refresh token is not active.")

    def _revoke_refresh_flow(self, refresh_token: str) -> Flow[bool]:
        token_hash = self._opaque_hash(refresh_token, "refresh token")
        record: TokenRecord | None = yield Call(self.store.get, self.store.aget, token_hash)
        if record is None or record.family_id is None:
            return False
        until = record.family_expires_at or record.expires_at
        yield Call(
            self.store.revoke_family, self.store.arevoke_family, record.family_id, until=until
        )
        self._revoked(record.subject, "family")
        return True

    def _issue_opaque_flow(
        self, subject: str, scopes: Iterable[str], claims: Mapping[str, Any] | None, ttl: int
    ) -> Flow[str]:
        extra = _extra_claims(claims)
        now = self._clock()
        token = secrets.token_urlsafe(32)
        record = TokenRecord(
            token_hash=hash_token(token),
            kind="access",
            subject=subject,
            scopes=tuple(sorted(set(scopes))),
            claims=extra,
            issued_at=now,
            expires_at=now + ttl,
        )
        yield Call(self.store.put, self.store.aput, record)
        return token

    def _opaque_hash(self, token: str, what: str) -> str:
        if type(token) is not str or not 0 < len(token) <= _MAX_OPAQUE_LENGTH:
            raise MalformedTokenError(f"The {what} is malformed.")
        if not _jose.is_opaque_shape(token):
            raise MalformedTokenError(f"The {what} is malformed.")
        return hash_token(token)

    # -- public API, sync and async -------------------------------------------------------

    def issue_pair(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
    ) -> TokenPair:
        """Log ``subject`` in: a fresh access JWT and a new refresh-token family."""
        return run_sync(self._issue_pair_flow(subject, scopes, claims))

    async def aissue_pair(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
    ) -> TokenPair:
        """Async `issue_pair`."""
        return await run_async(self._issue_pair_flow(subject, scopes, claims))

    def issue_opaque(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        ttl: int | None = None,
    ) -> str:
        """An opaque access token (256 random bits) kept in the store, hashed.

        Validate it with ``issuer.validator()``, which resolves opaque tokens in the store.
        """
        return run_sync(self._issue_opaque_flow(subject, scopes, claims, self._lifetime(ttl)))

    async def aissue_opaque(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        ttl: int | None = None,
    ) -> str:
        """Async `issue_opaque`."""
        flow = self._issue_opaque_flow(subject, scopes, claims, self._lifetime(ttl))
        return await run_async(flow)

    def revoke_opaque(self, token: str) -> None:
        """Delete an opaque access token from the store."""
        self.store.revoke_token(self._opaque_hash(token, "access token"))

    async def arevoke_opaque(self, token: str) -> None:
        """Async `revoke_opaque`."""
        await self.store.arevoke_token(self._opaque_hash(token, "access token"))

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token into a new pair.

        Raises:
            InactiveTokenError: unknown or expired refresh token.
            RevokedTokenError: revoked family, or reuse detected (the family is now revoked).
            StoreUnavailableError: the store is down.
        """
        return run_sync(self._refresh_flow(refresh_token))

    async def arefresh(self, refresh_token: str) -> TokenPair:
        """Async `refresh`."""
        return await run_async(self._refresh_flow(refresh_token))

    def revoke_refresh(self, refresh_token: str) -> bool:
        """Revoke the family of a refresh token (logout); False when it was unknown."""
        return run_sync(self._revoke_refresh_flow(refresh_token))

    async def arevoke_refresh(self, refresh_token: str) -> bool:
        """Async `revoke_refresh`."""
        return await run_async(self._revoke_refresh_flow(refresh_token))

    def revoke_access(self, principal: Principal) -> None:
        """Deny one access token (by its jti) until it expires."""
        jti, exp = self._jti_of(principal)
        self.store.revoke_jti(jti, until=exp)
        self._revoked(principal.subject, "access", principal)

    async def arevoke_access(self, principal: Principal) -> None:
        """Async `revoke_access`."""
        jti, exp = self._jti_of(principal)
        await self.store.arevoke_jti(jti, until=exp)
        self._revoked(principal.subject, "access", principal)

    def revoke_subject(self, subject: str) -> None:
        """Revoke everything ``subject`` holds now: access tokens and refresh families."""
        at, until = self._subject_cutoff()
        self.store.revoke_subject(subject, at=at, until=until)
        self._revoked(subject, "subject")

    async def arevoke_subject(self, subject: str) -> None:
        """Async `revoke_subject`."""
        at, until = self._subject_cutoff()
        await self.store.arevoke_subject(subject, at=at, until=until)
        self._revoked(subject, "subject")

    def _revoked(self, subject: str, detail: str, principal: Principal | None = None) -> None:
        # After the store write: the revocation holds even if a listener fails.
        event = AuthEvent("revoked", subject=subject, detail=detail, principal=principal)
        emit(self.listeners, event)

    def _subject_cutoff(self) -> tuple[float, float]:
        now = self._clock()
        # The store refuses what was issued strictly before `at`; a token minted at this
        # very clock reading (coarse clocks make that common) is held now and must go too.
        return math.nextafter(now, math.inf), now + self.refresh_ttl

    def _lifetime(self, ttl: int | None) -> int:
        if ttl is None:
            return self.access_ttl
        # A subject-wide revocation is remembered for refresh_ttl: no access token may
        # outlive that memory, or it would come back to life.
        if type(ttl) is not int or not 0 < ttl <= self.refresh_ttl:
            raise ConfigError(f"ttl must be a whole number of seconds in 1..{self.refresh_ttl}.")
        return ttl

    def _jti_of(self, principal: Principal) -> tuple[str, float]:
        jti, exp = principal.token_id, principal.expires_at
        if jti is None or exp is None:
            raise ConfigError("Only tokens with jti and exp can be revoked one by one.")
        return jti, exp

    # -- verification side -----------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public JWKS of the signing keys (serve it at ``/.well-known/jwks.json``)."""
        return self.keys.jwks()

    def validator(self, **options: Any) -> TokenValidator:
        """A validator for this issuer's own tokens, checking revocation in its store.

        Options are passed to `TokenValidator` (``leeway`` defaults to 0: issuer and
        validator share one clock).
        """
        options.setdefault("issuer", self.issuer)
        options.setdefault("audience", self.audience)
        options.setdefault("clock", self._clock)
        options.setdefault("revocation", self.store)
        options.setdefault("opaque_resolver", StoreResolver(self.store, clock=options["clock"]))
        return TokenValidator(self.keys, **options)
