"""Route guards on sync and async handlers, driven through `tokenguard.context.bind()`
(no middleware, no framework), and the context accessors they rely on."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import NOW, FrozenClock
from tokenguard.context import (
    AuthResult,
    RequestAuth,
    bind,
    current_auth,
    current_principal,
    get_auth,
)
from tokenguard.errors import (
    ConfigError,
    FreshTokenRequiredError,
    InsufficientScopeError,
    MissingTokenError,
    TokenError,
)
from tokenguard.extract import TokenLocation
from tokenguard.guards import (
    optional_auth,
    require_auth,
    require_claims,
    require_fresh,
    require_scopes,
)
from tokenguard.principal import Principal

STYLES = [pytest.param("sync", id="sync"), pytest.param("async", id="async")]
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def principal(**claims: Any) -> Principal:
    base: dict[str, Any] = {"sub": "alice", "scope": "cart:read cart:write", "exp": NOW + 900}
    base.update(claims)
    return Principal(base["sub"], {k: v for k, v in base.items() if v is not None})


def auth_for(who: Principal | None) -> RequestAuth:
    return RequestAuth(AuthResult(who, TokenLocation.bearer() if who else None))


class Handler:
    """A handler in one style that records its calls and answers ``"ok"``."""

    def __init__(self, style: str) -> None:
        self.style = style
        self.calls: list[tuple[Any, ...]] = []

    def make(self) -> Callable[..., Any]:
        if self.style == "async":

            async def ahandler(request: object, *, extra: int = 0) -> str:
                """Async handler doc."""
                self.calls.append((request, extra))
                return "ok"

            return ahandler

        def handler(request: object, *, extra: int = 0) -> str:
            """Sync handler doc."""
            self.calls.append((request, extra))
            return "ok"

        return handler


async def invoke(guarded: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    result = guarded(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def run_guarded(
    style: str, decorator: Decorator, who: Principal | None
) -> tuple[RequestAuth, Handler, Any]:
    """Call a handler guarded by ``decorator`` as a request by ``who``.

    Returns the request's auth state, the handler, and the answer or the raised TokenError.
    """
    handler = Handler(style)
    guarded = decorator(handler.make())
    auth = auth_for(who)
    with bind(auth):
        try:
            answer: Any = await invoke(guarded, "request", extra=7)
        except TokenError as error:
            answer = error
    return auth, handler, answer


async def assert_passes(style: str, decorator: Decorator, who: Principal | None) -> None:
    auth, handler, answer = await run_guarded(style, decorator, who)
    assert answer == "ok"
    assert handler.calls == [("request", 7)]  # args and kwargs reach the handler
    assert auth.guard_error is None


async def assert_refused(
    style: str, decorator: Decorator, who: Principal | None, error_type: type[TokenError]
) -> TokenError:
    auth, handler, answer = await run_guarded(style, decorator, who)
    assert type(answer) is error_type
    assert handler.calls == []  # the guard runs before the handler
    assert auth.guard_error is answer  # recorded for the adapters
    assert isinstance(answer, TokenError)
    return answer


# -- without middleware ------------------------------------------------------------------------

EVERY_GUARD = [
    pytest.param(require_auth, id="require_auth"),
    pytest.param(optional_auth, id="optional_auth"),
    pytest.param(require_scopes("cart:read"), id="require_scopes"),
    pytest.param(require_claims(role="admin"), id="require_claims"),
    pytest.param(require_fresh(), id="require_fresh"),
    pytest.param(require_fresh(300), id="require_fresh-max_age"),
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("decorator", EVERY_GUARD)
async def test_guard_without_middleware_is_a_config_error(style: str, decorator: Decorator) -> None:
    handler = Handler(style)
    guarded = decorator(handler.make())  # decorating needs no request
    with pytest.raises(ConfigError) as info:
        await invoke(guarded, "request")
    assert str(info.value).startswith("No tokenguard middleware ran for this request")
    assert handler.calls == []


# -- require_auth / optional_auth ------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
async def test_require_auth(style: str) -> None:
    await assert_passes(style, require_auth, principal())
    error = await assert_refused(style, require_auth, None, MissingTokenError)
    assert error.status == 401
    assert error.error == ""


@pytest.mark.parametrize("style", STYLES)
async def test_optional_auth(style: str) -> None:
    await assert_passes(style, optional_auth, principal())
    await assert_passes(style, optional_auth, None)


# -- require_scopes --------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param(("cart:read",), id="one"),
        pytest.param(("cart:read", "cart:write"), id="all"),
    ],
)
async def test_require_scopes_granted(style: str, scopes: tuple[str, ...]) -> None:
    await assert_passes(style, require_scopes(*scopes), principal())


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    ("scopes", "granted"),
    [
        pytest.param(("admin",), "cart:read cart:write", id="missing"),
        pytest.param(("cart:read", "admin"), "cart:read cart:write", id="one-of-two-missing"),
        pytest.param(("cart:read",), None, id="no-scope-claim"),
        pytest.param(("cart",), "cart:read", id="no-prefix-match"),
    ],
)
async def test_require_scopes_refused(
    style: str, scopes: tuple[str, ...], granted: str | None
) -> None:
    error = await assert_refused(
        style, require_scopes(*scopes), principal(scope=granted), InsufficientScopeError
    )
    assert isinstance(error, InsufficientScopeError)
    assert error.status == 403
    assert error.error == "insufficient_scope"
    assert error.scope == scopes  # every scope the route needs, for the challenge


@pytest.mark.parametrize("style", STYLES)
async def test_require_scopes_anonymous_is_401(style: str) -> None:
    await assert_refused(style, require_scopes("cart:read"), None, MissingTokenError)


@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param((), id="none"),
        pytest.param(("",), id="empty"),
        pytest.param(("cart:read cart:write",), id="space-separated"),
        pytest.param(("ok", 3), id="not-a-string"),
    ],
)
def test_require_scopes_config(scopes: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        require_scopes(*scopes)
    assert str(info.value) == "require_scopes takes one or more scope names without spaces."


def test_require_scopes_without_parentheses_is_a_config_error() -> None:
    def handler() -> None:
        pass

    with pytest.raises(ConfigError):
        require_scopes(handler)  # type: ignore[arg-type]


# -- require_claims --------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    ("expected", "claims"),
    [
        pytest.param({"role": "admin"}, {"role": "admin"}, id="equal"),
        pytest.param({"role": "admin"}, {"role": ["user", "admin"]}, id="in-list"),
        pytest.param({"tenant": 7}, {"tenant": 7}, id="number"),
        pytest.param({"role": "admin", "tenant": "acme"}, {"role": "admin", "tenant": "acme"}),
        pytest.param({"groups": ["a", "b"]}, {"groups": ["a", "b"]}, id="whole-list"),
    ],
)
async def test_require_claims_met(
    style: str, expected: dict[str, Any], claims: dict[str, Any]
) -> None:
    await assert_passes(style, require_claims(**expected), principal(**claims))


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    ("expected", "claims", "name"),
    [
        pytest.param({"role": "admin"}, {"role": "user"}, "role", id="differs"),
        pytest.param({"role": "admin"}, {}, "role", id="missing"),
        pytest.param({"role": "admin"}, {"role": ["user"]}, "role", id="not-in-list"),
        pytest.param({"role": "admin"}, {"role": "administrator"}, "role", id="no-substring"),
        pytest.param({"role": "admin"}, {"role": ["administrator"]}, "role", id="list-no-sub"),
        pytest.param({"tenant": 7}, {"tenant": "7"}, "tenant", id="type-differs"),
        pytest.param(
            {"role": "admin", "tenant": "acme"},
            {"role": "admin", "tenant": "other"},
            "tenant",
            id="second-differs",
        ),
    ],
)
async def test_require_claims_refused(
    style: str, expected: dict[str, Any], claims: dict[str, Any], name: str
) -> None:
    error = await assert_refused(
        style, require_claims(**expected), principal(**claims), InsufficientScopeError
    )
    assert isinstance(error, InsufficientScopeError)
    assert error.status == 403
    assert error.description == f"The access token lacks the required {name!r}."
    assert error.scope == ()


@pytest.mark.parametrize("style", STYLES)
async def test_require_claims_anonymous_is_401(style: str) -> None:
    await assert_refused(style, require_claims(role="admin"), None, MissingTokenError)


def test_require_claims_needs_a_claim() -> None:
    with pytest.raises(ConfigError) as info:
        require_claims()
    assert str(info.value) == "require_claims needs at least one claim=value."


# -- require_fresh ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
async def test_require_fresh(style: str) -> None:
    await assert_passes(style, require_fresh(), principal(fresh=True))
    for stale in (principal(), principal(fresh=False), principal(fresh="true"), principal(fresh=1)):
        error = await assert_refused(style, require_fresh(), stale, FreshTokenRequiredError)
        assert error.status == 401
        assert error.error == "invalid_token"
        assert error.description == "This action needs a fresh login."


@pytest.mark.parametrize("style", STYLES)
async def test_require_fresh_max_age(style: str) -> None:
    clock = FrozenClock(NOW)
    guard = require_fresh(300, clock=clock)
    fresh = principal(fresh=True, auth_time=int(NOW) - 100)
    await assert_passes(style, guard, fresh)
    clock.advance(200)  # exactly 300 s after the login: still fine
    await assert_passes(style, guard, fresh)
    clock.advance(1)
    error = await assert_refused(style, guard, fresh, FreshTokenRequiredError)
    assert error.description == "This action needs a recent login."


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    "auth_time",
    [
        pytest.param(None, id="missing"),
        pytest.param(str(int(NOW)), id="string"),
        pytest.param([int(NOW)], id="list"),
    ],
)
async def test_require_fresh_max_age_needs_auth_time(style: str, auth_time: Any) -> None:
    guard = require_fresh(300, clock=FrozenClock(NOW))
    error = await assert_refused(
        style, guard, principal(fresh=True, auth_time=auth_time), FreshTokenRequiredError
    )
    assert error.description == "This action needs a recent login."


@pytest.mark.parametrize("style", STYLES)
async def test_require_fresh_max_age_still_needs_fresh(style: str) -> None:
    guard = require_fresh(300, clock=FrozenClock(NOW))
    error = await assert_refused(
        style, guard, principal(auth_time=int(NOW)), FreshTokenRequiredError
    )
    assert error.description == "This action needs a fresh login."


@pytest.mark.parametrize("style", STYLES)
async def test_require_fresh_anonymous(style: str) -> None:
    await assert_refused(style, require_fresh(), None, MissingTokenError)


def test_require_fresh_without_parentheses_is_a_config_error() -> None:
    def handler(request: object) -> str:
        return "ok"

    with pytest.raises(ConfigError):
        require_fresh(handler)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_age", [-1, True, "300"])
def test_require_fresh_bad_max_age(max_age: Any) -> None:
    with pytest.raises(ConfigError):
        require_fresh(max_age)


# -- wrapping --------------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("decorator", EVERY_GUARD)
def test_wraps_keeps_identity(style: str, decorator: Decorator) -> None:
    original = Handler(style).make()
    guarded = decorator(original)
    assert guarded is not original
    assert guarded.__name__ == original.__name__
    assert guarded.__qualname__ == original.__qualname__
    assert guarded.__doc__ == original.__doc__ == f"{style.capitalize()} handler doc."
    assert guarded.__wrapped__ is original  # type: ignore[attr-defined]
    assert inspect.signature(guarded) == inspect.signature(original)
    assert str(inspect.signature(guarded)) == "(request: 'object', *, extra: 'int' = 0) -> 'str'"
    assert inspect.iscoroutinefunction(guarded) is (style == "async")


@pytest.mark.parametrize("style", STYLES)
async def test_stacked_guards(style: str) -> None:
    def stacked(handler: Callable[..., Any]) -> Callable[..., Any]:
        return require_auth(require_scopes("cart:write")(require_claims(role="admin")(handler)))

    await assert_passes(style, stacked, principal(role="admin"))
    await assert_refused(style, stacked, None, MissingTokenError)
    await assert_refused(style, stacked, principal(scope="cart:read"), InsufficientScopeError)
    error = await assert_refused(style, stacked, principal(role="user"), InsufficientScopeError)
    assert error.description == "The access token lacks the required 'role'."


async def test_async_guard_checks_when_awaited() -> None:
    # The coroutine is made outside any request; the check runs inside the one awaiting it.
    handler = Handler("async")
    guarded = require_auth(handler.make())
    pending = guarded("request")
    with bind(auth_for(principal())):
        assert await pending == "ok"


def test_guard_on_a_method() -> None:
    class View:
        @require_scopes("cart:read")
        def get(self, request: object) -> str:
            return f"{type(self).__name__}:{request}"

    with bind(auth_for(principal())):
        assert View().get("r") == "View:r"
    with bind(auth_for(principal(scope="other"))), pytest.raises(InsufficientScopeError):
        View().get("r")


# -- the context -------------------------------------------------------------------------------


def test_bind_sets_and_restores() -> None:
    outer, inner = auth_for(principal()), auth_for(None)
    with pytest.raises(ConfigError):
        current_auth()
    with bind(outer):
        assert current_auth() is outer
        assert current_principal() == principal()
        with bind(inner):
            assert current_auth() is inner
            assert current_principal() is None
        assert current_auth() is outer
    with pytest.raises(ConfigError):
        current_principal()


def test_bind_restores_after_an_error() -> None:
    with pytest.raises(MissingTokenError), bind(auth_for(None)):
        raise MissingTokenError()
    with pytest.raises(ConfigError):
        current_auth()


async def test_concurrent_tasks_see_their_own_request() -> None:
    async def request(name: str) -> str | None:
        with bind(auth_for(principal(sub=name))):
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            who = current_principal()
            return who.subject if who else None

    names = [f"user-{i}" for i in range(20)]
    assert await asyncio.gather(*(request(n) for n in names)) == names


def test_get_auth_from_scope_or_environ() -> None:
    auth = auth_for(principal())
    assert get_auth({"tokenguard": auth}) is auth
    assert get_auth({"tokenguard.auth": auth}) is auth
    assert get_auth({}) is None
    assert get_auth({"tokenguard": "not an auth"}) is None


class CountingLoader:
    def __init__(self) -> None:
        self.loads: list[str] = []

    def load(self, who: Principal) -> dict[str, str]:
        self.loads.append(f"sync:{who.subject}")
        return {"name": who.subject}

    async def aload(self, who: Principal) -> dict[str, str]:
        self.loads.append(f"async:{who.subject}")
        return {"name": who.subject}


def test_user_is_loaded_once_and_only_when_asked() -> None:
    loader = CountingLoader()
    auth = RequestAuth(AuthResult(principal()), loader)
    assert loader.loads == []
    first = auth.user()
    assert first == {"name": "alice"}
    assert auth.user() is first
    assert loader.loads == ["sync:alice"]


async def test_auser_is_loaded_once() -> None:
    loader = CountingLoader()
    auth = RequestAuth(AuthResult(principal()), loader)
    first = await auth.auser()
    assert await auth.auser() is first
    assert auth.user() is first
    assert loader.loads == ["async:alice"]


async def test_anonymous_user_is_none_without_loading() -> None:
    loader = CountingLoader()
    auth = RequestAuth(AuthResult(None), loader)
    assert auth.user() is None
    assert await auth.auser() is None
    assert RequestAuth(AuthResult(principal())).user() is None  # no loader
    assert loader.loads == []


def test_partial_handlers_are_guarded_too() -> None:
    handler = Handler("sync")
    guarded = require_auth(functools.partial(handler.make(), extra=3))
    with bind(auth_for(None)), pytest.raises(MissingTokenError):
        guarded("r")
    with bind(auth_for(principal())):
        assert guarded("r") == "ok"
    assert handler.calls == [("r", 3)]


@pytest.mark.parametrize(
    ("expected", "claims"),
    [
        pytest.param({"admin": True}, {"admin": 1}, id="true-is-not-1"),
        pytest.param({"admin": 1}, {"admin": True}, id="1-is-not-true"),
        pytest.param({"tenant": None}, {}, id="missing-is-not-none"),
    ],
)
def test_require_claims_is_strict_about_types(
    expected: dict[str, object], claims: dict[str, object]
) -> None:
    from tokenguard import (
        AuthResult,
        InsufficientScopeError,
        Principal,
        RequestAuth,
        bind,
        require_claims,
    )

    @require_claims(**expected)
    def handler() -> str:
        return "ok"

    auth = RequestAuth(AuthResult(Principal("alice", claims)))
    with bind(auth), pytest.raises(InsufficientScopeError):
        handler()
