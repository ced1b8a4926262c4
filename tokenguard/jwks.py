"""RemoteJWKS: an issuer's public keys fetched over HTTPS, cached, refreshed safely.

* cached for the ``Cache-Control: max-age`` the issuer sends (clamped), else ``default_ttl``;
* served stale while one background fetch revalidates, so no request waits on it;
* refetched on an unknown ``kid`` at most once per ``unknown_kid_interval``, so forged kids
  cannot cause a fetch storm;
* one fetch in flight at a time (single-flight), in threads and in asyncio tasks;
* a failed fetch or a garbage document keeps the last good keys; with none, requests fail
  closed with `KeySourceUnavailableError` (503), retried at most every ``retry_interval``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Mapping

import httpx

from ._http import Endpoint, Fetched, FetchLimitError
from .errors import ConfigError, KeySourceUnavailableError
from .keys import KeySet
from .protocols import Clock

__all__ = ["RemoteJWKS"]

logger = logging.getLogger("tokenguard.jwks")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


class _FetchFailed(Exception):
    """A fetch gave no usable document; the message is safe to log."""


class RemoteJWKS:
    """A `KeyProvider` reading a JWKS document from a URL.

    Args:
        url: the JWKS URL (``https://`` unless ``allow_http`` for loopback tests).
        default_ttl: seconds to keep a document whose response has no ``max-age``.
        min_ttl: lower bound applied to the issuer's ``max-age``.
        max_ttl: upper bound applied to the issuer's ``max-age``.
        unknown_kid_interval: least seconds between refetches caused by unknown kids.
        retry_interval: least seconds between attempts after a failed fetch.
        timeout: seconds one fetch may take in all.
        default_alg: algorithm for JWKs that carry no ``alg`` (otherwise they are skipped).
        max_bytes: documents larger than this are refused.
        clock: the time source.
        client: an httpx client to use; by default a short-lived client is made for each
            fetch (fetches are rare).
        async_client: likewise, an httpx async client for `aget_keys`.
        allow_http: accept a plain ``http://`` URL (tests on 127.0.0.1 only).
    """

    def __init__(
        self,
        url: str,
        *,
        default_ttl: float = 600,
        min_ttl: float = 60,
        max_ttl: float = 86_400,
        unknown_kid_interval: float = 60,
        retry_interval: float = 30,
        timeout: float = 5.0,
        default_alg: str | None = None,
        max_bytes: int = 256 * 1024,
        clock: Clock = time.time,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        allow_http: bool = False,
    ) -> None:
        if not 0 < min_ttl <= default_ttl <= max_ttl:
            raise ConfigError("Need 0 < min_ttl <= default_ttl <= max_ttl.")
        self.url = url
        self._default_ttl = default_ttl
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self._kid_interval = unknown_kid_interval
        self._retry_interval = retry_interval
        self._timeout = timeout
        self._default_alg = default_alg
        self._clock = clock
        # Size and total time are bounded on every fetch; the CA bundle is loaded once.
        self._endpoint = Endpoint(
            url,
            timeout=timeout,
            max_bytes=max_bytes,
            client=client,
            async_client=async_client,
            allow_http=allow_http,
            what="RemoteJWKS",
        )

        self._keys: KeySet | None = None
        self._fresh_until = 0.0
        self._next_attempt = 0.0  # after a failure: no attempt before this
        self._last_kid_fetch = float("-inf")
        self._generation = 0  # finished fetch attempts
        self._lock = threading.Lock()  # guards the fields above
        self._fetch_lock = threading.Lock()  # single-flight for threads
        self._revalidating = False
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    # -- shared decisions (no I/O) ---------------------------------------------------

    def _plan(self, kid: str | None) -> tuple[str, int]:
        """Decide what a request needs: 'use', 'revalidate' (use + background) or 'fetch'."""
        now = self._clock()
        with self._lock:
            gen = self._generation
            if self._keys is None:
                if now < self._next_attempt:
                    raise KeySourceUnavailableError()
                return "fetch", gen
            if (
                kid is not None
                and not self._keys.has_kid(kid)
                and now - self._last_kid_fetch >= self._kid_interval
                and now >= self._next_attempt
            ):
                self._last_kid_fetch = now
                return "fetch", gen
            if now >= self._fresh_until and now >= self._next_attempt:
                return "revalidate", gen
            return "use", gen

    def _current(self) -> KeySet:
        keys = self._keys
        if keys is None:
            raise KeySourceUnavailableError()
        return keys

    def _ttl(self, headers: Mapping[str, str]) -> float:
        match = _MAX_AGE.search(headers.get("cache-control", ""))
        if match is None:
            return self._default_ttl
        return min(max(float(match.group(1)), self._min_ttl), self._max_ttl)

    def _parse(self, response: Fetched) -> KeySet:
        if response.status != 200:
            raise _FetchFailed(f"HTTP {response.status}")
        try:
            document = json.loads(response.body)
            keys = KeySet.from_jwks(document, default_alg=self._default_alg, skip_unusable=True)
        # ConfigError is a ValueError; TypeError comes from odd member types (key_ops: [{}]).
        except (ValueError, TypeError, RecursionError) as exc:
            raise _FetchFailed(f"unusable JWKS document: {exc}") from None
        # A secret published in a public document is no secret: anyone could forge
        # tokens with it, so oct keys from a remote JWKS are never trusted.
        keys = KeySet(key for key in keys if not key.is_symmetric)
        if not len(keys):  # {"keys": []} would silently withdraw every key
            raise _FetchFailed("the JWKS document has no usable public keys")
        return keys

    def _record(self, outcome: KeySet | Exception, ttl: float = 0.0) -> None:
        now = self._clock()
        with self._lock:
            # Every finished attempt, failed or not, is a new generation: threads that
            # queued behind it on the fetch lock take its outcome instead of refetching.
            self._generation += 1
            if isinstance(outcome, KeySet):
                self._keys = outcome
                self._fresh_until = now + ttl
                self._next_attempt = 0.0
                logger.info("fetched %d keys from %s", len(outcome), self.url)
            else:
                self._next_attempt = now + self._retry_interval
                logger.warning(
                    "JWKS fetch from %s failed (%s); %s",
                    self.url,
                    outcome,
                    "keeping the last good keys" if self._keys else "no keys yet",
                )

    def _complete(self, response: Fetched | Exception) -> None:
        if isinstance(response, Exception):
            detail = str(response) if isinstance(response, FetchLimitError) else ""
            self._record(_FetchFailed(detail or type(response).__name__))
            return
        try:
            keys = self._parse(response)
        except _FetchFailed as exc:
            self._record(exc)
            return
        self._record(keys, self._ttl(response.headers))

    # -- sync ----------------------------------------------------------------------

    def get_keys(self, kid: str | None = None) -> KeySet:
        """The current keys; may fetch (blocking) when there are none or the kid is new."""
        action, gen = self._plan(kid)
        if action == "fetch":
            self._fetch_once(gen)
        elif action == "revalidate":
            self._start_background_thread()
        return self._current()

    def _fetch_once(self, gen: int) -> None:
        with self._fetch_lock:
            if self._generation != gen:  # another thread fetched while we waited
                return
            self._complete(self._send_sync())

    def _send_sync(self) -> Fetched | Exception:
        return self._endpoint.send("GET")

    def _start_background_thread(self) -> None:
        with self._lock:
            if self._revalidating:
                return
            self._revalidating = True

        def run() -> None:
            try:
                self._fetch_once(self._generation)
            finally:
                self._revalidating = False

        threading.Thread(target=run, name="tokenguard-jwks", daemon=True).start()

    # -- async ---------------------------------------------------------------------

    async def aget_keys(self, kid: str | None = None) -> KeySet:
        """Async `get_keys`: fetches run as one shared task and never block the loop."""
        action, _ = self._plan(kid)
        if action == "fetch":
            await asyncio.shield(self._task())
        elif action == "revalidate":
            self._task()
        return self._current()

    def _task(self) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None or task.done():
            task = loop.create_task(self._afetch())
            self._tasks = {loop: task}  # drop tasks of closed loops
        return task

    async def _afetch(self) -> None:
        self._complete(await self._endpoint.asend("GET"))

    # -- introspection -------------------------------------------------------------

    @property
    def keys(self) -> KeySet | None:
        """The keys last fetched, or None before the first good fetch."""
        return self._keys

    def __repr__(self) -> str:
        count = len(self._keys) if self._keys is not None else 0
        return f"RemoteJWKS({self.url!r}, keys={count})"
