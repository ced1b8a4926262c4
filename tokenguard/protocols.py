"""The pluggable pieces of the validator, as Protocols (time and I/O are injected)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .keys import KeySet
    from .principal import Principal

__all__ = ["Clock", "KeyProvider", "OpaqueTokenResolver", "RevocationChecker"]


class Clock(Protocol):
    """Returns the current POSIX time in seconds; ``time.time`` is one."""

    def __call__(self) -> float: ...


@runtime_checkable
class KeyProvider(Protocol):
    """A source of verification keys that may need I/O (for example `RemoteJWKS`)."""

    def get_keys(self, kid: str | None) -> KeySet:
        """The current keys; ``kid`` is the token's, so an unknown one may trigger a refetch.

        Raises:
            KeySourceUnavailableError: no keys can be had.
        """
        ...

    async def aget_keys(self, kid: str | None) -> KeySet:
        """Async `get_keys`; never blocks the event loop."""
        ...


@runtime_checkable
class OpaqueTokenResolver(Protocol):
    """Turns a non-JWT token into a Principal: a store lookup or RFC 7662 introspection."""

    def resolve(self, token: str) -> Principal:
        """The principal of an active token.

        Raises:
            InactiveTokenError: unknown, expired or revoked token.
            BackendUnavailableError: the lookup failed (the adapters answer 503).
        """
        ...

    async def aresolve(self, token: str) -> Principal:
        """Async `resolve`."""
        ...


@runtime_checkable
class RevocationChecker(Protocol):
    """Answers whether a validated token was revoked (jti denylist, subject cut-off)."""

    def is_revoked(self, principal: Principal) -> bool:
        """True when the principal's token must be refused.

        Raises:
            StoreUnavailableError: the store cannot answer (fail closed).
        """
        ...

    async def ais_revoked(self, principal: Principal) -> bool:
        """Async `is_revoked`."""
        ...
