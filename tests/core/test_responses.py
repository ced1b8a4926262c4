"""Error responses as plain values: RFC 6750 section 3 challenges, JSON bodies, redirects."""

from __future__ import annotations

import json
import re

import pytest

from tokenguard.errors import (
    BackendUnavailableError,
    CSRFError,
    ExpiredTokenError,
    FreshTokenRequiredError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidSignatureError,
    KeySourceUnavailableError,
    MissingTokenError,
    StoreUnavailableError,
    TokenError,
    TokenSourceUnavailableError,
)
from tokenguard.extract import RequestView
from tokenguard.responses import ErrorResponse, challenge, default_error_response, login_redirect

# RFC 6750 section 3 / RFC 9110 section 11.6.1, restricted to what tokenguard emits:
# Bearer realm="..." followed by comma-separated auth-params with quoted values.
_QUOTED = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
_PARAM = rf"(?:realm|error|error_description|scope)={_QUOTED}"
WELL_FORMED = re.compile(rf"Bearer {_PARAM}(?:, {_PARAM})*")


# -- challenge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(MissingTokenError(), 'Bearer realm="api"', id="missing-token-realm-only"),
        pytest.param(
            ExpiredTokenError(),
            'Bearer realm="api", error="invalid_token",'
            ' error_description="The access token has expired."',
            id="expired",
        ),
        pytest.param(
            InvalidSignatureError(),
            'Bearer realm="api", error="invalid_token",'
            ' error_description="The access token signature is invalid."',
            id="bad-signature",
        ),
        pytest.param(
            FreshTokenRequiredError(),
            'Bearer realm="api", error="invalid_token",'
            ' error_description="This action needs a fresh login."',
            id="fresh-required",
        ),
        pytest.param(
            InvalidRequestError("The Authorization header is malformed."),
            'Bearer realm="api", error="invalid_request",'
            ' error_description="The Authorization header is malformed."',
            id="invalid-request",
        ),
        pytest.param(
            InsufficientScopeError(scope=("cart:read", "cart:write")),
            'Bearer realm="api", error="insufficient_scope",'
            ' error_description="The access token lacks the privileges this request needs.",'
            ' scope="cart:read cart:write"',
            id="insufficient-scope",
        ),
        pytest.param(
            InsufficientScopeError("The access token lacks the required 'role'."),
            'Bearer realm="api", error="insufficient_scope",'
            " error_description=\"The access token lacks the required 'role'.\"",
            id="insufficient-scope-without-scope",
        ),
    ],
)
def test_challenge(error: TokenError, expected: str) -> None:
    assert challenge(error, "api") == expected
    assert WELL_FORMED.fullmatch(expected)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(BackendUnavailableError(), id="backend"),
        pytest.param(StoreUnavailableError(), id="store"),
        pytest.param(KeySourceUnavailableError(), id="keys"),
        pytest.param(TokenSourceUnavailableError(), id="token-source"),
    ],
)
def test_no_challenge_for_backend_errors(error: TokenError) -> None:
    assert challenge(error, "api") is None


def test_realm_is_quoted() -> None:
    assert challenge(MissingTokenError(), "shop api") == 'Bearer realm="shop api"'


@pytest.mark.parametrize(
    ("description", "quoted"),
    [
        pytest.param('say "hi"', "say ?hi?", id="double-quotes"),
        pytest.param("back\\slash", "back?slash", id="backslash"),
        pytest.param("caf\u00e9", "caf?", id="latin-1"),
        pytest.param("snow \u2603 man", "snow ? man", id="bmp"),
        pytest.param("emoji \U0001f600", "emoji ?", id="astral"),
        pytest.param("line\r\nX-Injected: 1", "line??X-Injected: 1", id="crlf"),
        pytest.param("tab\there", "tab?here", id="tab"),
        pytest.param("nul\x00del\x7f", "nul?del?", id="controls"),
        pytest.param("ok: !#$%&'()*+,-./[]^_`{|}~", "ok: !#$%&'()*+,-./[]^_`{|}~", id="allowed"),
    ],
)
def test_description_outside_the_charset_is_replaced(description: str, quoted: str) -> None:
    value = challenge(InvalidRequestError(description), "api")
    assert value == (f'Bearer realm="api", error="invalid_request", error_description="{quoted}"')
    assert WELL_FORMED.fullmatch(value)
    value.encode("ascii")  # a header value is always sendable


def test_realm_and_scope_outside_the_charset_are_replaced() -> None:
    error = InsufficientScopeError(scope=('a"b', "c\\d", "\u00e9"))
    value = challenge(error, 'r"e\nalm')
    assert value == (
        'Bearer realm="r?e?alm", error="insufficient_scope",'
        ' error_description="The access token lacks the privileges this request needs.",'
        ' scope="a?b c?d ?"'
    )
    assert WELL_FORMED.fullmatch(value)


# -- default_error_response -------------------------------------------------------------------


def body(response: ErrorResponse) -> dict[str, object]:
    decoded = json.loads(response.body)
    assert isinstance(decoded, dict)
    return decoded


def test_missing_token_response() -> None:
    response = default_error_response(MissingTokenError(), "api")
    assert response.status == 401
    assert response.headers == [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        ("www-authenticate", 'Bearer realm="api"'),
    ]
    assert body(response) == {
        "error": "unauthorized",
        "error_description": "Authentication is required.",
    }


def test_invalid_token_response() -> None:
    response = default_error_response(ExpiredTokenError(), "api")
    assert response.status == 401
    assert response.headers == [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        (
            "www-authenticate",
            'Bearer realm="api", error="invalid_token",'
            ' error_description="The access token has expired."',
        ),
    ]
    assert body(response) == {
        "error": "invalid_token",
        "error_description": "The access token has expired.",
    }


def test_invalid_request_response() -> None:
    response = default_error_response(InvalidRequestError("Two tokens."), "api")
    assert response.status == 400
    assert dict(response.headers)["www-authenticate"] == (
        'Bearer realm="api", error="invalid_request", error_description="Two tokens."'
    )
    assert body(response) == {"error": "invalid_request", "error_description": "Two tokens."}


def test_insufficient_scope_response() -> None:
    response = default_error_response(InsufficientScopeError(scope=("cart:write",)), "shop")
    assert response.status == 403
    assert dict(response.headers)["www-authenticate"] == (
        'Bearer realm="shop", error="insufficient_scope",'
        ' error_description="The access token lacks the privileges this request needs.",'
        ' scope="cart:write"'
    )
    assert body(response) == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the privileges this request needs.",
        "scope": "cart:write",
    }


def test_csrf_response_has_no_challenge() -> None:
    # A CSRF failure is not about the token: re-authenticating would not help.
    response = default_error_response(CSRFError("The CSRF check failed."), "api")
    assert response.status == 403
    assert response.headers == [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
    ]
    assert body(response) == {
        "error": "invalid_request",
        "error_description": "The CSRF check failed.",
    }


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(BackendUnavailableError(), id="backend"),
        pytest.param(StoreUnavailableError(), id="store"),
        pytest.param(TokenSourceUnavailableError(), id="token-source"),
    ],
)
def test_backend_response(error: BackendUnavailableError) -> None:
    response = default_error_response(error, "api")
    assert response.status == 503
    assert response.headers == [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        ("retry-after", "5"),
    ]
    assert body(response) == {
        "error": "temporarily_unavailable",
        "error_description": error.description,
    }


def test_body_keeps_the_description_unmangled() -> None:
    # The JSON body escapes properly; only the header needed the restricted charset.
    response = default_error_response(InvalidRequestError('caf\u00e9 "x"'), "api")
    assert body(response)["error_description"] == 'caf\u00e9 "x"'
    assert dict(response.headers)["www-authenticate"].endswith('error_description="caf? ?x?"')


# -- login_redirect ----------------------------------------------------------------------------

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def page(path: str = "/cart", *, method: str = "GET", accept: str | None = HTML) -> RequestView:
    headers = {"accept": [accept]} if accept is not None else {}
    return RequestView(method=method, path=path, headers=headers)


@pytest.mark.parametrize(
    ("path", "location"),
    [
        pytest.param("/cart", "/login?next=/cart", id="plain"),
        pytest.param("/a b", "/login?next=/a%20b", id="space"),
        pytest.param("/x&evil=1", "/login?next=/x%26evil%3D1", id="ampersand-and-equals"),
        pytest.param("/p?q#f", "/login?next=/p%3Fq%23f", id="question-and-hash"),
        pytest.param("/caf\u00e9", "/login?next=/caf%C3%A9", id="non-ascii"),
        pytest.param("/%2e%2e", "/login?next=/%252e%252e", id="percent"),
        # "//evil.example" would name another host to a login page following ``next``.
        pytest.param("//evil.example/x", "/login?next=/evil.example/x", id="no-open-redirect"),
    ],
)
def test_login_redirect_for_html_pages(path: str, location: str) -> None:
    handler = login_redirect("/login")
    for error in (MissingTokenError(), ExpiredTokenError()):
        response = handler(error, page(path))
        assert response == ErrorResponse(
            303, [("location", location), ("cache-control", "no-store")]
        )


def test_login_redirect_url_with_query_and_param_name() -> None:
    response = login_redirect("/auth?tenant=a", param="return_to")(MissingTokenError(), page())
    assert response is not None
    assert dict(response.headers)["location"] == "/auth?tenant=a&return_to=/cart"


@pytest.mark.parametrize(
    ("error", "request_"),
    [
        pytest.param(MissingTokenError(), page(method="POST"), id="post"),
        pytest.param(MissingTokenError(), page(method="HEAD"), id="head"),
        pytest.param(MissingTokenError(), page(accept="application/json"), id="json-client"),
        pytest.param(MissingTokenError(), page(accept=None), id="no-accept"),
        pytest.param(InsufficientScopeError(), page(), id="403"),
        pytest.param(CSRFError(), page(), id="csrf-403"),
        pytest.param(InvalidRequestError(), page(), id="400"),
        pytest.param(BackendUnavailableError(), page(), id="503"),
    ],
)
def test_login_redirect_leaves_other_answers_alone(
    error: TokenError, request_: RequestView
) -> None:
    assert login_redirect("/login")(error, request_) is None
