"""RFC 7662 token introspection: opaque access tokens checked by their authorization server."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from typing import Any

import httpx
from cachetools import FIFOCache

from ._http import Endpoint, Fetched, client_secret_basic
from .errors import ConfigError, InactiveTokenError, IntrospectionUnavailableError
from .principal import Principal
from .protocols import Clock

__all__ = ["IntrospectionResolver"]

logger = logging.getLogger("tokenguard.introspection")


class IntrospectionResolver:
    """An `OpaqueTokenResolver` asking an RFC 7662 introspection endpoint.

    Active answers are cached (by token hash) until the token's ``exp`` or ``cache_ttl``,
    whichever comes first; inactive answers for ``negative_ttl`` so that a flood of bad
    tokens does not become a flood of introspection calls.

    Args:
        url: the introspection endpoint (``https://`` unless ``allow_http``).
        client_id: the client id, sent with HTTP Basic (RFC 7662 section 2.1 requires
            the protected resource to authenticate); or pass ``auth``.
        client_secret: the client secret, sent with HTTP Basic.
        auth: any httpx auth (for a bearer credential, mTLS is set on the client).
        issuer: when set, the answer's ``iss`` must equal it.
        audience: when set, the answer's ``aud`` must contain it.
        cache_ttl: seconds an active answer is reused (never past the token's ``exp``).
        negative_ttl: seconds an inactive answer is reused.
        cache_size: answers remembered (0 turns the cache off).
        timeout: seconds one call may take.
        client: an httpx client to reuse; by default one is made per call.
        async_client: likewise, an httpx async client for `aresolve`.
        clock: the time source.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        auth: httpx.Auth | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        cache_ttl: float = 300,
        negative_ttl: float = 30,
        cache_size: int = 10_000,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
        allow_http: bool = False,
    ) -> None:
        if auth is None and client_id is not None and client_secret is not None:
            auth = client_secret_basic(client_id, client_secret)
        if auth is None:
            raise ConfigError(
                "Introspection needs client credentials (client_id and client_secret, or "
                "auth): RFC 7662 section 2.1."
            )
        self.url = url
        self._auth = auth
        self._issuer = issuer
        self._audience = audience
        self._ttl = cache_ttl
        self._negative_ttl = negative_ttl
        # Answers are bounded in size and total time; the CA bundle is loaded once.
        self._endpoint = Endpoint(
            url,
            timeout=timeout,
            max_bytes=64 * 1024,
            client=client,
            async_client=async_client,
            allow_http=allow_http,
            what="The introspection endpoint",
        )
        self._clock = clock
        self._cache: FIFOCache[bytes, tuple[Principal | None, float]] | None = (
            FIFOCache(maxsize=cache_size) if cache_size else None
        )
        self._lock = threading.Lock()

    # -- shared logic ----------------------------------------------------------------

    def _cached(self, digest: bytes) -> Principal:
        """The cached answer, or KeyError."""
        if self._cache is None:
            raise KeyError(digest)
        principal, until = self._cache[digest]
        if self._clock() >= until:
            raise KeyError(digest)
        if principal is None:
            raise InactiveTokenError()
        return principal

    def _remember(self, digest: bytes, principal: Principal | None) -> None:
        if self._cache is None:
            return
        now = self._clock()
        until = now + (self._ttl if principal is not None else self._negative_ttl)
        if principal is not None and principal.expires_at is not None:
            until = min(until, principal.expires_at)
        with self._lock:
            self._cache[digest] = (principal, until)

    def _interpret(self, response: Fetched | Exception) -> Principal | None:
        if isinstance(response, Exception):
            logger.warning("introspection at %s failed: %s", self.url, type(response).__name__)
            raise IntrospectionUnavailableError()
        if response.status != 200:
            logger.warning("introspection at %s answered HTTP %d", self.url, response.status)
            raise IntrospectionUnavailableError()
        try:
            answer = json.loads(response.body)
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            logger.warning("introspection at %s answered a malformed document", self.url)
            raise IntrospectionUnavailableError()
        if answer["active"] is not True:  # RFC 7662 section 2.2
            return None
        return self._principal(answer)

    def _principal(self, answer: dict[str, Any]) -> Principal | None:
        now = self._clock()
        exp, nbf = answer.get("exp"), answer.get("nbf")
        if isinstance(exp, (int, float)) and exp <= now:
            return None
        if isinstance(nbf, (int, float)) and nbf > now:
            return None
        if self._issuer is not None and answer.get("iss") != self._issuer:
            return None
        if self._audience is not None:
            aud = answer.get("aud")
            # Only a string or a list names audiences: `in` on a number raises TypeError,
            # and on an object it would match one of its keys.
            auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if self._audience not in auds:
                return None
        claims = {k: v for k, v in answer.items() if k != "active"}
        subject = answer.get("sub") or answer.get("username") or ""
        return Principal(subject if isinstance(subject, str) else "", claims, kind="opaque")

    def _finish(self, digest: bytes, response: Fetched | Exception) -> Principal:
        principal = self._interpret(response)
        self._remember(digest, principal)
        if principal is None:
            raise InactiveTokenError()
        return principal

    def _form(self, token: str) -> dict[str, str]:
        return {"token": token, "token_type_hint": "access_token"}

    # -- sync / async drivers ------------------------------------------------------

    def resolve(self, token: str) -> Principal:
        """Introspect (or answer from the cache)."""
        digest = hashlib.sha256(token.encode()).digest()
        try:
            return self._cached(digest)
        except KeyError:
            pass
        response = self._endpoint.send("POST", data=self._form(token), auth=self._auth)
        return self._finish(digest, response)

    async def aresolve(self, token: str) -> Principal:
        """Async `resolve`."""
        digest = hashlib.sha256(token.encode()).digest()
        try:
            return self._cached(digest)
        except KeyError:
            pass
        response = await self._endpoint.asend("POST", data=self._form(token), auth=self._auth)
        return self._finish(digest, response)
