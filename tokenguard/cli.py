"""The ``tokenguard`` command: keygen, issue, inspect, jwks, revoke.

Run ``tokenguard --help`` (or ``python -m tokenguard --help``) and ``tokenguard COMMAND
--help`` for the options and examples of each command.

Exit codes: 0 success; 1 the operation failed (invalid token, store unavailable, file not
written); 2 the input was wrong (options, key files, URLs, malformed tokens). Errors are
one line on stderr; no token or secret is ever part of one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol

from . import __version__
from ._cli_inspect import run_inspect
from ._cli_io import (
    EXIT_FAILED,
    EXIT_USAGE,
    CommandError,
    describe_time,
    parse_until,
    write_private_file,
)
from ._cli_keys import generate_key, load_key
from ._cli_parser import SUBJECT_MEMORY, build_parser
from .errors import BackendUnavailableError, ConfigError, MalformedTokenError
from .issuer import TokenIssuer
from .keys import KeySet
from .protocols import Clock
from .stores.memory import MemoryStore
from .stores.url import open_store

__all__ = ["main"]


class _Command(Protocol):
    def __call__(self, args: argparse.Namespace, clock: Clock) -> int: ...


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _keygen(args: argparse.Namespace, clock: Clock) -> int:
    made = generate_key(args.alg, kid=args.kid, fmt=args.format)
    if args.out is None:
        sys.stdout.write(made.text)
    else:
        write_private_file(args.out, made.text, force=args.force)
        _note(f"wrote {args.out} (mode 0600)")
    for note in made.notes:
        _note(note)
    return 0


def _claims(pairs: Sequence[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"--claim takes NAME=VALUE, not {pair!r}.")
        if name in claims:
            raise CommandError(f"--claim {name} is given twice.")
        try:
            # JSON when it parses (numbers, true, lists, objects); a plain string otherwise.
            claims[name] = json.loads(raw, parse_constant=_not_json)
        except ValueError:
            claims[name] = raw
    return claims


def _not_json(constant: str) -> Any:
    raise ValueError(constant)  # NaN and Infinity are not JSON: keep them as strings


def _issue(args: argparse.Namespace, clock: Clock) -> int:
    key = load_key(args.key, alg=args.alg, kid=args.kid)
    if not key.can_sign:
        raise CommandError(f"{args.key!r} holds a public key; issuing needs the private key.")
    audience: str | list[str] = args.aud[0] if len(args.aud) == 1 else args.aud
    issuer = TokenIssuer(
        key,
        # issue_access writes nothing to the store; TokenIssuer just requires one.
        store=MemoryStore(maxsize=1, clock=clock),
        issuer=args.iss,
        audience=audience,
        access_ttl=args.ttl,
        clock=clock,
    )
    scopes = [scope for group in args.scope for scope in group.split()]
    print(issuer.issue_access(args.sub, scopes=scopes, claims=_claims(args.claim)))
    return 0


def _jwks(args: argparse.Namespace, clock: Clock) -> int:
    files: list[str] = args.keyfile
    algs: list[str] = args.alg or []
    kids: list[str] = args.kid or []
    if len(algs) not in (0, 1, len(files)):
        raise CommandError("give --alg once (for every PEM file) or once per KEYFILE.")
    if kids and len(kids) != len(files):
        raise CommandError("give --kid once per KEYFILE, in the same order.")
    keys = []
    for index, path in enumerate(files):
        kid = kids[index] if kids else None
        if len(algs) == len(files):
            key = load_key(path, alg=algs[index], kid=kid)
        else:  # one --alg for every PEM file; JWK files keep their own
            key = load_key(path, kid=kid, default_alg=algs[0] if algs else None)
        if key.is_symmetric:
            raise CommandError(f"{path!r} is an HMAC secret; secrets are never published.")
        keys.append(key)
    print(json.dumps(KeySet(keys).public_jwks(), indent=2))
    return 0


def _revoke(args: argparse.Namespace, clock: Clock) -> int:
    if args.store is None:
        raise CommandError("revoke needs --store URL (memory://, sqlite:///..., redis://...).")
    now = clock()
    # Only `subject` makes --until optional.
    until = now + SUBJECT_MEMORY if args.until is None else parse_until(args.until, now)
    options = {} if args.prefix is None else {"prefix": args.prefix}
    store = open_store(args.store, **options)
    try:
        if args.target == "jti":
            store.revoke_jti(args.value, until=until)
            done = f"revoked the access token with jti {args.value!r}"
        elif args.target == "family":
            store.revoke_family(args.value, until=until)
            done = f"revoked the refresh-token family {args.value!r}"
        else:
            store.revoke_subject(args.value, at=now, until=until)
            done = f"revoked every token of subject {args.value!r} issued before now"
    finally:
        store.close()
    print(f"{done}; remembered until {describe_time(until, now)}")
    if args.store.lower().startswith("memory:"):
        _note("note: memory:// keeps nothing once this command exits.")
    return 0


_COMMANDS: dict[str, _Command] = {
    "keygen": _keygen,
    "issue": _issue,
    "inspect": run_inspect,
    "jwks": _jwks,
    "revoke": _revoke,
}


def _cause(exc: BaseException) -> str:
    # What the backend said (its class and message; stores put no token in them).
    cause = exc.__cause__
    if cause is None:
        return ""
    detail = " ".join(str(cause).split())[:200].rstrip(".")
    return f" ({type(cause).__name__}: {detail})" if detail else f" ({type(cause).__name__})"


def _error(message: str) -> None:
    _note("tokenguard: error: " + " ".join(message.split()))


def main(argv: Sequence[str] | None = None, *, clock: Clock = time.time) -> int:
    """Run the ``tokenguard`` command and return its exit code.

    Args:
        argv: the arguments (without the program name); ``sys.argv[1:]`` when None.
        clock: the time source for issuing, inspecting and revoking.
    """
    parser = build_parser(version=__version__)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _COMMANDS[args.command](args, clock)
    except CommandError as exc:
        _error(exc.message)
        return exc.exit_code
    except MalformedTokenError as exc:
        _error(exc.description)
        return EXIT_USAGE
    except BackendUnavailableError as exc:
        _error(exc.description.rstrip(".") + _cause(exc) + ".")
        return EXIT_FAILED
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
