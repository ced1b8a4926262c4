"""What only the WSGI side does behind a real werkzeug server; the cases every server must
pass are in tests/test_live_servers.py.

The app (`tests.wsgi.werkzeug_server`) streams its body from a generator, which the server
iterates after the app has returned and must close() through the middleware's wrapper.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.live import browser, stream_after_refresh, token_side
from tests.wsgi.werkzeug_server import WerkzeugServer


@pytest.fixture
def server() -> Iterator[WerkzeugServer]:
    with WerkzeugServer(token_side()) as live:
        yield live


def test_stream_after_refresh(server: WerkzeugServer) -> None:
    with browser(server) as client:
        stream_after_refresh(server.side, client)
        # close() reached the app's own iterable through the middleware's wrapper.
        assert server.stream_probe.closed.wait(5)


def test_streaming_body_sees_the_request_auth(server: WerkzeugServer) -> None:
    session = server.side.login()
    headers = {"Authorization": f"Bearer {session.pair.access_token}"}
    response = httpx.get(server.url + "/stream/whoami", headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.text == "streaming for alice"
