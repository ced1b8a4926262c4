"""What only the ASGI side does behind a real uvicorn server; the cases every server must
pass are in tests/test_live_servers.py.

The app (`tests.asgi.uvicorn_server`) streams its body as ``http.response.body`` messages
with ``more_body`` and no length, so uvicorn sends it chunked.
"""

from __future__ import annotations

from tests.asgi.uvicorn_server import UvicornServer
from tests.live import browser, stream_after_refresh, token_side


def test_stream_after_refresh() -> None:
    with UvicornServer(token_side()) as server, browser(server) as client:
        stream_after_refresh(server.side, client)
