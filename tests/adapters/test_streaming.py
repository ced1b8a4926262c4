"""Streamed bodies: the ASGI app sends several body messages, the WSGI app returns a lazy
iterable with ``close()``. The refreshed cookies ride on the response start either way."""

from __future__ import annotations

import pytest

from tests.adapters.apps import STREAM_PARTS
from tests.adapters.clients import Client
from tests.adapters.conftest import ACCESS, CSRF, REFRESH, Shop
from tests.conftest import ACCESS_TTL

EXPECTED = b"sub=alice\n" + b"".join(STREAM_PARTS)


def test_streamed_body_after_refresh(client: Client, shop: Shop) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    reply = client.get("/stream", cookies=session.cookies())
    assert reply.status == 200
    assert reply.body == EXPECTED
    assert set(reply.cookies) == {ACCESS, REFRESH, CSRF}
    assert reply.cookies[REFRESH].value != session.refresh
    assert reply.header("content-type") == "text/plain"


def test_streamed_body_without_refresh(client: Client, shop: Shop) -> None:
    reply = client.get("/stream", headers=shop.login().bearer())
    assert reply.body == EXPECTED
    assert reply.values("set-cookie") == []


@pytest.mark.parametrize("adapter", ["wsgi"], indirect=True)
@pytest.mark.parametrize(
    "path", [pytest.param("/stream", id="stream"), pytest.param("/open", id="plain")]
)
def test_wsgi_iterable_is_closed(client: Client, shop: Shop, path: str) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)  # with a refresh: the middleware wraps start_response
    reply = client.get(path, cookies=session.cookies())
    assert reply.status == 200
    assert set(reply.cookies) == {ACCESS, REFRESH, CSRF}
    if path == "/stream":
        assert reply.body == EXPECTED
    else:
        assert reply.json()["refreshed"] is True
    assert shop.probe.closed == 1
