"""Adapter overhead: what tokenguard's ASGI and WSGI middleware add to a request, vs peers.

Every app is called in-process with a request built once (no HTTP client, no server), so
only the middleware and the framework are measured. Overhead = the median time per request
of a contender minus that of the same app without auth. Contenders:

* ASGI, around a bare app that answers 200 ``ok``: tokenguard's middleware with a
  cached `TokenValidator` and no revocation store; the same with ``issuer.validator()``,
  which checks revocation in a `MemoryStore`; Starlette's ``AuthenticationMiddleware``
  with a backend that calls ``jwt.decode`` (PyJWT). And authx: a FastAPI route behind
  authx's dependency, against the same FastAPI route without it.
* WSGI: tokenguard's middleware around a bare app; flask-jwt-extended: a Flask route
  under ``@jwt_required()``, against the same Flask route without it.
* Silent refresh (ASGI): every request carries an expired access cookie and a valid
  refresh cookie (a fresh pair each, since every refresh rotates), against
  ``issuer.refresh`` alone, to show what the refresh costs the request beyond itself.

All tokens are HS256, the default of authx and flask-jwt-extended (and PyJWT's cheapest
algorithm, which makes the peers' overheads, and so the ratios, as hard as they get).
Every contender is checked before timing: 200 with a valid token, 401 without one.

Goals: tokenguard ASGI overhead <= 0.05 x Starlette+PyJWT overhead; tokenguard WSGI
overhead <= 0.03 x flask-jwt-extended overhead. tokenguard ASGI / authx is reported.
A peer that is not installed is skipped with a message (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, TextIO

from bench._adapter_apps import (
    ALG,
    Batch,
    Loop,
    PeerUnavailableError,
    RefreshSetup,
    Setup,
    asgi_batch,
    asgi_scope,
    bare_asgi_app,
    bare_wsgi_app,
    bearer,
    call_asgi,
    call_wsgi,
    cookie_scope,
    issuer_refresh_batch,
    make_refresh_setup,
    make_setup,
    refresh_batch,
    wsgi_batch,
    wsgi_environ,
)
from bench._harness import Operation, Outcome, Request, Sizes, Stats, format_table, measure
from bench._peers import fastapi_apps, flask_apps, starlette_pyjwt_app
from tokenguard.types import ASGIApp

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["ASGI_GOAL", "WSGI_GOAL", "run"]

ASGI_GOAL = 0.05  # tokenguard ASGI overhead / Starlette AuthenticationMiddleware+PyJWT overhead
WSGI_GOAL = 0.03  # tokenguard WSGI overhead / flask-jwt-extended overhead

FULL = Sizes(rounds=41, number=300)
QUICK = Sizes(rounds=5, number=50)

ASGI, WSGI, REFRESH = "ASGI", "WSGI", "silent refresh"
BARE_ASGI, TG_ASGI, TG_REVOKE = "bare ASGI app", "tokenguard", "tokenguard + revocation"
STARLETTE = "Starlette AuthenticationMiddleware + PyJWT"
FASTAPI, AUTHX = "FastAPI, no auth", "FastAPI + authx"
BARE_WSGI, TG_WSGI = "bare WSGI app", "tokenguard"
FLASK, FJE = "Flask, no auth", "Flask + flask-jwt-extended"
TG_REFRESH, ISSUER_REFRESH = "tokenguard, expired access + refresh cookie", "issuer.refresh alone"

PEERS = ("starlette", "fastapi", "authx", "flask", "flask-jwt-extended", "PyJWT")


@dataclass(frozen=True, kw_only=True)
class _Contender:
    batch: Batch
    baseline: str | None = None  # the contender of the same group whose time is subtracted


class _Checker:
    """Correctness checks, outside any timing: a failure stops the run."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop

    def asgi(self, name: str, app: ASGIApp, token: str | None) -> None:
        status, body, _ = call_asgi(self.loop, app, asgi_scope(bearer(token) if token else ()))
        _expect(name, "with a valid token" if token else "", (status, body), (200, b"ok"))
        if token is not None:
            status, _, _ = call_asgi(self.loop, app, asgi_scope())
            _expect(name, "without a token", status, 401)

    def wsgi(self, name: str, app: WSGIApplication, token: str | None) -> None:
        response = call_wsgi(app, wsgi_environ(bearer(token) if token else ()))
        _expect(name, "with a valid token" if token else "", response, (200, b"ok"))
        if token is not None:
            status, _ = call_wsgi(app, wsgi_environ())
            _expect(name, "without a token", status, 401)

    def refresh(self, setup: RefreshSetup) -> None:
        first, second = setup.check_pairs
        scope = cookie_scope(setup.policy, first.access_token, first.refresh_token)
        status, body, cookies = call_asgi(self.loop, setup.app, scope)
        _expect(TG_REFRESH, "", (status, body), (200, b"ok"))
        names = sorted(c.partition("=")[0] for c in cookies)
        wanted = sorted([setup.policy.access_cookie, setup.policy.refresh_cookie])
        _expect(TG_REFRESH, "Set-Cookie", names, wanted)
        scope = cookie_scope(setup.policy, first.access_token, None)
        _expect(
            TG_REFRESH, "without a refresh cookie", call_asgi(self.loop, setup.app, scope)[0], 401
        )
        pair = setup.issuer.refresh(second.refresh_token)
        _expect(ISSUER_REFRESH, "rotates", pair.refresh_token != second.refresh_token, True)


def _expect(name: str, case: str, got: object, want: object) -> None:
    if got != want:
        where = f"{name} ({case})" if case else name
        raise RuntimeError(f"{where}: expected {want!r}, got {got!r}; nothing was timed.")


def _skip(error: PeerUnavailableError, out: TextIO) -> None:
    print(
        f"  skipped {error.peer}: {error.module!r} is not importable "
        "(install the peers with: pip install -e '.[bench]')",
        file=out,
    )


def _contenders(
    loop: Loop, setup: Setup, refresh: RefreshSetup, out: TextIO
) -> dict[str, dict[str, _Contender]]:
    """Every contender that can run here, each checked; a missing peer is skipped."""
    check = _Checker(loop)
    bare_scope = asgi_scope()
    tg_scope = asgi_scope(bearer(setup.token))
    asgi: dict[str, _Contender] = {
        BARE_ASGI: _Contender(batch=asgi_batch(loop, bare_asgi_app, bare_scope.copy)),
        TG_ASGI: _Contender(batch=asgi_batch(loop, setup.asgi, tg_scope.copy), baseline=BARE_ASGI),
        TG_REVOKE: _Contender(
            batch=asgi_batch(loop, setup.asgi_revocation, tg_scope.copy), baseline=BARE_ASGI
        ),
    }
    check.asgi(BARE_ASGI, bare_asgi_app, None)
    check.asgi(TG_ASGI, setup.asgi, setup.token)
    check.asgi(TG_REVOKE, setup.asgi_revocation, setup.token)
    try:
        app, token = starlette_pyjwt_app(setup.secret)
    except PeerUnavailableError as error:
        _skip(error, out)
    else:
        check.asgi(STARLETTE, app, token)
        scope = asgi_scope(bearer(token))
        asgi[STARLETTE] = _Contender(batch=asgi_batch(loop, app, scope.copy), baseline=BARE_ASGI)
    try:
        bare, guarded, token = fastapi_apps(setup.secret)
    except PeerUnavailableError as error:
        _skip(error, out)
    else:
        check.asgi(FASTAPI, bare, None)
        check.asgi(AUTHX, guarded, token)
        asgi[FASTAPI] = _Contender(batch=asgi_batch(loop, bare, bare_scope.copy))
        scope = asgi_scope(bearer(token))
        asgi[AUTHX] = _Contender(batch=asgi_batch(loop, guarded, scope.copy), baseline=FASTAPI)

    environ = wsgi_environ(bearer(setup.token))
    wsgi: dict[str, _Contender] = {
        BARE_WSGI: _Contender(batch=wsgi_batch(bare_wsgi_app, wsgi_environ())),
        TG_WSGI: _Contender(batch=wsgi_batch(setup.wsgi, environ), baseline=BARE_WSGI),
    }
    check.wsgi(BARE_WSGI, bare_wsgi_app, None)
    check.wsgi(TG_WSGI, setup.wsgi, setup.token)
    try:
        bare_flask, guarded_flask, token = flask_apps(setup.secret)
    except PeerUnavailableError as error:
        _skip(error, out)
    else:
        check.wsgi(FLASK, bare_flask, None)
        check.wsgi(FJE, guarded_flask, token)
        wsgi[FLASK] = _Contender(batch=wsgi_batch(bare_flask, wsgi_environ()))
        wsgi[FJE] = _Contender(
            batch=wsgi_batch(guarded_flask, wsgi_environ(bearer(token))), baseline=FLASK
        )

    check.refresh(refresh)
    refreshing = {
        # The bare ASGI app is timed here too, so that this group has its own baseline.
        BARE_ASGI: _Contender(batch=asgi_batch(loop, bare_asgi_app, bare_scope.copy)),
        TG_REFRESH: _Contender(batch=refresh_batch(loop, refresh), baseline=BARE_ASGI),
        ISSUER_REFRESH: _Contender(batch=issuer_refresh_batch(refresh)),
    }
    return {ASGI: asgi, WSGI: wsgi, REFRESH: refreshing}


def _operations(
    groups: dict[str, dict[str, _Contender]], calls: int
) -> dict[str, dict[str, Operation]]:
    # One operation = one batch of `calls` requests, so that an ASGI batch runs in a single
    # run_until_complete of the shared loop; `measure` then times one operation per round.
    return {
        group: {name: functools.partial(c.batch, calls) for name, c in contenders.items()}
        for group, contenders in groups.items()
    }


def _versions() -> str:
    found = []
    for dist in PEERS:
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            found.append(f"{dist} (not installed)")
    return ", ".join(found)


@dataclass(frozen=True, kw_only=True)
class _Ratio:
    label: str
    value: float | None  # None: not measured, or the peer's overhead was not positive
    goal: float | None
    why_none: str = ""

    def line(self) -> str:
        if self.value is None:
            return f"ratio {self.label}: n/a ({self.why_none})"
        if self.goal is None:
            return f"ratio {self.label}: {self.value:.3f} (reported, no goal)"
        verdict = "PASS" if self.met else "MISS"
        return f"ratio {self.label}: {self.value:.3f} (goal <= {self.goal:.2f}: {verdict})"

    @property
    def met(self) -> bool:
        return self.value is not None and self.goal is not None and self.value <= self.goal

    def short(self) -> str:
        return "n/a" if self.value is None else f"{self.value:.3f}"


class _Report:
    """Per-request medians (µs) and overheads, from the harness's per-batch stats."""

    def __init__(self, results: dict[str, dict[str, Stats]], calls: int) -> None:
        self.results = results
        self.calls = calls

    def us(self, group: str, name: str) -> float | None:
        stats = self.results[group].get(name)
        return None if stats is None else stats.median / self.calls / 1000

    def overhead(self, group: str, name: str, baseline: str) -> float | None:
        total, base = self.us(group, name), self.us(group, baseline)
        return None if total is None or base is None else total - base

    def table(self, group: str, contenders: dict[str, _Contender]) -> str:
        rows = []
        for name, contender in contenders.items():
            base = contender.baseline
            overhead = self.overhead(group, name, base) if base else None
            rows.append(
                [
                    name,
                    f"{self.us(group, name) or 0:.2f}",
                    "-" if overhead is None else f"{overhead:.2f}",
                    base or "-",
                    f"{self.results[group][name].spread:.1%}",
                ]
            )
        header = [group, "µs/request", "overhead µs", "overhead over", "noise"]
        return format_table(header, rows)

    def ratio(
        self, label: str, ours: float | None, theirs: float | None, goal: float | None, peer: str
    ) -> _Ratio:
        if ours is None or theirs is None:
            return _Ratio(label=label, value=None, goal=goal, why_none=f"{peer} not installed")
        if theirs <= 0:
            why = f"{peer} overhead {theirs:.2f} µs is not positive: too noisy a run"
            return _Ratio(label=label, value=None, goal=goal, why_none=why)
        return _Ratio(label=label, value=ours / theirs, goal=goal)


def _print_header(out: TextIO, sizes: Sizes) -> None:
    print(
        "adapters: per-request overhead of tokenguard's middleware vs peers, in-process", file=out
    )
    print(
        f"  Python {platform.python_version()}, {_versions()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs",
        file=out,
    )
    print(
        f"  every token {ALG}; apps called directly with a prebuilt scope/environ "
        "(no HTTP client, no server)",
        file=out,
    )
    print(
        f"  {sizes.rounds} rounds x {sizes.number} requests per contender, interleaved in "
        "rotating order; median time per request over rounds",
        file=out,
    )
    print(
        f"  goals: tokenguard ASGI overhead <= {ASGI_GOAL:.2f} x Starlette+PyJWT overhead; "
        f"tokenguard WSGI overhead <= {WSGI_GOAL:.2f} x flask-jwt-extended overhead",
        file=out,
        flush=True,
    )


def run(request: Request) -> Outcome:
    """Measure, print the report to ``request.out``, and return the one-line outcome."""
    out = request.out
    sizes = request.sizes(full=FULL, quick=QUICK)
    calls, warm_calls = sizes.number, max(1, sizes.number // 10)
    _print_header(out, sizes)

    setup = make_setup()
    # Each timed silent refresh uses up one pair: mint exactly as many as will be used.
    refresh = make_refresh_setup(setup.secret, warm_calls + sizes.rounds * calls)
    loop = asyncio.new_event_loop()
    try:
        groups = _contenders(loop, setup, refresh, out)
        # One short untimed round first: imports, caches and lazily built stacks warm up.
        measure(_operations(groups, warm_calls), Sizes(rounds=1, number=1))
        results = measure(_operations(groups, calls), Sizes(rounds=sizes.rounds, number=1))
    finally:
        loop.close()

    report = _Report(results, calls)
    for group in (ASGI, WSGI, REFRESH):
        print(file=out)
        print(report.table(group, groups[group]), file=out)
    print("  noise: interquartile range over rounds, relative to the median", file=out)

    tg_asgi = report.overhead(ASGI, TG_ASGI, BARE_ASGI)
    tg_revoke = report.overhead(ASGI, TG_REVOKE, BARE_ASGI)
    tg_wsgi = report.overhead(WSGI, TG_WSGI, BARE_WSGI)
    starlette = report.overhead(ASGI, STARLETTE, BARE_ASGI)
    authx = report.overhead(ASGI, AUTHX, FASTAPI)
    fje = report.overhead(WSGI, FJE, FLASK)
    asgi_ratio = report.ratio(
        "tokenguard ASGI / Starlette AuthenticationMiddleware+PyJWT overhead",
        tg_asgi,
        starlette,
        ASGI_GOAL,
        "Starlette + PyJWT",
    )
    wsgi_ratio = report.ratio(
        "tokenguard WSGI / flask-jwt-extended overhead",
        tg_wsgi,
        fje,
        WSGI_GOAL,
        "flask-jwt-extended",
    )
    authx_ratio = report.ratio("tokenguard ASGI / authx overhead", tg_asgi, authx, None, "authx")
    revoke_ratio = report.ratio(
        "tokenguard ASGI + revocation / Starlette AuthenticationMiddleware+PyJWT overhead",
        tg_revoke,
        starlette,
        None,
        "Starlette + PyJWT",
    )
    print(file=out)
    for ratio in (asgi_ratio, authx_ratio, revoke_ratio, wsgi_ratio):
        print(ratio.line(), file=out)
    _print_refresh(report, out)

    met = asgi_ratio.met and wsgi_ratio.met
    summary = (
        f"adapters {'PASS' if met else 'MISS'}: ASGI/Starlette+PyJWT {asgi_ratio.short()} "
        f"(<= {ASGI_GOAL:.2f}), WSGI/flask-jwt-extended {wsgi_ratio.short()} "
        f"(<= {WSGI_GOAL:.2f}), ASGI/authx {authx_ratio.short()}"
    )
    return Outcome(summary=summary, met=met)


def _print_refresh(report: _Report, out: TextIO) -> None:
    overhead = report.overhead(REFRESH, TG_REFRESH, BARE_ASGI)
    alone = report.us(REFRESH, ISSUER_REFRESH)
    if overhead is None or alone is None:  # pragma: no cover - both always run
        return
    print(
        f"silent refresh: overhead {overhead:.2f} µs/request = issuer.refresh {alone:.2f} µs "
        f"+ {overhead - alone:.2f} µs for the rest of the refresh path (validating the expired "
        "token and the new one, Set-Cookie values, the single-flight task)",
        file=out,
    )
