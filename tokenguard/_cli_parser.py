"""The argument parser of the ``tokenguard`` command, with the help of every command (private)."""

from __future__ import annotations

import argparse

from ._cli_keys import KEYGEN_ALGORITHMS
from .keys import SUPPORTED_ALGORITHMS

__all__ = ["SUBJECT_MEMORY", "build_parser"]

#: How long ``revoke subject`` remembers a cut-off by default: longer than any sensible
#: refresh-token lifetime (`TokenIssuer` uses 14 days), so no older token comes back.
SUBJECT_MEMORY = 90 * 86_400

_ALGS = sorted(SUPPORTED_ALGORITHMS)
_FORMATTER = argparse.RawDescriptionHelpFormatter

_MAIN = """\
Generate keys, mint and inspect access tokens, publish JWKS documents and revoke tokens.

exit codes: 0 success; 1 the operation failed (invalid token, store unavailable);
2 the input was wrong (options, key files, URLs, malformed tokens).
"""
_KEYGEN = """\
examples:
  tokenguard keygen --alg EdDSA --out signing.pem
  tokenguard keygen --alg ES256 --kid es-2027 --format jwk --out signing.jwk
  tokenguard keygen --alg HS256 --out secret.txt

PEM output is an unencrypted PKCS#8 private key; JWK output is the private JWK with alg,
kid and use. HS256 yields a 32-byte secret (base64url, or an "oct" JWK with --format jwk).
The kid defaults to the RFC 7638 thumbprint of the public key, which is also what issue
and jwks choose for a PEM file without --kid. The public JWK is printed on stderr.
"""
_ISSUE = """\
examples:
  tokenguard issue --key signing.pem --alg EdDSA --sub alice \\
      --iss https://issuer.example --aud api://shop --scope cart:read cart:write
  tokenguard issue --key signing.jwk --sub svc --iss https://issuer.example \\
      --aud api://shop --ttl 300 --claim tenant=acme --claim admin=true

Key files may be PEM (needs --alg), JWKs (alg read from the JWK) or base64url HMAC
secrets (needs --alg HS256). Claim values are JSON when they parse as JSON (numbers,
true, lists), strings otherwise; reserved claims (sub, exp, scope...) cannot be set.
"""
_INSPECT = """\
examples:
  tokenguard inspect eyJhbGciOi...
  pbpaste | tokenguard inspect -
  tokenguard inspect - --key public.pem --alg EdDSA --aud api://shop < token.txt
  tokenguard inspect - --jwks-url https://issuer.example/.well-known/jwks.json \\
      --iss https://issuer.example --aud api://shop

Without keys the header and claims are shown and the signature is NOT checked. With
--key, --jwks-file or --jwks-url the token is validated as TokenValidator does by default
(exp, iat and sub required) and the verdict is VERIFIED (exit 0) or INVALID (exit 1).
Pass the token as "-" to read it from stdin and keep it out of your shell history.
"""
_JWKS = """\
examples:
  tokenguard jwks signing.pem --alg EdDSA > jwks.json
  tokenguard jwks old.pem new.pem --alg ES256 --kid es-2026 --kid es-2027
  tokenguard jwks rsa.pem ec.jwk --alg RS256 --alg ES256

--alg once applies to every PEM file; given once per KEYFILE it maps to them in order
(JWK files carry their own alg). Private key files are fine: only the public parts are
printed. HMAC secrets are refused: they are never published.
"""
_REVOKE = """\
store URLs: memory:// (nothing persists), sqlite:///relative/tokens.db or
sqlite:////absolute/tokens.db, redis://host:6379/0 and rediss://host:6380/0 (with
--prefix, the one the app uses).

examples:
  tokenguard revoke --store sqlite:////var/lib/shop/tokens.db jti 3f9a... --until 1800000900
  tokenguard revoke --store redis://localhost:6379/0 --prefix shop: family Xy12 --until +14d
  tokenguard revoke --store sqlite:////var/lib/shop/tokens.db subject alice

--until takes POSIX seconds or +N with a unit s, m, h or d: when the revocation may be
forgotten (the token's exp, the family's end). A subject cut-off refuses every token the
subject was issued before now; it is remembered for 90 days unless --until says otherwise.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _kid(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a kid must not be empty")
    return text


def _add_keygen(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "keygen",
        help="generate a signing key",
        description="Generate a private signing key (or HMAC secret).",
        epilog=_KEYGEN,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--alg", required=True, choices=KEYGEN_ALGORITHMS, help="algorithm")
    parser.add_argument("--kid", type=_kid, help="key id (default: the public key's thumbprint)")
    parser.add_argument(
        "--format", choices=("pem", "jwk"), default="pem", help="output format (default: pem)"
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE (mode 0600) not stdout")
    parser.add_argument("--force", action="store_true", help="let --out overwrite a file")


def _add_issue(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "issue",
        help="mint a signed access token",
        description="Mint a signed access JWT (typ at+jwt) and print it.",
        epilog=_ISSUE,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--key", required=True, metavar="FILE", help="private key file")
    parser.add_argument("--alg", choices=_ALGS, metavar="ALG", help="the key's algorithm")
    parser.add_argument(
        "--kid", type=_kid, help="key id for the header (default: from the key file)"
    )
    parser.add_argument("--sub", required=True, metavar="SUBJECT", help="the sub claim")
    parser.add_argument("--iss", required=True, help="the iss claim (your issuer URL)")
    parser.add_argument(
        "--aud", required=True, action="append", help="the aud claim (repeat for several)"
    )
    parser.add_argument(
        "--scope", nargs="+", action="extend", default=[], metavar="S", help="granted scopes"
    )
    parser.add_argument(
        "--ttl", type=_positive_int, default=900, metavar="SECONDS", help="lifetime (900)"
    )
    parser.add_argument(
        "--claim", action="append", default=[], metavar="NAME=VALUE", help="an extra claim"
    )


def _add_inspect(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "inspect",
        help="decode a token, and verify it when given keys",
        description="Show a JWT's header and claims; verify it with --key or a JWKS.",
        epilog=_INSPECT,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("token", metavar="TOKEN", help='the token, or "-" to read stdin')
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--key", metavar="FILE", help="verify with this key file")
    source.add_argument("--jwks-url", metavar="URL", help="verify with an issuer's JWKS")
    source.add_argument("--jwks-file", metavar="FILE", help="verify with a JWKS document")
    parser.add_argument(
        "--alg", choices=_ALGS, metavar="ALG", help="algorithm of --key (or of JWKs lacking it)"
    )
    parser.add_argument("--kid", type=_kid, help="kid of --key (default: from the key file)")
    parser.add_argument("--iss", help="the accepted issuer (default: any)")
    parser.add_argument("--aud", action="append", help="an accepted audience (repeatable)")
    parser.add_argument(
        "--leeway", type=float, default=0.0, metavar="N", help="clock skew seconds (0)"
    )


def _add_jwks(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "jwks",
        help="print the public JWKS of key files",
        description="Print the public JWKS document of the given key files.",
        epilog=_JWKS,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("keyfile", nargs="+", metavar="KEYFILE", help="PEM or JWK key files")
    parser.add_argument(
        "--alg", action="append", choices=_ALGS, metavar="ALG", help="algorithm of PEM files"
    )
    parser.add_argument("--kid", action="append", type=_kid, help="kid per KEYFILE, in order")


def _add_revoke(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "revoke",
        help="revoke an access token, a refresh-token family or a subject",
        description="Record a revocation in a token store.",
        epilog=_REVOKE,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--store", metavar="URL", help="the store URL (required)")
    parser.add_argument("--prefix", help="key prefix of a Redis store")
    # The same options after the target (``revoke jti X --store URL``); SUPPRESS keeps the
    # target's parser from resetting what was given before it.
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help="store URL")
    store.add_argument("--prefix", default=argparse.SUPPRESS, help="Redis key prefix")
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    for name, metavar, what in (
        ("jti", "JTI", "one access token, by its jti claim"),
        ("family", "FAMILY_ID", "every refresh token of one family"),
        ("subject", "SUBJECT", "everything a subject was issued before now"),
    ):
        target = targets.add_parser(
            name,
            parents=[store],
            help=what,
            description=f"Revoke {what}.",
            epilog=_REVOKE,
            formatter_class=_FORMATTER,
        )
        target.add_argument("value", metavar=metavar, help=what)
        target.add_argument(
            "--until",
            required=name != "subject",
            metavar="EPOCH",
            help="when the revocation may be forgotten: POSIX seconds or +N[s|m|h|d]",
        )


def build_parser(*, version: str) -> argparse.ArgumentParser:
    """The parser of ``tokenguard`` and all its commands."""
    parser = argparse.ArgumentParser(
        prog="tokenguard",
        description=_MAIN,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"tokenguard {version}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_keygen(commands)
    _add_issue(commands)
    _add_inspect(commands)
    _add_jwks(commands)
    _add_revoke(commands)
    return parser
