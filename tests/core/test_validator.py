"""TokenValidator rules, its cache, the opaque path, Principal and the error objects.

Every validation runs twice, through `validate` and through `avalidate` (the ``check``
fixture of tests/core/conftest.py): the two must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock, encode_jws, signing_key
from tests.core.conftest import Check, assert_refused, assert_token_not_disclosed
from tokenguard import (
    BackendUnavailableError,
    ConfigError,
    DisallowedAlgorithmError,
    ExpiredToken,
    ExpiredTokenError,
    ImmatureTokenError,
    InactiveTokenError,
    InsufficientScopeError,
    IntrospectionUnavailableError,
    InvalidClaimError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    IssuerPolicy,
    Key,
    KeySet,
    KeySourceUnavailableError,
    MalformedTokenError,
    MissingTokenError,
    Principal,
    RevokedTokenError,
    StoreUnavailable,
    StoreUnavailableError,
    TokenError,
    TokenguardError,
    TokenValidator,
    UnknownKeyError,
)

T0 = int(NOW)
MakeToken = Callable[..., str]


@pytest.fixture
def build(keyset: KeySet, clock: FrozenClock) -> Callable[..., TokenValidator]:
    """A validator over the shared keyset; keyword arguments override the defaults."""

    def make(**options: Any) -> TokenValidator:
        options.setdefault("issuer", ISSUER)
        options.setdefault("audience", AUDIENCE)
        keys = options.pop("keys", keyset)
        return TokenValidator(keys, clock=clock, **options)

    return make


async def assert_outcome(
    check: Check, validator: TokenValidator, token: str, expected: type[TokenError] | None
) -> Principal | None:
    if expected is None:
        principal = await check(validator, token)
        assert principal.kind == "jwt"
        return principal
    await assert_refused(check, validator, token, expected)
    return None


def tamper_signature(token: str) -> str:
    """Change the first signature character: still canonical base64url, other bytes."""
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


class CountingKeys:
    """A KeyProvider over a KeySet that counts fetches (each one is a full validation)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self.calls = 0

    def get_keys(self, kid: str | None) -> KeySet:
        self.calls += 1
        return self.keys

    async def aget_keys(self, kid: str | None) -> KeySet:
        self.calls += 1
        return self.keys


class Denylist:
    """A RevocationChecker refusing listed jti values; records which method was used."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.calls: list[str] = []

    def is_revoked(self, principal: Principal) -> bool:
        self.calls.append("sync")
        return principal.token_id in self.revoked

    async def ais_revoked(self, principal: Principal) -> bool:
        self.calls.append("async")
        return principal.token_id in self.revoked


class Resolver:
    """An OpaqueTokenResolver over a dict; unknown tokens are inactive."""

    def __init__(self, known: dict[str, Principal]) -> None:
        self.known = known
        self.calls: list[str] = []

    def _lookup(self, token: str) -> Principal:
        principal = self.known.get(token)
        if principal is None:
            raise InactiveTokenError()
        return principal

    def resolve(self, token: str) -> Principal:
        self.calls.append("sync")
        return self._lookup(token)

    async def aresolve(self, token: str) -> Principal:
        self.calls.append("async")
        return self._lookup(token)


# -- the happy path ------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
async def test_valid_token_gives_its_principal(
    check: Check, validator: TokenValidator, make_token: MakeToken, alg: str
) -> None:
    principal = await check(validator, make_token(alg))
    assert principal.subject == "alice"
    assert principal.kind == "jwt"
    assert principal.scopes == {"cart:read", "cart:write"}
    assert principal.issuer == ISSUER
    assert principal.token_id == "jti-1"
    assert principal.expires_at == NOW + 900
    assert dict(principal.claims) == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": T0,
        "exp": T0 + 900,
        "jti": "jti-1",
        "scope": "cart:read cart:write",
    }


async def test_keys_may_be_a_list_of_keys(
    check: Check, clock: FrozenClock, make_token: MakeToken
) -> None:
    validator = TokenValidator(
        [signing_key("ES256")], issuer=ISSUER, audience=AUDIENCE, clock=clock
    )
    assert (await check(validator, make_token("ES256"))).subject == "alice"
    await assert_refused(check, validator, make_token("RS256"), UnknownKeyError)


# -- iss ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "iss", "expected"),
    [
        pytest.param(ISSUER, ISSUER, None, id="one-issuer"),
        pytest.param(
            [ISSUER, "https://other.example"], "https://other.example", None, id="several"
        ),
        pytest.param(None, "https://anyone.example", None, id="not-configured-any"),
        pytest.param(None, None, None, id="not-configured-missing"),
        pytest.param(ISSUER, "https://evil.example", InvalidClaimError, id="wrong"),
        pytest.param(ISSUER, ISSUER + "/", InvalidClaimError, id="trailing-slash"),
        pytest.param(ISSUER, ISSUER.upper(), InvalidClaimError, id="other-case"),
        pytest.param(ISSUER, None, InvalidClaimError, id="missing-when-configured"),
        pytest.param(ISSUER, 5, InvalidClaimError, id="number"),
        pytest.param(ISSUER, [ISSUER], InvalidClaimError, id="list"),
        pytest.param(ISSUER, {"iss": ISSUER}, InvalidClaimError, id="object"),
        pytest.param(None, 5, InvalidClaimError, id="number-when-not-configured"),
        pytest.param(None, True, InvalidClaimError, id="bool-when-not-configured"),
    ],
)
async def test_issuer(
    check: Check,
    build: Callable[..., TokenValidator],
    make_token: MakeToken,
    configured: Any,
    iss: Any,
    expected: type[TokenError] | None,
) -> None:
    validator = build(issuer=configured)
    principal = await assert_outcome(check, validator, make_token("ES256", iss=iss), expected)
    if principal is not None:
        assert principal.issuer == iss


# -- aud ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "aud", "expected"),
    [
        pytest.param(AUDIENCE, AUDIENCE, None, id="str-str"),
        pytest.param(AUDIENCE, [AUDIENCE], None, id="str-list"),
        pytest.param(AUDIENCE, ["api://other", AUDIENCE], None, id="str-list-several"),
        pytest.param(["api://b", AUDIENCE], AUDIENCE, None, id="list-str"),
        pytest.param(["api://b", AUDIENCE], ["api://c", "api://b"], None, id="list-list"),
        pytest.param(None, None, None, id="none-configured-none-given"),
        pytest.param(AUDIENCE, "api://other", InvalidClaimError, id="mismatch"),
        pytest.param(AUDIENCE, ["api://a", "api://b"], InvalidClaimError, id="list-mismatch"),
        pytest.param(["api://a", "api://b"], AUDIENCE, InvalidClaimError, id="configured-list"),
        pytest.param(AUDIENCE, AUDIENCE.upper(), InvalidClaimError, id="other-case"),
        pytest.param(AUDIENCE, None, InvalidClaimError, id="missing"),
        pytest.param(None, AUDIENCE, InvalidClaimError, id="given-but-none-configured"),
        pytest.param(None, [AUDIENCE], InvalidClaimError, id="list-given-none-configured"),
        pytest.param(AUDIENCE, [], InvalidClaimError, id="empty-list"),
        pytest.param(AUDIENCE, 5, InvalidClaimError, id="number"),
        pytest.param(AUDIENCE, [AUDIENCE, 5], InvalidClaimError, id="list-with-number"),
        pytest.param(AUDIENCE, [[AUDIENCE]], InvalidClaimError, id="nested-list"),
        pytest.param(AUDIENCE, {"aud": AUDIENCE}, InvalidClaimError, id="object"),
        pytest.param(None, 5, InvalidClaimError, id="number-none-configured"),
    ],
)
async def test_audience(
    check: Check,
    build: Callable[..., TokenValidator],
    make_token: MakeToken,
    configured: Any,
    aud: Any,
    expected: type[TokenError] | None,
) -> None:
    validator = build(audience=configured)
    await assert_outcome(check, validator, make_token("ES256", aud=aud), expected)


# -- exp, nbf, iat, leeway -----------------------------------------------------------


@pytest.mark.parametrize(
    ("leeway", "claims", "expected"),
    [
        pytest.param(0, {"exp": T0 + 1}, None, id="exp-in-1s"),
        pytest.param(0, {"exp": NOW + 0.001}, None, id="exp-in-1ms"),
        pytest.param(0, {"exp": T0}, ExpiredTokenError, id="exp-now"),
        pytest.param(0, {"exp": T0 - 1}, ExpiredTokenError, id="exp-1s-ago"),
        pytest.param(30, {"exp": T0 - 29}, None, id="exp-29s-ago-leeway-30"),
        pytest.param(30, {"exp": T0 - 30}, ExpiredTokenError, id="exp-30s-ago-leeway-30"),
        pytest.param(30, {"exp": T0 - 31}, ExpiredTokenError, id="exp-31s-ago-leeway-30"),
        pytest.param(0.5, {"exp": NOW - 0.25}, None, id="exp-fractional-leeway"),
        pytest.param(0, {"nbf": T0}, None, id="nbf-now"),
        pytest.param(0, {"nbf": T0 - 100}, None, id="nbf-past"),
        pytest.param(0, {"nbf": T0 + 1}, ImmatureTokenError, id="nbf-in-1s"),
        pytest.param(30, {"nbf": T0 + 30}, None, id="nbf-in-30s-leeway-30"),
        pytest.param(30, {"nbf": T0 + 31}, ImmatureTokenError, id="nbf-in-31s-leeway-30"),
        pytest.param(0, {"iat": T0}, None, id="iat-now"),
        pytest.param(0, {"iat": T0 + 1}, ImmatureTokenError, id="iat-in-1s"),
        pytest.param(30, {"iat": T0 + 30}, None, id="iat-in-30s-leeway-30"),
        pytest.param(30, {"iat": T0 + 31}, ImmatureTokenError, id="iat-in-31s-leeway-30"),
        pytest.param(0, {"exp": str(T0 + 900)}, InvalidClaimError, id="exp-string"),
        pytest.param(0, {"exp": True}, InvalidClaimError, id="exp-bool"),
        pytest.param(0, {"exp": [T0 + 900]}, InvalidClaimError, id="exp-list"),
        pytest.param(0, {"nbf": str(T0)}, InvalidClaimError, id="nbf-string"),
        pytest.param(0, {"nbf": False}, InvalidClaimError, id="nbf-bool"),
        pytest.param(0, {"iat": str(T0)}, InvalidClaimError, id="iat-string"),
        pytest.param(0, {"iat": {"t": T0}}, InvalidClaimError, id="iat-object"),
        pytest.param(0, {"exp": 10**400}, InvalidClaimError, id="exp-beyond-float-range"),
        pytest.param(0, {"nbf": -(10**400)}, InvalidClaimError, id="nbf-beyond-float-range"),
    ],
)
async def test_time_claims(
    check: Check,
    build: Callable[..., TokenValidator],
    make_token: MakeToken,
    leeway: float,
    claims: dict[str, Any],
    expected: type[TokenError] | None,
) -> None:
    validator = build(leeway=leeway)
    await assert_outcome(check, validator, make_token("EdDSA", **claims), expected)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        pytest.param(b"1e400", InvalidClaimError, id="overflows-to-infinity"),
        pytest.param(b"-1e400", InvalidClaimError, id="overflows-to-minus-infinity"),
        pytest.param(b"Infinity", MalformedTokenError, id="Infinity-literal"),
        pytest.param(b"NaN", MalformedTokenError, id="NaN-literal"),
        pytest.param(b"1800000900.0", None, id="float"),
        pytest.param(b"18000009e2", None, id="exponent"),
    ],
)
async def test_exp_as_raw_json_number(
    check: Check, validator: TokenValidator, number: bytes, expected: type[TokenError] | None
) -> None:
    """An exp that JSON reads as infinity must not make a token that never expires."""
    key = signing_key("ES256")
    payload = b'{"iss":"%s","aud":"%s","sub":"alice","iat":%d,"exp":%s}' % (
        ISSUER.encode(),
        AUDIENCE.encode(),
        T0,
        number,
    )
    token = encode_jws({"alg": "ES256", "kid": key.kid}, payload, key)
    await assert_outcome(check, validator, token, expected)


@pytest.mark.parametrize(
    ("max_age", "leeway", "claims", "required", "expected"),
    [
        pytest.param(60, 0, {"iat": T0 - 60}, None, None, id="exactly-max-age"),
        pytest.param(60, 0, {"iat": T0 - 61}, None, ExpiredTokenError, id="older"),
        pytest.param(60, 10, {"iat": T0 - 70}, None, None, id="max-age-plus-leeway"),
        pytest.param(60, 10, {"iat": T0 - 71}, None, ExpiredTokenError, id="older-than-leeway"),
        pytest.param(60, 0, {"iat": None}, ("exp", "sub"), InvalidClaimError, id="no-iat"),
        pytest.param(
            60, 0, {"iat": T0 - 61, "aud": "api://other"}, None, InvalidClaimError, id="bad-aud"
        ),
    ],
)
async def test_max_age(
    check: Check,
    build: Callable[..., TokenValidator],
    make_token: MakeToken,
    max_age: float,
    leeway: float,
    claims: dict[str, Any],
    required: tuple[str, ...] | None,
    expected: type[TokenError] | None,
) -> None:
    options: dict[str, Any] = {"max_age": max_age, "leeway": leeway}
    if required is not None:
        options["required_claims"] = required
    validator = build(**options)
    token = make_token("ES256", **claims)
    if expected is None:
        assert (await check(validator, token)).subject == "alice"
        return
    exc = await assert_refused(check, validator, token, expected)
    if expected is ExpiredTokenError:
        assert "maximum age" in exc.description


# -- required claims -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("required", "claims", "expected"),
    [
        pytest.param(None, {"exp": None}, InvalidClaimError, id="default-needs-exp"),
        pytest.param(None, {"iat": None}, InvalidClaimError, id="default-needs-iat"),
        pytest.param(None, {"sub": None}, InvalidClaimError, id="default-needs-sub"),
        pytest.param(("jti",), {"jti": None}, InvalidClaimError, id="custom-missing"),
        pytest.param(("email",), {"email": "a@example.com"}, None, id="custom-present"),
        pytest.param((), {"exp": None, "iat": None, "sub": None}, None, id="none-required"),
    ],
)
async def test_required_claims(
    check: Check,
    build: Callable[..., TokenValidator],
    make_token: MakeToken,
    required: tuple[str, ...] | None,
    claims: dict[str, Any],
    expected: type[TokenError] | None,
) -> None:
    validator = build() if required is None else build(required_claims=required)
    principal = await assert_outcome(check, validator, make_token("ES256", **claims), expected)
    if principal is not None and required == ():
        assert principal.subject == ""
        assert principal.expires_at is None


@pytest.mark.parametrize("name", ["exp", "iat", "sub"])
async def test_required_claim_with_null_value_is_missing(
    check: Check, validator: TokenValidator, name: str
) -> None:
    """'"exp": null' is not an exp: a token that never expires must not get through."""
    key = signing_key("ES256")
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": T0,
        "exp": T0 + 900,
    }
    claims[name] = None
    token = encode_jws({"alg": "ES256", "kid": key.kid}, claims, key)
    exc = await assert_refused(check, validator, token, InvalidClaimError)
    assert name in exc.description


async def test_null_sub_when_not_required_gives_empty_subject(
    check: Check, build: Callable[..., TokenValidator]
) -> None:
    key = signing_key("ES256")
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": None, "iat": T0, "exp": T0 + 900}
    token = encode_jws({"alg": "ES256", "kid": key.kid}, claims, key)
    principal = await check(build(required_claims=("exp",)), token)
    assert principal.subject == ""


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param({"sub": 42}, InvalidClaimError, id="sub-number"),
        pytest.param({"sub": ["alice"]}, InvalidClaimError, id="sub-list"),
        pytest.param({"jti": 1}, InvalidClaimError, id="jti-number"),
        pytest.param({"scope": ["a", "b"]}, InvalidClaimError, id="scope-list"),
        pytest.param({"scope": None, "scp": ["a", "b"]}, None, id="scp-list"),
    ],
)
async def test_string_claims(
    check: Check,
    validator: TokenValidator,
    make_token: MakeToken,
    claims: dict[str, Any],
    expected: type[TokenError] | None,
) -> None:
    principal = await assert_outcome(check, validator, make_token("ES256", **claims), expected)
    if principal is not None:
        assert principal.scopes == {"a", "b"}


# -- header: typ, crit, b64 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("JWT", None, id="JWT"),
        pytest.param("jwt", None, id="jwt"),
        pytest.param("at+jwt", None, id="at+jwt"),
        pytest.param("AT+JWT", None, id="AT+JWT"),
        pytest.param("application/at+jwt", None, id="application/at+jwt"),
        pytest.param("Application/AT+JWT", None, id="Application/AT+JWT"),
        pytest.param("application/jwt", None, id="application/jwt"),
        pytest.param("id_token+jwt", InvalidClaimError, id="id_token+jwt"),
        pytest.param("application/id_token+jwt", InvalidClaimError, id="application/id_token"),
        pytest.param("dpop+jwt", InvalidClaimError, id="dpop+jwt"),
        pytest.param("logout+jwt", InvalidClaimError, id="logout+jwt"),
        pytest.param("secevent+jwt", InvalidClaimError, id="secevent+jwt"),
        pytest.param("JOSE", InvalidClaimError, id="JOSE"),
        pytest.param("", InvalidClaimError, id="empty"),
        pytest.param("at+jwt ", InvalidClaimError, id="trailing-space"),
        pytest.param("application/", InvalidClaimError, id="bare-application"),
        pytest.param(1, InvalidClaimError, id="number"),
        pytest.param(["JWT"], InvalidClaimError, id="list"),
    ],
)
async def test_typ_default_allowlist(
    check: Check,
    validator: TokenValidator,
    make_token: MakeToken,
    typ: Any,
    expected: type[TokenError] | None,
) -> None:
    await assert_outcome(check, validator, make_token("ES256", header={"typ": typ}), expected)


@pytest.mark.parametrize(
    ("typ", "expected"),
    [
        pytest.param("at+jwt", None, id="at+jwt"),
        pytest.param("application/AT+JWT", None, id="application/AT+JWT"),
        pytest.param(None, InvalidClaimError, id="absent"),
        pytest.param("JWT", InvalidClaimError, id="JWT"),
    ],
)
async def test_typ_custom_allowlist(
    check: Check,
    build: Callable[..., TokenValidator],
    make_token: MakeToken,
    typ: str | None,
    expected: type[TokenError] | None,
) -> None:
    validator = build(allowed_types=("Application/At+JWT",))
    await assert_outcome(check, validator, make_token("ES256", header={"typ": typ}), expected)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"crit": ["exp"], "exp": T0}, id="crit-exp"),
        pytest.param({"crit": ["b64"], "b64": False}, id="crit-b64"),
        pytest.param({"crit": []}, id="crit-empty"),
        pytest.param({"crit": "x"}, id="crit-string"),
        pytest.param({"b64": False}, id="b64-false"),
        pytest.param({"b64": True}, id="b64-true"),
    ],
)
async def test_crit_and_b64_are_refused(
    check: Check, validator: TokenValidator, make_token: MakeToken, header: dict[str, Any]
) -> None:
    exc = await assert_refused(
        check, validator, make_token("ES256", header=header), InvalidClaimError
    )
    assert "critical" in exc.description


# -- ExpiredTokenError means "all else was valid" ---------------------------------------


@pytest.mark.parametrize(
    ("claims", "header", "tamper", "expected"),
    [
        pytest.param({}, {}, False, ExpiredTokenError, id="only-expired"),
        pytest.param({"aud": "api://other"}, {}, False, InvalidClaimError, id="wrong-aud"),
        pytest.param({"aud": None}, {}, False, InvalidClaimError, id="missing-aud"),
        pytest.param({"iss": "https://evil.example"}, {}, False, InvalidClaimError, id="bad-iss"),
        pytest.param({"sub": None}, {}, False, InvalidClaimError, id="missing-sub"),
        pytest.param({"sub": 5}, {}, False, InvalidClaimError, id="sub-not-string"),
        pytest.param({"nbf": T0 + 60}, {}, False, ImmatureTokenError, id="nbf-future"),
        pytest.param({"iat": T0 + 60}, {}, False, ImmatureTokenError, id="iat-future"),
        pytest.param({"iat": "x"}, {}, False, InvalidClaimError, id="iat-not-number"),
        pytest.param({}, {"typ": "id_token+jwt"}, False, InvalidClaimError, id="bad-typ"),
        pytest.param({}, {"crit": ["x"]}, False, InvalidClaimError, id="crit"),
        pytest.param({}, {}, True, InvalidSignatureError, id="bad-signature"),
        pytest.param({}, {"kid": "unknown"}, False, UnknownKeyError, id="unknown-kid"),
        pytest.param({}, {"alg": "ES384"}, False, DisallowedAlgorithmError, id="alg-mismatch"),
    ],
)
async def test_expired_only_when_everything_else_is_valid(
    check: Check,
    validator: TokenValidator,
    make_token: MakeToken,
    claims: dict[str, Any],
    header: dict[str, Any],
    tamper: bool,
    expected: type[TokenError],
) -> None:
    token = make_token("ES256", header=header, **{"exp": T0 - 60, "iat": T0 - 960, **claims})
    if tamper:
        token = tamper_signature(token)
    await assert_refused(check, validator, token, expected)


async def test_expired_token_signed_by_an_untrusted_key_is_a_signature_error(
    check: Check, validator: TokenValidator, make_token: MakeToken
) -> None:
    impostor = Key.generate("ES256", kid=signing_key("ES256").kid)
    token = make_token("ES256", key=impostor, exp=T0 - 60)
    await assert_refused(check, validator, token, InvalidSignatureError)


# -- several issuers -----------------------------------------------------------------

ISSUER_A = "https://a.example"
ISSUER_B = "https://b.example"
SECRET_A = b"a" * 32
SECRET_B = b"b" * 32


@pytest.fixture
def tenants(clock: FrozenClock) -> TokenValidator:
    return TokenValidator(
        issuers=[
            IssuerPolicy(
                issuer=ISSUER_A,
                keys=KeySet([signing_key("RS256"), Key.hmac(SECRET_A)]),
                audience="api://a",
            ),
            IssuerPolicy(
                issuer=[ISSUER_B, "https://b2.example"],
                keys=KeySet([signing_key("ES256"), Key.hmac(SECRET_B)]),
                audience="api://b",
                leeway=60,
                allowed_types=("at+jwt",),
            ),
        ],
        clock=clock,
    )


@pytest.mark.parametrize(
    ("alg", "key", "claims", "expected"),
    [
        pytest.param("RS256", None, {"iss": ISSUER_A, "aud": "api://a"}, None, id="A-ok"),
        pytest.param("ES256", None, {"iss": ISSUER_B, "aud": "api://b"}, None, id="B-ok"),
        pytest.param(
            "ES256", None, {"iss": "https://b2.example", "aud": "api://b"}, None, id="B-alias-ok"
        ),
        pytest.param(
            "HS256", Key.hmac(SECRET_A), {"iss": ISSUER_A, "aud": "api://a"}, None, id="A-hmac-ok"
        ),
        pytest.param(
            "RS256",
            None,
            {"iss": ISSUER_B, "aud": "api://b"},
            UnknownKeyError,
            id="A-key-claims-B",
        ),
        pytest.param(
            "ES256",
            None,
            {"iss": ISSUER_A, "aud": "api://a"},
            UnknownKeyError,
            id="B-key-claims-A",
        ),
        pytest.param(
            "HS256",
            Key.hmac(SECRET_A),
            {"iss": ISSUER_B, "aud": "api://b"},
            InvalidSignatureError,
            id="A-secret-claims-B",
        ),
        pytest.param(
            "ES256",
            None,
            {"iss": ISSUER_B, "aud": "api://a"},
            InvalidClaimError,
            id="B-token-with-A-audience",
        ),
        pytest.param(
            "ES256",
            None,
            {"iss": "https://unknown.example", "aud": "api://b"},
            InvalidClaimError,
            id="unknown-issuer",
        ),
        pytest.param(
            "ES256", None, {"iss": None, "aud": "api://b"}, InvalidClaimError, id="no-iss"
        ),
        pytest.param("ES256", None, {"iss": 1, "aud": "api://b"}, InvalidClaimError, id="iss-num"),
        pytest.param(
            "ES256", None, {"iss": [ISSUER_B], "aud": "api://b"}, InvalidClaimError, id="iss-list"
        ),
        pytest.param(
            "RS256",
            None,
            {"iss": ISSUER_A, "aud": "api://a", "exp": T0 - 30},
            ExpiredTokenError,
            id="A-no-leeway",
        ),
        pytest.param(
            "ES256",
            None,
            {"iss": ISSUER_B, "aud": "api://b", "exp": T0 - 30},
            None,
            id="B-leeway-60",
        ),
        pytest.param(
            "ES256",
            None,
            {"iss": ISSUER_B, "aud": "api://b", "exp": T0 - 60},
            ExpiredTokenError,
            id="B-beyond-leeway",
        ),
    ],
)
async def test_several_issuers(
    check: Check,
    tenants: TokenValidator,
    make_token: MakeToken,
    alg: str,
    key: Key | None,
    claims: dict[str, Any],
    expected: type[TokenError] | None,
) -> None:
    principal = await assert_outcome(check, tenants, make_token(alg, key=key, **claims), expected)
    if principal is not None:
        assert principal.issuer == claims["iss"]


async def test_several_issuers_have_their_own_typ_rules(
    check: Check, tenants: TokenValidator, make_token: MakeToken
) -> None:
    a_token = make_token("RS256", header={"typ": "JWT"}, iss=ISSUER_A, aud="api://a")
    b_token = make_token("ES256", header={"typ": "JWT"}, iss=ISSUER_B, aud="api://b")
    assert (await check(tenants, a_token)).issuer == ISSUER_A
    await assert_refused(check, tenants, b_token, InvalidClaimError)


async def test_single_policy_in_issuers(
    check: Check, clock: FrozenClock, make_token: MakeToken
) -> None:
    validator = TokenValidator(
        issuers=[IssuerPolicy(issuer=None, keys=KeySet([signing_key("EdDSA")]), audience=AUDIENCE)],
        clock=clock,
    )
    assert (await check(validator, make_token("EdDSA", iss="https://x.example"))).subject == "alice"


# -- the validated-token cache --------------------------------------------------------


@pytest.fixture
def counting() -> CountingKeys:
    return CountingKeys(KeySet([signing_key("ES256")]))


async def test_cache_hit_returns_the_same_principal(
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    make_token: MakeToken,
) -> None:
    validator = build(keys=counting)
    token = make_token("ES256")
    first = await check(validator, token)
    second = await check(validator, token)
    assert second is first
    assert counting.calls == 1
    assert validator.validate(token) is first
    assert await validator.avalidate(token) is first
    assert counting.calls == 1


@pytest.mark.parametrize(
    ("options", "last_cached", "refused_at"),
    [
        pytest.param({}, 899, (900, 1900), id="exp"),
        pytest.param({"max_age": 60}, 59, (61,), id="max-age"),
    ],
)
async def test_cache_entry_never_outlives_the_token(
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    clock: FrozenClock,
    make_token: MakeToken,
    options: dict[str, Any],
    last_cached: int,
    refused_at: tuple[int, ...],
) -> None:
    """A token valid until T0+900 (exp) or T0+60 (max_age): served from the cache up to
    ``last_cached`` seconds after T0, refused ``refused_at`` seconds after T0."""
    validator = build(keys=counting, **options)
    token = make_token("ES256", exp=T0 + 900)
    await check(validator, token)
    clock.now = T0 + last_cached
    await check(validator, token)
    assert counting.calls == 1
    for moment in refused_at:
        clock.now = T0 + moment
        await assert_refused(check, validator, token, ExpiredTokenError)


async def test_cache_entry_never_outlives_exp_even_within_leeway(
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    clock: FrozenClock,
    make_token: MakeToken,
) -> None:
    validator = build(keys=counting, leeway=60)
    token = make_token("ES256", exp=T0 + 100)
    await check(validator, token)
    clock.advance(110)  # past exp, within leeway: still valid, but checked afresh
    await check(validator, token)
    await check(validator, token)
    assert counting.calls == 3
    clock.advance(50)
    await assert_refused(check, validator, token, ExpiredTokenError)


async def test_token_expired_within_leeway_is_not_cached(
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    make_token: MakeToken,
) -> None:
    validator = build(keys=counting, leeway=30)
    token = make_token("ES256", exp=T0 - 10)
    await check(validator, token)
    await check(validator, token)
    assert counting.calls == 2


async def test_cache_size_zero_turns_the_cache_off(
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    make_token: MakeToken,
) -> None:
    validator = build(keys=counting, cache_size=0)
    token = make_token("ES256")
    first = await check(validator, token)
    second = await check(validator, token)
    assert first == second
    assert first is not second
    assert counting.calls == 2


async def test_cache_is_bounded_first_in_first_out(
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    make_token: MakeToken,
) -> None:
    validator = build(keys=counting, cache_size=2)
    one, two, three = (make_token("ES256", jti=f"jti-{n}") for n in (1, 2, 3))
    for token in (one, two, three):
        await check(validator, token)
    assert counting.calls == 3
    await check(validator, three)
    await check(validator, two)
    assert counting.calls == 3  # two and three are cached
    await check(validator, one)
    assert counting.calls == 4  # one was evicted; now it evicts two
    await check(validator, two)
    assert counting.calls == 5
    await check(validator, two)
    assert counting.calls == 5


async def test_clear_cache(
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    make_token: MakeToken,
) -> None:
    validator = build(keys=counting)
    token = make_token("ES256")
    await check(validator, token)
    validator.clear_cache()
    await check(validator, token)
    assert counting.calls == 2


async def test_revocation_is_checked_on_every_cache_hit(
    mode: str,
    check: Check,
    build: Callable[..., TokenValidator],
    counting: CountingKeys,
    make_token: MakeToken,
) -> None:
    denylist = Denylist()
    validator = build(keys=counting, revocation=denylist)
    token = make_token("ES256", jti="jti-revoke-me")
    first = await check(validator, token)
    assert await check(validator, token) is first
    assert counting.calls == 1
    assert denylist.calls == [mode, mode]
    denylist.revoked.add("jti-revoke-me")
    await assert_refused(check, validator, token, RevokedTokenError)
    await assert_refused(check, validator, token, RevokedTokenError)
    assert counting.calls == 1
    assert denylist.calls == [mode] * 4
    other = make_token("ES256", jti="jti-other")
    assert (await check(validator, other)).token_id == "jti-other"


async def test_revocation_is_not_consulted_for_invalid_tokens(
    check: Check, build: Callable[..., TokenValidator], make_token: MakeToken
) -> None:
    denylist = Denylist()
    validator = build(revocation=denylist)
    await assert_refused(check, validator, make_token("ES256", aud="x"), InvalidClaimError)
    assert denylist.calls == []


# -- opaque tokens ----------------------------------------------------------------------

OPAQUE = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"


@pytest.fixture
def resolver() -> Resolver:
    return Resolver({OPAQUE: Principal("bob", {"scope": "cart:read"}, kind="opaque")})


async def test_opaque_token_goes_to_the_resolver(
    mode: str, check: Check, build: Callable[..., TokenValidator], resolver: Resolver
) -> None:
    validator = build(opaque_resolver=resolver)
    principal = await check(validator, OPAQUE)
    assert (principal.subject, principal.kind, principal.scopes) == ("bob", "opaque", {"cart:read"})
    await check(validator, OPAQUE)
    assert resolver.calls == [mode, mode]  # opaque tokens are looked up every time


async def test_opaque_resolver_errors_pass_through(
    check: Check, build: Callable[..., TokenValidator], resolver: Resolver
) -> None:
    validator = build(opaque_resolver=resolver)
    await assert_refused(check, validator, "unknownopaquetokenvalue123456", InactiveTokenError)


async def test_resolver_alone_refuses_jwts(
    check: Check, clock: FrozenClock, resolver: Resolver, make_token: MakeToken
) -> None:
    validator = TokenValidator(opaque_resolver=resolver, clock=clock)
    assert (await check(validator, OPAQUE)).subject == "bob"
    await assert_refused(check, validator, make_token("ES256"), MalformedTokenError)
    assert len(resolver.calls) == 1


async def test_jwt_shaped_tokens_never_reach_the_resolver(
    check: Check, build: Callable[..., TokenValidator], resolver: Resolver, make_token: MakeToken
) -> None:
    validator = build(opaque_resolver=resolver)
    assert (await check(validator, make_token("ES256"))).kind == "jwt"
    await assert_refused(
        check, validator, make_token("ES256", aud="api://other"), InvalidClaimError
    )
    assert resolver.calls == []


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("opaque token", id="space"),
        pytest.param(OPAQUE + "\n", id="newline"),
        pytest.param("tok\x00en", id="nul"),
        pytest.param("tökén", id="non-ascii"),
        pytest.param("=abc", id="padding-first"),
        pytest.param("", id="empty"),
    ],
)
async def test_opaque_token_of_bad_shape_is_malformed(
    check: Check, build: Callable[..., TokenValidator], resolver: Resolver, token: str
) -> None:
    validator = build(opaque_resolver=resolver)
    await assert_refused(check, validator, token, MalformedTokenError)
    assert resolver.calls == []


async def test_opaque_token_without_resolver_is_malformed(
    check: Check, validator: TokenValidator
) -> None:
    exc = await assert_refused(check, validator, OPAQUE, MalformedTokenError)
    assert "compact JWT" in exc.description


async def test_opaque_principals_are_checked_for_revocation(
    check: Check, build: Callable[..., TokenValidator]
) -> None:
    denylist = Denylist()
    denylist.revoked.add("opaque-jti")
    resolver = Resolver({OPAQUE: Principal("bob", {"jti": "opaque-jti"}, kind="opaque")})
    validator = build(opaque_resolver=resolver, revocation=denylist)
    await assert_refused(check, validator, OPAQUE, RevokedTokenError)


# -- configuration errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"keys": KeySet()}, id="empty-keyset"),
        pytest.param({"keys": []}, id="empty-list"),
        pytest.param({"keys": None}, id="nothing"),
        pytest.param({"leeway": -1}, id="leeway-negative"),
        pytest.param({"leeway": 601}, id="leeway-too-large"),
        pytest.param({"leeway": float("nan")}, id="leeway-nan"),
        pytest.param({"leeway": float("inf")}, id="leeway-inf"),
        pytest.param({"leeway": "30"}, id="leeway-string"),
        pytest.param({"leeway": True}, id="leeway-bool"),
        pytest.param({"max_age": 0}, id="max-age-zero"),
        pytest.param({"max_age": -60}, id="max-age-negative"),
        pytest.param({"max_age": "60"}, id="max-age-string"),
        pytest.param({"max_age": float("inf")}, id="max-age-inf"),
        pytest.param({"required_claims": "sub"}, id="required-claims-string"),
        pytest.param({"required_claims": ["sub", 1]}, id="required-claims-number"),
        pytest.param({"issuer": ""}, id="issuer-empty"),
        pytest.param({"issuer": []}, id="issuer-empty-list"),
        pytest.param({"issuer": [ISSUER, 5]}, id="issuer-number"),
        pytest.param({"audience": [""]}, id="audience-empty-string"),
        pytest.param({"audience": []}, id="audience-empty-list"),
        pytest.param({"max_token_length": 63}, id="max-length-too-small"),
        pytest.param({"max_token_length": "8192"}, id="max-length-string"),
        pytest.param({"cache_size": -1}, id="cache-size-negative"),
        pytest.param({"cache_size": 1.5}, id="cache-size-float"),
    ],
)
def test_validator_config_errors(
    build: Callable[..., TokenValidator], options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        build(**options)
    assert isinstance(excinfo.value, ValueError)
    assert str(excinfo.value)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"leeway": 0}, id="leeway-0"),
        pytest.param({"leeway": 600}, id="leeway-600"),
        pytest.param({"leeway": 2.5}, id="leeway-float"),
        pytest.param({"max_age": 0.5}, id="max-age-float"),
        pytest.param({"max_token_length": 64}, id="max-length-64"),
        pytest.param({"cache_size": 0}, id="cache-off"),
        pytest.param({"issuer": None, "audience": None}, id="no-iss-no-aud"),
        pytest.param({"required_claims": ()}, id="nothing-required"),
    ],
)
def test_validator_config_boundaries_are_accepted(
    build: Callable[..., TokenValidator], options: dict[str, Any]
) -> None:
    assert isinstance(build(**options), TokenValidator)


def test_keys_and_issuers_together_are_refused(keyset: KeySet) -> None:
    policy = IssuerPolicy(issuer=ISSUER, keys=keyset)
    with pytest.raises(ConfigError, match="not both"):
        TokenValidator(keyset, issuers=[policy])


def test_two_policies_for_one_issuer_are_refused(keyset: KeySet) -> None:
    one = IssuerPolicy(issuer=ISSUER, keys=keyset)
    two = IssuerPolicy(issuer=["https://other.example", ISSUER], keys=keyset)
    with pytest.raises(ConfigError, match="two policies"):
        TokenValidator(issuers=[one, two])


def test_several_policies_must_each_name_an_issuer(keyset: KeySet) -> None:
    named = IssuerPolicy(issuer=ISSUER, keys=keyset)
    anyone = IssuerPolicy(issuer=None, keys=keyset)
    with pytest.raises(ConfigError, match="each policy"):
        TokenValidator(issuers=[named, anyone])
    with pytest.raises(ConfigError, match="each policy"):
        TokenValidator(issuers=[anyone, named])


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"keys": KeySet()}, id="empty-keyset"),
        pytest.param({"keys": "secret"}, id="string"),
        pytest.param({"leeway": 1000}, id="leeway"),
        pytest.param({"max_age": -1}, id="max-age"),
        pytest.param({"issuer": ""}, id="issuer"),
    ],
)
def test_issuer_policy_config_errors(keyset: KeySet, options: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"issuer": ISSUER, "keys": keyset, **options}
    with pytest.raises(ConfigError):
        IssuerPolicy(**arguments)


def test_issuer_policy_is_frozen(keyset: KeySet) -> None:
    policy = IssuerPolicy(issuer=ISSUER, keys=keyset, required_claims=["sub"])
    assert policy.required_claims == ("sub",)
    with pytest.raises(AttributeError):
        policy.leeway = 10  # type: ignore[misc]


# -- Principal ---------------------------------------------------------------------------


def test_principal_claims_are_read_only() -> None:
    source = {"sub": "alice", "roles": ["user"], "scope": "a"}
    principal = Principal("alice", source)
    with pytest.raises(TypeError):
        principal.claims["sub"] = "admin"  # type: ignore[index]
    with pytest.raises(TypeError):
        del principal.claims["sub"]  # type: ignore[attr-defined]
    source["sub"] = "mallory"
    source["extra"] = True
    assert principal.claims["sub"] == "alice"
    assert "extra" not in principal.claims


@pytest.mark.parametrize("name", ["subject", "scopes", "kind", "claims", "_claims", "new"])
def test_principal_is_immutable(name: str) -> None:
    principal = Principal("alice", {"scope": "a"})
    with pytest.raises(AttributeError):
        setattr(principal, name, "x")
    if name != "new":
        with pytest.raises(AttributeError):
            delattr(principal, name)
    assert principal.subject == "alice"
    assert principal.scopes == {"a"}


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        pytest.param({"scope": "a b  c"}, {"a", "b", "c"}, id="scope-string"),
        pytest.param({"scope": ""}, set(), id="scope-empty"),
        pytest.param({"scp": ["a", "b"]}, {"a", "b"}, id="scp-list"),
        pytest.param({"scp": "a b"}, {"a", "b"}, id="scp-string"),
        pytest.param({"scope": "a", "scp": ["b"]}, {"a"}, id="scope-wins"),
        pytest.param({"scope": 5}, set(), id="scope-number"),
        pytest.param({"scp": ["a", 1]}, set(), id="scp-mixed"),
        pytest.param({"scp": {"a": 1}}, set(), id="scp-object"),
        pytest.param({}, set(), id="none"),
    ],
)
def test_principal_scopes_from_claims(claims: dict[str, Any], scopes: set[str]) -> None:
    principal = Principal("alice", claims)
    assert principal.scopes == scopes
    assert isinstance(principal.scopes, frozenset)


def test_principal_explicit_scopes_win() -> None:
    assert Principal("a", {"scope": "x"}, scopes=["y"]).scopes == {"y"}
    assert Principal("a", {"scope": "x"}, scopes=[]).scopes == frozenset()


@pytest.mark.parametrize(
    ("wanted", "granted"),
    [
        pytest.param((), True, id="nothing"),
        pytest.param(("cart:read",), True, id="one"),
        pytest.param(("cart:read", "cart:write"), True, id="both"),
        pytest.param(("admin",), False, id="missing"),
        pytest.param(("cart:read", "admin"), False, id="one-missing"),
        pytest.param(("cart",), False, id="prefix"),
    ],
)
def test_principal_has_scopes(wanted: tuple[str, ...], granted: bool) -> None:
    principal = Principal("alice", {"scope": "cart:read cart:write"})
    assert principal.has_scopes(*wanted) is granted


@pytest.mark.parametrize(
    ("claims", "expires_at", "token_id", "issuer"),
    [
        pytest.param({"exp": 10, "jti": "j", "iss": "i"}, 10.0, "j", "i", id="all"),
        pytest.param({"exp": 10.5}, 10.5, None, None, id="float-exp"),
        pytest.param({"exp": True, "jti": 1, "iss": 2}, None, None, None, id="wrong-types"),
        pytest.param({"exp": "10"}, None, None, None, id="exp-string"),
        pytest.param({}, None, None, None, id="none"),
    ],
)
def test_principal_accessors(
    claims: dict[str, Any], expires_at: float | None, token_id: str | None, issuer: str | None
) -> None:
    principal = Principal("alice", claims)
    assert principal.expires_at == expires_at
    assert principal.token_id == token_id
    assert principal.issuer == issuer


def test_principal_equality_hash_and_repr() -> None:
    one = Principal("alice", {"scope": "a", "email": "alice@example.com"})
    two = Principal("alice", {"scope": "a", "email": "alice@example.com"})
    assert one == two
    assert hash(one) == hash(two)
    assert one != Principal("alice", {"scope": "a"})
    assert one != Principal("alice", {"scope": "a", "email": "alice@example.com"}, kind="opaque")
    assert one != "alice"
    text = repr(one)
    assert text == "Principal(subject='alice', kind='jwt', scopes=['a'])"
    assert "alice@example.com" not in text


# -- error objects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "error", "status", "parent"),
    [
        pytest.param(InvalidRequestError, "invalid_request", 400, TokenError, id="InvalidRequest"),
        pytest.param(MissingTokenError, "", 401, TokenError, id="MissingToken"),
        pytest.param(InvalidTokenError, "invalid_token", 401, TokenError, id="InvalidToken"),
        pytest.param(MalformedTokenError, "invalid_token", 401, InvalidTokenError, id="Malformed"),
        pytest.param(UnknownKeyError, "invalid_token", 401, InvalidTokenError, id="UnknownKey"),
        pytest.param(
            DisallowedAlgorithmError, "invalid_token", 401, InvalidTokenError, id="Disallowed"
        ),
        pytest.param(
            InvalidSignatureError, "invalid_token", 401, InvalidTokenError, id="InvalidSignature"
        ),
        pytest.param(InvalidClaimError, "invalid_token", 401, InvalidTokenError, id="InvalidClaim"),
        pytest.param(ExpiredTokenError, "invalid_token", 401, InvalidTokenError, id="Expired"),
        pytest.param(ImmatureTokenError, "invalid_token", 401, InvalidTokenError, id="Immature"),
        pytest.param(RevokedTokenError, "invalid_token", 401, InvalidTokenError, id="Revoked"),
        pytest.param(InactiveTokenError, "invalid_token", 401, InvalidTokenError, id="Inactive"),
        pytest.param(
            InsufficientScopeError, "insufficient_scope", 403, TokenError, id="InsufficientScope"
        ),
        pytest.param(
            BackendUnavailableError, "temporarily_unavailable", 503, TokenError, id="Backend"
        ),
        pytest.param(
            StoreUnavailableError,
            "temporarily_unavailable",
            503,
            BackendUnavailableError,
            id="Store",
        ),
        pytest.param(
            KeySourceUnavailableError,
            "temporarily_unavailable",
            503,
            BackendUnavailableError,
            id="KeySource",
        ),
        pytest.param(
            IntrospectionUnavailableError,
            "temporarily_unavailable",
            503,
            BackendUnavailableError,
            id="Introspection",
        ),
    ],
)
def test_error_classes(cls: type[TokenError], error: str, status: int, parent: type) -> None:
    assert issubclass(cls, parent)
    assert issubclass(cls, TokenguardError)
    assert not issubclass(cls, ConfigError)
    default = cls()
    assert (default.error, default.status) == (error, status)
    assert default.description == cls.default_description
    assert default.description
    assert str(default) == default.description
    custom = cls("Something specific.")
    assert custom.description == "Something specific."
    assert str(custom) == "Something specific."
    assert repr(custom) == f"{cls.__name__}('Something specific.')"


def test_error_aliases_and_config_error() -> None:
    assert ExpiredToken is ExpiredTokenError
    assert StoreUnavailable is StoreUnavailableError
    assert issubclass(ConfigError, ValueError)
    assert issubclass(ConfigError, TokenguardError)
    assert not issubclass(ConfigError, TokenError)


def test_insufficient_scope_carries_the_needed_scopes() -> None:
    assert InsufficientScopeError(scope=("cart:write",)).scope == ("cart:write",)
    assert InsufficientScopeError().scope == ()


@pytest.mark.parametrize(
    ("build_token", "error"),
    [
        pytest.param(lambda mk: mk("ES256", exp=T0 - 1), ExpiredTokenError, id="expired"),
        pytest.param(lambda mk: mk("ES256", nbf=T0 + 99), ImmatureTokenError, id="immature"),
        pytest.param(lambda mk: mk("ES256", aud="api://x"), InvalidClaimError, id="claim"),
        pytest.param(lambda mk: mk("ES256", header={"kid": "x"}), UnknownKeyError, id="unknown"),
        pytest.param(
            lambda mk: mk("ES256", header={"alg": "none"}), DisallowedAlgorithmError, id="alg-none"
        ),
        pytest.param(
            lambda mk: mk("ES256", key=Key.generate("ES256", kid="es256-1")),
            InvalidSignatureError,
            id="signature",
        ),
        pytest.param(lambda mk: mk("ES256") + "x", MalformedTokenError, id="malformed"),
        pytest.param(lambda mk: tamper_signature(mk("ES256")), InvalidSignatureError, id="sig"),
        pytest.param(
            lambda mk: ".".join(mk("ES256").split(".")[:2]) + ".%%%", MalformedTokenError, id="bad"
        ),
    ],
)
async def test_errors_never_contain_the_token(
    check: Check,
    validator: TokenValidator,
    make_token: MakeToken,
    build_token: Callable[[MakeToken], str],
    error: type[TokenError],
) -> None:
    token = build_token(make_token)
    exc = await assert_refused(check, validator, token, error)
    assert_token_not_disclosed(exc, token)
    assert exc.description == str(exc)


def test_paired_surrogate_escapes_are_ordinary_text(
    validator: TokenValidator, make_token: Callable[..., str]
) -> None:
    # An escaped emoji is a valid surrogate pair: it must not be mistaken for a lone one.
    import json as _json

    token = make_token("HS256", nickname=_json.loads('"\\ud83d\\ude00"'))
    assert validator.validate(token).claims["nickname"] == "\U0001f600"
