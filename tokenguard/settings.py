"""Build an Authenticator from a plain settings mapping (Flask's app.config, Django settings).

The library itself reads no environment variables; integrations hand their framework's
settings to `authenticator_from_mapping`, which checks every value once and says which
setting to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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


class _Reader:
    """Reads settings and names them the way the user wrote them in every error."""

    def __init__(self, mapping: Mapping[str, Any], where: str, suffix: str) -> None:
        self.mapping = mapping
        self.where = where
        self.suffix = suffix

    def name(self, key: str) -> str:
        return f"{self.where}{key.upper()}{self.suffix}"

    @contextmanager
    def about(self, *keys: str) -> Iterator[None]:
        """Re-raise a ConfigError from building with ``keys`` with their names in front."""
        try:
            yield
        except ConfigError as exc:
            names = " / ".join(self.name(k) for k in keys)
            raise ConfigError(f"{names}: {exc}") from exc

    def get(self, key: str, kinds: tuple[type, ...]) -> Any:
        value = self.mapping.get(key)
        if value is None:
            return None
        # bool is an int to Python, never a number of seconds to a user.
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{self.name(key)} must be {wanted}, not {type(value).__name__}.")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.mapping.get(key)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, Sequence) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{self.name(key)} must be a string or a list of strings.")
        return tuple(items)


def authenticator_from_mapping(
    mapping: Mapping[str, Any], *, where: str = "", suffix: str = "", **overrides: Any
) -> Authenticator:
    """An `Authenticator` from lower-case setting names (see `SETTINGS`).

    Args:
        mapping: the settings, names lower-case without prefix.
        where: what comes before a name's upper-case form when it is shown to the user,
            e.g. ``"TOKENGUARD_"`` (Flask) or ``"TOKENGUARD['"`` (Django).
        suffix: what comes after it, e.g. ``"']"`` (Django).
        overrides: extra `Authenticator` options (source, user_loader ...).

    Raises:
        ConfigError: an unknown, missing or malformed setting; the message names it.
    """
    read = _Reader(mapping, where, suffix)
    unknown = sorted(set(mapping) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"Unknown tokenguard setting(s) {', '.join(read.name(u) for u in unknown)}; "
            f"known: {', '.join(read.name(k) for k in SETTINGS)}."
        )
    if not mapping.get("issuer"):
        raise ConfigError(f"{read.name('issuer')} is required (the iss your tokens carry).")
    jwks_url = read.get("jwks_url", (str,))
    public_key = read.get("public_key", (str, bytes))
    secret = read.get("secret", (str, bytes))
    algorithm = read.get("algorithm", (str,))
    if sum(1 for v in (jwks_url, public_key, secret) if v) != 1:
        raise ConfigError(
            f"Set exactly one of {read.name('jwks_url')}, {read.name('public_key')} "
            f"or {read.name('secret')}."
        )
    keys: KeySet | KeyProvider
    if jwks_url:
        with read.about("jwks_url"):
            keys = RemoteJWKS(jwks_url)
    elif public_key:
        if not algorithm:
            raise ConfigError(f"{read.name('algorithm')} is required with a public key.")
        with read.about("public_key", "algorithm"):
            keys = KeySet([Key.from_pem(public_key, alg=algorithm)])
    else:
        with read.about("secret", "algorithm"):
            keys = KeySet([Key.hmac(secret, alg=algorithm or "HS256")])
    validator_options: dict[str, Any] = {
        "issuer": read.strings("issuer"),
        "audience": read.strings("audience") or None,
        "leeway": read.get("leeway", (int, float)) or 0,
    }
    if "required_claims" in mapping:
        validator_options["required_claims"] = read.strings("required_claims")
    with read.about("issuer", "audience", "leeway", "required_claims"):
        validator = TokenValidator(keys, **validator_options)
    secure = read.get("cookie_secure", (bool,))
    with read.about("protected", "public", "realm"):
        return Authenticator(
            validator,
            cookies=CookiePolicy(secure=True if secure is None else secure),
            protected=read.strings("protected"),
            public=read.strings("public"),
            realm=read.get("realm", (str,)) or "api",
            **overrides,
        )
