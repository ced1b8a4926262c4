"""``tokenguard inspect``: decode a JWT, show it, and verify it when given keys (private).

The decoding is the validator's own strict parsing (`tokenguard._jose`), so a token that
``inspect`` calls malformed is one the middleware refuses too.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from . import _jose
from ._cli_io import EXIT_FAILED, CommandError, describe_time
from ._cli_keys import load_key, load_keyset_file
from .errors import BackendUnavailableError, InvalidClaimError, MalformedTokenError, TokenError
from .jwks import RemoteJWKS
from .keys import KeySet
from .protocols import Clock, KeyProvider
from .validator import TokenValidator

__all__ = ["decode_unverified", "read_token", "render", "run_inspect"]

_TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time"})
_MAX_TOKEN_CHARS = 64 * 1024


def read_token(argument: str) -> str:
    """The token from the command line, or from stdin when the argument is ``-``.

    A leading ``Bearer `` (as copied from an Authorization header) is dropped.
    """
    text = sys.stdin.read(_MAX_TOKEN_CHARS + 1) if argument == "-" else argument
    if len(text) > _MAX_TOKEN_CHARS:
        raise CommandError(f"the token is longer than {_MAX_TOKEN_CHARS} characters.")
    token = text.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise CommandError("no token given" + (" on stdin." if argument == "-" else "."))
    return token


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, without checking its signature.

    Raises:
        MalformedTokenError: not a compact JWS, bad base64url, bad or duplicate JSON.
    """
    if not _jose.is_compact_jws(token):
        if token.count(".") == 4:
            raise MalformedTokenError(
                "The token looks like an encrypted JWT (JWE); only signed JWTs can be inspected."
            )
        raise MalformedTokenError(
            "The token is not a compact JWT (three base64url segments separated by dots)."
        )
    header_seg, payload_seg, signature_seg = token.split(".")
    header = _jose.json_object(_jose.b64url_decode(header_seg), "header")
    claims = _jose.json_object(_jose.b64url_decode(payload_seg), "payload")
    _jose.b64url_decode(signature_seg)
    return header, claims


def _text(value: Any) -> str:
    # Printable strings as they are; anything else as JSON, which escapes the control
    # characters a hostile token could use to rewrite the terminal.
    if isinstance(value, str) and value and value.isprintable() and value == value.strip():
        return value
    return json.dumps(value, ensure_ascii=False)


def _member(name: str, value: Any, now: float) -> str:
    line = f"  {_text(name)}: {_text(value)}"
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if name in _TIME_CLAIMS and is_number:
        when = describe_time(value, now)
        if when:
            line += f" ({when})"
    return line


def render(header: dict[str, Any], claims: dict[str, Any], now: float) -> list[str]:
    """The lines that show a token: its header, then its claims, in the token's order."""
    lines = ["header:"]
    lines += [f"  {_text(name)}: {_text(value)}" for name, value in header.items()]
    lines.append("claims:")
    lines += [_member(name, value, now) for name, value in claims.items()]
    return lines


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _keys(args: argparse.Namespace) -> KeySet | KeyProvider | None:
    if args.kid is not None and args.key is None:
        raise CommandError("--kid goes with --key.")
    if args.key is None and args.jwks_file is None and args.jwks_url is None:
        given = [f"--{name}" for name in ("alg", "iss", "aud") if getattr(args, name)]
        if args.leeway:
            given.append("--leeway")
        if given:
            raise CommandError(
                f"{', '.join(given)}: nothing to verify with; pass --key, --jwks-file or "
                "--jwks-url."
            )
        return None
    if args.key is not None:
        return KeySet([load_key(args.key, alg=args.alg, kid=args.kid)])
    if args.jwks_file is not None:
        document = load_keyset_file(args.jwks_file)
        return KeySet.from_jwks(document, default_alg=args.alg, skip_unusable=True)
    if args.jwks_url is not None:
        # Plain HTTP only for a JWKS served on this machine (a local issuer in development).
        allow_http = args.jwks_url.startswith("http://") and _is_loopback(args.jwks_url)
        return RemoteJWKS(args.jwks_url, default_alg=args.alg, allow_http=allow_http)
    return None


def run_inspect(args: argparse.Namespace, clock: Clock) -> int:
    """Show the token; verify it when keys were given. Returns the exit code."""
    token = read_token(args.token)
    header, claims = decode_unverified(token)
    # Every input error surfaces before any output.
    keys = _keys(args)
    validator = None
    if keys is not None:
        validator = TokenValidator(
            keys,
            issuer=args.iss,
            audience=args.aud,
            leeway=args.leeway,
            clock=clock,
            cache_size=0,
            max_token_length=_MAX_TOKEN_CHARS,
        )
    for line in render(header, claims, clock()):
        print(line)
    if validator is None:
        print("NOT VERIFIED: signature not checked (pass --key, --jwks-file or --jwks-url)")
        return 0
    try:
        validator.validate(token)
    except BackendUnavailableError as exc:
        print(f"NOT VERIFIED: {exc.description}")
        return EXIT_FAILED
    except TokenError as exc:
        print(f"INVALID: {type(exc).__name__}: {exc.description}")
        if isinstance(exc, InvalidClaimError) and args.aud is None and "aud" in claims:
            print("hint: pass --aud with the audience your service accepts.", file=sys.stderr)
        return EXIT_FAILED
    print("VERIFIED")
    return 0
