"""Where tokens come from: the Cookie parser, `RequestView`, each `TokenLocation`, and the
order and conflict rules of `extract_token`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from tokenguard.errors import InvalidRequestError, MalformedTokenError
from tokenguard.extract import (
    SAFE_METHODS,
    Extracted,
    RequestView,
    TokenLocation,
    extract_token,
    parse_cookies,
)

MAX_TOKEN = 16 * 1024


def view(
    headers: Mapping[str, Sequence[str] | str] | None = None,
    *,
    method: str = "GET",
    query: str = "",
) -> RequestView:
    """A RequestView; a plain str header value stands for a single value."""
    normal = {
        name: [value] if isinstance(value, str) else list(value)
        for name, value in (headers or {}).items()
    }
    return RequestView(method=method, path="/x", headers=normal, query_string=query)


# -- parse_cookies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("a=1", {"a": "1"}, id="one"),
        pytest.param("a=1; b=2", {"a": "1", "b": "2"}, id="two"),
        pytest.param("a=1;b=2", {"a": "1", "b": "2"}, id="no-space-after-semicolon"),
        pytest.param("  a =  1 ;  b=2  ", {"a": "1", "b": "2"}, id="spaces-stripped"),
        pytest.param('a="x y"', {"a": "x y"}, id="quoted-value-unquoted"),
        pytest.param('a=""', {"a": ""}, id="quoted-empty"),
        pytest.param('a="', {"a": '"'}, id="lone-quote-kept"),
        pytest.param('a="x', {"a": '"x'}, id="unbalanced-quote-kept"),
        pytest.param("a=1; a=2", {"a": "1"}, id="duplicate-first-wins"),
        pytest.param("a=; a=2", {"a": ""}, id="duplicate-empty-first-wins"),
        pytest.param("flag; a=1", {"a": "1"}, id="no-equals-skipped"),
        pytest.param("=x; a=1", {"a": "1"}, id="empty-name-skipped"),
        pytest.param("a=b=c", {"a": "b=c"}, id="equals-in-value"),
        pytest.param("a=", {"a": ""}, id="empty-value"),
        pytest.param("A=1; a=2", {"A": "1", "a": "2"}, id="names-case-sensitive"),
        pytest.param("", {}, id="empty-header"),
        pytest.param(" ; ;", {}, id="only-separators"),
    ],
)
def test_parse_cookies(header: str, expected: dict[str, str]) -> None:
    assert parse_cookies(header) == expected


# -- RequestView ---------------------------------------------------------------------------


def test_header_single_value_and_missing() -> None:
    request = view({"authorization": "Bearer abc", "empty": []})
    assert request.header("authorization") == "Bearer abc"
    assert request.header("x-missing") is None
    assert request.header("empty") is None


@pytest.mark.parametrize("name", ["authorization", "origin", "x-csrf-token", "sec-fetch-site"])
def test_header_sent_twice_is_invalid_request(name: str) -> None:
    request = view({name: ["one", "two"]})
    with pytest.raises(InvalidRequestError) as info:
        request.header(name)
    assert info.value.status == 400
    assert info.value.error == "invalid_request"
    assert info.value.description == f"The {name} header was sent more than once."


def test_cookie_header_sent_twice_is_joined() -> None:
    # HTTP/2 splits the Cookie header into several fields (RFC 9113 section 8.2.3).
    request = view({"cookie": ["a=1; b=2", "c=3", "a=9"]})
    assert request.header("cookie") == "a=1; b=2; c=3; a=9"
    assert request.cookies() == {"a": "1", "b": "2", "c": "3"}


def test_cookies_without_header() -> None:
    assert view().cookies() == {}


def test_safe_methods() -> None:
    assert frozenset({"GET", "HEAD", "OPTIONS", "TRACE"}) == SAFE_METHODS


# -- TokenLocation constructors ------------------------------------------------------------


def test_location_constructors() -> None:
    assert TokenLocation.bearer() == TokenLocation("bearer", "authorization")
    assert TokenLocation.header("X-API-Token") == TokenLocation("header", "x-api-token")
    assert TokenLocation.cookie("Session") == TokenLocation("cookie", "Session")
    assert TokenLocation.query() == TokenLocation("query", "access_token")
    assert TokenLocation.query("t") == TokenLocation("query", "t")


# -- Bearer --------------------------------------------------------------------------------

B64_ALL = "AZaz09-._~+/abc=="


@pytest.mark.parametrize(
    ("header", "token"),
    [
        pytest.param("Bearer abc", "abc", id="canonical"),
        pytest.param("bearer abc", "abc", id="lower-case-scheme"),
        pytest.param("BEARER abc", "abc", id="upper-case-scheme"),
        pytest.param("bEaReR abc", "abc", id="mixed-case-scheme"),
        pytest.param(f"Bearer {B64_ALL}", B64_ALL, id="every-b64token-character"),
        pytest.param("Bearer a.b.c", "a.b.c", id="jwt-shape"),
        pytest.param("Bearer " + "a" * MAX_TOKEN, "a" * MAX_TOKEN, id="longest-accepted"),
    ],
)
def test_bearer_found(header: str, token: str) -> None:
    assert TokenLocation.bearer().find(view({"authorization": header}), {}) == token


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("DPoP abc", id="dpop"),
        pytest.param("Bearerabc", id="scheme-glued-to-token"),
        pytest.param("Token abc", id="token"),
        pytest.param("", id="empty-header"),
    ],
)
def test_other_schemes_are_ignored(header: str) -> None:
    assert TokenLocation.bearer().find(view({"authorization": header}), {}) is None


def test_no_authorization_header() -> None:
    assert TokenLocation.bearer().find(view(), {}) is None


@pytest.mark.parametrize(
    ("header", "description"),
    [
        pytest.param("Bearer", "The Authorization header is malformed.", id="no-credentials"),
        pytest.param("Bearer ", "The Authorization header is malformed.", id="empty-credentials"),
        pytest.param("Bearer  abc", "The Authorization header is malformed.", id="two-spaces"),
        pytest.param("Bearer abc ", "The Authorization header is malformed.", id="trailing-space"),
        pytest.param("Bearer abc def", "The Authorization header is malformed.", id="two-tokens"),
        pytest.param(
            "Bearer abc=def",
            "The access token in the Authorization header is malformed.",
            id="equals-inside",
        ),
        pytest.param(
            "Bearer =abc",
            "The access token in the Authorization header is malformed.",
            id="equals-first",
        ),
        pytest.param(
            "Bearer ===",
            "The access token in the Authorization header is malformed.",
            id="only-padding",
        ),
        pytest.param(
            "Bearer abc,def",
            "The access token in the Authorization header is malformed.",
            id="comma",
        ),
        pytest.param(
            'Bearer "abc"',
            "The access token in the Authorization header is malformed.",
            id="quoted",
        ),
        pytest.param(
            "Bearer abc\tdef",
            "The access token in the Authorization header is malformed.",
            id="tab",
        ),
        pytest.param(
            "Bearer abc\n",
            "The access token in the Authorization header is malformed.",
            id="trailing-newline",
        ),
        pytest.param(
            "Bearer t\u00e9st",
            "The access token in the Authorization header is malformed.",
            id="non-ascii",
        ),
        pytest.param(
            "Bearer abc%2E",
            "The access token in the Authorization header is malformed.",
            id="percent",
        ),
        pytest.param(
            "Bearer " + "a" * (MAX_TOKEN + 1),
            "The access token in the Authorization header is malformed.",
            id="over-long",
        ),
    ],
)
def test_malformed_bearer_is_invalid_request(header: str, description: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        TokenLocation.bearer().find(view({"authorization": header}), {})
    assert type(info.value) is InvalidRequestError
    assert info.value.status == 400
    assert info.value.description == description


def test_bearer_header_twice_is_invalid_request() -> None:
    request = view({"authorization": ["Bearer abc", "Bearer abc"]})
    with pytest.raises(InvalidRequestError):
        TokenLocation.bearer().find(request, {})


def test_malformed_value_never_echoed() -> None:
    secret = "s3cr3t-token-value,"
    with pytest.raises(InvalidRequestError) as info:
        TokenLocation.bearer().find(view({"authorization": f"Bearer {secret}"}), {})
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in repr(info.value)


# -- named header, cookie, query -----------------------------------------------------------


def test_named_header() -> None:
    location = TokenLocation.header("X-API-Token")
    assert location.find(view({"x-api-token": "abc"}), {}) == "abc"
    assert location.find(view({"authorization": "Bearer abc"}), {}) is None


@pytest.mark.parametrize(
    ("value", "description"),
    [
        pytest.param("", "The access token x-api-token is empty.", id="empty"),
        pytest.param("a b", "The access token x-api-token is malformed.", id="space"),
        pytest.param("Bearer abc", "The access token x-api-token is malformed.", id="with-scheme"),
        pytest.param(
            "a" * (MAX_TOKEN + 1), "The access token x-api-token is malformed.", id="long"
        ),
    ],
)
def test_named_header_malformed(value: str, description: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        TokenLocation.header("X-API-Token").find(view({"x-api-token": value}), {})
    assert info.value.description == description


def test_named_header_twice() -> None:
    with pytest.raises(InvalidRequestError) as info:
        TokenLocation.header("x-api-token").find(view({"x-api-token": ["a", "b"]}), {})
    assert info.value.description == "The x-api-token header was sent more than once."


def test_cookie_location_reads_the_given_mapping() -> None:
    location = TokenLocation.cookie("access_token")
    # The cookies are parsed once by the caller and passed in; the header is not re-read.
    request = view({"cookie": "access_token=from-header"})
    assert location.find(request, {"access_token": "abc"}) == "abc"
    assert location.find(request, {}) is None
    assert location.find(request, {"other": "abc"}) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("a b", id="space"),
        pytest.param("a;b", id="semicolon"),
        pytest.param('"abc"', id="quotes"),
        pytest.param("a" * (MAX_TOKEN + 1), id="long"),
    ],
)
def test_cookie_location_malformed_is_a_broken_session(value: str) -> None:
    # 401 invalid_token (not 400), so the adapters clear the cookie: a browser would
    # otherwise keep sending it and be refused on every request until it expires.
    with pytest.raises(MalformedTokenError) as info:
        TokenLocation.cookie("access_token").find(view(), {"access_token": value})
    assert info.value.status == 401
    assert info.value.error == "invalid_token"
    assert info.value.description == "The access token cookie is malformed."


@pytest.mark.parametrize(
    ("query", "token"),
    [
        pytest.param("access_token=abc", "abc", id="alone"),
        pytest.param("x=1&access_token=abc&y=2", "abc", id="among-others"),
        pytest.param("access_token=a%2Bb%2F%3D", "a+b/=", id="percent-decoded"),
        pytest.param("access_token=a+b", "a+b", id="plus-is-a-token-character"),
        pytest.param("access_token", None, id="name-without-value"),
        pytest.param("my_access_token=abc", None, id="other-name"),
        pytest.param("x=1", None, id="absent"),
        pytest.param("", None, id="no-query"),
    ],
)
def test_query_location(query: str, token: str | None) -> None:
    assert TokenLocation.query().find(view(query=query), {}) == token


def test_query_location_twice_is_invalid_request() -> None:
    with pytest.raises(InvalidRequestError) as info:
        TokenLocation.query().find(view(query="access_token=a&access_token=b"), {})
    assert info.value.description == "The access token was sent twice in the query string."


@pytest.mark.parametrize(
    ("query", "description"),
    [
        pytest.param("access_token=", "The access token query parameter is empty.", id="blank"),
        pytest.param(
            "access_token=a%20b", "The access token query parameter is malformed.", id="space"
        ),
        pytest.param(
            "access_token=a%0A", "The access token query parameter is malformed.", id="newline"
        ),
    ],
)
def test_query_location_malformed(query: str, description: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        TokenLocation.query().find(view(query=query), {})
    assert type(info.value) is InvalidRequestError
    assert info.value.description == description


# -- extract_token -------------------------------------------------------------------------

BEARER = TokenLocation.bearer()
COOKIE = TokenLocation.cookie("access_token")
QUERY = TokenLocation.query()
DEFAULT = (BEARER, COOKIE)


def test_extract_nothing() -> None:
    assert extract_token(view(), DEFAULT, {}) is None
    assert extract_token(view({"authorization": "Basic dXNlcjpwYXNz"}), DEFAULT, {}) is None


def test_extract_from_bearer() -> None:
    assert extract_token(view({"authorization": "Bearer abc"}), DEFAULT, {}) == Extracted(
        "abc", BEARER
    )


def test_extract_from_cookie() -> None:
    found = extract_token(view(), DEFAULT, {"access_token": "abc"})
    assert found == Extracted("abc", COOKIE)


def test_extract_other_scheme_falls_through_to_cookie() -> None:
    request = view({"authorization": "Basic dXNlcjpwYXNz"})
    assert extract_token(request, DEFAULT, {"access_token": "abc"}) == Extracted("abc", COOKIE)


@pytest.mark.parametrize(
    ("locations", "expected"),
    [
        pytest.param((BEARER, COOKIE), BEARER, id="bearer-first"),
        pytest.param((COOKIE, BEARER), COOKIE, id="cookie-first"),
        pytest.param((QUERY, COOKIE, BEARER), QUERY, id="query-first"),
    ],
)
def test_same_token_in_several_places_reports_the_first(
    locations: tuple[TokenLocation, ...], expected: TokenLocation
) -> None:
    request = view({"authorization": "Bearer abc"}, query="access_token=abc")
    assert extract_token(request, locations, {"access_token": "abc"}) == Extracted("abc", expected)


@pytest.mark.parametrize(
    "locations",
    [
        pytest.param((BEARER, COOKIE), id="bearer-then-cookie"),
        pytest.param((COOKIE, BEARER), id="cookie-then-bearer"),
    ],
)
def test_two_different_tokens_conflict(locations: tuple[TokenLocation, ...]) -> None:
    request = view({"authorization": "Bearer abc"})
    with pytest.raises(InvalidRequestError) as info:
        extract_token(request, locations, {"access_token": "xyz"})
    assert info.value.status == 400
    assert info.value.description == "The request carries two different access tokens."


def test_only_listed_locations_are_read() -> None:
    request = view({"authorization": "Bearer abc"}, query="access_token=xyz")
    # The query string is opt-in: not listed, not read, no conflict.
    assert extract_token(request, DEFAULT, {}) == Extracted("abc", BEARER)
    assert extract_token(request, (COOKIE,), {}) is None


def test_malformed_later_location_still_fails() -> None:
    # Every listed location is looked at, so a malformed one is never silently skipped.
    request = view({"authorization": "Bearer abc"})
    with pytest.raises(MalformedTokenError) as info:
        extract_token(request, DEFAULT, {"access_token": "bad value"})
    assert info.value.description == "The access token cookie is malformed."
    request = view({"authorization": "Bearer abc"}, query="access_token=a%20b")
    with pytest.raises(InvalidRequestError) as info2:
        extract_token(request, (BEARER, QUERY), {})
    assert info2.value.description == "The access token query parameter is malformed."
