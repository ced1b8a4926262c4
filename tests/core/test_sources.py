"""Token sources: OAuth2TokenSource against a real HTTP server on 127.0.0.1,
CallableTokenSource, and SingleFlightSource under threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FrozenClock
from tests.core.httpserver import Reply, ScriptedHTTPServer, refused_url, wait_until
from tests.core.httpserver import http_server as http_server  # the fixture
from tokenguard.errors import (
    ConfigError,
    InactiveTokenError,
    TokenError,
    TokenSourceUnavailableError,
)
from tokenguard.issuer import TokenPair
from tokenguard.sources import (
    CallableTokenSource,
    OAuth2TokenSource,
    SingleFlightSource,
    TokenSource,
)

PATH = "/oauth2/token"
CLIENT_ID = "shop-web"
CLIENT_SECRET = "token-endpoint-secret-7"
REFRESH = "old-refresh-token-value-0123456789"
DEFAULT_LIFETIME = 14 * 86_400
MODES = [pytest.param("sync", id="sync"), pytest.param("async", id="async")]


def source_for(url: str, **options: Any) -> OAuth2TokenSource:
    if "auth" not in options and "client_id" not in options:
        options["client_id"] = CLIENT_ID
        options["client_secret"] = CLIENT_SECRET
    options.setdefault("timeout", 2.0)
    return OAuth2TokenSource(url, allow_http=True, **options)


async def call(mode: str, source: TokenSource, refresh_token: str = REFRESH) -> TokenPair:
    return source.refresh(refresh_token) if mode == "sync" else await source.arefresh(refresh_token)


@pytest.fixture
def token_url(http_server: ScriptedHTTPServer) -> str:
    return http_server.url(PATH)


# -- OAuth2TokenSource: configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allow_http"),
    [
        pytest.param("http://idp.example/token", False, id="http-not-allowed"),
        pytest.param("ftp://idp.example/token", True, id="ftp"),
        pytest.param("idp.example/token", True, id="no-scheme"),
    ],
)
def test_token_url_must_be_https(url: str, allow_http: bool) -> None:
    with pytest.raises(ConfigError) as info:
        OAuth2TokenSource(url, allow_http=allow_http)
    assert str(info.value) == "The token endpoint must be an https:// URL."


def test_is_a_token_source() -> None:
    assert isinstance(OAuth2TokenSource("https://idp.example/token"), TokenSource)


# -- OAuth2TokenSource: the request ------------------------------------------------------------


def test_basic_credentials_are_form_encoded_first() -> None:
    # RFC 6749 section 2.3.1: id and secret are application/x-www-form-urlencoded before
    # Basic, so a ':' in the id cannot shift the split point on the server.
    from tokenguard._http import client_secret_basic

    auth = client_secret_basic("app:1", "s\u00e9cret +")
    request = next(auth.auth_flow(httpx.Request("POST", "https://as.example/token")))
    raw = base64.b64decode(request.headers["authorization"].split()[1]).decode()
    assert raw == "app%3A1:s%C3%A9cret+%2B"


@pytest.mark.parametrize("mode", MODES)
async def test_request_is_a_refresh_grant_with_basic_auth(
    mode: str, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    http_server.reply(PATH, body={"access_token": "new-access", "expires_in": 900})
    await call(mode, source_for(token_url))
    (request,) = http_server.requests(PATH)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    # RFC 6749 section 2.3.1: HTTP Basic with the client's credentials.
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    # RFC 6749 section 6: exactly these parameters; a confidential client sends no client_id.
    assert request.form() == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH]}


@pytest.mark.parametrize("mode", MODES)
async def test_request_with_scope(
    mode: str, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    http_server.reply(PATH, body={"access_token": "new-access", "expires_in": 900})
    await call(mode, source_for(token_url, scope="cart:read openid"))
    assert http_server.requests(PATH)[0].form() == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "scope": ["cart:read openid"],
    }


@pytest.mark.parametrize("mode", MODES)
async def test_public_client_identifies_itself_in_the_body(
    mode: str, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    http_server.reply(PATH, body={"access_token": "new-access", "expires_in": 900})
    await call(mode, source_for(token_url, client_id="spa"))
    (request,) = http_server.requests(PATH)
    assert "authorization" not in request.headers
    assert request.form() == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": ["spa"],
    }


@pytest.mark.parametrize("mode", MODES)
async def test_custom_auth(mode: str, http_server: ScriptedHTTPServer, token_url: str) -> None:
    class Header(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
            request.headers["X-Client-Assertion"] = "signed-jwt"
            yield request

    http_server.reply(PATH, body={"access_token": "new-access", "expires_in": 900})
    await call(mode, source_for(token_url, auth=Header(), client_id="ignored"))
    (request,) = http_server.requests(PATH)
    assert request.headers["x-client-assertion"] == "signed-jwt"
    assert "authorization" not in request.headers
    assert "client_id" not in request.form()


async def test_given_clients_are_used(http_server: ScriptedHTTPServer, token_url: str) -> None:
    http_server.reply(PATH, body={"access_token": "new-access", "expires_in": 900})
    headers = {"user-agent": "shop-refresher"}
    with httpx.Client(headers=headers) as client:
        async with httpx.AsyncClient(headers=headers) as async_client:
            source = source_for(token_url, client=client, async_client=async_client)
            source.refresh(REFRESH)
            await source.arefresh(REFRESH)
    requests = http_server.requests(PATH)
    assert [r.headers["user-agent"] for r in requests] == ["shop-refresher"] * 2
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert [r.headers["authorization"] for r in requests] == [f"Basic {expected}"] * 2


# -- OAuth2TokenSource: answers -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            {
                "access_token": "new-access",
                "token_type": "Bearer",
                "expires_in": 900,
                "refresh_token": "new-refresh",
                "refresh_expires_in": 3600,
            },
            TokenPair("new-access", "new-refresh", 900, 3600),
            id="rotated-with-lifetime",
        ),
        pytest.param(
            {"access_token": "new-access", "expires_in": 300},
            TokenPair("new-access", REFRESH, 300, DEFAULT_LIFETIME),
            id="no-rotation-keeps-refresh-token",
        ),
        pytest.param(
            {"access_token": "new-access", "expires_in": 300, "refresh_token": None},
            TokenPair("new-access", REFRESH, 300, DEFAULT_LIFETIME),
            id="null-refresh-token-kept",
        ),
        pytest.param(
            {"access_token": "new-access", "expires_in": "300", "refresh_expires_in": 59.9},
            TokenPair("new-access", REFRESH, 300, 59),
            id="numeric-string-and-float",
        ),
        pytest.param(
            {"access_token": "new-access", "expires_in": 300, "refresh_expires_in": "soon"},
            TokenPair("new-access", REFRESH, 300, DEFAULT_LIFETIME),
            id="unusable-refresh-lifetime-ignored",
        ),
        pytest.param(
            # expires_in is optional (RFC 6749 section 5.1): assume the default, not 0,
            # or every request would refresh again.
            {"access_token": "new-access"},
            TokenPair("new-access", REFRESH, 300, DEFAULT_LIFETIME),
            id="no-expires-in",
        ),
    ],
)
async def test_success(
    mode: str,
    answer: dict[str, Any],
    expected: TokenPair,
    http_server: ScriptedHTTPServer,
    token_url: str,
) -> None:
    http_server.reply(PATH, body=answer)
    pair = await call(mode, source_for(token_url))
    assert pair == expected


@pytest.mark.parametrize("mode", MODES)
async def test_a_gzip_bomb_is_refused_as_unavailable(
    mode: str, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    import gzip

    bomb = gzip.compress(b'{"access_token": "' + b"a" * (8 * 1024 * 1024) + b'"}')
    http_server.reply(PATH, body=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(TokenSourceUnavailableError):
        await call(mode, source_for(token_url))
    (request,) = http_server.requests(PATH)
    assert request.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("mode", MODES)
async def test_refresh_lifetime_option(
    mode: str, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    http_server.reply(PATH, body={"access_token": "a", "expires_in": 60})
    pair = await call(mode, source_for(token_url, refresh_lifetime=7200))
    assert pair.refresh_expires_in == 7200


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(400, {"error": "invalid_grant"}), id="400-invalid_grant"),
        pytest.param(
            Reply(400, {"error": "invalid_grant", "error_description": "Token expired"}),
            id="400-invalid_grant-described",
        ),
        pytest.param(Reply(400, b""), id="400-empty"),
        pytest.param(Reply(400, "Bad Request", {"Content-Type": "text/plain"}), id="400-text"),
    ],
)
async def test_refused_refresh_token_is_inactive(
    mode: str, reply: Reply, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    http_server.respond(PATH, reply)
    with pytest.raises(InactiveTokenError) as info:
        await call(mode, source_for(token_url))
    assert type(info.value) is InactiveTokenError
    assert info.value.status == 401
    assert info.value.error == "invalid_token"
    assert info.value.description == "The refresh token was refused."


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "reply",
    [
        # RFC 6749 section 5.2: these refuse this client, not the user's refresh token, so
        # the session is kept (503) instead of being logged out (401).
        pytest.param(Reply(401, {"error": "invalid_client"}), id="401-invalid_client"),
        pytest.param(Reply(401, b""), id="401-empty"),
        pytest.param(Reply(400, {"error": "invalid_client"}), id="400-invalid_client"),
        pytest.param(Reply(400, {"error": "unauthorized_client"}), id="400-unauthorized_client"),
        pytest.param(
            Reply(400, {"error": "unsupported_grant_type"}), id="400-unsupported_grant_type"
        ),
        pytest.param(Reply(500, {"error": "server_error"}), id="500"),
        pytest.param(Reply(502, "Bad Gateway"), id="502"),
        pytest.param(Reply(503, b"", {"Retry-After": "5"}), id="503"),
        pytest.param(Reply(404, {"error": "not_found"}), id="404"),
        pytest.param(Reply(302, b"", {"Location": "/login"}), id="302-not-followed"),
        pytest.param(Reply(204, b""), id="204"),
        pytest.param(Reply(200, "<html>maintenance</html>"), id="html"),
        pytest.param(Reply(200, b"\xff\xfe{"), id="binary"),
        pytest.param(Reply(200, b""), id="empty"),
        pytest.param(Reply(200, []), id="json-list"),
        pytest.param(Reply(200, "just a string"), id="json-string"),
        pytest.param(Reply(200, {}), id="no-access-token"),
        pytest.param(Reply(200, {"access_token": 42, "expires_in": 60}), id="access-not-str"),
        pytest.param(Reply(200, {"access_token": None}), id="access-null"),
        pytest.param(Reply(200, {"access_token": "a", "expires_in": "soon"}), id="expires-in-text"),
        pytest.param(Reply(200, {"access_token": "a", "expires_in": [60]}), id="expires-in-list"),
        pytest.param(
            Reply(
                200,
                b'{"access_token": "a", "expires_in": 1e999}',
                {"Content-Type": "application/json"},
            ),
            id="expires-in-overflow",
        ),
        pytest.param(
            Reply(
                200,
                b'{"access_token": "a", "expires_in": NaN}',
                {"Content-Type": "application/json"},
            ),
            id="expires-in-nan",
        ),
        pytest.param(
            Reply(
                200,
                b'{"access_token": "a", "expires_in": 60, "refresh_expires_in": Infinity}',
                {"Content-Type": "application/json"},
            ),
            id="refresh-expires-in-infinity",
        ),
    ],
)
async def test_endpoint_failure_is_unavailable(
    mode: str, reply: Reply, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    http_server.respond(PATH, reply)
    with pytest.raises(TokenSourceUnavailableError) as info:
        await call(mode, source_for(token_url))
    assert info.value.status == 503
    assert info.value.error == "temporarily_unavailable"
    assert http_server.count(PATH) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_connection_refused_is_unavailable(mode: str) -> None:
    with pytest.raises(TokenSourceUnavailableError) as info:
        await call(mode, source_for(refused_url(PATH)))
    assert info.value.status == 503


@pytest.mark.parametrize("mode", MODES)
async def test_timeout_is_unavailable(
    mode: str, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    http_server.reply(PATH, body={"access_token": "late", "expires_in": 60}, delay=5.0)
    with pytest.raises(TokenSourceUnavailableError):
        await call(mode, source_for(token_url, timeout=0.2))
    assert http_server.count(PATH) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_timeout_with_given_client(
    mode: str, http_server: ScriptedHTTPServer, token_url: str
) -> None:
    # The source's timeout applies to clients it is given, too.
    http_server.reply(PATH, body={"access_token": "late", "expires_in": 60}, delay=5.0)
    with httpx.Client(timeout=30) as client:
        async with httpx.AsyncClient(timeout=30) as async_client:
            source = source_for(token_url, timeout=0.2, client=client, async_client=async_client)
            with pytest.raises(TokenSourceUnavailableError):
                await call(mode, source)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(400, {"error": "invalid_grant"}), id="refused"),
        pytest.param(Reply(500, b"boom"), id="failed"),
        pytest.param(Reply(200, "garbage"), id="garbage"),
    ],
)
async def test_failures_never_reveal_tokens(
    mode: str,
    reply: Reply,
    http_server: ScriptedHTTPServer,
    token_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http_server.respond(PATH, reply)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TokenError) as info:
        await call(mode, source_for(token_url))
    for text in (str(info.value), repr(info.value), caplog.text):
        assert REFRESH not in text
        assert CLIENT_SECRET not in text


# -- CallableTokenSource -------------------------------------------------------------------------

PAIR = TokenPair("access-1", "refresh-1", 900, 3600)


def test_callable_source_sync() -> None:
    seen: list[str] = []

    def refresh(refresh_token: str) -> TokenPair:
        seen.append(refresh_token)
        return PAIR

    source = CallableTokenSource(refresh)
    assert isinstance(source, TokenSource)
    assert source.refresh(REFRESH) is PAIR
    assert seen == [REFRESH]


async def test_callable_source_async_function() -> None:
    seen: list[tuple[str, str]] = []

    def refresh(refresh_token: str) -> TokenPair:
        seen.append(("sync", refresh_token))
        return PAIR

    async def arefresh(refresh_token: str) -> TokenPair:
        seen.append(("async", refresh_token))
        return PAIR

    source = CallableTokenSource(refresh, arefresh)
    assert await source.arefresh(REFRESH) is PAIR
    assert source.refresh("other") is PAIR
    assert seen == [("async", REFRESH), ("sync", "other")]


async def test_callable_source_runs_sync_function_off_the_loop() -> None:
    threads: list[int] = []

    def refresh(refresh_token: str) -> TokenPair:
        threads.append(threading.get_ident())
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()  # not on the event loop's thread
        return PAIR

    assert await CallableTokenSource(refresh).arefresh(REFRESH) is PAIR
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


@pytest.mark.parametrize("mode", MODES)
async def test_callable_source_errors_propagate(mode: str) -> None:
    refused = InactiveTokenError("no")

    def refresh(refresh_token: str) -> TokenPair:
        raise refused

    with pytest.raises(InactiveTokenError) as info:
        await call(mode, CallableTokenSource(refresh))
    assert info.value is refused


# -- SingleFlightSource --------------------------------------------------------------------------


class GatedSource:
    """A token source whose calls block until ``gate`` is opened; counts its calls.

    Each call answers a new pair, or raises ``error`` when one is set.
    """

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.calls = 0
        self.seen: list[str] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.agate: asyncio.Event | None = None
        self.aentered: asyncio.Event | None = None
        self._lock = threading.Lock()

    def _answer(self, refresh_token: str) -> TokenPair:
        with self._lock:
            self.calls += 1
            self.seen.append(refresh_token)
            number = self.calls
        self.entered.set()
        return TokenPair(f"access-{number}", f"refresh-{number}", 900, 3600)

    def refresh(self, refresh_token: str) -> TokenPair:
        pair = self._answer(refresh_token)
        assert self.gate.wait(10)
        if self.error is not None:
            raise self.error
        return pair

    async def arefresh(self, refresh_token: str) -> TokenPair:
        pair = self._answer(refresh_token)
        if self.aentered is not None:
            self.aentered.set()
        if self.agate is not None:
            await self.agate.wait()
        if self.error is not None:
            raise self.error
        return pair


_SOURCES = str(Path("tokenguard") / "sources.py")


def parked_in_single_flight(thread: threading.Thread) -> bool:
    """The thread is blocked (waiting) somewhere below `SingleFlightSource.refresh`."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None or frame.f_code.co_name != "wait":
        return False
    while frame is not None:
        code = frame.f_code
        if code.co_name == "refresh" and code.co_filename.endswith(_SOURCES):
            return True
        frame = frame.f_back
    return False


def run_threads(
    single: SingleFlightSource, source: GatedSource, count: int, token: str = REFRESH
) -> list[TokenPair | BaseException]:
    """``count`` threads refresh ``token`` at once; the gate opens when all are waiting."""
    results: list[TokenPair | BaseException] = [RuntimeError("no result")] * count

    def work(index: int) -> None:
        try:
            results[index] = single.refresh(token)
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: all(parked_in_single_flight(t) for t in threads),
            what="every thread waiting on the refresh in flight",
        )
    finally:
        source.gate.set()
        for thread in threads:
            thread.join(10)
    return results


def test_threads_share_one_call() -> None:
    source = GatedSource()
    single = SingleFlightSource(source)
    results = run_threads(single, source, 20)
    assert source.calls == 1
    assert source.seen == [REFRESH]
    first = results[0]
    assert isinstance(first, TokenPair)
    assert first == TokenPair("access-1", "refresh-1", 900, 3600)
    assert all(result is first for result in results)


def test_threads_share_a_failure_that_is_not_remembered() -> None:
    refused = InactiveTokenError("The refresh token was refused.")
    source = GatedSource(error=refused)
    single = SingleFlightSource(source)
    results = run_threads(single, source, 20)
    assert source.calls == 1
    assert all(result is refused for result in results)
    # Not remembered: a later call asks again.
    source.error = None
    assert single.refresh(REFRESH) == TokenPair("access-2", "refresh-2", 900, 3600)
    assert source.calls == 2


def test_unexpected_leader_error_reaches_waiters_as_unavailable() -> None:
    boom = RuntimeError("connection pool exploded")
    source = GatedSource(error=boom)
    results = run_threads(SingleFlightSource(source), source, 5)
    assert source.calls == 1
    assert sum(result is boom for result in results) == 1  # the caller that made the call
    waiters = [result for result in results if result is not boom]
    assert len(waiters) == 4
    assert all(type(result) is TokenSourceUnavailableError for result in waiters)


def test_different_tokens_do_not_share() -> None:
    source = GatedSource()
    source.gate.set()
    single = SingleFlightSource(source)
    assert single.refresh("token-a") == TokenPair("access-1", "refresh-1", 900, 3600)
    assert single.refresh("token-b") == TokenPair("access-2", "refresh-2", 900, 3600)
    assert source.seen == ["token-a", "token-b"]


@pytest.mark.parametrize("mode", MODES)
async def test_success_is_remembered_for_remember_seconds(mode: str) -> None:
    clock = FrozenClock(1000.0)
    source = GatedSource()
    source.gate.set()
    single = SingleFlightSource(source, remember=10, clock=clock)
    first = await call(mode, single)
    clock.advance(9.9)
    assert await call(mode, single) is first
    assert source.calls == 1
    clock.advance(0.2)
    second = await call(mode, single)
    assert second == TokenPair("access-2", "refresh-2", 900, 3600)
    assert source.calls == 2


@pytest.mark.parametrize("mode", MODES)
async def test_remembered_by_both_styles(mode: str) -> None:
    # A pair obtained by a thread serves a task, and the other way round.
    clock = FrozenClock(1000.0)
    source = GatedSource()
    source.gate.set()
    single = SingleFlightSource(source, remember=10, clock=clock)
    first = await call(mode, single)
    other = "async" if mode == "sync" else "sync"
    assert await call(other, single) is first
    assert source.calls == 1


async def start_tasks(
    single: SingleFlightSource, source: GatedSource, count: int
) -> list[asyncio.Task[TokenPair]]:
    source.agate = asyncio.Event()
    source.aentered = asyncio.Event()
    tasks = [asyncio.create_task(single.arefresh(REFRESH)) for _ in range(count)]
    # The shared call is created by the first task's first step; every task has run its
    # first step (and is awaiting the shared call) before the shared call itself starts.
    await source.aentered.wait()
    return tasks


async def test_tasks_share_one_call() -> None:
    source = GatedSource()
    single = SingleFlightSource(source)
    tasks = await start_tasks(single, source, 20)
    assert source.agate is not None
    source.agate.set()
    results = await asyncio.gather(*tasks)
    assert source.calls == 1
    assert results[0] == TokenPair("access-1", "refresh-1", 900, 3600)
    assert all(result is results[0] for result in results)


async def test_tasks_share_a_failure_that_is_not_remembered() -> None:
    source = GatedSource(error=InactiveTokenError("The refresh token was refused."))
    single = SingleFlightSource(source)
    tasks = await start_tasks(single, source, 20)
    assert source.agate is not None
    source.agate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert source.calls == 1
    assert all(isinstance(result, InactiveTokenError) for result in results)
    source.error = None
    assert await single.arefresh(REFRESH) == TokenPair("access-2", "refresh-2", 900, 3600)
    assert source.calls == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_call() -> None:
    source = GatedSource()
    single = SingleFlightSource(source)
    tasks = await start_tasks(single, source, 3)
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert source.agate is not None
    source.agate.set()
    first, second = await asyncio.gather(*tasks[1:])
    assert first is second
    assert source.calls == 1


@pytest.mark.parametrize("mode", MODES)
async def test_single_flight_is_a_token_source(mode: str) -> None:
    calls: list[str] = []

    def refresh(refresh_token: str) -> TokenPair:
        calls.append(refresh_token)
        return PAIR

    source = SingleFlightSource(CallableTokenSource(refresh))
    assert isinstance(source, TokenSource)
    assert await call(mode, source) is PAIR
    assert calls == [REFRESH]
