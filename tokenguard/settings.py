"""Build an Authenticator from a plain settings mapping (Flask's app.config, Django settings).

The library itself reads no environment variables; integrations hand their framework's
settings to `authenticator_from_mapping`, which checks every value once and says which
setting to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .authenticator import Authenticator
from .cookies import CookiePolicy
from .errors import ConfigError
from .jwks import RemoteJWKS
from .keys import Key, KeySet
from .protocols import KeyProvider
from .validator import TokenValidator

__all__ = ["SETTINGS", "authenticator_from_mapping"]

#: Every setting understood, with what it takes.
SETTINGS: dict[str, str] = {
    "issuer": "accepted iss (string or list); required",
    "audience": "accepted aud (string or list)",
    "jwks_url": "https:// URL of the issuer's JWKS (or give public_key / secret)",
    "public_key": "PEM public key (with algorithm)",
    "algorithm": "algorithm of public_key or secret (default HS256 for secret)",
    "secret": "HMAC secret, at least as long as the hash (with algorithm HS256/384/512)",
    "leeway": "seconds of clock skew allowed (default 0)",
    "required_claims": "claims every token must carry (default exp, iat, sub)",
    "cookie_secure": "send cookies over HTTPS only (default true)",
    "protected": "path prefixes that require a token",
    "public": "path prefixes never looked at",
    "realm": "realm of WWW-Authenticate challenges (default 'api')",
}


def _get(mapping: Mapping[str, Any], name: str, kinds: tuple[type, ...], where: str) -> Any:
    value = mapping.get(name)
    if value is not None and not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{where}{name.upper()} must be a {wanted}, not {type(value).__name__}.")
    return value


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}{name.upper()} must be a string or a list of strings.")
    return tuple(items)


def authenticator_from_mapping(
    mapping: Mapping[str, Any], *, where: str = "", **overrides: Any
) -> Authenticator:
    """An `Authenticator` from lower-case setting names (see `SETTINGS`).

    Args:
        mapping: the settings, names lower-case without prefix.
        where: how the names are spelled to the user, e.g. ``"TOKENGUARD_"``, for messages.
        overrides: extra `Authenticator` options (source, user_loader ...).

    Raises:
        ConfigError: an unknown, missing or malformed setting; the message names it.
    """
    unknown = sorted(set(mapping) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"Unknown tokenguard setting(s) {', '.join(where + u.upper() for u in unknown)}; "
            f"known: {', '.join(where + k.upper() for k in SETTINGS)}."
        )
    issuer = mapping.get("issuer")
    if not issuer:
        raise ConfigError(f"{where}ISSUER is required (the iss your tokens carry).")
    jwks_url = _get(mapping, "jwks_url", (str,), where)
    public_key = _get(mapping, "public_key", (str, bytes), where)
    secret = _get(mapping, "secret", (str, bytes), where)
    algorithm = _get(mapping, "algorithm", (str,), where)
    given = [
        n for n, v in (("JWKS_URL", jwks_url), ("PUBLIC_KEY", public_key), ("SECRET", secret)) if v
    ]
    if len(given) != 1:
        raise ConfigError(
            f"Set exactly one of {where}JWKS_URL, {where}PUBLIC_KEY or {where}SECRET."
        )
    keys: KeySet | KeyProvider
    if jwks_url:
        keys = RemoteJWKS(jwks_url)
    elif public_key:
        if not algorithm:
            raise ConfigError(f"{where}ALGORITHM is required with {where}PUBLIC_KEY.")
        keys = KeySet([Key.from_pem(public_key, alg=algorithm)])
    else:
        keys = KeySet([Key.hmac(secret, alg=algorithm or "HS256")])
    leeway = _get(mapping, "leeway", (int, float), where) or 0
    validator_options: dict[str, Any] = {
        "issuer": _strings(issuer, "issuer", where),
        "audience": _strings(mapping.get("audience"), "audience", where) or None,
        "leeway": leeway,
    }
    if "required_claims" in mapping:
        validator_options["required_claims"] = _strings(
            mapping["required_claims"], "required_claims", where
        )
    secure = _get(mapping, "cookie_secure", (bool,), where)
    return Authenticator(
        TokenValidator(keys, **validator_options),
        cookies=CookiePolicy(secure=True if secure is None else secure),
        protected=_strings(mapping.get("protected"), "protected", where),
        public=_strings(mapping.get("public"), "public", where),
        realm=_get(mapping, "realm", (str,), where) or "api",
        **overrides,
    )
