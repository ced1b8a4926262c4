"""Events for logging and metrics: what the middleware decided, what the issuer revoked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from .errors import BackendUnavailableError, TokenError
from .principal import Principal

__all__ = ["AuthEvent", "AuthListener", "emit"]

logger = logging.getLogger("tokenguard")


@dataclass(frozen=True, slots=True)
class AuthEvent:
    """Something listeners may want to log or count. Never carries a token.

    Attributes:
        kind: ``validated``, ``refreshed``, ``rejected`` or ``anonymous`` (from the
            middleware, per request), or ``revoked`` (from the issuer).
        path: the request path (empty for ``revoked``).
        principal: for ``validated``, ``refreshed``, and ``revoked`` access tokens.
        error: for ``rejected``.
        subject: for ``revoked``: whose tokens were revoked.
        detail: for ``revoked``: ``access`` (one token), ``family`` (a session),
            ``reuse`` (a family revoked because a retired refresh token came back) or
            ``subject`` (everything the subject held).
    """

    kind: Literal["validated", "refreshed", "rejected", "anonymous", "revoked"]
    path: str = ""
    principal: Principal | None = None
    error: TokenError | None = None
    subject: str | None = None
    detail: str | None = None


class AuthListener(Protocol):
    """Receives `AuthEvent` objects. A listener that raises turns the call into a 503."""

    def __call__(self, event: AuthEvent) -> None: ...


def emit(listeners: Sequence[AuthListener], event: AuthEvent) -> None:
    """Deliver ``event`` to every listener; a failing one fails closed.

    Raises:
        BackendUnavailableError: a listener raised.
    """
    for listener in listeners:
        try:
            listener(event)
        except Exception as exc:
            logger.exception("auth listener %r failed", listener)
            raise BackendUnavailableError("An authentication hook failed.") from exc
