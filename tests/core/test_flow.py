"""The two flow drivers: one effect-yielding generator, run with sync or async callables."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tokenguard._flow import Call, Flow, run_async, run_sync
from tokenguard.errors import (
    BackendUnavailableError,
    ExpiredTokenError,
    InsufficientScopeError,
    StoreUnavailableError,
    TokenError,
)

MODES = [pytest.param("sync", id="sync"), pytest.param("async", id="async")]


async def drive(mode: str, flow: Flow[Any]) -> Any:
    return run_sync(flow) if mode == "sync" else await run_async(flow)


class Effects:
    """A pair of callables (sync and async) that log their calls and share one behaviour."""

    def __init__(self, behaviour: Callable[..., Any]) -> None:
        self.behaviour = behaviour
        self.log: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def sync(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append(("sync", args, kwargs))
        return self.behaviour(*args, **kwargs)

    async def async_(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append(("async", args, kwargs))
        return self.behaviour(*args, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Call[Any]:
        return Call(self.sync, self.async_, *args, **kwargs)


def raising(error: BaseException) -> Callable[..., Any]:
    def behaviour(*args: Any, **kwargs: Any) -> Any:
        raise error

    return behaviour


# -- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_flow_without_effects(mode: str) -> None:
    def flow() -> Flow[str]:
        return "done"
        yield  # a generator all the same

    assert await drive(mode, flow()) == "done"


@pytest.mark.parametrize("mode", MODES)
async def test_effect_results_are_sent_back_and_the_value_returned(mode: str) -> None:
    add = Effects(lambda a, b, *, scale=1: (a + b) * scale)

    def flow() -> Flow[list[int]]:
        first = yield add.call(1, 2)
        second = yield add.call(first, 10, scale=2)
        third = yield add.call(second, 0)
        return [first, second, third]

    assert await drive(mode, flow()) == [3, 26, 26]
    assert add.log == [
        (mode, (1, 2), {}),
        (mode, (3, 10), {"scale": 2}),  # kwargs are passed
        (mode, (26, 0), {}),
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_only_the_matching_callable_runs(mode: str) -> None:
    seen: list[str] = []

    def sync_fn() -> str:
        seen.append("sync")
        return "from-sync"

    async def async_fn() -> str:
        seen.append("async")
        return "from-async"

    def flow() -> Flow[str]:
        value: str = yield Call(sync_fn, async_fn)
        return value

    assert await drive(mode, flow()) == f"from-{mode}"
    assert seen == [mode]


@pytest.mark.parametrize("mode", MODES)
async def test_none_is_a_value(mode: str) -> None:
    nothing = Effects(lambda: None)

    def flow() -> Flow[str]:
        value = yield nothing.call()
        return f"got {value!r}"

    assert await drive(mode, flow()) == "got None"


# -- errors from effects ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ExpiredTokenError(), id="expired"),
        pytest.param(InsufficientScopeError(scope=("a",)), id="scope"),
        pytest.param(StoreUnavailableError(), id="store-503"),
    ],
)
async def test_token_error_is_thrown_into_the_flow_unchanged(mode: str, error: TokenError) -> None:
    failing = Effects(raising(error))
    caught: list[BaseException] = []

    def flow() -> Flow[str]:
        try:
            yield failing.call("x")
        except TokenError as exc:
            caught.append(exc)
            return "handled"
        return "not reached"

    assert await drive(mode, flow()) == "handled"
    assert caught == [error]
    assert caught[0] is error


@pytest.mark.parametrize("mode", MODES)
async def test_uncaught_token_error_leaves_the_driver_unchanged(mode: str) -> None:
    error = ExpiredTokenError()
    failing = Effects(raising(error))

    def flow() -> Flow[str]:
        yield failing.call()
        return "not reached"

    with pytest.raises(ExpiredTokenError) as info:
        await drive(mode, flow())
    assert info.value is error


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "error",
    [
        pytest.param(RuntimeError("boom"), id="runtime"),
        pytest.param(ConnectionRefusedError(111, "refused"), id="oserror"),
        pytest.param(KeyError("k"), id="keyerror"),
        pytest.param(TimeoutError(), id="timeout"),
    ],
)
async def test_other_errors_fail_closed(
    mode: str, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Effects(raising(error))
    caught: list[BaseException] = []

    def flow() -> Flow[str]:
        try:
            yield failing.call()
        except TokenError as exc:
            caught.append(exc)
            raise
        return "not reached"

    caplog.set_level(logging.ERROR, logger="tokenguard")
    with pytest.raises(BackendUnavailableError) as info:
        await drive(mode, flow())
    translated = info.value
    assert type(translated) is BackendUnavailableError
    assert translated.status == 503
    assert translated.error == "temporarily_unavailable"
    assert translated.__cause__ is error
    assert caught == [translated]  # the flow saw the translated error, not the original
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "Effects.sync failed" in caplog.text
    assert type(error).__name__ in caplog.text


@pytest.mark.parametrize("mode", MODES)
async def test_flow_may_recover_from_a_backend_failure(mode: str) -> None:
    failing = Effects(raising(OSError("down")))
    fallback = Effects(lambda: "cached")

    def flow() -> Flow[str]:
        try:
            value: str = yield failing.call()
        except BackendUnavailableError:
            value = yield fallback.call()
        return value

    assert await drive(mode, flow()) == "cached"
    assert [entry[0] for entry in failing.log + fallback.log] == [mode, mode]


@pytest.mark.parametrize("mode", MODES)
async def test_error_raised_by_the_flow_itself_propagates(mode: str) -> None:
    def flow() -> Flow[str]:
        raise ValueError("a bug in the flow")
        yield

    with pytest.raises(ValueError, match="a bug in the flow"):
        await drive(mode, flow())


@pytest.mark.parametrize("mode", MODES)
async def test_base_exceptions_are_not_swallowed(mode: str) -> None:
    # KeyboardInterrupt (and asyncio's CancelledError) must stop the request, not become 503.
    failing = Effects(raising(KeyboardInterrupt()))

    def flow() -> Flow[str]:
        try:
            yield failing.call()
        except TokenError:
            return "swallowed"
        return "not reached"

    with pytest.raises(KeyboardInterrupt):
        await drive(mode, flow())


@pytest.mark.parametrize("mode", MODES)
async def test_the_flow_is_closed(mode: str) -> None:
    events: list[str] = []
    failing = Effects(raising(ExpiredTokenError()))

    def flow() -> Flow[str]:
        try:
            yield failing.call()
            return "not reached"
        finally:
            events.append("cleaned up")

    with pytest.raises(ExpiredTokenError):
        await drive(mode, flow())
    assert events == ["cleaned up"]


@pytest.mark.parametrize("mode", MODES)
async def test_nested_flows(mode: str) -> None:
    double = Effects(lambda n: n * 2)

    def inner(n: int) -> Flow[int]:
        value: int = yield double.call(n)
        return value + 1

    def outer() -> Flow[int]:
        a = yield from inner(1)
        b = yield from inner(a)
        return b

    assert await drive(mode, outer()) == 7


def test_call_holds_its_parts() -> None:
    async def async_fn() -> str:
        return "awaited"

    def sync_fn() -> str:
        return "sync"

    awaitable: Callable[[], Awaitable[str]] = async_fn
    call = Call(sync_fn, awaitable, 1, key="v")
    assert (call.sync_fn, call.async_fn, call.args, call.kwargs) == (
        sync_fn,
        async_fn,
        (1,),
        {"key": "v"},
    )
