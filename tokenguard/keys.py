"""Keys bound to one algorithm each, and sets of them (local JWKS).

Warning:
    A key's algorithm is fixed when the key is made and is the only algorithm it ever
    verifies (RFC 8725 section 3.1). Nothing in a token's header chooses a key type,
    and ``jku``/``x5u``/``jwk``/``x5c`` headers are never used to find a key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import load_pem_x509_certificate
from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.exceptions import InvalidKeyError as _PyJWTInvalidKeyError

from ._jose import b64url_encode
from .errors import ConfigError, DisallowedAlgorithmError, UnknownKeyError

__all__ = ["SUPPORTED_ALGORITHMS", "Key", "KeySet"]

_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}
_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_KTY = {
    **dict.fromkeys(_HMAC_MIN_BYTES, "oct"),
    **dict.fromkeys(_RSA_ALGS, "RSA"),
    **dict.fromkeys(_EC_CURVES, "EC"),
    "EdDSA": "OKP",
}
#: Every algorithm a Key can be bound to. ``none`` is not one of them, and never will be.
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(_KTY)
_RSA_MIN_BITS = 2048  # RFC 7518 section 3.3


def _algorithm(alg: str) -> Algorithm:
    if alg not in SUPPORTED_ALGORITHMS:
        raise ConfigError(
            f"Unsupported algorithm {alg!r}; use one of {', '.join(sorted(SUPPORTED_ALGORITHMS))}."
        )
    # A fresh instance per key: no state shared with PyJWT's module-level objects.
    return get_default_algorithms()[alg]


def _check_asymmetric(key: Any, alg: str) -> None:
    """Refuse a key whose type or size does not fit the algorithm it is bound to."""
    if alg in _RSA_ALGS:
        if not isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
            raise ConfigError(f"{alg} needs an RSA key, not {type(key).__name__}.")
        if key.key_size < _RSA_MIN_BITS:
            raise ConfigError(
                f"RSA keys must be at least {_RSA_MIN_BITS} bits (RFC 7518 section 3.3); "
                f"this one has {key.key_size}."
            )
    elif alg in _EC_CURVES:
        if not isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
            raise ConfigError(f"{alg} needs an EC key, not {type(key).__name__}.")
        if not isinstance(key.curve, _EC_CURVES[alg]):
            raise ConfigError(
                f"{alg} needs curve {_EC_CURVES[alg].name}, this key is on {key.curve.name}."
            )
    elif alg == "EdDSA":
        okp = (
            ed25519.Ed25519PublicKey,
            ed25519.Ed25519PrivateKey,
            ed448.Ed448PublicKey,
            ed448.Ed448PrivateKey,
        )
        if not isinstance(key, okp):
            raise ConfigError(f"EdDSA needs an Ed25519 or Ed448 key, not {type(key).__name__}.")
    else:
        raise ConfigError(f"{alg} is an HMAC algorithm; use Key.hmac(secret, alg={alg!r}).")


class Key:
    """One key, bound to exactly one algorithm, with an optional ``kid``.

    Build one with `Key.hmac`, `Key.from_pem`, `Key.from_jwk` or `Key.generate`.
    A key holding a private part can sign (for `TokenIssuer`); every key can verify.
    """

    __slots__ = ("_algorithm", "_sign_key", "_verify_key", "alg", "kid")

    alg: str
    kid: str | None

    def __init__(self, *, alg: str, kid: str | None, verify_key: Any, sign_key: Any) -> None:
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise ConfigError("kid must be a non-empty string or None.")
        self.alg = alg
        self.kid = kid
        self._algorithm = _algorithm(alg)
        self._verify_key = verify_key
        self._sign_key = sign_key

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def hmac(cls, secret: bytes | str, *, alg: str = "HS256", kid: str | None = None) -> Key:
        """A shared-secret key for HS256/HS384/HS512.

        Raises:
            ConfigError: the secret is shorter than the hash output (RFC 7518 section 3.2)
                or looks like a public key, a certificate or a JWK.
        """
        if alg not in _HMAC_MIN_BYTES:
            raise ConfigError(f"Key.hmac takes HS256, HS384 or HS512, not {alg!r}.")
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        need = _HMAC_MIN_BYTES[alg]
        if len(raw) < need:
            raise ConfigError(
                f"{alg} secrets must be at least {need} bytes (RFC 7518 section 3.2); "
                f"this one has {len(raw)}. Generate one with secrets.token_bytes({need})."
            )
        try:
            # PyJWT refuses PEM/SSH/DER/JWK-looking secrets: a public key must never
            # become an HMAC secret (the RS256 -> HS256 confusion attack).
            prepared = _algorithm(alg).prepare_key(raw)
        except _PyJWTInvalidKeyError as exc:
            raise ConfigError(f"This secret cannot be used for {alg}: {exc}") from exc
        return cls(alg=alg, kid=kid, verify_key=prepared, sign_key=prepared)

    @classmethod
    def from_pem(
        cls,
        pem: bytes | str,
        *,
        alg: str,
        kid: str | None = None,
        password: bytes | None = None,
    ) -> Key:
        """A key from a PEM public key, private key or X.509 certificate.

        Raises:
            ConfigError: unreadable PEM, or a key that does not fit ``alg``.
        """
        try:
            data = pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
        except (UnicodeEncodeError, TypeError) as exc:
            raise ConfigError("A PEM key must be ASCII text or bytes.") from exc
        if alg in _HMAC_MIN_BYTES:
            raise ConfigError("PEM keys cannot be HMAC secrets; pick an asymmetric algorithm.")
        key: Any
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                key = load_pem_x509_certificate(data).public_key()
            elif b"PRIVATE KEY-----" in data:
                key = serialization.load_pem_private_key(data, password=password)
            else:
                key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"Could not read the PEM key: {exc}") from exc
        return cls.from_key_object(key, alg=alg, kid=kid)

    @classmethod
    def from_key_object(cls, key: Any, *, alg: str, kid: str | None = None) -> Key:
        """A key from a ``cryptography`` public or private key object."""
        _algorithm(alg)
        _check_asymmetric(key, alg)
        if hasattr(key, "public_key"):
            return cls(alg=alg, kid=kid, verify_key=key.public_key(), sign_key=key)
        return cls(alg=alg, kid=kid, verify_key=key, sign_key=None)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, default_alg: str | None = None) -> Key:
        """A key from a JWK (RFC 7517); ``alg`` and ``kid`` come from the JWK.

        Args:
            jwk: the JWK as a mapping.
            default_alg: the algorithm to bind when the JWK has no ``alg`` member; without
                it such a JWK is refused, since a key's algorithm is never guessed.

        Raises:
            ConfigError: missing or unsupported ``alg``, ``kty`` that does not fit it, a
                key meant for encryption, or bad key material.
        """
        if not isinstance(jwk, Mapping):
            raise ConfigError("A JWK must be a JSON object.")
        alg = jwk.get("alg", default_alg)
        if not isinstance(alg, str):
            raise ConfigError("The JWK has no 'alg'; a key's algorithm is never guessed.")
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise ConfigError("The JWK's 'kid' must be a string.")
        algorithm = _algorithm(alg)
        if jwk.get("kty") != _KTY[alg]:
            raise ConfigError(f"{alg} needs a JWK with kty {_KTY[alg]!r}, not {jwk.get('kty')!r}.")
        if jwk.get("use", "sig") != "sig":
            raise ConfigError("The JWK is for encryption ('use' is not 'sig').")
        ops = jwk.get("key_ops")
        if ops is not None and not (
            isinstance(ops, list)
            and all(isinstance(op, str) for op in ops)
            and {"verify", "sign"} & set(ops)
        ):
            raise ConfigError("The JWK's key_ops allow neither 'verify' nor 'sign'.")
        try:
            material = algorithm.from_jwk(dict(jwk))
        except (_PyJWTInvalidKeyError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"Could not read the JWK: {exc}") from exc
        if alg in _HMAC_MIN_BYTES:
            return cls.hmac(material, alg=alg, kid=kid)
        return cls.from_key_object(material, alg=alg, kid=kid)

    @classmethod
    def generate(cls, alg: str = "EdDSA", *, kid: str | None = None) -> Key:
        """A fresh private key for ``alg`` (for tests, the CLI and key rotation).

        The kid defaults to the RFC 7638 thumbprint of the public key.
        """
        import secrets

        key: Any
        if alg in _HMAC_MIN_BYTES:
            made = cls.hmac(secrets.token_bytes(_HMAC_MIN_BYTES[alg]), alg=alg, kid=kid)
            return made
        if alg in _RSA_ALGS:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg in _EC_CURVES:
            key = ec.generate_private_key(_EC_CURVES[alg]())
        elif alg == "EdDSA":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            _algorithm(alg)
            raise AssertionError("unreachable")  # pragma: no cover
        made = cls.from_key_object(key, alg=alg)
        return made.with_kid(kid or made.thumbprint())

    def with_kid(self, kid: str) -> Key:
        """The same key material and algorithm under another kid."""
        return Key(alg=self.alg, kid=kid, verify_key=self._verify_key, sign_key=self._sign_key)

    # -- use --------------------------------------------------------------------------

    @property
    def is_symmetric(self) -> bool:
        """True for HMAC keys, which are secrets and are never published."""
        return self.alg in _HMAC_MIN_BYTES

    @property
    def can_sign(self) -> bool:
        """True when the key holds a private part (or is an HMAC secret)."""
        return self._sign_key is not None

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Check a signature made with this key's algorithm."""
        return self._algorithm.verify(signing_input, self._verify_key, signature)

    def sign(self, signing_input: bytes) -> bytes:
        """Sign with this key's algorithm.

        Raises:
            ConfigError: the key is public only.
        """
        if self._sign_key is None:
            raise ConfigError("This key has no private part and cannot sign.")
        return self._algorithm.sign(signing_input, self._sign_key)

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK, with ``alg``, ``use`` and ``kid``, for a JWKS document.

        Raises:
            ConfigError: for HMAC keys, which must never be published.
        """
        if self.is_symmetric:
            raise ConfigError("HMAC secrets are never published in a JWKS.")
        jwk: dict[str, Any] = self._algorithm.to_jwk(self._verify_key, as_dict=True)
        jwk.update({"alg": self.alg, "use": "sig"})
        if self.kid:
            jwk["kid"] = self.kid
        return jwk

    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint of the public key, base64url."""
        if self.is_symmetric:
            raise ConfigError("HMAC secrets have no public thumbprint.")
        jwk = self._algorithm.to_jwk(self._verify_key, as_dict=True)
        required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}.get(
            jwk["kty"], ("crv", "kty", "x")
        )
        canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"))
        return b64url_encode(hashlib.sha256(canonical.encode()).digest())

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for ``tokenguard keygen``)."""
        if self.is_symmetric or self._sign_key is None:
            raise ConfigError("Only asymmetric private keys have a private PEM.")
        data: bytes = self._sign_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return data

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM."""
        if self.is_symmetric:
            raise ConfigError("HMAC secrets have no public PEM.")
        data: bytes = self._verify_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return data

    def __repr__(self) -> str:
        part = "private" if self.can_sign and not self.is_symmetric else "public"
        if self.is_symmetric:
            part = "secret=<redacted>"
        return f"Key(alg={self.alg!r}, kid={self.kid!r}, {part})"


class KeySet:
    """Trusted keys, looked up by ``kid`` and by algorithm.

    A token with a ``kid`` is checked with the key of that kid; when none has it, with the
    keys that have no kid. A token without ``kid`` is tried against every key bound to the
    token's ``alg``. The token's ``alg`` must equal the key's algorithm.
    """

    __slots__ = ("_by_alg", "_by_kid", "_keys", "_unnamed_by_alg")

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys: tuple[Key, ...] = tuple(keys)
        self._by_kid: dict[str, Key] = {}
        by_alg: dict[str, list[Key]] = {}
        unnamed: dict[str, list[Key]] = {}
        for key in self._keys:
            if not isinstance(key, Key):
                raise ConfigError(f"KeySet takes Key objects, not {type(key).__name__}.")
            if key.kid is not None:
                if key.kid in self._by_kid:
                    raise ConfigError(f"Two keys share the kid {key.kid!r}.")
                self._by_kid[key.kid] = key
            else:
                unnamed.setdefault(key.alg, []).append(key)
            by_alg.setdefault(key.alg, []).append(key)
        self._by_alg = {alg: tuple(ks) for alg, ks in by_alg.items()}
        self._unnamed_by_alg = {alg: tuple(ks) for alg, ks in unnamed.items()}

    @classmethod
    def from_jwks(
        cls,
        document: Mapping[str, Any],
        *,
        default_alg: str | None = None,
        skip_unusable: bool = False,
    ) -> KeySet:
        """Build a KeySet from a JWKS document (``{"keys": [...]}``).

        Args:
            document: the parsed JWKS.
            default_alg: algorithm for JWKs without ``alg`` (otherwise they are refused).
            skip_unusable: leave out keys that cannot be used (encryption keys, unknown
                types) instead of refusing the whole document; a document with no usable
                key is still refused.

        Raises:
            ConfigError: the document is not a JWKS, or a key is unusable.
        """
        keys = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(keys, list):
            raise ConfigError("A JWKS document must be an object with a 'keys' list.")
        loaded: list[Key] = []
        for index, jwk in enumerate(keys):
            try:
                loaded.append(Key.from_jwk(jwk, default_alg=default_alg))
            except ConfigError as exc:
                if not skip_unusable:
                    raise ConfigError(f"JWKS key #{index}: {exc}") from exc
        if keys and not loaded:
            raise ConfigError("The JWKS document has no usable signing key.")
        return cls(loaded)

    def candidates(self, kid: str | None, alg: str) -> tuple[Key, ...]:
        """The keys to try for a token with this ``kid`` and ``alg``.

        Raises:
            UnknownKeyError: no key fits.
            DisallowedAlgorithmError: the kid's key is bound to another algorithm.
        """
        if kid is not None:
            key = self._by_kid.get(kid)
            if key is not None:
                if key.alg != alg:
                    raise DisallowedAlgorithmError(
                        "The access token's algorithm does not match its key."
                    )
                return (key,)
            unnamed = self._unnamed_by_alg.get(alg)
            if unnamed:
                return unnamed
            raise UnknownKeyError()
        keys = self._by_alg.get(alg)
        if not keys:
            raise UnknownKeyError()
        return keys

    def has_kid(self, kid: str) -> bool:
        """True when a key with this kid is in the set."""
        return kid in self._by_kid

    @property
    def algorithms(self) -> frozenset[str]:
        """The algorithms the keys are bound to."""
        return frozenset(self._by_alg)

    def public_jwks(self) -> dict[str, Any]:
        """The public JWKS document of the asymmetric keys (HMAC secrets are left out)."""
        return {"keys": [k.public_jwk() for k in self._keys if not k.is_symmetric]}

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeySet({list(self._keys)!r})"
