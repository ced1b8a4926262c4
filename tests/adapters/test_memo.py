"""The memo of Bearer-only decisions: used only where the token alone decides, and never
past what the validator's cache vouches for."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from tests.conftest import AUDIENCE, ISSUER, FrozenClock, signing_key
from tokenguard import (
    Authenticator,
    AuthEvent,
    KeySet,
    MemoryStore,
    TokenLocation,
    TokenValidator,
    current_principal,
)
from tokenguard.asgi import TokenGuardMiddleware as ASGIMiddleware
from tokenguard.wsgi import TokenGuardMiddleware as WSGIMiddleware


class CountingAuthenticator(Authenticator):
    """Counts how often the full flow runs."""

    flows = 0

    def flow(self, request: Any) -> Any:
        self.flows += 1
        return super().flow(request)


def make(clock: FrozenClock, **options: Any) -> CountingAuthenticator:
    validator_options = options.pop("validator_options", {})
    validator = TokenValidator(
        KeySet([signing_key("HS256")]),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
        **validator_options,
    )
    return CountingAuthenticator(validator, **options)


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    principal = current_principal()
    body = (principal.subject if principal else "-").encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def asgi_call(
    middleware: ASGIMiddleware, headers: Iterable[tuple[str, str]], path: str = "/x"
) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [(n.encode(), v.encode()) for n, v in headers],
        "query_string": b"",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def wsgi_call(middleware: WSGIMiddleware, environ_extra: dict[str, str]) -> tuple[str, bytes]:
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "wsgi.url_scheme": "http"}
    environ.update(environ_extra)
    body = b"".join(middleware(environ, start_response))
    return statuses[0], body


def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    principal = current_principal()
    start_response("200 OK", [])
    return [(principal.subject if principal else "-").encode()]


@pytest.fixture
def bearer(make_token: Any) -> str:
    return "Bearer " + make_token("HS256")


def test_repeated_bearer_request_skips_the_flow(clock: FrozenClock, bearer: str) -> None:
    auth = make(clock)
    middleware = ASGIMiddleware(asgi_app, auth)
    assert asgi_call(middleware, [("authorization", bearer)]) == (200, b"alice")
    assert asgi_call(middleware, [("authorization", bearer)]) == (200, b"alice")
    assert auth.flows == 1


def test_wsgi_repeated_bearer_request_skips_the_flow(clock: FrozenClock, bearer: str) -> None:
    auth = make(clock)
    middleware = WSGIMiddleware(wsgi_app, auth)
    assert wsgi_call(middleware, {"HTTP_AUTHORIZATION": bearer}) == ("200 OK", b"alice")
    assert wsgi_call(middleware, {"HTTP_AUTHORIZATION": bearer}) == ("200 OK", b"alice")
    assert auth.flows == 1


def test_requests_with_cookies_always_run_the_flow(clock: FrozenClock, bearer: str) -> None:
    auth = make(clock)
    asgi = ASGIMiddleware(asgi_app, auth)
    wsgi = WSGIMiddleware(wsgi_app, auth)
    headers = [("authorization", bearer), ("cookie", "theme=dark")]
    asgi_call(asgi, headers)
    asgi_call(asgi, headers)
    wsgi_call(wsgi, {"HTTP_AUTHORIZATION": bearer, "HTTP_COOKIE": "theme=dark"})
    assert auth.flows == 3


def test_memo_dies_with_the_validator_cache(clock: FrozenClock, bearer: str) -> None:
    auth = make(clock)
    middleware = ASGIMiddleware(asgi_app, auth)
    asgi_call(middleware, [("authorization", bearer)])
    auth.validator.clear_cache()
    asgi_call(middleware, [("authorization", bearer)])
    assert auth.flows == 2


def test_memo_never_outlives_the_token(clock: FrozenClock, bearer: str) -> None:
    auth = make(clock)
    middleware = ASGIMiddleware(asgi_app, auth)
    asgi_call(middleware, [("authorization", bearer)])
    clock.advance(900)  # the token's exp
    assert asgi_call(middleware, [("authorization", bearer)])[0] == 401
    assert auth.flows == 2


def test_memo_respects_max_age(clock: FrozenClock, bearer: str) -> None:
    auth = make(clock, validator_options={"max_age": 60})
    middleware = ASGIMiddleware(asgi_app, auth)
    asgi_call(middleware, [("authorization", bearer)])
    clock.advance(61)
    assert asgi_call(middleware, [("authorization", bearer)])[0] == 401


def test_duplicate_authorization_headers_are_refused_even_after_a_memo(
    clock: FrozenClock, bearer: str
) -> None:
    middleware = ASGIMiddleware(asgi_app, make(clock))
    asgi_call(middleware, [("authorization", bearer)])
    assert asgi_call(middleware, [("authorization", bearer), ("authorization", bearer)])[0] == 400


def test_public_paths_stay_unauthenticated(clock: FrozenClock, bearer: str) -> None:
    middleware = ASGIMiddleware(asgi_app, make(clock, public=["/health"]))
    asgi_call(middleware, [("authorization", bearer)], path="/x")
    assert asgi_call(middleware, [("authorization", bearer)], path="/health") == (200, b"-")


def _listener(event: AuthEvent) -> None:
    pass


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"listeners": [_listener]}, id="listeners"),
        pytest.param({"refresh_ahead": 30}, id="refresh-ahead"),
        pytest.param({"memo_size": 0}, id="off"),
        pytest.param(
            {"locations": [TokenLocation.bearer(), TokenLocation.query()]}, id="query-location"
        ),
        pytest.param({"validator_options": {"revocation": MemoryStore()}}, id="revocation"),
    ],
)
def test_memo_is_off_where_more_than_the_token_decides(
    clock: FrozenClock, bearer: str, options: dict[str, Any]
) -> None:
    auth = make(clock, **options)
    assert auth.memo_enabled is False
    middleware = ASGIMiddleware(asgi_app, auth)
    asgi_call(middleware, [("authorization", bearer)])
    asgi_call(middleware, [("authorization", bearer)])
    assert auth.flows == 2
