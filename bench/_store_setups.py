"""The stores and the call loops of the stores benchmark (private).

Every contender is a "batch": a callable that makes ``calls`` calls in a loop. Async calls
are awaited in one coroutine per batch, run by the event loop that lives for the whole run,
so that a batch costs one ``run_until_complete``, not one per call.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from bench._redis_server import RedisServerError, redis_server
from tokenguard import MemoryStore
from tokenguard.stores import SQLiteStore, TokenStore

__all__ = [
    "MEMORY",
    "REDIS",
    "SQLITE",
    "Batch",
    "Loop",
    "Stores",
    "arepeat",
    "open_stores",
    "repeat",
    "repeat_fresh",
    "seed_revocations",
]

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop

MEMORY, SQLITE, REDIS = "MemoryStore", "SQLiteStore", "RedisStore"
REDIS_PREFIX = "bench:"


class Batch(Protocol):
    """``calls`` calls of one contender; `measure` times one batch per round."""

    def __call__(self, calls: int) -> None: ...


def repeat(call: Callable[[T], object], arg: T) -> Batch:
    """``call(arg)``, ``calls`` times."""

    def batch(calls: int) -> None:
        for _ in range(calls):
            call(arg)

    return batch


def repeat_fresh(call: Callable[[str], object], tokens: Iterator[str]) -> Batch:
    """``call`` on the next token, ``calls`` times: each token is used once."""

    def batch(calls: int) -> None:
        for _ in range(calls):
            call(next(tokens))

    return batch


def arepeat(loop: Loop, call: Callable[[T], Awaitable[object]], arg: T) -> Batch:
    """``await call(arg)``, ``calls`` times, in one ``run_until_complete`` of ``loop``."""

    async def drive(calls: int) -> None:
        for _ in range(calls):
            await call(arg)

    def batch(calls: int) -> None:
        loop.run_until_complete(drive(calls))

    return batch


@dataclass(frozen=True, kw_only=True)
class Stores:
    """The stores that run here; the redis-server version, or why Redis was skipped."""

    by_name: dict[str, TokenStore]
    redis_version: str
    skipped: str | None


def _redis_store(stack: ExitStack, workdir: Path) -> tuple[TokenStore, str] | str:
    """A RedisStore on a redis-server of its own and the server's version, or why not."""
    try:
        from tokenguard.stores.redis import RedisStore
    except ImportError:
        return "the redis package is not installed (pip install -e '.[redis]')"
    try:
        server = stack.enter_context(redis_server(workdir))
    except RedisServerError as error:
        return str(error)
    return RedisStore(server.url, prefix=REDIS_PREFIX), server.version


def _aclose(loop: Loop, store: TokenStore) -> None:
    # On the run's loop: for Redis this also closes the asyncio client made for that loop.
    loop.run_until_complete(store.aclose())


def open_stores(stack: ExitStack, loop: Loop) -> Stores:
    """Every store that can run here: a `MemoryStore`, a `SQLiteStore` on a file in a
    temporary directory, and a `RedisStore` on a redis-server of its own when one can be
    started. On exiting ``stack`` each store is closed, the server stopped, the files gone.
    """
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tokenguard-bench-")))
    stores: dict[str, TokenStore] = {
        MEMORY: MemoryStore(),
        SQLITE: SQLiteStore(workdir / "tokens.db"),
    }
    found = _redis_store(stack, workdir)
    if isinstance(found, str):
        redis_version, skipped = "not started", f"skipped {REDIS}: {found}"
    else:
        (stores[REDIS], redis_version), skipped = found, None
    for store in stores.values():
        stack.callback(_aclose, loop, store)
    return Stores(by_name=stores, redis_version=redis_version, skipped=skipped)


def seed_revocations(store: TokenStore, count: int, *, until: float) -> None:
    """Revoke ``count`` made-up jtis, so that no lookup runs against an empty table."""
    for index in range(count):
        store.revoke_jti(f"seed-{index}", until=until)
