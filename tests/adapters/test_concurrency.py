"""Concurrent requests with the same expired cookie share one refresh, on both adapters.

ASGI: 50 tasks gathered over one ``httpx.AsyncClient`` on ``ASGITransport``.
WSGI: 50 threads calling the middleware at once (released together by a barrier).
"""

from __future__ import annotations

from tests.adapters.clients import Client
from tests.adapters.conftest import ACCESS, REFRESH, Shop
from tests.conftest import ACCESS_TTL


def test_fifty_concurrent_refreshes_call_the_source_once(client: Client, shop: Shop) -> None:
    session = shop.login()
    shop.clock.advance(ACCESS_TTL + 1)
    replies = client.burst(50, "GET", "/me", cookies=session.cookies())
    assert [r.status for r in replies] == [200] * 50
    assert shop.source.calls == 1
    assert {r.json()["sub"] for r in replies} == {"alice"}
    assert {r.json()["refreshed"] for r in replies} == {True}
    # Everyone got the one new pair, so no browser tab holds a retired refresh token.
    assert len({r.cookies[ACCESS].value for r in replies}) == 1
    assert len({r.cookies[REFRESH].value for r in replies}) == 1
    assert replies[0].cookies[REFRESH].value != session.refresh
