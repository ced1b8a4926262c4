"""Exceptions, split by who has to act on them.

    TokenguardError
    ├── ConfigError (also ValueError)      the developer: bad keys, options, documents
    └── TokenError                         carries .error, .status, .description
        ├── InvalidRequestError            400 invalid_request: malformed header, two tokens
        │   └── CSRFError                  403: cookie credentials without CSRF proof
        ├── MissingTokenError              401, no error code (RFC 6750 section 3.1)
        ├── InvalidTokenError              401 invalid_token
        │   ├── MalformedTokenError        not a well-formed JWT / opaque token
        │   ├── UnknownKeyError            no trusted key for this token
        │   ├── DisallowedAlgorithmError   alg none, or not the algorithm the key is bound to
        │   ├── InvalidSignatureError
        │   ├── InvalidClaimError          iss, aud, typ, crit, required claims ...
        │   ├── ExpiredTokenError          exp (or max age) passed; all else was valid
        │   ├── ImmatureTokenError         nbf / iat in the future
        │   ├── RevokedTokenError
        │   ├── FreshTokenRequiredError    the route needs a token from a recent login
        │   └── InactiveTokenError         introspection said active: false / unknown opaque
        ├── InsufficientScopeError         403 insufficient_scope
        └── BackendUnavailableError        503: the client did nothing wrong
            ├── StoreUnavailableError
            ├── KeySourceUnavailableError  no JWKS could be fetched and none is cached
            ├── IntrospectionUnavailableError
            └── TokenSourceUnavailableError  the refresh endpoint failed

`ExpiredToken` and `StoreUnavailable` are the names the core contract uses; they are the
same classes as `ExpiredTokenError` and `StoreUnavailableError`.

PyJWT's own exceptions never leave tokenguard: they are translated where PyJWT is called.
No message ever contains a token.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "CSRFError",
    "ConfigError",
    "DisallowedAlgorithmError",
    "ExpiredToken",
    "ExpiredTokenError",
    "FreshTokenRequiredError",
    "ImmatureTokenError",
    "InactiveTokenError",
    "InsufficientScopeError",
    "IntrospectionUnavailableError",
    "InvalidClaimError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "KeySourceUnavailableError",
    "MalformedTokenError",
    "MissingTokenError",
    "RevokedTokenError",
    "StoreUnavailable",
    "StoreUnavailableError",
    "TokenError",
    "TokenSourceUnavailableError",
    "TokenguardError",
    "UnknownKeyError",
]


class TokenguardError(Exception):
    """Base class of every exception tokenguard raises on purpose."""


class ConfigError(TokenguardError, ValueError):
    """A key, option or document given by the developer is unusable; the message says why."""


class TokenError(TokenguardError):
    """A request cannot be authenticated or authorised.

    Attributes:
        error: the RFC 6750 error code (``""`` when the request carried no credentials).
        status: the HTTP status an adapter answers with.
        description: a human sentence safe to send to the client; never contains the token.
    """

    error: str = "invalid_token"
    status: int = 401
    default_description: str = "The access token is invalid."

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class InvalidRequestError(TokenError):
    """The request is malformed: a broken Authorization header, two different tokens."""

    error = "invalid_request"
    status = 400
    default_description = "The request is malformed."


class CSRFError(InvalidRequestError):
    """A request authenticated by cookies changes state without CSRF proof (403)."""

    status = 403
    default_description = "The CSRF check failed."


class MissingTokenError(TokenError):
    """No token was presented where one is required (RFC 6750 section 3.1: no error code)."""

    error = ""
    status = 401
    default_description = "Authentication is required."


class InvalidTokenError(TokenError):
    """The token is not acceptable: malformed, forged, expired, revoked, or for someone else."""


class MalformedTokenError(InvalidTokenError):
    """The token is not a well-formed compact JWS or opaque token."""

    default_description = "The access token is malformed."


class UnknownKeyError(InvalidTokenError):
    """No trusted key matches the token's kid and algorithm."""

    default_description = "The access token was not signed by a trusted key."


class DisallowedAlgorithmError(InvalidTokenError):
    """The token's ``alg`` is ``none``, unsupported, or not the one its key is bound to.

    RFC 8725 section 3.1: the algorithm comes from the key, never from the token.
    """

    default_description = "The access token uses an algorithm that is not accepted."


class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify with the trusted key."""

    default_description = "The access token signature is invalid."


class InvalidClaimError(InvalidTokenError):
    """A claim or header parameter is missing, of the wrong type, or not accepted."""


class ExpiredTokenError(InvalidTokenError):
    """The token has expired; its signature and every other claim were valid.

    Adapters refresh silently on this error (and only on this one).
    """

    default_description = "The access token has expired."


class ImmatureTokenError(InvalidTokenError):
    """The token is not valid yet (nbf), or claims to be issued in the future (iat)."""

    default_description = "The access token is not valid yet."


class RevokedTokenError(InvalidTokenError):
    """The token, its family, or everything its subject held has been revoked."""

    default_description = "The access token has been revoked."


class FreshTokenRequiredError(InvalidTokenError):
    """The route needs a token minted at a recent login, not by a refresh."""

    default_description = "This action needs a fresh login."


class InactiveTokenError(InvalidTokenError):
    """An opaque token is unknown, expired or inactive (RFC 7662 ``active: false``)."""

    default_description = "The access token is not active."


class InsufficientScopeError(TokenError):
    """The token is valid but lacks a scope or claim the route needs (403).

    Attributes:
        scope: the scopes the route needs, for the ``scope`` challenge attribute.
    """

    error = "insufficient_scope"
    status = 403
    default_description = "The access token lacks the privileges this request needs."

    def __init__(self, description: str | None = None, *, scope: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.scope = scope


class BackendUnavailableError(TokenError):
    """A store, key source or introspection endpoint failed: fail closed with 503."""

    error = "temporarily_unavailable"
    status = 503
    default_description = "Authentication is temporarily unavailable."


class StoreUnavailableError(BackendUnavailableError):
    """The token store could not be reached or answered within its timeout."""

    default_description = "The token store is temporarily unavailable."


class TokenSourceUnavailableError(BackendUnavailableError):
    """The token source (refresh endpoint) failed; the session is kept for a retry."""

    default_description = "Token refresh is temporarily unavailable."


class KeySourceUnavailableError(BackendUnavailableError):
    """No signing keys could be fetched and no earlier good copy is cached."""

    default_description = "The signing keys are temporarily unavailable."


class IntrospectionUnavailableError(BackendUnavailableError):
    """The RFC 7662 introspection endpoint failed or answered garbage."""

    default_description = "Token introspection is temporarily unavailable."


ExpiredToken = ExpiredTokenError
StoreUnavailable = StoreUnavailableError
