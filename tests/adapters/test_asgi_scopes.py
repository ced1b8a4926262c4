"""ASGI-only scopes: websockets (authenticated on connect) and lifespan (passed through).

The websocket session is driven by hand, as a server would: ``websocket.connect`` first;
after that, ``receive()`` before the handshake was answered would wait forever on a real
server (uvicorn waits for the handshake to complete), so here it fails the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest

from tests.adapters.apps import at
from tests.adapters.clients import HOST, ASGIClient, Client, header_list
from tests.adapters.conftest import ACCESS, CSRF, REFRESH, Shop
from tests.conftest import ACCESS_TTL

pytestmark = pytest.mark.parametrize("adapter", ["asgi"], indirect=True)

Message = dict[str, Any]


async def websocket_session(
    app: Any,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    denial_response: bool = False,
) -> list[Message]:
    """Connect, then collect what the app sends until it closes or answers over HTTP."""
    raw = [("host", HOST), *header_list(headers or {}, cookies)]
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in raw],
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}} if denial_response else {},
    }
    sent: list[Message] = []
    connected = False

    async def receive() -> Message:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        answered = {"websocket.accept", "websocket.close", "websocket.http.response.start"}
        if not any(m["type"] in answered for m in sent):
            raise AssertionError("receive() before the handshake was answered would hang")
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def connect(client: Client, path: str, **kwargs: Any) -> list[Message]:
    assert isinstance(client, ASGIClient)
    return asyncio.run(websocket_session(client.app, path, **kwargs))


def payload(messages: list[Message]) -> dict[str, Any]:
    assert [m["type"] for m in messages] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    result: dict[str, Any] = json.loads(messages[1]["text"])
    return result


@pytest.mark.parametrize("style", ["sync", "async"])
def test_websocket_bearer(client: Client, shop: Shop, style: str) -> None:
    messages = connect(client, at(style, "/ws"), headers=shop.login().bearer())
    body = payload(messages)
    assert (body["sub"], body["slot_sub"], body["slot_keys"]) == ("alice", "alice", ["tokenguard"])
    assert body["location"] == "bearer"


def test_websocket_cookie(client: Client, shop: Shop) -> None:
    # The handshake is a GET: cookie credentials need no CSRF header.
    messages = connect(client, "/ws", cookies=shop.login().cookies(refresh=False))
    assert payload(messages)["location"] == "cookie"


def test_websocket_anonymous_on_open_path(client: Client) -> None:
    assert payload(connect(client, "/ws/open"))["sub"] is None


def test_websocket_refresh_sets_cookies_on_accept(client: Client, shop: Shop) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    messages = connect(client, "/ws", cookies=session.cookies())
    assert payload(messages)["refreshed"] is True
    # The refresh token was rotated: without the new cookies on the handshake response
    # the browser would present a retired token next time (reuse: the family is revoked).
    accept_headers = [(n.decode(), v.decode()) for n, v in messages[0].get("headers", [])]
    names = {v.split("=", 1)[0] for n, v in accept_headers if n == "set-cookie"}
    assert names == {ACCESS, REFRESH, CSRF}
    assert shop.source.calls == 1


REFUSALS = [
    pytest.param("/admin/ws", {}, 401, None, id="protected-no-token"),
    pytest.param("/ws", {}, 401, None, id="guard-no-token"),
    pytest.param("/ws", {"Authorization": "Bearer abc.def.ghi"}, 401, "invalid_token", id="bad"),
    pytest.param("/ws", {"Authorization": "Bearer a b"}, 400, "invalid_request", id="malformed"),
    pytest.param("/ws/late", {}, 401, None, id="guard-after-connect"),
]


@pytest.mark.parametrize(("path", "headers", "status", "error"), REFUSALS)
def test_websocket_refused_with_close(
    client: Client, path: str, headers: dict[str, str], status: int, error: str | None
) -> None:
    # Without the http.response extension: the handshake is refused with close 1008
    # (policy violation), which servers turn into HTTP 403.
    messages = connect(client, path, headers=headers)
    assert messages == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize(("path", "headers", "status", "error"), REFUSALS)
def test_websocket_refused_with_http_response(
    client: Client, path: str, headers: dict[str, str], status: int, error: str | None
) -> None:
    messages = connect(client, path, headers=headers, denial_response=True)
    assert [m["type"] for m in messages] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    start = messages[0]
    assert start["status"] == status
    sent = {n.decode(): v.decode() for n, v in start["headers"]}
    if error is None:
        assert sent["www-authenticate"] == 'Bearer realm="api"'
    else:
        assert f'error="{error}"' in sent["www-authenticate"]
        assert json.loads(messages[1]["body"])["error"] == error


def test_lifespan_passes_through_untouched(client: Client, shop: Shop) -> None:
    assert isinstance(client, ASGIClient)
    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    outgoing: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        outgoing.append(message)

    asyncio.run(client.app(scope, receive, send))
    assert shop.probe.lifespan == [scope]
    assert shop.probe.lifespan[0] is scope
    assert scope == {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    assert outgoing == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
