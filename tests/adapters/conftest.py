"""One behaviour suite for both adapters: the shared fixtures.

Each test asks for ``client`` (or ``make_client``) and runs twice, with ids ``asgi`` and
``wsgi``: the same tiny framework-free app (`tests.adapters.apps`) is served by a raw ASGI
callable behind `tokenguard.asgi.TokenGuardMiddleware` and by a raw WSGI callable behind
`tokenguard.wsgi.TokenGuardMiddleware`, and both are driven in-process by the clients of
`tests.adapters.clients`, which answer with the same `Reply`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tests.adapters.apps import Probe, make_asgi_app, make_wsgi_app
from tests.adapters.clients import ASGIClient, Client, WSGIClient
from tests.conftest import CountingSource, FrozenClock, Login, short_lived_issuer
from tokenguard import asgi, wsgi
from tokenguard.authenticator import Authenticator
from tokenguard.cookies import CookiePolicy
from tokenguard.errors import StoreUnavailableError
from tokenguard.issuer import TokenIssuer
from tokenguard.principal import Principal
from tokenguard.stores import MemoryStore

ISSUER = "https://shop.example"
AUDIENCE = "api://shop"
POLICY = CookiePolicy()
ACCESS, REFRESH, CSRF = POLICY.access_cookie, POLICY.refresh_cookie, POLICY.csrf_cookie

#: (adapter, handler style) for guard tests: async handlers only make sense under ASGI.
STYLES = [
    pytest.param("asgi", "sync", id="asgi-sync"),
    pytest.param("asgi", "async", id="asgi-async"),
    pytest.param("wsgi", "sync", id="wsgi-sync"),
]


# -- the token side ----------------------------------------------------------------------


class SwitchableStore:
    """A TokenStore wrapper: while ``down``, every call raises StoreUnavailableError."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailableError()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr
        if inspect.iscoroutinefunction(attr):

            async def acall(*args: Any, **kwargs: Any) -> Any:
                self._check()
                return await attr(*args, **kwargs)

            return acall

        def call(*args: Any, **kwargs: Any) -> Any:
            self._check()
            return attr(*args, **kwargs)

        return call


class CountingLoader:
    """A UserLoader counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def load(self, principal: Principal) -> dict[str, str]:
        self.calls += 1
        return {"name": principal.subject.title()}

    async def aload(self, principal: Principal) -> dict[str, str]:
        self.calls += 1
        return {"name": principal.subject.title()}


@dataclass
class Shop:
    clock: FrozenClock
    store: SwitchableStore
    issuer: TokenIssuer
    source: CountingSource
    probe: Probe

    def login(
        self,
        subject: str = "alice",
        *,
        scopes: Sequence[str] = ("cart:read", "cart:write"),
        claims: Mapping[str, Any] | None = None,
    ) -> Login:
        return Login.issue(self.issuer, subject, scopes=scopes, claims=claims, policy=POLICY)

    def principal(self, token: str) -> Principal:
        return self.issuer.validator().validate(token)


@pytest.fixture
def shop(clock: FrozenClock) -> Shop:
    store = SwitchableStore(MemoryStore(clock=clock))
    issuer = short_lived_issuer(
        clock,
        store=store,  # type: ignore[arg-type]
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    return Shop(clock, store, issuer, CountingSource(issuer), Probe())


@pytest.fixture(params=["asgi", "wsgi"])
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeClient = Callable[..., Client]


@pytest.fixture
def make_client(adapter: str, shop: Shop) -> MakeClient:
    """make_client(**Authenticator options) -> a Client of this test's adapter.

    Defaults: the shop's counting source, ``/admin`` protected, ``/health`` public, the
    frozen clock and the default (secure, ``__Host-``) cookie policy.
    """

    def make(**options: Any) -> Client:
        options.setdefault("source", shop.source)
        options.setdefault("protected", ("/admin",))
        options.setdefault("public", ("/health",))
        options.setdefault("clock", shop.clock)
        authenticator = Authenticator(shop.issuer.validator(), **options)
        if adapter == "asgi":
            return ASGIClient(asgi.TokenGuardMiddleware(make_asgi_app(shop.probe), authenticator))
        return WSGIClient(wsgi.TokenGuardMiddleware(make_wsgi_app(shop.probe), authenticator))

    return make


@pytest.fixture
def client(make_client: MakeClient) -> Client:
    return make_client()
