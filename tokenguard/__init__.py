"""tokenguard: validate, issue, refresh and revoke auth tokens in any Python web app."""

from __future__ import annotations

from .errors import (
    BackendUnavailableError,
    ConfigError,
    DisallowedAlgorithmError,
    ExpiredToken,
    ExpiredTokenError,
    ImmatureTokenError,
    InactiveTokenError,
    InsufficientScopeError,
    IntrospectionUnavailableError,
    InvalidClaimError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    KeySourceUnavailableError,
    MalformedTokenError,
    MissingTokenError,
    RevokedTokenError,
    StoreUnavailable,
    StoreUnavailableError,
    TokenError,
    TokenguardError,
    UnknownKeyError,
)
from .introspection import IntrospectionResolver
from .jwks import RemoteJWKS
from .keys import SUPPORTED_ALGORITHMS, Key, KeySet
from .principal import Principal, TokenKind
from .protocols import Clock, KeyProvider, OpaqueTokenResolver, RevocationChecker
from .validator import DEFAULT_ALLOWED_TYPES, IssuerPolicy, TokenValidator

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "SUPPORTED_ALGORITHMS",
    "BackendUnavailableError",
    "Clock",
    "ConfigError",
    "DisallowedAlgorithmError",
    "ExpiredToken",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InactiveTokenError",
    "InsufficientScopeError",
    "IntrospectionResolver",
    "IntrospectionUnavailableError",
    "InvalidClaimError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "IssuerPolicy",
    "Key",
    "KeyProvider",
    "KeySet",
    "KeySourceUnavailableError",
    "MalformedTokenError",
    "MissingTokenError",
    "OpaqueTokenResolver",
    "Principal",
    "RemoteJWKS",
    "RevocationChecker",
    "RevokedTokenError",
    "StoreUnavailable",
    "StoreUnavailableError",
    "TokenError",
    "TokenKind",
    "TokenValidator",
    "TokenguardError",
    "UnknownKeyError",
    "__version__",
]
