"""Effects and the two drivers that run an auth flow (private).

Each auth decision is written once, as a generator that yields `Call` effects (fetch keys,
introspect, check revocation) and receives their results. `run_sync` and `run_async` are
the only places where sync and async differ, in the way httpx drives its ``auth_flow``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Call", "Flow", "run_async", "run_sync"]


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
                call = flow.throw(exc)
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
                call = flow.throw(exc)
            else:
                call = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        flow.close()
