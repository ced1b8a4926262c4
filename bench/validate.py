"""Validation speed: `TokenValidator.validate` against raw PyJWT decoding of the same tokens.

Contenders, for each of HS256, RS256, ES256 and EdDSA:

* ``raw``: ``jwt.PyJWT().decode`` on a pre-built instance, with the key already loaded
  (the HMAC secret as bytes, a ``cryptography`` public key object otherwise), which is
  PyJWT's best case, and the checks PyJWT can do: ``algorithms=[alg]``, audience, issuer,
  ``require`` exp/iat/sub, leeway 0;
* ``uncached``: `TokenValidator.validate` with ``cache_size=0``, so every call parses and
  verifies the token;
* ``cache hit``: `TokenValidator.validate` with the default cache, of a token it has
  validated once before.

Goals: uncached <= 1.0 x raw for every algorithm; cache hit <= 0.05 x raw HS256.
Keys are generated on every run; none is ever written to disk.
"""

from __future__ import annotations

import os
import platform
import secrets
import time
from dataclasses import dataclass
from typing import Any

import cryptography
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bench._harness import Operation, Outcome, Request, Sizes, Stats, format_table, measure
from tokenguard import Key, KeySet, TokenValidator

__all__ = ["ALGORITHMS", "CACHE_HIT_GOAL", "UNCACHED_GOAL", "run"]

ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")
UNCACHED_GOAL = 1.0  # uncached validate / raw decode, same algorithm
CACHE_HIT_GOAL = 0.05  # cache hit / raw decode of HS256

FULL = Sizes(rounds=31, number=1000)
QUICK = Sizes(rounds=5, number=1000)

ISSUER = "https://issuer.example"
AUDIENCE = "api://bench"
REQUIRED = ["exp", "iat", "sub"]
RAW, UNCACHED, CACHE_HIT = "raw", "uncached", "cache hit"


@dataclass(frozen=True, kw_only=True)
class _Material:
    """One algorithm's keys: as tokenguard holds them, and as PyJWT gets them."""

    key: Key
    signing_key: Any
    verify_key: Any


def _material(alg: str) -> _Material:
    kid = f"bench-{alg.lower()}"
    private: Any
    if alg == "HS256":
        secret = secrets.token_bytes(32)
        return _Material(
            key=Key.hmac(secret, alg=alg, kid=kid), signing_key=secret, verify_key=secret
        )
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"No key recipe for {alg}.")
    key = Key.from_key_object(private, alg=alg, kid=kid)
    return _Material(key=key, signing_key=private, verify_key=private.public_key())


def _token(alg: str, material: _Material, now: int) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1234",
        "iat": now,
        "exp": now + 3600,  # far beyond any run
        "jti": secrets.token_urlsafe(16),
        "scope": "orders:read orders:write profile",
    }
    headers = {"typ": "at+jwt", "kid": material.key.kid}
    return jwt.PyJWT().encode(claims, material.signing_key, algorithm=alg, headers=headers)


def _contenders(alg: str, material: _Material, keys: KeySet) -> dict[str, Operation]:
    token = _token(alg, material, int(time.time()))
    pyjwt = jwt.PyJWT()
    verify_key = material.verify_key
    algorithms = [alg]
    options: Any = {"require": REQUIRED}

    def raw() -> dict[str, Any]:
        return pyjwt.decode(
            token,
            verify_key,
            algorithms=algorithms,
            audience=AUDIENCE,
            issuer=ISSUER,
            options=options,
            leeway=0,
        )

    uncached_validator = TokenValidator(keys, issuer=ISSUER, audience=AUDIENCE, cache_size=0)
    cached_validator = TokenValidator(keys, issuer=ISSUER, audience=AUDIENCE)

    def uncached() -> object:
        return uncached_validator.validate(token)

    def cache_hit() -> object:
        return cached_validator.validate(token)

    # Both sides must accept the token and agree on its claims, or the timings mean nothing;
    # the first cached call also fills the cache.
    expected = raw()
    for validate in (uncached_validator.validate, cached_validator.validate):
        if dict(validate(token).claims) != expected:
            raise RuntimeError(f"{alg}: tokenguard and PyJWT disagree on the claims.")
    return {RAW: raw, UNCACHED: uncached, CACHE_HIT: cache_hit}


def _verdict(ratio: float, goal: float) -> str:
    return "PASS" if ratio <= goal else "MISS"


def _environment() -> str:
    return (
        f"Python {platform.python_version()}, PyJWT {jwt.__version__}, "
        f"cryptography {cryptography.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )


def run(request: Request) -> Outcome:
    """Measure, print the report to ``request.out``, and return the one-line outcome."""
    out = request.out
    sizes = request.sizes(full=FULL, quick=QUICK)
    print("validate: TokenValidator.validate vs raw jwt.decode (PyJWT), same tokens", file=out)
    print(f"  {_environment()}", file=out)
    print(
        f"  {sizes.rounds} rounds x {sizes.number} calls per contender, interleaved in "
        "rotating order; median time per call over rounds",
        file=out,
    )
    print(
        f"  goals: uncached <= {UNCACHED_GOAL:.2f} x raw (each algorithm); "
        f"cache hit <= {CACHE_HIT_GOAL:.2f} x raw HS256",
        file=out,
        flush=True,
    )

    materials = {alg: _material(alg) for alg in ALGORITHMS}
    keys = KeySet(m.key for m in materials.values())
    groups = {alg: _contenders(alg, materials[alg], keys) for alg in ALGORITHMS}
    # One short untimed round first: imports, caches and branch predictors warm up.
    measure(groups, Sizes(rounds=1, number=max(1, sizes.number // 10)))
    results = measure(groups, sizes)

    raw_hs256 = results["HS256"][RAW].median
    rows: list[list[str]] = []
    uncached_met = cached_met = 0
    for alg in ALGORITHMS:
        stats: dict[str, Stats] = results[alg]
        raw_ns, uncached_ns, hit_ns = (stats[n].median for n in (RAW, UNCACHED, CACHE_HIT))
        uncached_ratio = uncached_ns / raw_ns
        hit_ratio = hit_ns / raw_hs256
        uncached_met += uncached_ratio <= UNCACHED_GOAL
        cached_met += hit_ratio <= CACHE_HIT_GOAL
        noise = max(s.spread for s in stats.values())
        rows.append(
            [
                alg,
                f"{raw_ns / 1000:.2f}",
                f"{uncached_ns / 1000:.2f}",
                f"{hit_ns / 1000:.2f}",
                f"{uncached_ratio:.3f}",
                _verdict(uncached_ratio, UNCACHED_GOAL),
                f"{hit_ratio:.4f}",
                _verdict(hit_ratio, CACHE_HIT_GOAL),
                f"{noise:.1%}",
            ]
        )
    header = [
        "alg",
        "raw µs",
        "uncached µs",
        "cache hit µs",
        "uncached/raw",
        f"<={UNCACHED_GOAL:.2f}",
        "hit/raw(HS256)",
        f"<={CACHE_HIT_GOAL:.2f}",
        "noise",
    ]
    print(file=out)
    print(format_table(header, rows), file=out)
    print(
        "  noise: the widest interquartile range of the three contenders, relative to its median",
        file=out,
    )
    total = len(ALGORITHMS)
    met = uncached_met == total and cached_met == total
    summary = (
        f"validate {'PASS' if met else 'MISS'}: uncached <= {UNCACHED_GOAL:.2f} x raw "
        f"{uncached_met}/{total}, cache hit <= {CACHE_HIT_GOAL:.2f} x raw HS256 "
        f"{cached_met}/{total}"
    )
    return Outcome(summary=summary, met=met)
