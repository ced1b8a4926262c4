"""Key files for the ``tokenguard`` command: read them, generate them (private).

A key file holds one of:

* a PEM key (PKCS#8 or traditional private key, public key, or X.509 certificate); PEM
  says nothing about the algorithm, so ``--alg`` is required, and the kid defaults to the
  key's RFC 7638 thumbprint (as ``keygen`` chooses it);
* a JWK (JSON object) with its ``alg`` (or ``--alg`` for JWKs that lack it) and ``kid``;
* an HMAC secret, base64url-encoded as ``keygen --alg HS256`` writes it (with ``--alg``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import get_default_algorithms

from ._cli_io import CommandError, read_file
from ._jose import b64url_encode
from .errors import ConfigError
from .keys import Key

__all__ = ["KEYGEN_ALGORITHMS", "GeneratedKey", "generate_key", "load_key", "load_keyset_file"]

#: The algorithms ``keygen`` makes keys for: the ones `TokenIssuer` signs with.
KEYGEN_ALGORITHMS = ("EdDSA", "ES256", "RS256", "HS256")
_HMAC_BYTES = 32
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _secret(text: bytes, path: str) -> bytes:
    encoded = text.decode("ascii", errors="replace").strip()
    if _BASE64URL.fullmatch(encoded) is None:
        raise CommandError(
            f"{path!r} is not a PEM key, a JWK, or a base64url HMAC secret "
            "(as 'tokenguard keygen --alg HS256' writes it)."
        )
    try:
        return base64.urlsafe_b64decode(encoded.rstrip("=") + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise CommandError(f"{path!r} does not hold a valid base64url HMAC secret.") from None


def _jwk(text: bytes, path: str, alg: str | None, default_alg: str | None) -> Key:
    try:
        jwk = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise CommandError(f"{path!r} is not valid JSON{where}.") from None
    if isinstance(jwk, dict) and "keys" in jwk:
        raise CommandError(f"{path!r} is a JWKS document, not one key; use --jwks-file.")
    if not isinstance(jwk, dict):
        raise CommandError(f"{path!r} is JSON but not a JWK object.")
    declared = jwk.get("alg")
    if alg is not None and declared is not None and declared != alg:
        raise CommandError(f"{path!r} is a {declared} key; --alg says {alg}.")
    return Key.from_jwk(jwk, default_alg=alg or default_alg)


def load_key(
    path: str,
    *,
    alg: str | None = None,
    kid: str | None = None,
    default_alg: str | None = None,
) -> Key:
    """Read one key file (PEM, JWK or HMAC secret; see the module docstring).

    Args:
        path: the file.
        alg: the algorithm; required for PEM and secrets, checked against a JWK's ``alg``.
        kid: overrides the file's kid.
        default_alg: the algorithm of a PEM, secret or JWK without ``alg``, when ``alg``
            is None; a JWK's own ``alg`` wins over it.

    Raises:
        CommandError: unreadable, unrecognised or unusable key (never quoting the key).
    """
    text = read_file(path, "key file").strip()
    chosen = alg or default_alg
    try:
        if text.startswith(b"{"):
            key = _jwk(text, path, alg, default_alg)
        elif b"-----BEGIN " in text:
            if chosen is None:
                raise CommandError(
                    f"{path!r} is a PEM key: pass --alg (a PEM file does not say which "
                    "algorithm its key is for)."
                )
            key = Key.from_pem(text, alg=chosen)
        elif chosen is not None and chosen.startswith("HS"):
            key = Key.hmac(_secret(text, path), alg=chosen)
        else:
            hint = " (HMAC secret files need --alg HS256)" if chosen is None else ""
            raise CommandError(f"{path!r} is neither a PEM key nor a JWK{hint}.")
    except ConfigError as exc:
        raise CommandError(f"{path!r}: {exc}") from None
    if kid is not None:
        return key.with_kid(kid)
    if key.kid is None and not key.is_symmetric:
        return key.with_kid(key.thumbprint())
    return key


def load_keyset_file(path: str, *, default_alg: str | None = None) -> dict[str, Any]:
    """Read a JWKS document (``{"keys": [...]}``) from a file.

    Raises:
        CommandError: unreadable file or not a JWKS object.
    """
    try:
        document = json.loads(read_file(path, "JWKS file"))
    except (UnicodeDecodeError, ValueError):
        raise CommandError(f"{path!r} is not valid JSON.") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise CommandError(f"{path!r} is not a JWKS document (an object with a 'keys' list).")
    return document


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A fresh key: ``text`` (the private file's content) and ``notes`` for stderr."""

    text: str
    notes: tuple[str, ...]


def _private_jwk(key: Key) -> dict[str, Any]:
    # PyJWT writes private JWKs; the key travels to it through its own PKCS#8 PEM.
    material = load_pem_private_key(key.private_pem(), password=None)
    jwk: dict[str, Any] = get_default_algorithms()[key.alg].to_jwk(material, as_dict=True)
    return {**jwk, "alg": key.alg, "use": "sig", "kid": key.kid}


def _generate_hmac(alg: str, kid: str | None, fmt: str) -> GeneratedKey:
    secret = secrets.token_bytes(_HMAC_BYTES)
    Key.hmac(secret, alg=alg)  # the same checks as any secret loaded later
    notes = [f"{alg} secret of {_HMAC_BYTES} random bytes: keep it private (never in a JWKS)."]
    if fmt == "pem":
        if kid is not None:
            notes.append(f"this file carries no kid: pass --kid {kid} when you use it.")
        return GeneratedKey(b64url_encode(secret) + "\n", tuple(notes))
    kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
    jwk = {"kty": "oct", "k": b64url_encode(secret), "alg": alg, "use": "sig", "kid": kid}
    notes.append(f"kid: {kid}")
    return GeneratedKey(json.dumps(jwk, indent=2) + "\n", tuple(notes))


def generate_key(alg: str, *, kid: str | None = None, fmt: str = "pem") -> GeneratedKey:
    """A fresh private key for ``alg`` as PKCS#8 PEM or a private JWK (``fmt``).

    HS256 yields a 32-byte secret: base64url for ``pem``, an ``oct`` JWK for ``jwk``.
    The kid of an asymmetric key defaults to its RFC 7638 thumbprint.
    """
    if alg.startswith("HS"):
        return _generate_hmac(alg, kid, fmt)
    key = Key.generate(alg, kid=kid)
    notes = [f"kid: {key.kid}", f"public JWK: {json.dumps(key.public_jwk())}"]
    if fmt == "pem":
        if kid is not None:
            notes.append(f"PEM files carry no kid: pass --kid {kid} when you use this key.")
        return GeneratedKey(key.private_pem().decode("ascii"), tuple(notes))
    return GeneratedKey(json.dumps(_private_jwk(key), indent=2) + "\n", tuple(notes))
