"""tokenguard: validate, issue, refresh and revoke auth tokens in any Python web app."""

from __future__ import annotations

from .authenticator import Authenticator
from .context import (
    AuthResult,
    RequestAuth,
    UserLoader,
    bind,
    current_auth,
    current_principal,
    get_auth,
)
from .cookies import CookiePolicy, new_csrf_value
from .errors import (
    BackendUnavailableError,
    ConfigError,
    CSRFError,
    DisallowedAlgorithmError,
    ExpiredToken,
    ExpiredTokenError,
    FreshTokenRequiredError,
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
    TokenSourceUnavailableError,
    UnknownKeyError,
)
from .events import AuthEvent, AuthListener
from .extract import RequestView, TokenLocation
from .guards import optional_auth, require_auth, require_claims, require_fresh, require_scopes
from .introspection import IntrospectionResolver
from .issuer import TokenIssuer, TokenPair
from .jwks import RemoteJWKS
from .keyring import SigningKeys
from .keys import SUPPORTED_ALGORITHMS, Key, KeySet
from .principal import Principal, TokenKind
from .protocols import Clock, KeyProvider, OpaqueTokenResolver, RevocationChecker
from .responses import ErrorHandler, ErrorResponse, login_redirect
from .sources import CallableTokenSource, OAuth2TokenSource, TokenSource
from .stores import MemoryStore, TokenStore
from .validator import DEFAULT_ALLOWED_TYPES, IssuerPolicy, TokenValidator

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "SUPPORTED_ALGORITHMS",
    "AuthEvent",
    "AuthListener",
    "AuthResult",
    "Authenticator",
    "BackendUnavailableError",
    "CSRFError",
    "CallableTokenSource",
    "Clock",
    "ConfigError",
    "CookiePolicy",
    "DisallowedAlgorithmError",
    "ErrorHandler",
    "ErrorResponse",
    "ExpiredToken",
    "ExpiredTokenError",
    "FreshTokenRequiredError",
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
    "MemoryStore",
    "MissingTokenError",
    "OAuth2TokenSource",
    "OpaqueTokenResolver",
    "Principal",
    "RemoteJWKS",
    "RequestAuth",
    "RequestView",
    "RevocationChecker",
    "RevokedTokenError",
    "SigningKeys",
    "StoreUnavailable",
    "StoreUnavailableError",
    "TokenError",
    "TokenIssuer",
    "TokenKind",
    "TokenLocation",
    "TokenPair",
    "TokenSource",
    "TokenSourceUnavailableError",
    "TokenStore",
    "TokenValidator",
    "TokenguardError",
    "UnknownKeyError",
    "UserLoader",
    "__version__",
    "bind",
    "current_auth",
    "current_principal",
    "get_auth",
    "login_redirect",
    "new_csrf_value",
    "optional_auth",
    "require_auth",
    "require_claims",
    "require_fresh",
    "require_scopes",
]
