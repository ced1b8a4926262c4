"""The apps, requests and drivers of the adapters benchmark (private).

Every contender is a "batch": a callable that serves ``calls`` requests in a loop, in-process,
with no HTTP client and no server. ASGI apps are awaited directly, ``await app(scope,
receive, send)``, inside one event loop that lives for the whole run; WSGI apps are called
directly, ``app(environ, start_response)``, and their body is drained and closed. Each
request gets its own shallow copy of a scope or environ built once, because adapters and
frameworks write into it.

All tokens are HS256, the default of both authx and flask-jwt-extended; the peers live in
`bench._peers`.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from tokenguard import (
    Authenticator,
    CookiePolicy,
    Key,
    KeySet,
    MemoryStore,
    TokenIssuer,
    TokenPair,
    TokenValidator,
)
from tokenguard.asgi import TokenGuardMiddleware as ASGIMiddleware
from tokenguard.types import ASGIApp, Message, Scope
from tokenguard.wsgi import TokenGuardMiddleware as WSGIMiddleware

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "ACCESS_TTL",
    "ALG",
    "AUDIENCE",
    "ISSUER",
    "PATH",
    "SUBJECT",
    "Batch",
    "Loop",
    "ManualClock",
    "PeerUnavailableError",
    "RefreshSetup",
    "Setup",
    "asgi_batch",
    "asgi_scope",
    "bare_asgi_app",
    "bare_wsgi_app",
    "bearer",
    "call_asgi",
    "call_wsgi",
    "cookie_scope",
    "issuer_refresh_batch",
    "make_refresh_setup",
    "make_setup",
    "refresh_batch",
    "wsgi_batch",
    "wsgi_environ",
]

ALG: Final = "HS256"
PATH = "/items"
ISSUER = "https://issuer.example"
AUDIENCE = "api://bench"
SUBJECT = "user-1234"
ACCESS_TTL = 3600  # far beyond any run

# What a browser or an HTTP client library typically sends besides the credentials: the
# adapters walk every header, so an empty request would flatter them.
_COMMON_HEADERS = (
    ("host", "bench.example"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("accept", "application/json"),
    ("accept-language", "en-GB,en;q=0.5"),
    ("accept-encoding", "gzip, deflate, br"),
    ("connection", "keep-alive"),
)


class PeerUnavailableError(Exception):
    """A peer library is not importable; its contenders are skipped."""

    def __init__(self, peer: str, module: str | None) -> None:
        super().__init__(f"{peer}: module {module!r} is not importable")
        self.peer = peer
        self.module = module


class Batch(Protocol):
    """Serve ``calls`` requests with one contender."""

    def __call__(self, calls: int) -> None: ...


class ManualClock:
    """A clock that moves only when told (for the silent-refresh scenario)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Loop = asyncio.AbstractEventLoop


# -- requests --------------------------------------------------------------------------


def asgi_scope(headers: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """An HTTP ``GET PATH`` scope with the common headers plus ``headers``."""
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in (*_COMMON_HEADERS, *headers)]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("bench.example", 80),
    }


def wsgi_environ(headers: Iterable[tuple[str, str]] = ()) -> WSGIEnvironment:
    """A PEP 3333 environ of ``GET PATH`` with the common headers plus ``headers``."""
    environ: WSGIEnvironment = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench.example",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),  # a GET: nobody reads it
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in (*_COMMON_HEADERS, *headers):
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def bearer(token: str) -> tuple[tuple[str, str]]:
    """The Authorization header carrying ``token``."""
    return (("authorization", f"Bearer {token}"),)


# -- bare apps -------------------------------------------------------------------------

_OK_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
}
_OK_BODY: Message = {"type": "http.response.body", "body": b"ok"}


async def bare_asgi_app(scope: Scope, receive: Any, send: Any) -> None:
    """The smallest ASGI app: 200 ``ok``."""
    await send(_OK_START)
    await send(_OK_BODY)


_WSGI_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "2")]


def bare_wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The smallest WSGI app: 200 ``ok``."""
    start_response("200 OK", _WSGI_HEADERS)
    return [b"ok"]


# -- drivers ---------------------------------------------------------------------------


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _sink(message: Message) -> None:
    return None


def _write(data: bytes) -> None:
    return None


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
) -> Callable[[bytes], object]:
    return _write


class ScopeSource(Protocol):
    """The scope of the next request."""

    def __call__(self) -> Scope: ...


def asgi_batch(loop: Loop, app: ASGIApp, next_scope: ScopeSource) -> Batch:
    """A batch that awaits ``app`` once per call, all in one task of ``loop``."""

    async def drive(calls: int) -> None:
        for _ in range(calls):
            await app(next_scope(), _receive, _sink)

    def batch(calls: int) -> None:
        loop.run_until_complete(drive(calls))

    return batch


def wsgi_batch(app: WSGIApplication, environ: WSGIEnvironment) -> Batch:
    """A batch that calls ``app`` once per call with a fresh copy of ``environ``."""
    copy = environ.copy

    def batch(calls: int) -> None:
        for _ in range(calls):
            body = app(copy(), _start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return batch


def call_asgi(loop: Loop, app: ASGIApp, scope: Scope) -> tuple[int, bytes, list[str]]:
    """Status, body and Set-Cookie values of one request (outside any timing)."""
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    loop.run_until_complete(app(dict(scope), _receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    cookies = [v.decode("latin-1") for n, v in start.get("headers", ()) if n == b"set-cookie"]
    return int(start["status"]), body, cookies


def call_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[int, bytes]:
    """Status and body of one request (outside any timing)."""
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return _write

    result = app(dict(environ), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(statuses[-1].split()[0]), body


# -- tokenguard --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Setup:
    """tokenguard's side: a shared secret, an issuer, and the middleware variants."""

    secret: str
    token: str
    asgi: ASGIApp
    asgi_revocation: ASGIApp
    wsgi: WSGIApplication


def make_setup() -> Setup:
    """Mint a token and wrap the bare apps in tokenguard's middleware."""
    secret = secrets.token_urlsafe(48)
    key = Key.hmac(secret, alg=ALG, kid="bench")
    issuer = TokenIssuer(
        key, store=MemoryStore(), issuer=ISSUER, audience=AUDIENCE, access_ttl=ACCESS_TTL
    )
    token = issuer.issue_access(SUBJECT, scopes=["orders:read"])
    # Validated-token cache on (the default), no revocation store.
    cached = TokenValidator(KeySet([key]), issuer=ISSUER, audience=AUDIENCE)
    plain = Authenticator(cached, protected=[PATH])
    # issuer.validator(): the same cache, plus a revocation check in the MemoryStore.
    revoking = Authenticator(issuer.validator(), protected=[PATH])
    return Setup(
        secret=secret,
        token=token,
        asgi=ASGIMiddleware(bare_asgi_app, plain),
        asgi_revocation=ASGIMiddleware(bare_asgi_app, revoking),
        wsgi=WSGIMiddleware(bare_wsgi_app, plain),
    )


@dataclass(frozen=True, kw_only=True)
class RefreshSetup:
    """The silent-refresh scenario: an app, and pre-minted pairs for each contender.

    Every refresh rotates the refresh token, so each request needs a pair of its own.
    """

    app: ASGIApp
    issuer: TokenIssuer
    policy: CookiePolicy
    middleware_pairs: list[TokenPair]
    refresh_pairs: list[TokenPair]
    check_pairs: tuple[TokenPair, TokenPair]


def cookie_scope(policy: CookiePolicy, access: str, refresh: str | None) -> dict[str, Any]:
    """A scope whose Cookie header carries the access (and refresh) cookie."""
    cookie = f"{policy.access_cookie}={access}"
    if refresh is not None:
        cookie += f"; {policy.refresh_cookie}={refresh}"
    return asgi_scope([("cookie", cookie)])


def make_refresh_setup(secret: str, pairs: int) -> RefreshSetup:
    """Mint ``pairs`` pairs for each contender and two for checks; then let them expire."""
    clock = ManualClock(1_800_000_000.0)
    # Each pair leaves its record and its successor's in the store: room for all of them.
    store = MemoryStore(maxsize=4 * pairs + 1000, clock=clock)
    key = Key.hmac(secret, alg=ALG, kid="bench-refresh")
    issuer = TokenIssuer(
        key, store=store, issuer=ISSUER, audience=AUDIENCE, access_ttl=60, clock=clock
    )
    policy = CookiePolicy()
    middleware = [issuer.issue_pair(SUBJECT, scopes=["orders:read"]) for _ in range(pairs)]
    alone = [issuer.issue_pair(SUBJECT, scopes=["orders:read"]) for _ in range(pairs)]
    checks = (issuer.issue_pair(SUBJECT), issuer.issue_pair(SUBJECT))
    clock.now += 120  # every access token has expired; the refresh tokens live for days
    authenticator = Authenticator(
        issuer.validator(), source=issuer, cookies=policy, protected=[PATH], clock=clock
    )
    return RefreshSetup(
        app=ASGIMiddleware(bare_asgi_app, authenticator),
        issuer=issuer,
        policy=policy,
        middleware_pairs=middleware,
        refresh_pairs=alone,
        check_pairs=checks,
    )


def refresh_batch(loop: Loop, setup: RefreshSetup) -> Batch:
    """Requests with an expired access cookie and a valid refresh cookie, a pair each."""
    # The scopes are built now, before any clock starts: building them is not the
    # adapter's work. Each is used once.
    policy = setup.policy
    scopes = iter(
        [cookie_scope(policy, p.access_token, p.refresh_token) for p in setup.middleware_pairs]
    )
    return asgi_batch(loop, setup.app, scopes.__next__)


def issuer_refresh_batch(setup: RefreshSetup) -> Batch:
    """``issuer.refresh`` alone, one pre-minted refresh token per call."""
    refresh = setup.issuer.refresh
    tokens = iter([pair.refresh_token for pair in setup.refresh_pairs])

    def batch(calls: int) -> None:
        next_token = tokens.__next__
        for _ in range(calls):
            refresh(next_token())

    return batch
