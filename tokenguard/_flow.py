"""Effects and the two drivers that run an auth flow (private).

Each auth decision is written once, as a generator that yields `Call` effects (fetch keys,
introspect, check revocation) and receives their results. `run_sync` and `run_async` are
the only places where sync and async differ, in the way httpx drives its ``auth_flow``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

from .errors import BackendUnavailableError, TokenError

T = TypeVar("T")

__all__ = ["Call", "Flow", "run_async", "run_sync"]

logger = logging.getLogger("tokenguard")


def _fail_closed(call: Call[Any], exc: Exception) -> Exception:
    """An effect that failed other than with a TokenError is a backend failure (503):
    never an open door, never a 500 with a traceback."""
    if isinstance(exc, TokenError):
        return exc
    name = getattr(call.sync_fn, "__qualname__", repr(call.sync_fn))
    # The type only: a third-party message might quote a token. The cause stays chained.
    logger.error("%s failed: %s", name, type(exc).__name__)
    error = BackendUnavailableError()
    error.__cause__ = exc
    return error


class Call(Generic[T]):
    """One I/O step: the same operation as a sync and as an async callable."""

    __slots__ = ("args", "async_fn", "kwargs", "sync_fn")

    def __init__(
        self,
        sync_fn: Callable[..., T],
        async_fn: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self.sync_fn = sync_fn
        self.async_fn = async_fn
        self.args = args
        self.kwargs = kwargs


Flow = Generator[Call[Any], Any, T]


def run_sync(flow: Flow[T]) -> T:
    """Run a flow, performing each effect with its sync callable."""
    try:
        call = next(flow)
        while True:
            try:
                result = call.sync_fn(*call.args, **call.kwargs)
            except Exception as exc:
                call = flow.throw(_fail_closed(call, exc))
            else:
                call = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        flow.close()


async def run_async(flow: Flow[T]) -> T:
    """Run a flow, awaiting each effect's async callable."""
    try:
        call = next(flow)
        while True:
            try:
                result = await call.async_fn(*call.args, **call.kwargs)
            except Exception as exc:
                call = flow.throw(_fail_closed(call, exc))
            else:
                call = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        flow.close()
