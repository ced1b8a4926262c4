"""RedisStore: the `TokenStore` shared by many processes and machines, in Redis.

Keys, under the store's prefix (``tokenguard:`` by default):

=========================  ===============================================================
``<prefix>tok:<hash>``     hash: ``data`` (`TokenRecord.to_json`), ``retired_at``, ``successor``
``<prefix>jti:<jti>``      ``"<revoked at> <until>"``: a denied access token
``<prefix>fam:<family>``   ``"<revoked at> <until>"``: a revoked refresh-token family
``<prefix>sub:<subject>``  ``"<cut-off> <until>"``: a subject's cut-off time
=========================  ===============================================================

Every key expires with what it holds (a TTL counted on the store's clock), so Redis cleans
up by itself. Reads check expiry against the store's clock as well, so no answer depends
on Redis' own clock. Rotation and revocation are Lua scripts, atomic on the server; the
rotation script finds the family and subject keys in the stored record, so it needs one
Redis server (standalone or Sentinel), not Redis Cluster. Every Redis failure becomes
`StoreUnavailableError` within the timeout: the store fails closed.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

try:
    import redis
    import redis.asyncio
    import redis.asyncio.retry
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        'RedisStore needs the redis package: pip install "tokenguard[redis]"', name=exc.name
    ) from exc

from ..errors import ConfigError, StoreUnavailableError
from ..principal import Principal
from ..protocols import Clock
from ._redis_lua import REVOKE, ROTATE
from .base import Rotation, RotationOutcome, TokenRecord, principal_is_revoked, session_id

__all__ = ["RedisStore"]

T = TypeVar("T")
C = TypeVar("C", redis.Redis, redis.asyncio.Redis)

# What a failing Redis raises: redis-py's errors, and the odd OS or asyncio timeout.
_FAILURES = (redis.RedisError, OSError, asyncio.TimeoutError)


class _Link:
    """A client (sync or asyncio: only how its replies arrive differs) and its scripts."""

    def __init__(self, client: Any, keeper: AsyncGenerator[None, None] | None = None) -> None:
        self.client = client
        self.rotate = client.register_script(ROTATE)
        self.revoke = client.register_script(REVOKE)
        self.keeper = keeper


@dataclass(frozen=True, slots=True)
class _Op(Generic[T]):
    """One round trip, written once: ``send`` issues it on a link (a reply, or an awaitable
    one from an asyncio client) and ``parse`` turns the reply into the result."""

    send: Callable[[_Link], Any]
    parse: Callable[[Any], T]


async def _close_at_shutdown(client: redis.asyncio.Redis) -> AsyncGenerator[None, None]:
    # Started once on the client's loop, so the loop's shutdown_asyncgens() (asyncio.run,
    # pytest-asyncio, uvicorn) closes the client there before the loop closes.
    try:
        yield
    finally:
        await client.aclose()


def _connect(cls: type[C], url: str, timeout: float, retry: object) -> C:
    # Fail fast, never retry: a caller waiting on a dead store gets its 503 in time.
    return cls.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=retry)


def _ignore(_reply: Any) -> None:
    return None


def _ttl(until: float, live: float) -> int:
    # Milliseconds from live until until: at least 1, at most a century (until may be inf).
    return max(1, math.ceil(min(until - live, 3_155_760_000) * 1000))


def _redact(url: str) -> str:
    # Credentials and the query string (which may carry ?password=) never leave the store.
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


class RedisStore:
    """A `TokenStore` in Redis: one state for every process and machine that shares it.

    Args:
        url: any URL redis-py takes: ``redis://[[user]:password@]host:port/db``,
            ``rediss://`` for TLS, ``unix:///path.sock?db=0``.
        prefix: the start of every key, so several apps can share one database.
        clock: the time source for expiry (Redis' own clock is never consulted).
        timeout: seconds allowed for connecting and for each reply (never retried).
        client: a `redis.Redis` to use instead of one built from ``url``; it must not
            decode responses, and the caller closes it.
        async_client: likewise a `redis.asyncio.Redis`, for one event loop. Without it,
            one client is made per event loop and closed with that loop or by `aclose`.

    Raises:
        ConfigError: the URL is not a Redis URL, or the timeout is not positive.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tokenguard:",
        clock: Clock = time.time,
        timeout: float = 2.0,
        client: redis.Redis | None = None,
        async_client: redis.asyncio.Redis | None = None,
    ) -> None:
        if not timeout > 0:
            raise ConfigError("timeout must be a positive number of seconds.")
        self._url = url
        self._prefix = prefix
        self._clock = clock
        self._timeout = timeout
        self._owns_client = client is None
        if client is None:
            try:
                client = _connect(redis.Redis, url, timeout, Retry(NoBackoff(), 0))
            except ValueError as exc:
                raise ConfigError("Not a usable Redis URL (redis://, rediss://, unix://).") from exc
        self._link = _Link(client)
        self._async_client = async_client
        self._alinks: dict[asyncio.AbstractEventLoop, _Link] = {}
        self._lock = threading.Lock()

    # -- the two drivers: the only places where sync and async differ ----------------------

    def _run(self, op: _Op[T]) -> T:
        try:
            reply = op.send(self._link)
        except _FAILURES as exc:
            raise StoreUnavailableError() from exc
        return op.parse(reply)

    async def _arun(self, op: _Op[T]) -> T:
        try:
            reply = await op.send(await self._alink())
        except _FAILURES as exc:
            raise StoreUnavailableError() from exc
        return op.parse(reply)

    async def _alink(self) -> _Link:
        # An asyncio client belongs to the loop it first ran on: one per loop.
        loop = asyncio.get_running_loop()
        link = self._alinks.get(loop)
        if link is None:
            if self._async_client is not None:
                link = _Link(self._async_client)
            else:
                retry = redis.asyncio.retry.Retry(NoBackoff(), 0)
                client = _connect(redis.asyncio.Redis, self._url, self._timeout, retry)
                link = _Link(client, _close_at_shutdown(client))
            with self._lock:
                self._alinks = {k: v for k, v in self._alinks.items() if not k.is_closed()}
                self._alinks[loop] = link
            if link.keeper is not None:
                await link.keeper.asend(None)
        return link

    # -- keys, replies and the round trips -------------------------------------------------

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _alive(self, raw: bytes | None) -> float | None:
        if raw is None:
            return None
        value, until = raw.split()
        return float(value) if float(until) > self._clock() else None

    @staticmethod
    def _record(token_hash: str, fields: Mapping[bytes, bytes]) -> TokenRecord | None:
        data = fields.get(b"data")
        if data is None:
            return None
        retired = fields.get(b"retired_at")
        return TokenRecord.from_json(
            token_hash,
            data,
            retired_at=float(retired) if retired is not None else None,
            successor=fields.get(b"successor"),
        )

    def _live(self, record: TokenRecord | None) -> TokenRecord | None:
        return record if record is not None and record.expires_at > self._clock() else None

    def _put(self, record: TokenRecord) -> _Op[None]:
        key = self._key("tok", record.token_hash)
        fields: dict[str, str | bytes] = {"data": record.to_json()}
        if record.retired_at is not None:
            fields["retired_at"] = repr(float(record.retired_at))
        if record.successor is not None:
            fields["successor"] = record.successor
        ttl = _ttl(record.expires_at, self._clock())
        return _Op(
            lambda link: (
                link.client.pipeline().delete(key).hset(key, mapping=fields).pexpire(key, ttl)
            ).execute(),
            _ignore,
        )

    def _get(self, token_hash: str) -> _Op[TokenRecord | None]:
        key = self._key("tok", token_hash)
        return _Op(
            lambda link: link.client.hgetall(key),
            lambda reply: self._live(self._record(token_hash, reply)),
        )

    def _rotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, now: float, grace: float
    ) -> _Op[Rotation]:
        live = self._clock()
        keys = [self._key("tok", old_hash), self._key("tok", new.token_hash)]
        args = [live, self._prefix, now, grace, new.to_json(), successor]
        args.append(_ttl(new.expires_at, live))

        def parse(reply: list[bytes]) -> Rotation:
            outcome = cast(RotationOutcome, reply[0].decode())
            record = self._record(old_hash, dict(zip(reply[1::2], reply[2::2], strict=True)))
            grace_pair = record.successor if record is not None and outcome == "grace" else None
            return Rotation(outcome, successor=grace_pair, record=record)

        return _Op(lambda link: link.rotate(keys=keys, args=args), parse)

    def _revoke(self, kind: str, name: str, value: float, until: float) -> _Op[None]:
        keys, args = [self._key(kind, name)], [self._clock(), value, until, int(kind == "sub")]
        return _Op(lambda link: link.revoke(keys=keys, args=args), _ignore)

    def _delete(self, token_hash: str) -> _Op[None]:
        key = self._key("tok", token_hash)
        return _Op(lambda link: link.client.delete(key), _ignore)

    def _is_revoked(self, principal: Principal) -> _Op[bool]:
        jti, sid = principal.token_id, session_id(principal)
        keys: list[str | None] = [
            self._key("sub", principal.subject),
            self._key("jti", jti) if jti is not None else None,
            self._key("fam", sid) if sid is not None else None,
        ]
        present = [key for key in keys if key is not None]

        def parse(reply: list[bytes | None]) -> bool:
            values = iter(reply)
            found = [self._alive(next(values)) if key is not None else None for key in keys]
            return principal_is_revoked(
                principal,
                jti_revoked=found[1] is not None,
                subject_cutoff=found[0],
                family_revoked=found[2] is not None,
            )

        # One round trip for all lookups: this runs on every authenticated request.
        return _Op(lambda link: link.client.mget(present), parse)

    def _lookup(self, kind: str, name: str) -> _Op[float | None]:
        key = self._key(kind, name)
        return _Op(lambda link: link.client.get(key), self._alive)

    # -- TokenStore ------------------------------------------------------------------------

    def put(self, record: TokenRecord) -> None:
        """Store a new opaque token record (replacing one with the same hash)."""
        self._run(self._put(record))

    def get(self, token_hash: str) -> TokenRecord | None:
        """The record, or None when unknown or expired by the store's clock."""
        return self._run(self._get(token_hash))

    def rotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        """Atomically retire ``old_hash`` and store ``new`` (one Lua script)."""
        return self._run(self._rotate(old_hash, new, successor, now, grace))

    def revoke_family(self, family_id: str, *, until: float) -> None:
        """Revoke every refresh token of a family."""
        self._run(self._revoke("fam", family_id, self._clock(), until))

    def revoke_token(self, token_hash: str) -> None:
        """Delete one opaque token."""
        self._run(self._delete(token_hash))

    def revoke_jti(self, jti: str, *, until: float) -> None:
        """Deny an access token by jti until its exp."""
        self._run(self._revoke("jti", jti, self._clock(), until))

    def revoke_subject(self, subject: str, *, at: float, until: float) -> None:
        """Refuse everything the subject was issued before ``at`` (kept if later)."""
        self._run(self._revoke("sub", subject, at, until))

    def is_revoked(self, principal: Principal) -> bool:
        """The jti denylist and the subject cut-off, in one round trip."""
        return self._run(self._is_revoked(principal))

    def family_revoked(self, family_id: str) -> bool:
        """True when the family was revoked."""
        return self._run(self._lookup("fam", family_id)) is not None

    def subject_cutoff(self, subject: str) -> float | None:
        """The subject's cut-off time, if any."""
        return self._run(self._lookup("sub", subject))

    def purge(self, *, now: float) -> int:
        """Nothing to do: every key carries its own TTL. Returns 0."""
        return 0

    def close(self) -> None:
        """Close the clients this store made (asyncio ones whose loop is idle, too)."""
        with self._lock:
            links, self._alinks = self._alinks, {}
        try:
            asyncio.get_running_loop()
            in_loop = True
        except RuntimeError:
            in_loop = False
        for loop, link in links.items():
            idle = not (in_loop or loop.is_closed() or loop.is_running())
            if link.keeper is not None and idle:
                loop.run_until_complete(link.keeper.aclose())
            # Otherwise the loop closes it: at shutdown, or when the dropped keeper is freed.
        if self._owns_client:
            self._link.client.close()

    # -- async twins -----------------------------------------------------------------------

    async def aput(self, record: TokenRecord) -> None:
        await self._arun(self._put(record))

    async def aget(self, token_hash: str) -> TokenRecord | None:
        return await self._arun(self._get(token_hash))

    async def arotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        return await self._arun(self._rotate(old_hash, new, successor, now, grace))

    async def arevoke_family(self, family_id: str, *, until: float) -> None:
        await self._arun(self._revoke("fam", family_id, self._clock(), until))

    async def arevoke_token(self, token_hash: str) -> None:
        await self._arun(self._delete(token_hash))

    async def arevoke_jti(self, jti: str, *, until: float) -> None:
        await self._arun(self._revoke("jti", jti, self._clock(), until))

    async def arevoke_subject(self, subject: str, *, at: float, until: float) -> None:
        await self._arun(self._revoke("sub", subject, at, until))

    async def ais_revoked(self, principal: Principal) -> bool:
        return await self._arun(self._is_revoked(principal))

    async def afamily_revoked(self, family_id: str) -> bool:
        return await self._arun(self._lookup("fam", family_id)) is not None

    async def asubject_cutoff(self, subject: str) -> float | None:
        return await self._arun(self._lookup("sub", subject))

    async def apurge(self, *, now: float) -> int:
        """Nothing to do: every key carries its own TTL. Returns 0."""
        return 0

    async def aclose(self) -> None:
        """Close this event loop's client, then everything `close` closes."""
        link = self._alinks.pop(asyncio.get_running_loop(), None)
        if link is not None and link.keeper is not None:
            await link.keeper.aclose()
        self.close()

    def __repr__(self) -> str:
        return f"RedisStore({_redact(self._url)!r}, prefix={self._prefix!r})"
