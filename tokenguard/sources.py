"""Token sources: where the adapters get a new pair when an access token has expired.

`TokenIssuer` is a token source itself (local refresh with rotation); `OAuth2TokenSource`
asks an OAuth 2.0 token endpoint (``grant_type=refresh_token``, RFC 6749 section 6);
`CallableTokenSource` wraps any function.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

import httpx
from cachetools import TTLCache

from ._http import Endpoint, Fetched, client_secret_basic
from .errors import InactiveTokenError, TokenError, TokenSourceUnavailableError
from .issuer import TokenPair
from .protocols import Clock
from .stores.base import hash_token

__all__ = ["CallableTokenSource", "OAuth2TokenSource", "SingleFlightSource", "TokenSource"]

logger = logging.getLogger("tokenguard.sources")


@runtime_checkable
class TokenSource(Protocol):
    """Turns a refresh token into a new `TokenPair`."""

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair.

        Raises:
            InvalidTokenError: the refresh token is refused (the session is over).
            BackendUnavailableError: the source failed (try again later).
        """
        ...

    async def arefresh(self, refresh_token: str) -> TokenPair:
        """Async `refresh`."""
        ...


class OAuth2TokenSource:
    """Refreshes at an OAuth 2.0 token endpoint with client authentication.

    Args:
        token_url: the endpoint (``https://`` unless ``allow_http``).
        client_id: sent with HTTP Basic (RFC 6749 section 2.3.1) together with
            ``client_secret``; alone, it is sent in the body (a public client).
        client_secret: the client's secret, sent with HTTP Basic.
        auth: any httpx auth, instead of ``client_id`` and ``client_secret``.
        scope: optional ``scope`` parameter to send.
        refresh_lifetime: cookie lifetime for the refresh token when the endpoint does not
            say (seconds).
        default_expires_in: access-token lifetime to assume when the answer has no
            ``expires_in`` (RFC 6749 section 5.1 makes it optional).
        timeout: seconds one call may take in all.
        client: an httpx client to reuse; by default one is made per call.
        async_client: likewise, an httpx async client for `arefresh`.
    """

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        auth: httpx.Auth | None = None,
        scope: str | None = None,
        refresh_lifetime: int = 14 * 86_400,
        default_expires_in: int = 300,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        allow_http: bool = False,
    ) -> None:
        if auth is None and client_id is not None and client_secret is not None:
            auth = client_secret_basic(client_id, client_secret)
        self.token_url = token_url
        self._auth = auth
        self._client_id = client_id if auth is None else None
        self._scope = scope
        self._refresh_lifetime = refresh_lifetime
        self._default_expires_in = default_expires_in
        self._endpoint = Endpoint(
            token_url,
            timeout=timeout,
            max_bytes=64 * 1024,
            client=client,
            async_client=async_client,
            allow_http=allow_http,
            what="The token endpoint",
        )

    def _form(self, refresh_token: str) -> dict[str, str]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if self._scope:
            form["scope"] = self._scope
        if self._client_id:  # a public client identifies itself in the body
            form["client_id"] = self._client_id
        return form

    def _pair(self, refresh_token: str, response: Fetched | Exception) -> TokenPair:
        if isinstance(response, Exception):
            logger.warning("token endpoint %s failed: %s", self.token_url, type(response).__name__)
            raise TokenSourceUnavailableError()
        if response.status in (400, 401):
            code = _error_code(response)
            if response.status == 401 or code in _CLIENT_ERRORS:
                # RFC 6749 section 5.2: this client's credentials or configuration were
                # refused, not the user's refresh token; keep the session for a retry.
                logger.warning(
                    "token endpoint %s refused this client: HTTP %d %s",
                    self.token_url,
                    response.status,
                    code,
                )
                raise TokenSourceUnavailableError()
            # invalid_grant: the refresh token is no good (RFC 6749 section 5.2).
            raise InactiveTokenError("The refresh token was refused.")
        if response.status != 200:
            logger.warning("token endpoint %s answered HTTP %d", self.token_url, response.status)
            raise TokenSourceUnavailableError()
        try:
            body = json.loads(response.body)
            access = body["access_token"]
            expires_in = int(body.get("expires_in", self._default_expires_in))
            lifetime = body.get("refresh_expires_in", self._refresh_lifetime)
            if not isinstance(lifetime, (int, float)):
                lifetime = self._refresh_lifetime
            refresh_expires_in = int(lifetime)
        # OverflowError, ValueError: Python's JSON parser accepts 1e999, Infinity and NaN.
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            body, access = None, None
        if not isinstance(body, dict) or not isinstance(access, str):
            logger.warning("token endpoint %s answered a malformed document", self.token_url)
            raise TokenSourceUnavailableError()
        new_refresh = body.get("refresh_token")
        return TokenPair(
            access,
            new_refresh if isinstance(new_refresh, str) else refresh_token,
            expires_in,
            refresh_expires_in,
        )

    def _request(self, refresh_token: str) -> dict[str, Any]:
        return {"data": self._form(refresh_token), "auth": self._auth or httpx.USE_CLIENT_DEFAULT}

    def refresh(self, refresh_token: str) -> TokenPair:
        """Ask the token endpoint for a new pair."""
        response = self._endpoint.send("POST", **self._request(refresh_token))
        return self._pair(refresh_token, response)

    async def arefresh(self, refresh_token: str) -> TokenPair:
        """Async `refresh`."""
        response = await self._endpoint.asend("POST", **self._request(refresh_token))
        return self._pair(refresh_token, response)


#: Error codes about the client, not the grant (RFC 6749 section 5.2).
_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client", "unsupported_grant_type"})


def _error_code(response: Fetched) -> str | None:
    try:
        body = json.loads(response.body)
    except (ValueError, RecursionError):
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


class SyncRefresh(Protocol):
    """A function turning a refresh token into a pair."""

    def __call__(self, refresh_token: str, /) -> TokenPair: ...


class AsyncRefresh(Protocol):
    """A coroutine function turning a refresh token into a pair."""

    def __call__(self, refresh_token: str, /) -> Awaitable[TokenPair]: ...


class CallableTokenSource:
    """A token source from plain functions.

    Args:
        refresh: the sync function.
        arefresh: the async one; without it, the sync function runs in a worker thread.
    """

    def __init__(self, refresh: SyncRefresh, arefresh: AsyncRefresh | None = None) -> None:
        self._refresh = refresh
        self._arefresh = arefresh

    def refresh(self, refresh_token: str) -> TokenPair:
        """Call the sync function."""
        return self._refresh(refresh_token)

    async def arefresh(self, refresh_token: str) -> TokenPair:
        """Call the async function, or the sync one off the event loop."""
        if self._arefresh is not None:
            return await self._arefresh(refresh_token)
        return await asyncio.to_thread(self._refresh, refresh_token)


class SingleFlightSource:
    """Concurrent refreshes of one refresh token share one call, in threads and in tasks.

    The outcome is remembered for ``remember`` seconds so that requests that arrive just
    after (a browser firing several requests with the same old cookie) get the same pair
    instead of tripping reuse detection. Failures are shared but not remembered.

    Args:
        source: the token source that does the work.
        remember: seconds a successful outcome is reused.
        clock: the time source for ``remember`` (monotonic by default).
    """

    def __init__(
        self, source: TokenSource, *, remember: float = 3.0, clock: Clock = time.monotonic
    ) -> None:
        self.source = source
        self._done: TTLCache[str, TokenPair] = TTLCache(maxsize=10_000, ttl=remember, timer=clock)
        self._lock = threading.Lock()
        self._threads: dict[str, tuple[threading.Event, list[TokenPair | TokenError]]] = {}
        self._tasks: dict[tuple[int, str], asyncio.Future[TokenPair]] = {}

    def _remembered(self, key: str) -> TokenPair | None:
        with self._lock:
            return self._done.get(key)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Refresh, or wait for the refresh already in flight for this token."""
        key = hash_token(refresh_token)
        with self._lock:
            pair = self._done.get(key)
            if pair is not None:
                return pair
            waiting = self._threads.get(key)
            if waiting is None:
                event = threading.Event()
                slot: list[TokenPair | TokenError] = []
                self._threads[key] = (event, slot)
        if waiting is not None:
            waiting[0].wait()
            outcome = waiting[1][0]
            if isinstance(outcome, TokenError):
                raise outcome
            return outcome
        try:
            pair = self.source.refresh(refresh_token)
        except TokenError as exc:
            slot.append(exc)
            raise
        except BaseException:
            slot.append(TokenSourceUnavailableError())
            raise
        else:
            slot.append(pair)
            with self._lock:
                self._done[key] = pair
            return pair
        finally:
            with self._lock:
                self._threads.pop(key, None)
            event.set()

    async def arefresh(self, refresh_token: str) -> TokenPair:
        """Async `refresh`: concurrent tasks await one shared call."""
        key = hash_token(refresh_token)
        pair = self._remembered(key)
        if pair is not None:
            return pair
        loop = asyncio.get_running_loop()
        task_key = (id(loop), key)
        future = self._tasks.get(task_key)
        if future is None:
            future = loop.create_task(self.source.arefresh(refresh_token))
            self._tasks[task_key] = future
            future.add_done_callback(lambda f: self._finish(task_key, key, f))
        return await asyncio.shield(future)

    def _finish(
        self, task_key: tuple[int, str], key: str, future: asyncio.Future[TokenPair]
    ) -> None:
        self._tasks.pop(task_key, None)
        if not future.cancelled() and future.exception() is None:
            with self._lock:
                self._done[key] = future.result()
