"""Revocation cost: what checking revocation in each store adds to `TokenValidator`.

Every token is EdDSA (the asymmetric default an issuer that publishes a JWKS would use),
minted by one `TokenIssuer` per store, all with the same signing key, issuer and audience.
A store's validators come from ``issuer.validator()``, which checks revocation in that
store; ``plain`` is ``issuer.validator(revocation=None)``, the same validator without a
checker. The stores: `MemoryStore`; `SQLiteStore` on a file in a temporary directory;
`RedisStore` on a redis-server started here on a free 127.0.0.1 port and stopped at the end
(skipped, with a message, when the binary or the redis package is missing). Each store
holds 1,000 revoked jtis first, so no lookup runs against an empty table.

Contenders, timed interleaved, in three tables:

* sync cache hit: ``validate`` of a token validated once before, by plain and by each
  store's validator (cache hit + ``is_revoked``); the latter again with
  ``revocation_ttl=1``, which reuses a "not revoked" answer for up to a second (at most
  one store call per token per second, at the price of a revocation taking up to a second
  to be honoured); and ``store.is_revoked`` alone, which splits the added cost into the
  store call and the validator's own share;
* async cache hit: the same with ``avalidate`` and ``ais_revoked``, on one event loop for
  the whole run (one ``run_until_complete`` per batch of calls);
* uncached: ``validate`` of a token never seen before (pre-minted, one per call): header,
  signature and claim checks, then the store call, against plain.

No goals were set: the report gives µs per call, the ratio to plain and the µs added over
plain. Before timing, every store's validators must refuse a revoked token, sync and async.
"""

from __future__ import annotations

import asyncio
import functools
import os
import platform
import sqlite3
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import metadata
from typing import TextIO

from bench._harness import Operation, Outcome, Request, Sizes, Stats, format_table, measure
from bench._store_setups import (
    MEMORY,
    REDIS,
    Batch,
    Loop,
    Stores,
    arepeat,
    open_stores,
    repeat,
    repeat_fresh,
    seed_revocations,
)
from tokenguard import Key, TokenIssuer, TokenValidator
from tokenguard.errors import RevokedTokenError, TokenError
from tokenguard.stores import TokenStore

__all__ = ["run"]

FULL = Sizes(rounds=41, number=300)
QUICK = Sizes(rounds=5, number=100)

ISSUER = "https://issuer.example"
AUDIENCE = "api://bench"
SUBJECT = "user-1234"
SEEDED_REVOCATIONS = 1000
PLAIN = "plain (no revocation)"
SYNC, ASYNC, UNCACHED = "sync validate, cache hit", "async avalidate, cache hit", "uncached"
TTL, ALONE = "ttl=1", "alone"  # contender suffixes: revocation_ttl=1; the store call alone


@dataclass(frozen=True, kw_only=True)
class _Subject:
    """Plain or one store, with its validators. ``uncached`` only ever sees fresh tokens,
    so that its cache filling up never evicts the token of the cache-hit contenders."""

    name: str
    issuer: TokenIssuer
    store: TokenStore | None  # None for plain: no revocation checker
    hit: TokenValidator
    ttl: TokenValidator | None
    uncached: TokenValidator


def _plain(issuer: TokenIssuer) -> _Subject:
    hit, uncached = issuer.validator(revocation=None), issuer.validator(revocation=None)
    return _Subject(name=PLAIN, issuer=issuer, store=None, hit=hit, ttl=None, uncached=uncached)


def _checked(name: str, issuer: TokenIssuer) -> _Subject:
    return _Subject(
        name=name,
        issuer=issuer,
        store=issuer.store,
        hit=issuer.validator(),
        ttl=issuer.validator(revocation_ttl=1),
        uncached=issuer.validator(),
    )


def _expect(what: str, got: object, want: object) -> None:
    if got != want:
        raise RuntimeError(f"{what}: expected {want!r}, got {got!r}; nothing was timed.")


def _verdict(validate: Callable[[], object]) -> str:
    try:
        validate()
    except TokenError as error:
        return type(error).__name__
    return "accepted"


def _check_revocation(loop: Loop, subject: _Subject, plain: _Subject) -> None:
    """Every validator of the store refuses a revoked token, sync and async, also from its
    cache; plain, which has no checker, still accepts it."""
    token = subject.issuer.issue_access(SUBJECT)
    subject.issuer.revoke_access(subject.hit.validate(token))  # the token is cached from here
    validators = [v for v in (subject.hit, subject.ttl, subject.uncached) if v is not None]
    for validator in validators:
        sync = functools.partial(validator.validate, token)
        _expect(f"{subject.name} (revoked)", _verdict(sync), RevokedTokenError.__name__)
        aval = functools.partial(loop.run_until_complete, validator.avalidate(token))
        _expect(f"{subject.name} async (revoked)", _verdict(aval), RevokedTokenError.__name__)
    _expect(
        f"{PLAIN} (revoked)", _verdict(functools.partial(plain.hit.validate, token)), "accepted"
    )


def _contenders(loop: Loop, subjects: list[_Subject], fresh: int) -> dict[str, dict[str, Batch]]:
    """Every contender, its token accepted once first (which also fills the caches)."""
    groups: dict[str, dict[str, Batch]] = {SYNC: {}, ASYNC: {}, UNCACHED: {}}
    for s in subjects:
        token = s.issuer.issue_access(SUBJECT, scopes=("orders:read", "profile"))
        for validator in (s.hit,) if s.ttl is None else (s.hit, s.ttl):
            _expect(f"{s.name} (live)", validator.validate(token).subject, SUBJECT)
            principal = loop.run_until_complete(validator.avalidate(token))
            _expect(f"{s.name} async (live)", principal.subject, SUBJECT)
        groups[SYNC][s.name] = repeat(s.hit.validate, token)
        groups[ASYNC][s.name] = arepeat(loop, s.hit.avalidate, token)
        if s.ttl is not None and s.store is not None:
            principal = s.hit.validate(token)
            groups[SYNC][f"{s.name} {TTL}"] = repeat(s.ttl.validate, token)
            groups[ASYNC][f"{s.name} {TTL}"] = arepeat(loop, s.ttl.avalidate, token)
            groups[SYNC][f"{s.name} {ALONE}"] = repeat(s.store.is_revoked, principal)
            groups[ASYNC][f"{s.name} {ALONE}"] = arepeat(loop, s.store.ais_revoked, principal)
        tokens = [s.issuer.issue_access(SUBJECT, scopes=("orders:read",)) for _ in range(fresh)]
        groups[UNCACHED][s.name] = repeat_fresh(s.uncached.validate, iter(tokens))
    return groups


def _operations(groups: dict[str, dict[str, Batch]], calls: int) -> dict[str, dict[str, Operation]]:
    # One operation = one batch of `calls` calls, so that an async batch runs in a single
    # run_until_complete of the shared loop; `measure` then times one operation per round.
    return {
        group: {name: functools.partial(batch, calls) for name, batch in batches.items()}
        for group, batches in groups.items()
    }


# -- report ------------------------------------------------------------------------------


class _Report:
    """Per-call medians (µs), from the harness's per-batch stats."""

    def __init__(self, results: dict[str, dict[str, Stats]], calls: int) -> None:
        self.results = results
        self.calls = calls

    def us(self, group: str, name: str) -> float:
        return self.results[group][name].median / self.calls / 1000

    def ratio(self, group: str, name: str) -> float:
        return self.us(group, name) / self.us(group, PLAIN)

    def noise(self, group: str, names: list[str]) -> str:
        return f"{max(self.results[group][n].spread for n in names):.1%}"

    def hit_table(self, group: str, stores: list[str]) -> str:
        plain = self.us(group, PLAIN)
        rows = [[PLAIN, f"{plain:.2f}", "-", "-", "-", "-", "-", self.noise(group, [PLAIN])]]
        for name in stores:
            ttl, alone = f"{name} {TTL}", f"{name} {ALONE}"
            rows.append(
                [
                    name,
                    f"{self.us(group, name):.2f}",
                    f"{self.ratio(group, name):.2f}",
                    f"{self.us(group, name) - plain:.2f}",
                    f"{self.us(group, alone):.2f}",
                    f"{self.us(group, ttl):.2f}",
                    f"{self.ratio(group, ttl):.2f}",
                    self.noise(group, [PLAIN, name, ttl, alone]),
                ]
            )
        header = [group, "µs/call", "x plain", "+µs", "store alone µs", "ttl=1 µs"]
        return format_table([*header, "ttl=1 x plain", "noise"], rows)

    def uncached_table(self, stores: list[str]) -> str:
        plain = self.us(UNCACHED, PLAIN)
        rows = [[PLAIN, f"{plain:.2f}", "-", "-", self.noise(UNCACHED, [PLAIN])]]
        for name in stores:
            rows.append(
                [
                    name,
                    f"{self.us(UNCACHED, name):.2f}",
                    f"{self.ratio(UNCACHED, name):.2f}",
                    f"{self.us(UNCACHED, name) - plain:.2f}",
                    self.noise(UNCACHED, [PLAIN, name]),
                ]
            )
        return format_table([UNCACHED, "µs/call", "x plain", "+µs", "noise"], rows)


def _environment(redis_version: str) -> str:
    try:
        redis_py = metadata.version("redis")
    except metadata.PackageNotFoundError:
        redis_py = "(not installed)"
    return (
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"redis-py {redis_py}, redis-server {redis_version}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )


def _print_header(out: TextIO, sizes: Sizes, stores: Stores) -> None:
    print("stores: what checking revocation costs per store, in TokenValidator", file=out)
    print(f"  {_environment(stores.redis_version)}", file=out)
    if stores.skipped:
        print(f"  {stores.skipped}", file=out)
    print(
        f"  tokens: EdDSA, minted by one TokenIssuer per store; {SEEDED_REVOCATIONS} jtis "
        "revoked in each store first",
        file=out,
    )
    print(
        "  checked: issuer.validator() (revocation in its store); "
        "plain: issuer.validator(revocation=None)",
        file=out,
    )
    print(
        "  SQLiteStore on a temporary file; RedisStore on a redis-server of its own, 127.0.0.1",
        file=out,
    )
    print(
        f"  {sizes.rounds} rounds x {sizes.number} calls per contender, interleaved in "
        "rotating order; median time per call over rounds",
        file=out,
    )
    print("  no goals: report only", file=out, flush=True)


def _print_report(out: TextIO, report: _Report, stores: list[str]) -> None:
    for group in (SYNC, ASYNC):
        print(file=out)
        print(report.hit_table(group, stores), file=out)
    print(file=out)
    print(report.uncached_table(stores), file=out)
    print("  x plain: µs/call over plain's; +µs: µs/call minus plain's", file=out)
    print(
        "  store alone: store.is_revoked (sync) or store.ais_revoked (async), called directly",
        file=out,
    )
    print(
        "  ttl=1: issuer.validator(revocation_ttl=1), which asks the store at most once a "
        "second per token",
        file=out,
    )
    print(
        "  noise: the widest interquartile range over rounds in the row, relative to its median",
        file=out,
    )


def run(request: Request) -> Outcome:
    """Measure, print the report to ``request.out``, and return the one-line outcome."""
    out = request.out
    sizes = request.sizes(full=FULL, quick=QUICK)
    calls, warm_calls = sizes.number, max(1, sizes.number // 10)
    key = Key.generate("EdDSA", kid="bench-eddsa")
    with ExitStack() as stack:
        loop = asyncio.new_event_loop()
        stack.callback(loop.close)
        stack.callback(lambda: loop.run_until_complete(loop.shutdown_default_executor()))
        stores = open_stores(stack, loop)
        _print_header(out, sizes, stores)
        issuers = {
            name: TokenIssuer(key, store=store, issuer=ISSUER, audience=AUDIENCE, access_ttl=3600)
            for name, store in stores.by_name.items()
        }
        plain = _plain(issuers[MEMORY])
        subjects = [plain, *(_checked(name, issuer) for name, issuer in issuers.items())]
        for subject in subjects[1:]:
            seed_revocations(subject.issuer.store, SEEDED_REVOCATIONS, until=time.time() + 3600)
            _check_revocation(loop, subject, plain)
        groups = _contenders(loop, subjects, warm_calls + sizes.rounds * calls)
        # One short untimed round first: connections, caches and the thread pool warm up.
        measure(_operations(groups, warm_calls), Sizes(rounds=1, number=1))
        results = measure(_operations(groups, calls), Sizes(rounds=sizes.rounds, number=1))
    report = _Report(results, calls)
    names = list(stores.by_name)
    _print_report(out, report, names)
    ratios = ", ".join(
        f"{n} {report.ratio(SYNC, n):.2f} (ttl=1 {report.ratio(SYNC, f'{n} {TTL}'):.2f})"
        for n in names
    )
    skipped = "" if REDIS in stores.by_name else f", {REDIS} skipped"
    summary = f"stores (report only): sync cache hit x plain: {ratios}{skipped}"
    return Outcome(summary=summary, met=True)
