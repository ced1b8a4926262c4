"""The attacks of RFC 8725 section 2, each refused with one exact error class and status 401.

Every forged token is built so that the one defect under test is the only reason to refuse
it: it is signed with a trusted key wherever the attack allows, and a control case shows
that the same construction without the defect is accepted. Every attack runs through
`validate` and `avalidate` (the ``check`` fixture of tests/core/conftest.py): both must refuse
it alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock, default_claims, signing_key
from tests.core.conftest import Check, assert_refused
from tokenguard import (
    ConfigError,
    DisallowedAlgorithmError,
    ImmatureTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    Key,
    KeySet,
    MalformedTokenError,
    TokenError,
    TokenValidator,
    UnknownKeyError,
)
from tokenguard._jose import b64url_encode

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Order of the P-256 group (FIPS 186-4, D.1.2.3): r = s = n is the "psychic signature".
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """jku, x5u and friends must never make the validator open a connection."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the validator tried to use the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def asymmetric(clock: FrozenClock) -> TokenValidator:
    """A validator that trusts only an RS256 and an ES256 public key."""
    keys = KeySet(
        Key.from_pem(signing_key(alg).public_pem(), alg=alg, kid=signing_key(alg).kid)
        for alg in ("RS256", "ES256")
    )
    return TokenValidator(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock)


def b64(data: bytes) -> str:
    return b64url_encode(data)


def raw(value: Mapping[str, Any] | bytes) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def header_for(alg: str = "ES256", **extra: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": alg, "typ": "at+jwt", "kid": signing_key(alg).kid}
    header.update(extra)
    return {k: v for k, v in header.items() if v is not None}


def signed(
    header: Mapping[str, Any] | bytes | None = None,
    payload: Mapping[str, Any] | bytes | None = None,
    *,
    key: Key | None = None,
) -> str:
    """A token signed over exactly these header and payload bytes (ES256 by default)."""
    key = key or signing_key("ES256")
    head = b64(raw(header if header is not None else header_for(key.alg)))
    body = b64(raw(payload if payload is not None else default_claims(NOW)))
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def hs_forged(header: Mapping[str, Any], secret: bytes, alg: str = "HS256") -> str:
    """An HMAC token made with `secret`, as an attacker holding only public data would."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{b64(raw(header))}.{b64(raw(default_claims(NOW)))}"
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(mac)}"


def with_signature(token: str, signature: bytes | str) -> str:
    head, body, _ = token.split(".")
    sig = signature if isinstance(signature, str) else b64(signature)
    return f"{head}.{body}.{sig}"


def non_canonical(segment: str) -> str:
    """The same bytes in base64url, with a non-zero unused bit in the last character."""
    assert len(segment) % 4 in (2, 3)
    last = B64URL.index(segment[-1])
    sibling = segment[:-1] + B64URL[last | 1]
    assert sibling != segment

    def lenient(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    assert lenient(sibling) == lenient(segment)
    return sibling


def padded(value: dict[str, Any], remainder: int) -> dict[str, Any]:
    """`value` plus a filler member, so that its base64url length % 4 == remainder."""
    for size in range(8):
        candidate = {**value, "pad": "x" * size}
        if len(b64(raw(candidate))) % 4 == remainder:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


async def test_control_tokens_are_accepted(
    check: Check, validator: TokenValidator, asymmetric: TokenValidator
) -> None:
    """The helpers below build valid tokens unless a defect is added on purpose."""
    assert (await check(validator, signed())).subject == "alice"
    assert (await check(asymmetric, signed())).subject == "alice"
    rsa_token = signed(header_for("RS256"), key=signing_key("RS256"))
    assert (await check(asymmetric, rsa_token)).subject == "alice"
    hs_header = header_for("HS256")
    key = signing_key("HS256")
    assert (await check(validator, signed(hs_header, key=key))).subject == "alice"


# -- RFC 8725 section 2.1: weak signatures and insufficient signature validation ---------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "NoNe"])
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty-signature"),
        pytest.param(b64(b"signature"), id="junk-signature"),
        pytest.param("VALID", id="valid-es256-signature"),
    ],
)
@pytest.mark.parametrize(
    "kid", [pytest.param(None, id="no-kid"), pytest.param("es256-1", id="trusted-kid")]
)
async def test_alg_none_in_every_spelling(
    check: Check, validator: TokenValidator, alg: str, signature: str, kid: str | None
) -> None:
    header = {"alg": alg, "typ": "at+jwt", **({"kid": kid} if kid else {})}
    token = signed(header)  # signed with the trusted ES256 key, then labelled "none"
    if signature != "VALID":
        token = with_signature(token, signature)
    await assert_refused(check, validator, token, DisallowedAlgorithmError)


@pytest.mark.parametrize(
    "alg",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("none ", id="none-space"),
        pytest.param(" ES256", id="leading-space"),
        pytest.param("es256", id="lower-case"),
        pytest.param("HS1", id="HS1"),
        pytest.param("RS1", id="RS1"),
        pytest.param("ES256K", id="ES256K"),
        pytest.param("RSA-OAEP", id="key-encryption-alg"),
        pytest.param("dir", id="dir"),
        pytest.param(256, id="number"),
        pytest.param(["ES256"], id="list"),
        pytest.param({"alg": "ES256"}, id="object"),
        pytest.param(True, id="bool"),
    ],
)
async def test_unsupported_or_malformed_alg(
    check: Check, validator: TokenValidator, alg: Any
) -> None:
    header: dict[str, Any] = {"typ": "at+jwt", "kid": "es256-1"}
    if alg is not None:
        header["alg"] = alg
    await assert_refused(check, validator, signed(header), DisallowedAlgorithmError)


def _public_secrets() -> list[Any]:
    params = []
    for alg in ("RS256", "ES256"):
        key = signing_key(alg)
        jwk = key.public_jwk()
        for name, secret in (
            ("pem", key.public_pem()),
            ("pem-no-newline", key.public_pem().rstrip(b"\n")),
            ("jwk-json", json.dumps(jwk).encode()),
            ("jwk-json-compact", json.dumps(jwk, separators=(",", ":")).encode()),
            ("jwk-json-sorted", json.dumps(jwk, sort_keys=True).encode()),
        ):
            params.append(pytest.param(alg, secret, id=f"{alg}-{name}"))
    return params


@pytest.mark.parametrize(("trusted_alg", "secret"), _public_secrets())
@pytest.mark.parametrize("hs_alg", ["HS256", "HS384", "HS512"])
async def test_hmac_signed_with_a_trusted_public_key_with_its_kid(
    check: Check, asymmetric: TokenValidator, trusted_alg: str, secret: bytes, hs_alg: str
) -> None:
    """The key named by the kid is bound to RS256/ES256: an HS* token is refused outright."""
    header = {"alg": hs_alg, "typ": "at+jwt", "kid": signing_key(trusted_alg).kid}
    await assert_refused(
        check, asymmetric, hs_forged(header, secret, hs_alg), DisallowedAlgorithmError
    )


@pytest.mark.parametrize(("trusted_alg", "secret"), _public_secrets())
@pytest.mark.parametrize("hs_alg", ["HS256", "HS384", "HS512"])
async def test_hmac_signed_with_a_trusted_public_key_without_kid(
    check: Check, asymmetric: TokenValidator, trusted_alg: str, secret: bytes, hs_alg: str
) -> None:
    """With no kid, the keys for HS* are looked up: there are none."""
    header = {"alg": hs_alg, "typ": "at+jwt"}
    await assert_refused(check, asymmetric, hs_forged(header, secret, hs_alg), UnknownKeyError)


@pytest.mark.parametrize(("trusted_alg", "secret"), _public_secrets())
async def test_hmac_signed_with_a_public_key_next_to_a_real_hmac_key(
    check: Check, validator: TokenValidator, trusted_alg: str, secret: bytes
) -> None:
    """Where an HS256 secret is trusted too, the forged MAC is checked against it and fails."""
    no_kid = {"alg": "HS256", "typ": "at+jwt"}
    hs_kid = {**no_kid, "kid": "hs256-1"}
    own_kid = {**no_kid, "kid": signing_key(trusted_alg).kid}
    await assert_refused(check, validator, hs_forged(no_kid, secret), InvalidSignatureError)
    await assert_refused(check, validator, hs_forged(hs_kid, secret), InvalidSignatureError)
    await assert_refused(check, validator, hs_forged(own_kid, secret), DisallowedAlgorithmError)


@pytest.mark.parametrize(
    ("kid", "alg"),
    [
        pytest.param("hs256-1", "RS256", id="hmac-kid-as-RS256"),
        pytest.param("hs256-1", "HS512", id="hs256-kid-as-HS512"),
        pytest.param("rs256-1", "PS256", id="rs256-kid-as-PS256"),
        pytest.param("es256-1", "ES384", id="es256-kid-as-ES384"),
        pytest.param("eddsa-1", "ES256", id="eddsa-kid-as-ES256"),
    ],
)
async def test_token_alg_never_rebinds_a_key(
    check: Check, validator: TokenValidator, kid: str, alg: str
) -> None:
    token = signed({"alg": alg, "typ": "at+jwt", "kid": kid}, key=signing_key(alg))
    await assert_refused(check, validator, token, DisallowedAlgorithmError)


async def test_stripped_signature(check: Check, validator: TokenValidator) -> None:
    for alg in ("HS256", "RS256", "ES256", "EdDSA"):
        token = signed(header_for(alg), key=signing_key(alg))
        await assert_refused(check, validator, with_signature(token, ""), InvalidSignatureError)
        head, body, _ = token.split(".")
        await assert_refused(check, validator, f"{head}.{body}", MalformedTokenError)


def _ecdsa_raw(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(bytes(64), id="64-zero-bytes"),
        pytest.param(_ecdsa_raw(0, 0), id="r=s=0"),
        pytest.param(_ecdsa_raw(0, 1), id="r=0"),
        pytest.param(_ecdsa_raw(1, 0), id="s=0"),
        pytest.param(_ecdsa_raw(P256_ORDER, P256_ORDER), id="r=s=n"),
        pytest.param(_ecdsa_raw(P256_ORDER, 0), id="r=n-s=0"),
        pytest.param(b"\xff" * 64, id="all-ones"),
        pytest.param(encode_dss_signature(0, 0), id="der-r=s=0"),
        pytest.param(bytes(63), id="63-zero-bytes"),
        pytest.param(bytes(65), id="65-zero-bytes"),
        pytest.param(bytes(1), id="one-zero-byte"),
    ],
)
async def test_ecdsa_degenerate_signatures(
    check: Check, validator: TokenValidator, signature: bytes
) -> None:
    """CVE-2022-21449 style: r = s = 0 must never verify (RFC 8725 section 2.1)."""
    await assert_refused(
        check, validator, with_signature(signed(), signature), InvalidSignatureError
    )


@pytest.mark.parametrize(
    ("alg", "signature"),
    [
        pytest.param("EdDSA", bytes(64), id="EdDSA-zeros"),
        pytest.param("RS256", bytes(256), id="RS256-zeros"),
        pytest.param("RS256", b"\x01", id="RS256-one"),
        pytest.param("RS256", b"\x00" * 255 + b"\x01", id="RS256-integer-one"),
        pytest.param("HS256", bytes(32), id="HS256-zeros"),
        pytest.param("HS256", bytes(31), id="HS256-short"),
    ],
)
async def test_degenerate_signatures_other_algorithms(
    check: Check, validator: TokenValidator, alg: str, signature: bytes
) -> None:
    token = with_signature(signed(header_for(alg), key=signing_key(alg)), signature)
    await assert_refused(check, validator, token, InvalidSignatureError)


async def test_ecdsa_signature_from_another_curve_key(
    check: Check, validator: TokenValidator
) -> None:
    impostor = Key.from_key_object(ec.generate_private_key(ec.SECP256R1()), alg="ES256")
    token = signed(header_for("ES256"), key=impostor)
    await assert_refused(check, validator, token, InvalidSignatureError)


# -- RFC 8725 section 2.2: weak symmetric keys ---------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(b"secret", id="secret"),
        pytest.param(b"password123", id="password"),
        pytest.param(b"x" * 31, id="31-bytes"),
        pytest.param(b"", id="empty"),
    ],
)
def test_weak_hmac_secrets_are_refused(secret: bytes) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Key.hmac(secret, alg="HS256")
    assert type(excinfo.value) is ConfigError


# -- RFC 8725 sections 2.3 and 2.5: encryption composition, elliptic curve points ---------


async def test_jwe_shaped_token(check: Check, validator: TokenValidator) -> None:
    header = b64(json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM"}).encode())
    token = f"{header}.{b64(bytes(256))}.{b64(bytes(12))}.{b64(b'ciphertext')}.{b64(bytes(16))}"
    await assert_refused(check, validator, token, MalformedTokenError)
    empty_key = f"{header}..{b64(bytes(12))}.{b64(b'ciphertext')}.{b64(bytes(16))}"
    await assert_refused(check, validator, empty_key, MalformedTokenError)


async def test_encryption_alg_in_a_jws(check: Check, validator: TokenValidator) -> None:
    token = signed({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "es256-1"})
    await assert_refused(check, validator, token, DisallowedAlgorithmError)


def test_trusted_jwk_with_point_off_the_curve_is_refused() -> None:
    jwk = signing_key("ES256").public_jwk()
    x = bytearray(base64.urlsafe_b64decode(jwk["x"] + "=="))
    x[0] ^= 0x80
    with pytest.raises(ConfigError) as excinfo:
        Key.from_jwk({**jwk, "x": b64(bytes(x))})
    assert type(excinfo.value) is ConfigError


# -- RFC 8725 section 2.6: multiplicity of JSON encodings ---------------------------------

CLAIMS = default_claims(NOW)
CLAIMS_JSON = json.dumps(CLAIMS)


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        pytest.param(
            b'{"alg":"ES256","kid":"es256-1","alg":"none"}', None, id="header-alg-twice-none-last"
        ),
        pytest.param(
            b'{"alg":"none","kid":"es256-1","alg":"ES256"}', None, id="header-alg-twice-none-first"
        ),
        pytest.param(
            b'{"alg":"ES256","kid":"es256-1","kid":"es256-1"}', None, id="header-same-kid-twice"
        ),
        pytest.param(
            b'{"alg":"ES256","kid":"es256-1","typ":"at+jwt","typ":"id_token+jwt"}',
            None,
            id="header-typ-twice",
        ),
        pytest.param(
            None, CLAIMS_JSON[:-1].encode() + b', "sub": "admin"}', id="payload-sub-twice"
        ),
        pytest.param(
            None, CLAIMS_JSON[:-1].encode() + b', "aud": "api://admin"}', id="payload-aud-twice"
        ),
        pytest.param(
            None, CLAIMS_JSON[:-1].encode() + b', "sub": "alice"}', id="payload-same-value-twice"
        ),
        pytest.param(
            None,
            CLAIMS_JSON[:-1].encode() + b', "ctx": {"role": "user", "role": "admin"}}',
            id="payload-nested-duplicate",
        ),
        pytest.param(
            None, CLAIMS_JSON[:-1].encode() + b', "s\\u0075b": "admin"}', id="payload-escaped-dup"
        ),
    ],
)
async def test_duplicate_json_members(
    check: Check, validator: TokenValidator, header: bytes | None, payload: bytes | None
) -> None:
    await assert_refused(check, validator, signed(header, payload), MalformedTokenError)


def _payload_variants() -> list[Any]:
    text = CLAIMS_JSON
    return [
        pytest.param(text.encode("utf-16"), id="utf-16"),
        pytest.param(text.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(text.encode("utf-32"), id="utf-32"),
        pytest.param(b"\xef\xbb\xbf" + text.encode(), id="utf-8-bom"),
        pytest.param(text.encode()[:-1] + b', "n": "\xff"}', id="invalid-utf-8"),
        pytest.param(text.encode()[:-1] + b', "n": "\xc0\xaf"}', id="overlong-utf-8"),
        pytest.param(text.encode()[:-1] + b', "n": NaN}', id="NaN"),
        pytest.param(text.encode()[:-1] + b', "n": Infinity}', id="Infinity"),
        pytest.param(text.encode()[:-1] + b', "n": -Infinity}', id="minus-Infinity"),
        pytest.param(text.encode()[:-1] + b', "n": [NaN]}', id="nested-NaN"),
        pytest.param(text.encode()[:-1] + b', "n": "\\ud800"}', id="lone-high-surrogate"),
        pytest.param(text.encode()[:-1] + b', "n": ["\\udfff"]}', id="lone-low-surrogate"),
        pytest.param(text.encode()[:-1] + b', "\\ud800": 1}', id="surrogate-member-name"),
        pytest.param(text.encode()[:-1] + b", }", id="trailing-comma"),
        pytest.param(text.encode() + b" x", id="trailing-garbage"),
        pytest.param(text.encode() + text.encode(), id="two-objects"),
        pytest.param(text.replace('"', "'").encode(), id="single-quotes"),
        pytest.param(text.encode()[:-1] + b', "n": 1' + b"0" * 5000 + b"}", id="huge-integer"),
        pytest.param(b'["alice"]', id="array"),
        pytest.param(json.dumps([CLAIMS]).encode(), id="array-of-claims"),
        pytest.param(b'"alice"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"true", id="true"),
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="unterminated"),
    ]


@pytest.mark.parametrize("payload", _payload_variants())
async def test_payload_that_is_not_one_strict_json_object(
    check: Check, validator: TokenValidator, payload: bytes
) -> None:
    token = signed(None, payload)
    if len(token) > 8192:
        validator = TokenValidator(
            KeySet([signing_key("ES256")]),
            issuer=ISSUER,
            audience=AUDIENCE,
            clock=FrozenClock(),
            max_token_length=len(token),
        )
    await assert_refused(check, validator, token, MalformedTokenError)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b'["ES256"]', id="array"),
        pytest.param(b'"ES256"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"alg":"ES256","kid":"es256-1","x":NaN}', id="NaN"),
        pytest.param(b'\xef\xbb\xbf{"alg":"ES256","kid":"es256-1"}', id="utf-8-bom"),
        pytest.param('{"alg":"ES256","kid":"es256-1"}'.encode("utf-16"), id="utf-16"),
        pytest.param(b'{"alg":"ES256","kid":"es256-1"', id="unterminated"),
    ],
)
async def test_header_that_is_not_one_strict_json_object(
    check: Check, validator: TokenValidator, header: bytes
) -> None:
    await assert_refused(check, validator, signed(header), MalformedTokenError)


async def test_deeply_nested_payload(check: Check, clock: FrozenClock) -> None:
    depth = 100_000
    payload = CLAIMS_JSON[:-1].encode() + b', "n": ' + b"[" * depth + b"]" * depth + b"}"
    token = signed(None, payload)
    validator = TokenValidator(
        KeySet([signing_key("ES256")]),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
        max_token_length=len(token),
    )
    await assert_refused(check, validator, token, MalformedTokenError)


@pytest.mark.parametrize("segment", ["header", "payload", "signature"])
@pytest.mark.parametrize("alg", ["HS256", "ES256", "EdDSA"])
async def test_non_canonical_base64url(
    check: Check, validator: TokenValidator, segment: str, alg: str
) -> None:
    """Each segment has one canonical encoding; another spelling of the same bytes is refused."""
    key = signing_key(alg)
    head = b64(raw(padded(header_for(alg), 2)))
    body = b64(raw(padded(default_claims(NOW), 3)))
    canonical = f"{head}.{body}.{b64(key.sign(f'{head}.{body}'.encode()))}"
    assert (await check(validator, canonical)).subject == "alice"
    if segment == "header":
        head = non_canonical(head)
    elif segment == "payload":
        body = non_canonical(body)
    signing_input = f"{head}.{body}"
    # Signed over the altered text, so only the encoding rule can refuse it.
    signature = b64(key.sign(signing_input.encode()))
    if segment == "signature":
        signature = non_canonical(signature)  # 43 chars for HS256, 86 for ES256 and EdDSA
    await assert_refused(check, validator, f"{signing_input}.{signature}", MalformedTokenError)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s + "=", id="padding"),
        pytest.param(lambda s: s + "==", id="double-padding"),
        pytest.param(lambda s: s[:-1] + "+", id="plus"),
        pytest.param(lambda s: s[:-1] + "/", id="slash"),
        pytest.param(lambda s: s[:-1], id="one-char-short"),
        pytest.param(lambda s: s[:1] + " " + s[1:], id="space-inside"),
        pytest.param(lambda s: s[:1] + "%41" + s[1:], id="percent-encoded"),
        pytest.param(lambda s: s[:1] + "\uff21" + s[1:], id="fullwidth-A"),
    ],
)
@pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
async def test_base64url_alphabet_and_length(
    check: Check, validator: TokenValidator, mangle: Callable[[str], str], index: int
) -> None:
    parts = signed().split(".")
    parts[index] = mangle(parts[index])
    await assert_refused(check, validator, ".".join(parts), MalformedTokenError)


# -- RFC 8725 sections 2.7 and 2.8: substitution and cross-JWT confusion -----------------


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "api://other-service"}, id="other-audience"),
        pytest.param({"aud": None}, id="no-audience"),
        pytest.param({"iss": "https://other-issuer.example"}, id="other-issuer"),
        pytest.param({"iss": None}, id="no-issuer"),
    ],
)
async def test_substitution(
    check: Check, validator: TokenValidator, claims: dict[str, Any]
) -> None:
    token = signed(None, default_claims(NOW, **claims))
    await assert_refused(check, validator, token, InvalidClaimError)


@pytest.mark.parametrize(
    "typ",
    ["id_token+jwt", "dpop+jwt", "logout+jwt", "secevent+jwt", "application/dpop+jwt", "JOSE"],
)
async def test_cross_jwt_confusion(check: Check, validator: TokenValidator, typ: str) -> None:
    await assert_refused(check, validator, signed(header_for(typ=typ)), InvalidClaimError)


@pytest.mark.parametrize(
    "crit",
    [
        pytest.param({"crit": ["urn:example:evil"], "urn:example:evil": True}, id="unknown"),
        pytest.param({"crit": ["exp"], "exp": int(NOW) + 10}, id="registered-name"),
        pytest.param({"crit": ["b64"], "b64": False}, id="unencoded-payload"),
        pytest.param({"crit": []}, id="empty"),
        pytest.param({"crit": "urn:example:evil"}, id="not-a-list"),
        pytest.param({"b64": False}, id="b64-without-crit"),
    ],
)
async def test_critical_header_parameters(
    check: Check, validator: TokenValidator, crit: dict[str, Any]
) -> None:
    await assert_refused(check, validator, signed(header_for(**crit)), InvalidClaimError)


# -- RFC 8725 section 2.9: indirect attacks on the server --------------------------------


@pytest.fixture(scope="module")
def attacker() -> Key:
    return Key.generate("ES256")


def _key_location_headers(attacker: Key) -> dict[str, dict[str, Any]]:
    der = base64.b64encode(b"0\x82" + bytes(64)).decode()
    return {
        "jwk": {"jwk": attacker.public_jwk()},
        "jku": {"jku": "https://attacker.example/jwks.json"},
        "jku-localhost": {"jku": "http://127.0.0.1:1/jwks.json"},
        "x5u": {"x5u": "https://attacker.example/cert.pem"},
        "x5c": {"x5c": [der]},
        "x5t": {"x5t": b64(bytes(20)), "x5t#S256": b64(bytes(32))},
    }


@pytest.mark.parametrize("location", ["jwk", "jku", "jku-localhost", "x5u", "x5c", "x5t"])
@pytest.mark.parametrize(
    ("kid", "error"),
    [
        pytest.param("es256-1", InvalidSignatureError, id="trusted-kid"),
        pytest.param(None, InvalidSignatureError, id="no-kid"),
        pytest.param("attacker", UnknownKeyError, id="attacker-kid"),
    ],
)
async def test_key_location_headers_are_ignored(
    check: Check,
    validator: TokenValidator,
    attacker: Key,
    location: str,
    kid: str | None,
    error: type[TokenError],
) -> None:
    extra = _key_location_headers(attacker)[location]
    header = {"alg": "ES256", "typ": "at+jwt", **extra}
    if kid is not None:
        header["kid"] = kid
    await assert_refused(check, validator, signed(header, key=attacker), error)


async def test_embedded_jwk_signed_by_the_trusted_key_changes_nothing(
    check: Check, validator: TokenValidator, attacker: Key
) -> None:
    header = header_for("ES256", jwk=attacker.public_jwk(), jku="https://attacker.example/")
    assert (await check(validator, signed(header))).subject == "alice"


@pytest.mark.parametrize(
    ("kid", "error"),
    [
        pytest.param("../../dev/null", UnknownKeyError, id="path-traversal"),
        pytest.param("../../../../../../etc/passwd", UnknownKeyError, id="passwd"),
        pytest.param("/dev/null", UnknownKeyError, id="absolute-path"),
        pytest.param("' OR 1=1 --", UnknownKeyError, id="sql-injection"),
        pytest.param('"; DROP TABLE keys; --', UnknownKeyError, id="sql-drop"),
        pytest.param("$(curl attacker.example)", UnknownKeyError, id="shell"),
        pytest.param("key\x00", UnknownKeyError, id="nul-byte"),
        pytest.param("es256-1\x00", UnknownKeyError, id="trusted-kid-nul"),
        pytest.param("es256-1\x00evil", UnknownKeyError, id="trusted-kid-nul-suffix"),
        pytest.param("es256-1 ", UnknownKeyError, id="trusted-kid-space"),
        pytest.param("ES256-1", UnknownKeyError, id="trusted-kid-other-case"),
        pytest.param("\u0435s256-1", UnknownKeyError, id="cyrillic-lookalike"),
        pytest.param("__proto__", UnknownKeyError, id="proto"),
        pytest.param("", UnknownKeyError, id="empty"),
        pytest.param("k" * 1024, UnknownKeyError, id="1024-chars"),
        pytest.param("k" * 1025, MalformedTokenError, id="1025-chars"),
        pytest.param("k" * 5000, MalformedTokenError, id="5000-chars"),
        pytest.param(1, MalformedTokenError, id="number"),
        pytest.param(1.5, MalformedTokenError, id="float"),
        pytest.param(True, MalformedTokenError, id="bool"),
        pytest.param(["es256-1"], MalformedTokenError, id="list"),
        pytest.param({"$ne": None}, MalformedTokenError, id="object"),
        pytest.param("hs256-1", DisallowedAlgorithmError, id="kid-of-the-hmac-key"),
    ],
)
async def test_kid_injection(
    check: Check, validator: TokenValidator, kid: Any, error: type[TokenError]
) -> None:
    token = signed(header_for("ES256", kid=kid))
    await assert_refused(check, validator, token, error)


# -- size, shape and type of the token itself -------------------------------------------


async def test_oversize_token_is_refused_before_decoding(
    check: Check, validator: TokenValidator, clock: FrozenClock
) -> None:
    size = (8192 - len(signed())) * 3 // 4 - 8
    token = signed(None, default_claims(NOW, pad="x" * size))
    while len(token) <= 8192:
        size += 1
        token = signed(None, default_claims(NOW, pad="x" * size))
    assert len(token) in range(8193, 8197)
    exc = await assert_refused(check, validator, token, MalformedTokenError)
    assert "too long" in exc.description
    roomy = TokenValidator(
        KeySet([signing_key("ES256")]),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
        max_token_length=len(token),
    )
    assert (await check(roomy, token)).subject == "alice"
    tight = TokenValidator(
        KeySet([signing_key("ES256")]),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
        max_token_length=len(token) - 1,
    )
    await assert_refused(check, tight, token, MalformedTokenError)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("!" * 8193, id="garbage"),
        pytest.param("a." * 5000, id="many-dots"),
        pytest.param("\x00" * 10_000, id="nul-bytes"),
        pytest.param("€" * 100_000, id="huge-non-ascii"),
    ],
)
async def test_oversize_garbage_is_refused_for_its_length(
    check: Check, validator: TokenValidator, token: str
) -> None:
    exc = await assert_refused(check, validator, token, MalformedTokenError)
    assert "too long" in exc.description


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: " " + t, id="leading-space"),
        pytest.param(lambda t: t + " ", id="trailing-space"),
        pytest.param(lambda t: t + "\n", id="trailing-newline"),
        pytest.param(lambda t: t + "\r\n", id="trailing-crlf"),
        pytest.param(lambda t: "\t" + t, id="leading-tab"),
        pytest.param(lambda t: t.replace(".", ".\n", 1), id="newline-after-dot"),
        pytest.param(lambda t: t.replace(".", "\n.", 1), id="newline-before-dot"),
        pytest.param(lambda t: t[:20] + "\n" + t[20:], id="newline-in-header"),
        pytest.param(lambda t: t.replace(".", " . ", 1), id="spaces-around-dot"),
        pytest.param(lambda t: "Bearer " + t, id="scheme-prefix"),
        pytest.param(lambda t: t + "\x00", id="trailing-nul"),
        pytest.param(lambda t: t + "\u200b", id="zero-width-space"),
        pytest.param(lambda t: f'"{t}"', id="quoted"),
        pytest.param(lambda t: t + "." + t.split(".")[2], id="four-segments"),
        pytest.param(lambda t: t.replace(".", "..", 1), id="empty-segment"),
        pytest.param(lambda t: "." + t, id="leading-dot"),
    ],
)
async def test_whitespace_and_extra_characters(
    check: Check, validator: TokenValidator, mangle: Callable[[str], str]
) -> None:
    await assert_refused(check, validator, mangle(signed()), MalformedTokenError)


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda t: t.encode(), id="bytes"),
        pytest.param(lambda t: bytearray(t.encode()), id="bytearray"),
        pytest.param(lambda t: memoryview(t.encode()), id="memoryview"),
        pytest.param(lambda t: None, id="None"),
        pytest.param(lambda t: 42, id="int"),
        pytest.param(lambda t: t.split("."), id="list"),
        pytest.param(lambda t: {"token": t}, id="dict"),
    ],
)
async def test_token_that_is_not_a_str(
    check: Check, validator: TokenValidator, convert: Callable[[str], Any]
) -> None:
    exc = await assert_refused(check, validator, convert(signed()), MalformedTokenError)
    assert "string" in exc.description


async def test_str_subclass_is_refused(check: Check, validator: TokenValidator) -> None:
    class Sneaky(str):
        __slots__ = ()

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 0

    await assert_refused(check, validator, Sneaky(signed()), MalformedTokenError)


async def test_future_token_from_a_trusted_key_is_still_immature(
    check: Check, validator: TokenValidator
) -> None:
    """A valid signature never excuses the time checks (pre-minted tokens)."""
    token = signed(None, default_claims(NOW + 3600))
    await assert_refused(check, validator, token, ImmatureTokenError)
