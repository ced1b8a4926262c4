"""HTTP details shared by the clients of OAuth endpoints (private)."""

from __future__ import annotations

from urllib.parse import quote_plus

import httpx


def client_secret_basic(client_id: str, client_secret: str) -> httpx.BasicAuth:
    """HTTP Basic client authentication as RFC 6749 section 2.3.1 spells it: id and secret
    are form-encoded first, so a ':' or non-ASCII character survives."""
    return httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))
