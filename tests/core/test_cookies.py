"""Cookie policy: validation, names, exact Set-Cookie values, and the CSRF checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tokenguard.cookies import CSRF_CLAIM, CookiePolicy, new_csrf_value
from tokenguard.errors import ConfigError, CSRFError, InvalidRequestError
from tokenguard.extract import RequestView
from tokenguard.issuer import TokenPair

PAIR = TokenPair("AT.x.y", "RT-opaque", 900, 1_209_600)
CSRF = "csrf-value-1"


def request(
    method: str = "POST",
    headers: Mapping[str, str | Sequence[str]] | None = None,
    *,
    scheme: str = "http",
    host: str | None = "shop.example",
) -> RequestView:
    normal = {k: [v] if isinstance(v, str) else list(v) for k, v in (headers or {}).items()}
    if host is not None:
        normal.setdefault("host", [host])
    return RequestView(method=method, path="/cart/items", headers=normal, scheme=scheme)


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"samesite": "Lax"}, "samesite must be 'lax', 'strict' or 'none'.", id="samesite-case"
        ),
        pytest.param(
            {"samesite": "sometimes"},
            "samesite must be 'lax', 'strict' or 'none'.",
            id="samesite-unknown",
        ),
        pytest.param(
            {"samesite": "none", "secure": False},
            "SameSite=None cookies must be Secure (browsers drop them).",
            id="samesite-none-insecure",
        ),
        pytest.param({"path": "api"}, "The cookie path must start with '/'.", id="relative-path"),
        pytest.param({"path": ""}, "The cookie path must start with '/'.", id="empty-path"),
        pytest.param(
            {"path": "/; Domain=evil.example"},
            "The cookie path may not contain ';' or control characters.",
            id="path-attribute-injection",
        ),
        pytest.param(
            {"path": "/a\r\nSet-Cookie: x=1"},
            "The cookie path may not contain ';' or control characters.",
            id="path-crlf",
        ),
        pytest.param(
            {"domain": "shop.example; Max-Age=99999999"},
            "'shop.example; Max-Age=99999999' is not a valid cookie domain.",
            id="domain-attribute-injection",
        ),
        pytest.param({"domain": ""}, "'' is not a valid cookie domain.", id="domain-empty"),
        pytest.param(
            {"domain": "shop..example"}, "'shop..example' is not a valid cookie domain.", id="dots"
        ),
        pytest.param(
            {"trusted_origins": "https://app.example"},
            "trusted_origins is a list of origins, not one string.",
            id="trusted-origins-string",
        ),
        pytest.param({"access_name": ""}, "'' is not a valid cookie name.", id="empty-name"),
        pytest.param({"access_name": "a b"}, "'a b' is not a valid cookie name.", id="space"),
        pytest.param({"refresh_name": "a;b"}, "'a;b' is not a valid cookie name.", id="semicolon"),
        pytest.param({"csrf_name": "a,b"}, "'a,b' is not a valid cookie name.", id="comma"),
        pytest.param({"csrf_name": "a=b"}, "'a=b' is not a valid cookie name.", id="equals"),
        pytest.param({"access_name": 'a"b'}, "'a\"b' is not a valid cookie name.", id="quote"),
        pytest.param({"access_name": "a\tb"}, "'a\\tb' is not a valid cookie name.", id="tab"),
        pytest.param(
            {"refresh_name": "a\r\nb"}, "'a\\r\\nb' is not a valid cookie name.", id="crlf"
        ),
    ],
)
def test_invalid_policy_is_a_config_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CookiePolicy(**options)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_policy_is_frozen_and_normalised() -> None:
    policy = CookiePolicy(csrf_header="X-CSRF-Token", trusted_origins=["https://app.example"])
    assert policy.csrf_header == "x-csrf-token"
    assert policy.trusted_origins == ("https://app.example",)
    with pytest.raises(AttributeError):
        policy.secure = False  # type: ignore[misc]


def test_samesite_none_with_secure_is_fine() -> None:
    assert CookiePolicy(samesite="none").samesite == "none"


@pytest.mark.parametrize(
    "domain", ["shop.example", ".shop.example", "localhost", "xn--bcher-kva.ch"]
)
def test_valid_domains(domain: str) -> None:
    assert CookiePolicy(domain=domain).domain == domain


# -- names and the __Host- prefix ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "prefix"),
    [
        pytest.param({}, "__Host-", id="default"),
        pytest.param({"secure": False}, "", id="insecure"),
        pytest.param({"domain": "shop.example"}, "", id="domain"),
        pytest.param({"path": "/api"}, "", id="path-not-root"),
        pytest.param({"host_prefix": False}, "", id="turned-off"),
        pytest.param({"samesite": "strict"}, "__Host-", id="strict"),
    ],
)
def test_host_prefix_only_when_allowed(options: dict[str, Any], prefix: str) -> None:
    policy = CookiePolicy(**options)
    assert policy.access_cookie == prefix + "access_token"
    assert policy.refresh_cookie == prefix + "refresh_token"
    assert policy.csrf_cookie == prefix + "csrf_token"


def test_custom_names() -> None:
    policy = CookiePolicy(access_name="at", refresh_name="rt", csrf_name="xsrf")
    assert (policy.access_cookie, policy.refresh_cookie, policy.csrf_cookie) == (
        "__Host-at",
        "__Host-rt",
        "__Host-xsrf",
    )


# -- Set-Cookie values ------------------------------------------------------------------------


def test_login_cookies_default_policy() -> None:
    assert CookiePolicy().login_cookies(PAIR, csrf_value=CSRF) == [
        "__Host-access_token=AT.x.y; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax",
        "__Host-refresh_token=RT-opaque; Path=/; Max-Age=1209600; Secure; HttpOnly; SameSite=Lax",
        # Readable by page scripts: no HttpOnly.
        "__Host-csrf_token=csrf-value-1; Path=/; Max-Age=1209600; Secure; SameSite=Lax",
    ]


def test_login_cookies_without_csrf_value() -> None:
    assert CookiePolicy().login_cookies(PAIR, csrf_value=None) == [
        "__Host-access_token=AT.x.y; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax",
        "__Host-refresh_token=RT-opaque; Path=/; Max-Age=1209600; Secure; HttpOnly; SameSite=Lax",
    ]


def test_login_cookies_domain_path_strict() -> None:
    policy = CookiePolicy(domain="shop.example", path="/app", samesite="strict")
    assert policy.login_cookies(PAIR, csrf_value=CSRF) == [
        "access_token=AT.x.y; Path=/app; Max-Age=900; Domain=shop.example; Secure; HttpOnly;"
        " SameSite=Strict",
        "refresh_token=RT-opaque; Path=/app; Max-Age=1209600; Domain=shop.example; Secure;"
        " HttpOnly; SameSite=Strict",
        "csrf_token=csrf-value-1; Path=/app; Max-Age=1209600; Domain=shop.example; Secure;"
        " SameSite=Strict",
    ]


def test_login_cookies_insecure_samesite_none_secure() -> None:
    assert CookiePolicy(secure=False).login_cookies(PAIR, csrf_value=CSRF) == [
        "access_token=AT.x.y; Path=/; Max-Age=900; HttpOnly; SameSite=Lax",
        "refresh_token=RT-opaque; Path=/; Max-Age=1209600; HttpOnly; SameSite=Lax",
        "csrf_token=csrf-value-1; Path=/; Max-Age=1209600; SameSite=Lax",
    ]
    assert CookiePolicy(samesite="none").login_cookies(PAIR, csrf_value=None) == [
        "__Host-access_token=AT.x.y; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=None",
        "__Host-refresh_token=RT-opaque; Path=/; Max-Age=1209600; Secure; HttpOnly; SameSite=None",
    ]


def test_negative_lifetimes_become_zero() -> None:
    pair = TokenPair("AT", "RT", -5, -1)
    assert CookiePolicy(secure=False).login_cookies(pair, csrf_value="c") == [
        "access_token=AT; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        "refresh_token=RT; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        "csrf_token=c; Path=/; Max-Age=0; SameSite=Lax",
    ]


def test_clear_cookies() -> None:
    assert CookiePolicy().clear_cookies() == [
        "__Host-access_token=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
        "__Host-refresh_token=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
        "__Host-csrf_token=; Path=/; Max-Age=0; Secure; SameSite=Lax",
    ]
    # A cookie is only deleted by a Set-Cookie with the same name, domain and path.
    assert CookiePolicy(domain="shop.example", path="/app").clear_cookies() == [
        "access_token=; Path=/app; Max-Age=0; Domain=shop.example; Secure; HttpOnly; SameSite=Lax",
        "refresh_token=; Path=/app; Max-Age=0; Domain=shop.example; Secure; HttpOnly; SameSite=Lax",
        "csrf_token=; Path=/app; Max-Age=0; Domain=shop.example; Secure; SameSite=Lax",
    ]


def test_new_csrf_value() -> None:
    values = {new_csrf_value() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert len(value) == 22  # 16 random bytes, base64url without padding
        assert value.replace("-", "").replace("_", "").isalnum()


# -- CSRF: check_request_origin ----------------------------------------------------------------

POLICY = CookiePolicy(secure=False)
GOOD_COOKIES = {"csrf_token": CSRF}
PROOF = {"x-csrf-token": CSRF}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_safe_methods_are_exempt(method: str) -> None:
    hostile = request(method, {"sec-fetch-site": "cross-site", "origin": "https://evil.example"})
    POLICY.check_request_origin(hostile, {})
    POLICY.check_token_binding(hostile, {})


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unsafe_methods_need_proof(method: str) -> None:
    with pytest.raises(CSRFError) as info:
        POLICY.check_request_origin(request(method), GOOD_COOKIES)
    assert info.value.status == 403
    assert info.value.error == "invalid_request"
    assert info.value.description == "Send the csrf_token cookie's value in x-csrf-token."
    POLICY.check_request_origin(request(method, PROOF), GOOD_COOKIES)


def test_csrf_off_checks_nothing() -> None:
    policy = CookiePolicy(secure=False, csrf=False)
    hostile = request("POST", {"sec-fetch-site": "cross-site", "origin": "https://evil.example"})
    policy.check_request_origin(hostile, {})
    policy.check_token_binding(hostile, {})


@pytest.mark.parametrize(
    ("headers", "cookies", "description"),
    [
        pytest.param(
            {"sec-fetch-site": "cross-site", **PROOF},
            GOOD_COOKIES,
            "Cross-site requests may not use cookie credentials.",
            id="sec-fetch-site-cross-site",
        ),
        pytest.param(
            {"origin": "https://evil.example", **PROOF},
            GOOD_COOKIES,
            "The request's Origin is not trusted.",
            id="origin-other-host",
        ),
        pytest.param(
            {"origin": "https://shop.example:8443", **PROOF},
            GOOD_COOKIES,
            "The request's Origin is not trusted.",
            id="origin-other-port",
        ),
        pytest.param(
            {"origin": "https://shop.example.evil.example", **PROOF},
            GOOD_COOKIES,
            "The request's Origin is not trusted.",
            id="origin-suffix",
        ),
        pytest.param(
            {"origin": "null", **PROOF},
            GOOD_COOKIES,
            "The request's Origin is not trusted.",
            id="origin-null",
        ),
        pytest.param(
            {"origin": "", **PROOF},
            GOOD_COOKIES,
            "The request's Origin is not trusted.",
            id="origin-empty",
        ),
        pytest.param(
            {"origin": "https://shop.example:99999", **PROOF},
            GOOD_COOKIES,
            "The request's Origin is not trusted.",
            id="origin-bad-port",
        ),
        pytest.param(
            {},
            GOOD_COOKIES,
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="no-header",
        ),
        pytest.param(
            {"x-csrf-token": ""},
            GOOD_COOKIES,
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="empty-header",
        ),
        pytest.param(
            PROOF, {}, "Send the csrf_token cookie's value in x-csrf-token.", id="no-cookie"
        ),
        pytest.param(
            {"x-csrf-token": ""},
            {"csrf_token": ""},
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="both-empty",
        ),
        pytest.param(
            {"x-csrf-token": "other"},
            GOOD_COOKIES,
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="double-submit-mismatch",
        ),
        pytest.param(
            {"x-csrf-token": CSRF + "x"},
            GOOD_COOKIES,
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="double-submit-longer",
        ),
        pytest.param(
            {"x-csrf-token": "\u00e9t\u00e9"},
            {"csrf_token": "ete"},
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="non-ascii-header",
        ),
        pytest.param(
            {"x-csrf-token": "abc"},
            {"csrf_token": "\u00ff"},
            "Send the csrf_token cookie's value in x-csrf-token.",
            id="non-ascii-cookie",
        ),
    ],
)
def test_request_origin_refused(
    headers: dict[str, str], cookies: dict[str, str], description: str
) -> None:
    with pytest.raises(CSRFError) as info:
        POLICY.check_request_origin(request("POST", headers), cookies)
    assert info.value.status == 403
    assert info.value.description == description


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(PROOF, id="no-origin-no-fetch-metadata"),
        pytest.param({"origin": "http://shop.example", **PROOF}, id="origin-matches-host"),
        pytest.param({"origin": "https://SHOP.example", **PROOF}, id="origin-case-insensitive"),
        pytest.param(
            {"origin": "https://shop.example", "sec-fetch-site": "same-origin", **PROOF},
            id="same-origin",
        ),
        pytest.param({"sec-fetch-site": "same-site", **PROOF}, id="same-site"),
        pytest.param({"sec-fetch-site": "none", **PROOF}, id="user-initiated"),
        pytest.param({"origin": "https://app.example", **PROOF}, id="trusted-origin"),
    ],
)
def test_request_origin_accepted(headers: dict[str, str]) -> None:
    policy = CookiePolicy(secure=False, trusted_origins=("https://app.example",))
    policy.check_request_origin(request("POST", headers), GOOD_COOKIES)


def test_origin_with_explicit_port_matches_host_with_port() -> None:
    ok = request("POST", {"origin": "http://127.0.0.1:8000", **PROOF}, host="127.0.0.1:8000")
    POLICY.check_request_origin(ok, GOOD_COOKIES)
    bad = request("POST", {"origin": "http://127.0.0.1:8001", **PROOF}, host="127.0.0.1:8000")
    with pytest.raises(CSRFError):
        POLICY.check_request_origin(bad, GOOD_COOKIES)


def test_origin_without_host_is_refused() -> None:
    headers = {"origin": "https://shop.example", **PROOF}
    with pytest.raises(CSRFError) as info:
        POLICY.check_request_origin(request("POST", headers, host=None), GOOD_COOKIES)
    assert info.value.description == "The request's Origin is not trusted."


def test_trusted_origin_must_match_exactly() -> None:
    policy = CookiePolicy(secure=False, trusted_origins=("https://app.example",))
    for origin in ("https://app.example.evil.example", "http://app.example:444"):
        with pytest.raises(CSRFError):
            policy.check_request_origin(request("POST", {"origin": origin, **PROOF}), GOOD_COOKIES)


def test_prefixed_cookie_and_custom_header_names() -> None:
    policy = CookiePolicy(csrf_header="X-XSRF")
    cookies = {"__Host-csrf_token": CSRF, "csrf_token": "planted"}
    policy.check_request_origin(request("POST", {"x-xsrf": CSRF}), cookies)
    # A cookie without the prefix (planted by a subdomain) is not the proof.
    with pytest.raises(CSRFError) as info:
        policy.check_request_origin(request("POST", {"x-xsrf": "planted"}), cookies)
    assert info.value.description == "Send the __Host-csrf_token cookie's value in x-xsrf."


def test_duplicate_proof_header_is_invalid_request() -> None:
    twice = request("POST", {"x-csrf-token": [CSRF, CSRF]})
    with pytest.raises(InvalidRequestError) as info:
        POLICY.check_request_origin(twice, GOOD_COOKIES)
    assert not isinstance(info.value, CSRFError)
    assert info.value.status == 400


def test_websocket_handshake_checks_origin_only() -> None:
    # Page scripts cannot add headers to a websocket handshake: the Origin is the proof.
    same = request("GET", {"origin": "https://shop.example"}, scheme="wss")
    POLICY.check_request_origin(same, {})
    POLICY.check_request_origin(request("GET", scheme="ws"), {})
    cross = request("GET", {"origin": "https://evil.example"}, scheme="wss")
    with pytest.raises(CSRFError) as info:
        POLICY.check_request_origin(cross, {})
    assert info.value.description == "The websocket's Origin is not trusted."


# -- CSRF: check_token_binding -------------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    header: str | None
    claims: dict[str, Any]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(Binding(CSRF, {}), id="token-without-csrf-claim"),
        pytest.param(Binding(CSRF, {CSRF_CLAIM: "other"}), id="claim-differs"),
        pytest.param(Binding(CSRF, {CSRF_CLAIM: 12345}), id="claim-not-a-string"),
        pytest.param(Binding(CSRF, {CSRF_CLAIM: None}), id="claim-null"),
        pytest.param(Binding(None, {CSRF_CLAIM: CSRF}), id="no-header"),
        pytest.param(Binding("", {CSRF_CLAIM: ""}), id="both-empty"),
        pytest.param(Binding("\u00e9", {CSRF_CLAIM: "e"}), id="non-ascii-header"),
    ],
)
def test_token_binding_refused(case: Binding) -> None:
    headers = {} if case.header is None else {"x-csrf-token": case.header}
    with pytest.raises(CSRFError) as info:
        POLICY.check_token_binding(request("POST", headers), case.claims)
    assert info.value.status == 403
    assert info.value.description == "The CSRF value does not belong to this session."


def test_token_binding_accepted() -> None:
    POLICY.check_token_binding(request("POST", PROOF), {CSRF_CLAIM: CSRF, "sub": "alice"})
    POLICY.check_token_binding(
        request("DELETE", {"x-csrf-token": "\u00e9"}), {CSRF_CLAIM: "\u00e9"}
    )
