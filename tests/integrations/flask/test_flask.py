"""tokenguard_flask under Flask's test client: the extension, guards, config, cookies."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("flask")

from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient

import tokenguard
from tests.conftest import cookie_header
from tests.integrations.conftest import (
    AUDIENCE,
    ISSUER,
    MISSING_BODY,
    MISSING_CHALLENGE,
    POLICY,
    Shop,
    assert_refreshed,
    scope_body,
    scope_challenge,
)
from tokenguard import (
    Authenticator,
    ConfigError,
    CookiePolicy,
    Key,
    MemoryStore,
    TokenIssuer,
)
from tokenguard_flask import (
    TokenGuard,
    clear_login_cookies,
    current_principal,
    set_login_cookies,
)

SECRET = secrets.token_urlsafe(32)  # 43 bytes


def add_routes(app: Flask) -> Flask:
    """The test routes on ``app`` (whose extension must already be set up)."""

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        principal = current_principal._get_current_object()  # type: ignore[attr-defined]
        if principal is None:
            return {"sub": None}
        return {"sub": current_principal.subject, "scopes": sorted(current_principal.scopes)}

    @app.get("/me")
    @tokenguard.require_auth
    def me() -> dict[str, Any]:
        return {"sub": current_principal.subject}

    @app.get("/a/me")
    @tokenguard.require_auth
    async def ame() -> dict[str, Any]:
        return {"sub": current_principal.subject}

    @app.get("/cart")
    @tokenguard.require_scopes("cart:read")
    def cart() -> dict[str, Any]:
        return {"sub": current_principal.subject}

    @app.get("/admin")
    @tokenguard.require_claims(role="admin")
    def admin() -> dict[str, Any]:
        return {"sub": current_principal.subject}

    @app.post("/refresh")
    def refresh() -> Response:
        guard: TokenGuard = app.extensions["tokenguard"]
        source = guard.authenticator.source if guard.authenticator else None
        assert source is not None
        pair = source.refresh(str(request.get_json()["refresh_token"]))
        return jsonify(pair.to_dict())

    @app.get("/api/data")
    def data() -> dict[str, bool]:
        return {"ok": True}

    return app


MakeClient = Callable[..., FlaskClient]


@pytest.fixture
def make_client(shop: Shop) -> MakeClient:
    def make(**options: Any) -> FlaskClient:
        app = Flask(__name__)
        TokenGuard(app, shop.authenticator(**options))
        return add_routes(app).test_client(use_cookies=False)

    return make


@pytest.fixture
def client(make_client: MakeClient) -> FlaskClient:
    return make_client()


# -- the extension ----------------------------------------------------------------------------


def test_extension_wraps_the_app(shop: Shop) -> None:
    app = Flask(__name__)
    authenticator = shop.authenticator()
    guard = TokenGuard(app, authenticator)
    assert guard.authenticator is authenticator
    assert app.extensions["tokenguard"] is guard
    assert isinstance(app.wsgi_app, tokenguard.wsgi.TokenGuardMiddleware)
    assert app.wsgi_app.authenticator is authenticator


def test_init_app_factory_pattern(shop: Shop) -> None:
    guard = TokenGuard()
    assert guard.authenticator is None

    def create_app() -> Flask:
        app = Flask(__name__)
        guard.init_app(app, shop.authenticator())
        return add_routes(app)

    client = create_app().test_client(use_cookies=False)
    assert client.get("/whoami", headers=shop.login().bearer()).json == {
        "sub": "alice",
        "scopes": ["cart:read", "cart:write"],
    }
    assert client.get("/me").status_code == 401


def test_one_extension_serves_apps_with_their_own_settings(shop: Shop) -> None:
    # The application-factory pattern: one module-level extension, one app per config.
    guard = TokenGuard()
    apps = {}
    for realm in ("one", "two"):
        app = Flask(__name__)
        guard.init_app(app, shop.authenticator(realm=realm, cookies=CookiePolicy(secure=False)))
        apps[realm] = add_routes(app).test_client(use_cookies=False)
    for realm, client in apps.items():
        reply = client.get("/me")
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"] == f'Bearer realm="{realm}"'


def test_one_extension_reads_each_apps_config(shop: Shop) -> None:
    guard = TokenGuard()
    issuers = {}
    clients = {}
    for name in ("a", "b"):
        secret = secrets.token_urlsafe(32)
        issuers[name] = TokenIssuer(
            Key.hmac(secret),
            store=MemoryStore(),
            issuer=f"https://{name}.example",
            audience=AUDIENCE,
        )
        app = Flask(__name__)
        app.config.update(
            TOKENGUARD_ISSUER=f"https://{name}.example",
            TOKENGUARD_AUDIENCE=AUDIENCE,
            TOKENGUARD_SECRET=secret,
        )
        guard.init_app(app)
        clients[name] = add_routes(app).test_client(use_cookies=False)
    for name, client in clients.items():
        token = issuers[name].issue_access(name)
        reply = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert (reply.status_code, reply.json) == (200, {"sub": name})
    other = issuers["a"].issue_access("a")
    reply = clients["b"].get("/me", headers={"Authorization": f"Bearer {other}"})
    assert reply.status_code == 401


# -- current_principal ------------------------------------------------------------------------


def test_current_principal_proxy(client: FlaskClient, shop: Shop) -> None:
    reply = client.get("/whoami", headers=shop.login("bob", scopes=("profile",)).bearer())
    assert reply.status_code == 200
    assert reply.json == {"sub": "bob", "scopes": ["profile"]}


def test_current_principal_is_none_for_anonymous(client: FlaskClient) -> None:
    reply = client.get("/whoami")
    assert reply.status_code == 200
    assert reply.json == {"sub": None}


def test_current_principal_outside_a_request_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="No tokenguard middleware ran"):
        _ = current_principal.subject


# -- guards on views --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/me", "/a/me", "/cart"], ids=["sync", "async", "scoped"])
def test_guard_refuses_anonymous_with_json_401(client: FlaskClient, path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 401
    assert reply.headers.getlist("WWW-Authenticate") == [MISSING_CHALLENGE]
    assert reply.headers.getlist("Content-Type") == ["application/json"]
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.json == MISSING_BODY


@pytest.mark.parametrize("path", ["/me", "/a/me"], ids=["sync", "async"])
def test_guard_passes_with_token(client: FlaskClient, shop: Shop, path: str) -> None:
    reply = client.get(path, headers=shop.login().bearer())
    assert reply.status_code == 200
    assert reply.json == {"sub": "alice"}


def test_scope_guard_answers_json_403(client: FlaskClient, shop: Shop) -> None:
    reply = client.get("/cart", headers=shop.login(scopes=("profile",)).bearer())
    assert reply.status_code == 403
    assert reply.headers.getlist("WWW-Authenticate") == [scope_challenge("cart:read")]
    assert reply.headers.getlist("Content-Type") == ["application/json"]
    assert reply.json == scope_body("cart:read")
    assert client.get("/cart", headers=shop.login().bearer()).status_code == 200


def test_claims_guard_answers_403(client: FlaskClient, shop: Shop) -> None:
    reply = client.get("/admin", headers=shop.login().bearer())
    assert reply.status_code == 403
    description = "The access token lacks the required 'role'."
    assert reply.headers["WWW-Authenticate"] == (
        f'Bearer realm="api", error="insufficient_scope", error_description="{description}"'
    )
    assert reply.json == {"error": "insufficient_scope", "error_description": description}


def test_token_error_raised_by_a_view_is_answered(client: FlaskClient) -> None:
    reply = client.post("/refresh", json={"refresh_token": "unknown-refresh-token"})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The refresh token is not active."'
    )
    assert reply.headers.getlist("Content-Type") == ["application/json"]


def test_protected_prefix(make_client: MakeClient, shop: Shop) -> None:
    client = make_client(protected=("/api",))
    reply = client.get("/api/data")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == MISSING_CHALLENGE
    assert client.get("/api/data", headers=shop.login().bearer()).json == {"ok": True}


# -- silent refresh ---------------------------------------------------------------------------


def test_silent_refresh_sets_cookies_on_flask_response(client: FlaskClient, shop: Shop) -> None:
    login = shop.login()
    shop.expire()
    reply = client.get("/me", headers=login.cookie_header())
    assert reply.status_code == 200
    assert reply.json == {"sub": "alice"}
    assert_refreshed(reply.headers.getlist("Set-Cookie"), shop, login)


def test_refresh_then_guard_refusal_sets_each_cookie_once(client: FlaskClient, shop: Shop) -> None:
    login = shop.login(scopes=("profile",))
    shop.expire()
    reply = client.get("/cart", headers=login.cookie_header())
    assert reply.status_code == 403
    assert reply.headers["WWW-Authenticate"] == scope_challenge("cart:read")
    assert_refreshed(reply.headers.getlist("Set-Cookie"), shop, login)


def test_refreshed_cookies_work_on_the_next_request(client: FlaskClient, shop: Shop) -> None:
    login = shop.login()
    shop.expire()
    first = client.get("/me", headers=login.cookie_header())
    new = assert_refreshed(first.headers.getlist("Set-Cookie"), shop, login)
    jar = {POLICY.access_cookie: new.access_token, POLICY.refresh_cookie: new.refresh_token}
    second = client.get("/me", headers=cookie_header(jar))
    assert second.status_code == 200
    assert second.headers.getlist("Set-Cookie") == []


# -- cookie helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(CookiePolicy(), id="secure"),
        pytest.param(CookiePolicy(secure=False), id="insecure"),
    ],
)
def test_cookie_helpers_on_flask_responses(shop: Shop, policy: CookiePolicy) -> None:
    app = Flask(__name__)
    TokenGuard(app, shop.authenticator(cookies=policy))
    pair = shop.login().pair
    with app.app_context():
        response = jsonify(pair.to_dict())
        assert set_login_cookies(response, pair, csrf_value="c5rf") is response
        assert response.headers.getlist("Set-Cookie") == policy.login_cookies(
            pair, csrf_value="c5rf"
        )
        cleared = clear_login_cookies(Response())
        assert cleared.headers.getlist("Set-Cookie") == policy.clear_cookies()


def test_cookie_helpers_through_a_view(shop: Shop) -> None:
    app = Flask(__name__)
    TokenGuard(app, shop.authenticator())
    pair = shop.login().pair

    @app.post("/login")
    def login() -> Any:
        return set_login_cookies(jsonify(ok=True), pair, csrf_value=None)

    @app.post("/logout")
    def logout() -> Any:
        return clear_login_cookies(jsonify(ok=True))

    client = app.test_client(use_cookies=False)
    reply = client.post("/login")
    assert reply.headers.getlist("Set-Cookie") == POLICY.login_cookies(pair, csrf_value=None)
    reply = client.post("/logout")
    assert reply.headers.getlist("Set-Cookie") == POLICY.clear_cookies()


def test_cookie_helpers_need_the_extension() -> None:
    app = Flask(__name__)
    with app.app_context(), pytest.raises(ConfigError, match="TokenGuard is not initialised"):
        clear_login_cookies(Response())


# -- configuration from app.config ------------------------------------------------------------


def _config_app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    return app


def test_config_validates_hs256_tokens() -> None:
    app = _config_app(
        TOKENGUARD_ISSUER=ISSUER,
        TOKENGUARD_AUDIENCE=AUDIENCE,
        TOKENGUARD_SECRET=SECRET,
        TOKENGUARD_PROTECTED=["/api"],
        TOKENGUARD_REALM="shop",
        TOKENGUARD_LEEWAY=5,
        TOKENGUARD_COOKIE_SECURE=False,
    )
    guard = TokenGuard(app)
    assert guard.authenticator is not None
    assert guard.authenticator.cookies.access_cookie == "access_token"
    client = add_routes(app).test_client(use_cookies=False)
    issuer = TokenIssuer(Key.hmac(SECRET), store=MemoryStore(), issuer=ISSUER, audience=AUDIENCE)
    token = issuer.issue_access("carol", scopes=("cart:read",))
    reply = client.get("/cart", headers={"Authorization": f"Bearer {token}"})
    assert (reply.status_code, reply.json) == (200, {"sub": "carol"})
    cookie = client.get("/whoami", headers=cookie_header({"access_token": token}))
    assert cookie.json == {"sub": "carol", "scopes": ["cart:read"]}
    reply = client.get("/api/data")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="shop"'


def test_config_refuses_tokens_of_another_secret() -> None:
    app = _config_app(
        TOKENGUARD_ISSUER=ISSUER, TOKENGUARD_AUDIENCE=AUDIENCE, TOKENGUARD_SECRET=SECRET
    )
    TokenGuard(app)
    client = add_routes(app).test_client(use_cookies=False)
    forger = TokenIssuer(
        Key.hmac(secrets.token_bytes(32)), store=MemoryStore(), issuer=ISSUER, audience=AUDIENCE
    )
    reply = client.get("/me", headers={"Authorization": f"Bearer {forger.issue_access('eve')}"})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The access token signature is invalid."'
    )


GOOD = {"TOKENGUARD_ISSUER": ISSUER, "TOKENGUARD_SECRET": SECRET}


@pytest.mark.parametrize(
    ("config", "named"),
    [
        pytest.param(
            {**GOOD, "TOKENGUARD_SECRET": "s" * 31},
            "TOKENGUARD_SECRET",
            id="short-secret",
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_JWKS": "https://issuer.example/jwks.json"},
            "TOKENGUARD_JWKS;",
            id="unknown-key",
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_LEEWAY": "30"},
            "TOKENGUARD_LEEWAY must be int or float, not str",
            id="leeway-type",
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_LEEWAY": 3600},
            "TOKENGUARD_LEEWAY",
            id="leeway-range",
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_JWKS_URL": "https://issuer.example/jwks.json"},
            "Set exactly one of TOKENGUARD_JWKS_URL, TOKENGUARD_PUBLIC_KEY or TOKENGUARD_SECRET",
            id="two-key-sources",
        ),
        pytest.param(
            {"TOKENGUARD_ISSUER": ISSUER},
            "Set exactly one of TOKENGUARD_JWKS_URL",
            id="no-key-source",
        ),
        pytest.param(
            {"TOKENGUARD_SECRET": SECRET}, "TOKENGUARD_ISSUER is required", id="missing-issuer"
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_AUDIENCE": 5},
            "TOKENGUARD_AUDIENCE must be a string or a list of strings",
            id="audience-type",
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_COOKIE_SECURE": "yes"},
            "TOKENGUARD_COOKIE_SECURE must be bool",
            id="cookie-secure-type",
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_PROTECTED": ["api"]},
            "TOKENGUARD_PROTECTED",
            id="protected-prefix",
        ),
        pytest.param(
            {"TOKENGUARD_ISSUER": ISSUER, "TOKENGUARD_JWKS_URL": "http://issuer.example/jwks"},
            "TOKENGUARD_JWKS_URL",
            id="jwks-url-not-https",
        ),
        pytest.param(
            {
                "TOKENGUARD_ISSUER": ISSUER,
                "TOKENGUARD_PUBLIC_KEY": "not a PEM key",
                "TOKENGUARD_ALGORITHM": "RS256",
            },
            "TOKENGUARD_PUBLIC_KEY",
            id="unreadable-public-key",
        ),
        pytest.param(
            {**GOOD, "TOKENGUARD_SECRET": None, "TOKENGUARD_PUBLIC_KEY": "-----BEGIN PUBLIC KEY"},
            "TOKENGUARD_ALGORITHM is required with a public key",
            id="public-key-without-algorithm",
        ),
    ],
)
def test_bad_config_stops_init_naming_the_key(config: dict[str, Any], named: str) -> None:
    app = _config_app(**config)
    with pytest.raises(ConfigError) as caught:
        TokenGuard(app)
    assert isinstance(caught.value, ValueError)
    assert named in str(caught.value)
    assert "tokenguard" not in app.extensions  # nothing half-installed


def test_bad_config_fails_through_init_app_too() -> None:
    guard = TokenGuard()
    with pytest.raises(ValueError, match="TOKENGUARD_ISSUER is required"):
        guard.init_app(_config_app(TOKENGUARD_SECRET=SECRET))


def test_explicit_authenticator_ignores_config(shop: Shop) -> None:
    app = _config_app(TOKENGUARD_JWKS="ignored: an authenticator was given")
    authenticator: Authenticator = shop.authenticator()
    assert TokenGuard(app, authenticator).authenticator is authenticator
