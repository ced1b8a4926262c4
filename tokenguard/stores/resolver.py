"""StoreResolver: opaque access tokens looked up in a TokenStore."""

from __future__ import annotations

import time

from ..errors import InactiveTokenError
from ..principal import Principal
from ..protocols import Clock
from .base import TokenRecord, TokenStore, hash_token

__all__ = ["StoreResolver"]


class StoreResolver:
    """An `OpaqueTokenResolver` for opaque access tokens issued into a `TokenStore`.

    Args:
        store: the store the tokens were issued into.
        clock: the time source for expiry.
    """

    def __init__(self, store: TokenStore, *, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    def _principal(self, record: TokenRecord | None) -> Principal:
        if record is None or record.kind != "access" or self._clock() >= record.expires_at:
            raise InactiveTokenError()
        claims = {
            **record.claims,
            "sub": record.subject,
            "iat": record.issued_at,
            "exp": record.expires_at,
        }
        if record.scopes:
            claims["scope"] = " ".join(record.scopes)
        return Principal(record.subject, claims, kind="opaque", scopes=record.scopes)

    def resolve(self, token: str) -> Principal:
        """The principal of an active opaque access token."""
        return self._principal(self._store.get(hash_token(token)))

    async def aresolve(self, token: str) -> Principal:
        """Async `resolve`."""
        return self._principal(await self._store.aget(hash_token(token)))
