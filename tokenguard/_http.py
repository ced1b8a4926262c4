"""HTTP details shared by the clients of remote endpoints (private).

JWKS documents, introspection answers and token responses come from other machines: each
read is bounded in size (decompressed, so a gzip bomb stops early) and in total time, and
the sync and async paths share everything but the client call.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

from .errors import ConfigError

__all__ = ["Endpoint", "FetchLimitError", "Fetched", "client_secret_basic"]


def client_secret_basic(client_id: str, client_secret: str) -> httpx.BasicAuth:
    """HTTP Basic client authentication as RFC 6749 section 2.3.1 spells it: id and secret
    are form-encoded first, so a ':' or non-ASCII character survives."""
    return httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))


#: Only the encodings `_Decoder` can inflate within its limit.
_ACCEPT = {"accept-encoding": "gzip, deflate"}


class FetchLimitError(Exception):
    """The response was larger, or took longer in all, than the endpoint allows."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A complete, size-checked response."""

    status: int
    headers: httpx.Headers
    body: bytes


class Endpoint:
    """One remote URL, fetched with a bounded body and a bounded total time.

    Without shared clients, a short-lived client is made per call (calls are rare or
    cached) with the CA bundle loaded once per endpoint, not per call.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        max_bytes: int,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        allow_http: bool = False,
        what: str = "The endpoint",
    ) -> None:
        if not url.startswith("https://") and not (allow_http and url.startswith("http://")):
            # Keys, token answers and introspection results are only as trustworthy as
            # the channel they come over (RFC 8725 section 3.8 for keys).
            raise ConfigError(f"{what} must be an https:// URL.")
        self.url = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = client
        self._async_client = async_client
        self._verify: ssl.SSLContext | bool = (
            httpx.create_ssl_context() if client is None or async_client is None else True
        )

    def _check(self, size: int, deadline: float) -> None:
        if size > self.max_bytes:
            raise FetchLimitError(f"response larger than {self.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchLimitError(f"response took longer than {self.timeout} s")

    def _decoder(self, response: httpx.Response) -> _Decoder:
        return _Decoder(response.headers.get("content-encoding", ""), self.max_bytes)

    def send(self, method: str, **options: Any) -> Fetched | Exception:
        """The response, or the exception that stopped it (never raised)."""
        options.setdefault("headers", _ACCEPT)
        deadline = time.monotonic() + self.timeout
        try:
            if self._client is not None:
                return self._read(self._client, method, deadline, options)
            with httpx.Client(timeout=self.timeout, verify=self._verify) as client:
                return self._read(client, method, deadline, options)
        except (httpx.HTTPError, FetchLimitError) as exc:
            return exc

    def _read(
        self, client: httpx.Client, method: str, deadline: float, options: dict[str, Any]
    ) -> Fetched:
        with client.stream(method, self.url, timeout=self.timeout, **options) as response:
            decoder, body = self._decoder(response), bytearray()
            for chunk in response.iter_raw():
                body += decoder.decode(chunk, len(body))
                self._check(len(body), deadline)
            return Fetched(response.status_code, response.headers, bytes(body))

    async def asend(self, method: str, **options: Any) -> Fetched | Exception:
        """Async `send`; the whole exchange is cancelled at the timeout."""
        options.setdefault("headers", _ACCEPT)
        try:
            return await asyncio.wait_for(self._aread(method, options), self.timeout)
        except (httpx.HTTPError, FetchLimitError) as exc:
            return exc
        except asyncio.TimeoutError:
            return FetchLimitError(f"response took longer than {self.timeout} s")

    async def _aread(self, method: str, options: dict[str, Any]) -> Fetched:
        if self._async_client is not None:
            return await self._aread_with(self._async_client, method, options)
        async with httpx.AsyncClient(timeout=self.timeout, verify=self._verify) as client:
            return await self._aread_with(client, method, options)

    async def _aread_with(
        self, client: httpx.AsyncClient, method: str, options: dict[str, Any]
    ) -> Fetched:
        deadline = time.monotonic() + self.timeout
        async with client.stream(method, self.url, timeout=self.timeout, **options) as response:
            decoder, body = self._decoder(response), bytearray()
            async for chunk in response.aiter_raw():
                body += decoder.decode(chunk, len(body))
                self._check(len(body), deadline)
            return Fetched(response.status_code, response.headers, bytes(body))


class _Decoder:
    """Content decoding that never produces more than the limit allows.

    httpx decompresses each network chunk whole, so a small gzip bomb would be inflated in
    memory before any size check; here zlib is asked for at most what is left.
    """

    __slots__ = ("_limit", "_zlib")

    def __init__(self, encoding: str, limit: int) -> None:
        self._limit = limit
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise FetchLimitError(f"unsupported content-encoding {encoding!r}")

    def decode(self, chunk: bytes, have: int) -> bytes:
        if self._zlib is None:
            return chunk
        try:
            # One byte past the limit is enough to know the body is too large.
            return self._zlib.decompress(chunk, max(1, self._limit + 1 - have))
        except zlib.error as exc:
            raise FetchLimitError("undecodable compressed body") from exc
