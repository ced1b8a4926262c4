"""Key and KeySet: one algorithm per key, strict constructors, nothing secret leaks."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tests.conftest import ALGORITHMS, signing_key
from tokenguard import (
    SUPPORTED_ALGORITHMS,
    ConfigError,
    DisallowedAlgorithmError,
    Key,
    KeySet,
    UnknownKeyError,
)

HMAC_ALGS = ("HS256", "HS384", "HS512")
ASYMMETRIC_ALGS = tuple(alg for alg in ALGORITHMS if alg not in HMAC_ALGS)
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
MESSAGE = b"header.payload"

# RFC 7638 section 3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
# RFC 8037 appendix A.3: the example Ed25519 key and its SHA-256 thumbprint.
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_pem_of(private_key: Any) -> bytes:
    pem: bytes = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def private_pem_of(private_key: Any, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem: bytes = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return pem


def self_signed_certificate(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# -- Key.hmac --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "length", "ok"),
    [
        pytest.param("HS256", 31, False, id="HS256-31-bytes"),
        pytest.param("HS256", 32, True, id="HS256-32-bytes"),
        pytest.param("HS384", 47, False, id="HS384-47-bytes"),
        pytest.param("HS384", 48, True, id="HS384-48-bytes"),
        pytest.param("HS512", 63, False, id="HS512-63-bytes"),
        pytest.param("HS512", 64, True, id="HS512-64-bytes"),
        pytest.param("HS256", 0, False, id="HS256-empty"),
    ],
)
def test_hmac_secret_length_follows_rfc7518_section_3_2(alg: str, length: int, ok: bool) -> None:
    secret = b"k" * length
    if ok:
        key = Key.hmac(secret, alg=alg)
        assert key.alg == alg
        assert key.is_symmetric
        assert key.can_sign
        assert key.verify(MESSAGE, key.sign(MESSAGE))
    else:
        with pytest.raises(ConfigError, match="RFC 7518"):
            Key.hmac(secret, alg=alg)


def test_hmac_str_secret_is_measured_in_utf8_bytes() -> None:
    Key.hmac("é" * 16, alg="HS256")  # 32 bytes in UTF-8
    with pytest.raises(ConfigError):
        Key.hmac("e" * 31, alg="HS256")


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "none", "HS1", "hs256"])
def test_hmac_refuses_non_hmac_algorithms(alg: str) -> None:
    with pytest.raises(ConfigError):
        Key.hmac(b"k" * 64, alg=alg)


def _ssh_public_key(private_key: Any) -> bytes:
    data: bytes = private_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return data


def _der_public_key(private_key: Any) -> bytes:
    data: bytes = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


@pytest.mark.parametrize(
    "make_secret",
    [
        pytest.param(lambda k: signing_key("RS256").public_pem(), id="rsa-public-pem"),
        pytest.param(lambda k: signing_key("ES256").public_pem(), id="ec-public-pem"),
        pytest.param(lambda k: signing_key("EdDSA").public_pem(), id="okp-public-pem"),
        pytest.param(lambda k: signing_key("ES256").private_pem(), id="ec-private-pem"),
        pytest.param(self_signed_certificate, id="certificate-pem"),
        pytest.param(_ssh_public_key, id="ssh-public-key"),
        pytest.param(_der_public_key, id="der-public-key"),
        pytest.param(
            lambda k: json.dumps(signing_key("RS256").public_jwk()).encode(), id="rsa-public-jwk"
        ),
        pytest.param(
            lambda k: json.dumps(signing_key("ES256").public_jwk()).encode(), id="ec-public-jwk"
        ),
    ],
)
@pytest.mark.parametrize("alg", HMAC_ALGS)
def test_hmac_refuses_secrets_that_are_public_keys(
    make_secret: Any, alg: str, p256_key: ec.EllipticCurvePrivateKey
) -> None:
    secret = make_secret(p256_key)
    assert len(secret) >= 64  # long enough: refused for what it is, not for its length
    with pytest.raises(ConfigError, match="cannot be used"):
        Key.hmac(secret, alg=alg)
    if secret.isascii():
        with pytest.raises(ConfigError, match="cannot be used"):
            Key.hmac(secret.decode("ascii"), alg=alg)


def test_empty_kid_is_refused() -> None:
    with pytest.raises(ConfigError, match="kid"):
        Key.hmac(b"k" * 32, kid="")


# -- Key.from_pem ----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_from_pem_public_key_verifies_but_cannot_sign(alg: str) -> None:
    original = signing_key(alg)
    key = Key.from_pem(original.public_pem(), alg=alg, kid="pem-1")
    assert (key.alg, key.kid, key.can_sign, key.is_symmetric) == (alg, "pem-1", False, False)
    assert key.verify(MESSAGE, original.sign(MESSAGE))
    assert not key.verify(MESSAGE + b"x", original.sign(MESSAGE))
    with pytest.raises(ConfigError, match="cannot sign"):
        key.sign(MESSAGE)
    with pytest.raises(ConfigError):
        key.private_pem()


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_from_pem_private_key_signs_for_the_public_key(alg: str) -> None:
    original = signing_key(alg)
    key = Key.from_pem(original.private_pem().decode(), alg=alg)
    assert key.can_sign
    assert key.kid is None
    assert original.verify(MESSAGE, key.sign(MESSAGE))
    assert key.public_pem() == original.public_pem()


def test_from_pem_encrypted_private_key(p256_key: ec.EllipticCurvePrivateKey) -> None:
    pem = private_pem_of(p256_key, password=b"correct horse")
    key = Key.from_pem(pem, alg="ES256", password=b"correct horse")
    assert key.can_sign
    with pytest.raises(ConfigError, match="PEM"):
        Key.from_pem(pem, alg="ES256")
    with pytest.raises(ConfigError, match="PEM"):
        Key.from_pem(pem, alg="ES256", password=b"wrong")


def test_from_pem_x509_certificate_gives_its_public_key(
    p256_key: ec.EllipticCurvePrivateKey,
) -> None:
    key = Key.from_pem(self_signed_certificate(p256_key), alg="ES256", kid="cert-1")
    assert not key.can_sign
    signer = Key.from_pem(private_pem_of(p256_key), alg="ES256")
    assert key.verify(MESSAGE, signer.sign(MESSAGE))
    assert key.public_pem() == public_pem_of(p256_key)


def test_from_pem_certificate_with_wrong_algorithm(p256_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ConfigError, match="RSA"):
        Key.from_pem(self_signed_certificate(p256_key), alg="RS256")


@pytest.mark.parametrize(
    ("key_alg", "alg"),
    [
        pytest.param("RS256", "ES256", id="rsa-as-ES256"),
        pytest.param("RS256", "EdDSA", id="rsa-as-EdDSA"),
        pytest.param("ES256", "RS256", id="ec-as-RS256"),
        pytest.param("ES256", "PS256", id="ec-as-PS256"),
        pytest.param("ES256", "EdDSA", id="ec-as-EdDSA"),
        pytest.param("EdDSA", "RS256", id="okp-as-RS256"),
        pytest.param("EdDSA", "ES256", id="okp-as-ES256"),
    ],
)
def test_from_pem_refuses_key_of_wrong_type(key_alg: str, alg: str) -> None:
    with pytest.raises(ConfigError, match="needs"):
        Key.from_pem(signing_key(key_alg).public_pem(), alg=alg)
    with pytest.raises(ConfigError, match="needs"):
        Key.from_pem(signing_key(key_alg).private_pem(), alg=alg)


@pytest.mark.parametrize(
    ("curve", "alg"),
    [
        pytest.param(ec.SECP384R1(), "ES256", id="P-384-as-ES256"),
        pytest.param(ec.SECP256R1(), "ES384", id="P-256-as-ES384"),
        pytest.param(ec.SECP256R1(), "ES512", id="P-256-as-ES512"),
        pytest.param(ec.SECP521R1(), "ES384", id="P-521-as-ES384"),
        pytest.param(ec.SECP256K1(), "ES256", id="secp256k1-as-ES256"),
    ],
)
def test_from_pem_refuses_wrong_ec_curve(curve: ec.EllipticCurve, alg: str) -> None:
    private_key = ec.generate_private_key(curve)
    with pytest.raises(ConfigError, match="curve"):
        Key.from_pem(public_pem_of(private_key), alg=alg)


@pytest.mark.parametrize("alg", ["RS256", "PS512"])
def test_from_pem_refuses_rsa_below_2048_bits(alg: str) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    with pytest.raises(ConfigError, match="2048"):
        Key.from_pem(public_pem_of(small), alg=alg)
    with pytest.raises(ConfigError, match="2048"):
        Key.from_pem(private_pem_of(small), alg=alg)


@pytest.mark.parametrize("alg", HMAC_ALGS)
def test_from_pem_refuses_hmac_algorithms(alg: str) -> None:
    with pytest.raises(ConfigError, match="HMAC"):
        Key.from_pem(signing_key("RS256").public_pem(), alg=alg)


def test_from_key_object_refuses_hmac_algorithm() -> None:
    private_key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(ConfigError, match="HMAC"):
        Key.from_key_object(private_key, alg="HS256")


@pytest.mark.parametrize(
    "pem",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not a pem at all", id="garbage"),
        pytest.param(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", id="bad-der"),
        pytest.param(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", id="bad-private"
        ),
        pytest.param(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", id="bad-cert"
        ),
    ],
)
def test_from_pem_refuses_unreadable_pem(pem: bytes) -> None:
    with pytest.raises(ConfigError, match="PEM"):
        Key.from_pem(pem, alg="RS256")


@pytest.mark.parametrize("alg", ["none", "RS1", "ES256K", "rs256", ""])
def test_from_pem_refuses_unsupported_algorithms(alg: str) -> None:
    with pytest.raises(ConfigError):
        Key.from_pem(signing_key("RS256").public_pem(), alg=alg)


def test_ed448_keys_are_accepted_for_eddsa() -> None:
    private_key = ed448.Ed448PrivateKey.generate()
    key = Key.from_pem(private_pem_of(private_key), alg="EdDSA")
    public = Key.from_pem(public_pem_of(private_key), alg="EdDSA")
    assert public.verify(MESSAGE, key.sign(MESSAGE))


# -- Key.from_jwk ----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_from_jwk_public_round_trip(alg: str) -> None:
    original = signing_key(alg)
    key = Key.from_jwk(original.public_jwk())
    assert (key.alg, key.kid, key.can_sign) == (alg, original.kid, False)
    assert key.verify(MESSAGE, original.sign(MESSAGE))
    assert key.thumbprint() == original.thumbprint()


@pytest.mark.parametrize(
    ("alg", "private_key", "to_jwk"),
    [
        pytest.param(
            "RS256",
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            RSAAlgorithm.to_jwk,
            id="RSA",
        ),
        pytest.param("ES384", ec.generate_private_key(ec.SECP384R1()), ECAlgorithm.to_jwk, id="EC"),
        pytest.param("EdDSA", ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm.to_jwk, id="OKP"),
    ],
)
def test_from_jwk_private_key_can_sign_and_never_publishes_private_members(
    alg: str, private_key: Any, to_jwk: Any
) -> None:
    jwk = to_jwk(private_key, as_dict=True)
    assert "d" in jwk
    key = Key.from_jwk({**jwk, "alg": alg, "kid": "private-1"})
    assert key.can_sign
    public = Key.from_pem(public_pem_of(private_key), alg=alg)
    assert public.verify(MESSAGE, key.sign(MESSAGE))
    published = key.public_jwk()
    assert not PRIVATE_JWK_MEMBERS & set(published)
    assert published["kid"] == "private-1"


def test_from_jwk_requires_alg() -> None:
    jwk = signing_key("ES256").public_jwk()
    del jwk["alg"]
    with pytest.raises(ConfigError, match="never guessed"):
        Key.from_jwk(jwk)
    with pytest.raises(ConfigError, match="never guessed"):
        Key.from_jwk({**jwk, "alg": 256})


def test_from_jwk_default_alg_only_fills_a_missing_alg() -> None:
    jwk = signing_key("ES256").public_jwk()
    without_alg = {k: v for k, v in jwk.items() if k != "alg"}
    assert Key.from_jwk(without_alg, default_alg="ES256").alg == "ES256"
    # The JWK's own alg wins; the default never overrides it.
    assert Key.from_jwk(jwk, default_alg="RS256").alg == "ES256"
    with pytest.raises(ConfigError, match="kty"):
        Key.from_jwk(without_alg, default_alg="RS256")


@pytest.mark.parametrize(
    ("key_alg", "alg"),
    [
        pytest.param("RS256", "ES256", id="RSA-jwk-as-ES256"),
        pytest.param("RS256", "EdDSA", id="RSA-jwk-as-EdDSA"),
        pytest.param("ES256", "RS256", id="EC-jwk-as-RS256"),
        pytest.param("EdDSA", "ES256", id="OKP-jwk-as-ES256"),
        pytest.param("RS256", "HS256", id="RSA-jwk-as-HS256"),
        pytest.param("ES256", "HS512", id="EC-jwk-as-HS512"),
    ],
)
def test_from_jwk_refuses_kty_that_does_not_fit_alg(key_alg: str, alg: str) -> None:
    jwk = {**signing_key(key_alg).public_jwk(), "alg": alg}
    with pytest.raises(ConfigError, match="kty"):
        Key.from_jwk(jwk)


def test_from_jwk_oct_key_for_rsa_algorithm_is_refused() -> None:
    with pytest.raises(ConfigError, match="kty"):
        Key.from_jwk({"kty": "oct", "k": b64url(b"k" * 64), "alg": "RS256"})


@pytest.mark.parametrize(
    ("member", "ok"),
    [
        pytest.param({"use": "sig"}, True, id="use-sig"),
        pytest.param({"use": "enc"}, False, id="use-enc"),
        pytest.param({"use": "other"}, False, id="use-other"),
        pytest.param({"key_ops": ["verify"]}, True, id="key_ops-verify"),
        pytest.param({"key_ops": ["sign", "verify"]}, True, id="key_ops-sign-verify"),
        pytest.param({"key_ops": ["sign"]}, True, id="key_ops-sign"),
        pytest.param({"key_ops": ["encrypt", "wrapKey"]}, False, id="key_ops-encrypt"),
        pytest.param({"key_ops": []}, False, id="key_ops-empty"),
        pytest.param({"key_ops": "verify"}, False, id="key_ops-not-a-list"),
    ],
)
def test_from_jwk_use_and_key_ops(member: dict[str, Any], ok: bool) -> None:
    jwk = {**signing_key("ES256").public_jwk(), **member}
    if ok:
        assert Key.from_jwk(jwk).alg == "ES256"
    else:
        with pytest.raises(ConfigError, match=r"use|key_ops"):
            Key.from_jwk(jwk)


@pytest.mark.parametrize(
    ("alg", "length", "ok"),
    [
        pytest.param("HS256", 31, False, id="HS256-31"),
        pytest.param("HS256", 32, True, id="HS256-32"),
        pytest.param("HS384", 47, False, id="HS384-47"),
        pytest.param("HS512", 63, False, id="HS512-63"),
        pytest.param("HS512", 64, True, id="HS512-64"),
    ],
)
def test_from_jwk_oct_goes_through_the_hmac_length_check(alg: str, length: int, ok: bool) -> None:
    jwk = {"kty": "oct", "k": b64url(b"s" * length), "alg": alg, "kid": "oct-1"}
    if ok:
        key = Key.from_jwk(jwk)
        assert (key.alg, key.kid, key.is_symmetric) == (alg, "oct-1", True)
        assert key.verify(MESSAGE, Key.hmac(b"s" * length, alg=alg).sign(MESSAGE))
    else:
        with pytest.raises(ConfigError, match="RFC 7518"):
            Key.from_jwk(jwk)


def test_from_jwk_oct_holding_a_pem_is_refused() -> None:
    pem = signing_key("RS256").public_pem()
    with pytest.raises(ConfigError, match="cannot be used"):
        Key.from_jwk({"kty": "oct", "k": b64url(pem), "alg": "HS256"})


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param([], id="not-a-mapping"),
        pytest.param({"kty": "RSA", "e": "AQAB", "alg": "RS256"}, id="rsa-without-n"),
        pytest.param({"kty": "EC", "crv": "P-256", "alg": "ES256"}, id="ec-without-x-y"),
        pytest.param({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA"}, id="okp-without-x"),
        pytest.param({"kty": "oct", "alg": "HS256"}, id="oct-without-k"),
        pytest.param({**RFC8037_JWK, "alg": "none"}, id="alg-none"),
        pytest.param({**RFC8037_JWK, "alg": "EdDSA", "kid": 7}, id="kid-not-a-string"),
        pytest.param({**RFC8037_JWK, "alg": "EdDSA", "kid": ""}, id="kid-empty"),
    ],
)
def test_from_jwk_refuses_bad_documents(jwk: Any) -> None:
    with pytest.raises(ConfigError):
        Key.from_jwk(jwk)


def test_from_jwk_refuses_ec_point_off_the_curve() -> None:
    # RFC 8725 section 2.5: invalid-curve points must be refused when the key is read.
    jwk = signing_key("ES256").public_jwk()
    y = bytearray(base64.urlsafe_b64decode(jwk["y"] + "=="))
    y[-1] ^= 1
    with pytest.raises(ConfigError, match="JWK"):
        Key.from_jwk({**jwk, "y": b64url(bytes(y))})


def test_from_jwk_refuses_wrong_curve_for_alg() -> None:
    jwk = {**signing_key("ES384").public_jwk(), "alg": "ES256"}
    with pytest.raises(ConfigError, match="curve"):
        Key.from_jwk(jwk)


# -- Key.generate, sign and verify -----------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_generate_every_algorithm(alg: str) -> None:
    key = Key.generate(alg)
    assert key.alg == alg
    assert key.can_sign
    if alg in HMAC_ALGS:
        assert key.kid is None
        assert key.is_symmetric
    else:
        assert key.kid == key.thumbprint()
        assert not key.is_symmetric
    assert Key.generate(alg, kid="chosen").kid == "chosen"


def test_generate_covers_supported_algorithms() -> None:
    assert set(ALGORITHMS) == SUPPORTED_ALGORITHMS
    assert "none" not in SUPPORTED_ALGORITHMS


@pytest.mark.parametrize("alg", ["none", "HS1", "ES256K", "RSA-OAEP"])
def test_generate_refuses_unsupported(alg: str) -> None:
    with pytest.raises(ConfigError, match="Unsupported"):
        Key.generate(alg)


def test_generate_default_is_eddsa() -> None:
    assert Key.generate().alg == "EdDSA"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_sign_verify_round_trip(alg: str) -> None:
    key = signing_key(alg)
    signature = key.sign(MESSAGE)
    assert key.verify(MESSAGE, signature)
    assert not key.verify(MESSAGE + b".", signature)
    assert not key.verify(MESSAGE, b"")
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not key.verify(MESSAGE, tampered)
    other = Key.generate(alg)
    assert not other.verify(MESSAGE, signature)
    assert not key.verify(MESSAGE, other.sign(MESSAGE))


def test_with_kid_keeps_material_and_algorithm() -> None:
    key = signing_key("ES256")
    renamed = key.with_kid("renamed")
    assert (renamed.kid, renamed.alg, renamed.can_sign) == ("renamed", "ES256", True)
    assert renamed.verify(MESSAGE, key.sign(MESSAGE))
    assert key.kid == "es256-1"


# -- public_jwk, thumbprint, PEM export, repr ------------------------------------------


@pytest.mark.parametrize("alg", HMAC_ALGS)
def test_hmac_keys_are_never_published(alg: str) -> None:
    key = signing_key(alg)
    with pytest.raises(ConfigError, match="never published"):
        key.public_jwk()
    with pytest.raises(ConfigError):
        key.thumbprint()
    with pytest.raises(ConfigError):
        key.public_pem()
    with pytest.raises(ConfigError):
        key.private_pem()


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_public_jwk_has_no_private_members(alg: str) -> None:
    key = signing_key(alg)
    assert key.can_sign
    jwk = key.public_jwk()
    assert not PRIVATE_JWK_MEMBERS & set(jwk)
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert jwk["kid"] == key.kid
    assert jwk["kty"] in {"RSA", "EC", "OKP"}
    assert json.loads(json.dumps(jwk)) == jwk


def test_public_jwk_without_kid_has_no_kid_member() -> None:
    key = Key.from_pem(signing_key("ES256").public_pem(), alg="ES256")
    assert "kid" not in key.public_jwk()


def test_thumbprint_matches_rfc7638_example() -> None:
    assert Key.from_jwk(RFC7638_JWK).thumbprint() == RFC7638_THUMBPRINT
    # Members other than the required ones do not change the thumbprint.
    assert Key.from_jwk({**RFC7638_JWK, "kid": "other", "use": "sig"}).thumbprint() == (
        RFC7638_THUMBPRINT
    )


def test_thumbprint_matches_rfc8037_ed25519_example() -> None:
    assert Key.from_jwk({**RFC8037_JWK, "alg": "EdDSA"}).thumbprint() == RFC8037_THUMBPRINT


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_thumbprint_is_the_same_for_private_and_public_forms(alg: str) -> None:
    key = signing_key(alg)
    public = Key.from_pem(key.public_pem(), alg=alg)
    assert key.thumbprint() == public.thumbprint()
    assert len(key.thumbprint()) == 43  # base64url of a SHA-256 digest, unpadded


def test_private_pem_round_trip() -> None:
    key = signing_key("EdDSA")
    assert key.private_pem().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key.public_pem().startswith(b"-----BEGIN PUBLIC KEY-----")


@pytest.mark.parametrize("alg", HMAC_ALGS)
def test_repr_never_shows_hmac_secret(alg: str) -> None:
    secret = bytes(range(1, 65))
    key = Key.hmac(secret, alg=alg, kid="hmac-1")
    text = repr(key) + repr(KeySet([key]))
    assert "redacted" in repr(key)
    for form in (secret, secret.hex(), b64url(secret), base64.b64encode(secret).decode()):
        form_text = form if isinstance(form, str) else repr(form)
        assert form_text not in text
    assert secret[:8].hex() not in text


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGS)
def test_repr_of_private_key_shows_no_material(alg: str) -> None:
    key = signing_key(alg)
    text = repr(key)
    assert text == f"Key(alg={alg!r}, kid={key.kid!r}, private)"
    public = Key.from_pem(key.public_pem(), alg=alg)
    assert repr(public) == f"Key(alg={alg!r}, kid=None, public)"


# -- KeySet ----------------------------------------------------------------------------


def test_keyset_refuses_duplicate_kid() -> None:
    one = Key.generate("ES256", kid="same")
    two = Key.generate("EdDSA", kid="same")
    with pytest.raises(ConfigError, match="'same'"):
        KeySet([one, two])


@pytest.mark.parametrize(
    "item", [pytest.param("HS256", id="str"), pytest.param({"kty": "oct"}, id="dict")]
)
def test_keyset_refuses_non_keys(item: Any) -> None:
    with pytest.raises(ConfigError, match="Key objects"):
        KeySet([signing_key("ES256"), item])


@pytest.fixture(scope="module")
def mixed() -> dict[str, Key]:
    return {
        "rs": Key.generate("RS256", kid="rs"),
        "es": Key.generate("ES256", kid="es"),
        "es-b": Key.generate("ES256", kid="es-b"),
        "es-unnamed": Key.from_pem(Key.generate("ES256").public_pem(), alg="ES256"),
        "hs-unnamed": Key.hmac(b"h" * 32),
    }


@pytest.mark.parametrize(
    ("kid", "alg", "expected"),
    [
        pytest.param("rs", "RS256", ("rs",), id="kid-found"),
        pytest.param("es-b", "ES256", ("es-b",), id="kid-found-not-unnamed"),
        pytest.param(None, "ES256", ("es", "es-b", "es-unnamed"), id="no-kid-all-of-alg"),
        pytest.param(None, "HS256", ("hs-unnamed",), id="no-kid-hmac"),
        pytest.param("unknown", "ES256", ("es-unnamed",), id="unknown-kid-falls-back-to-unnamed"),
        pytest.param("unknown", "HS256", ("hs-unnamed",), id="unknown-kid-unnamed-hmac"),
        pytest.param("unknown", "RS256", UnknownKeyError, id="unknown-kid-no-unnamed"),
        pytest.param(None, "PS256", UnknownKeyError, id="no-key-for-alg"),
        pytest.param("unknown", "EdDSA", UnknownKeyError, id="unknown-kid-unknown-alg"),
        pytest.param("rs", "HS256", DisallowedAlgorithmError, id="kid-of-rsa-key-with-HS256"),
        pytest.param("rs", "PS256", DisallowedAlgorithmError, id="kid-of-rs256-key-with-PS256"),
        pytest.param("es", "ES384", DisallowedAlgorithmError, id="kid-of-es256-key-with-ES384"),
        pytest.param("es", "RS256", DisallowedAlgorithmError, id="kid-of-ec-key-with-RS256"),
    ],
)
def test_keyset_candidates(mixed: dict[str, Key], kid: str | None, alg: str, expected: Any) -> None:
    keyset = KeySet(mixed.values())
    if isinstance(expected, tuple):
        assert keyset.candidates(kid, alg) == tuple(mixed[name] for name in expected)
    else:
        with pytest.raises(expected) as excinfo:
            keyset.candidates(kid, alg)
        assert type(excinfo.value) is expected
        assert excinfo.value.status == 401


def test_keyset_accessors(mixed: dict[str, Key]) -> None:
    keyset = KeySet(mixed.values())
    assert len(keyset) == 5
    assert list(keyset) == list(mixed.values())
    assert keyset.algorithms == frozenset({"RS256", "ES256", "HS256"})
    assert keyset.has_kid("rs")
    assert not keyset.has_kid("unknown")
    assert len(KeySet()) == 0


def test_keyset_public_jwks_omits_hmac(mixed: dict[str, Key]) -> None:
    document = KeySet(mixed.values()).public_jwks()
    assert [jwk.get("kid") for jwk in document["keys"]] == ["rs", "es", "es-b", None]
    for jwk in document["keys"]:
        assert jwk["kty"] != "oct"
        assert not PRIVATE_JWK_MEMBERS & set(jwk)
    again = KeySet.from_jwks(json.loads(json.dumps(document)))
    assert [k.alg for k in again] == ["RS256", "ES256", "ES256", "ES256"]
    assert not any(k.can_sign for k in again)


def test_keyset_of_only_hmac_publishes_nothing() -> None:
    assert KeySet([signing_key("HS256")]).public_jwks() == {"keys": []}


def _jwks_with_unusable_key() -> dict[str, Any]:
    return {
        "keys": [
            signing_key("ES256").public_jwk(),
            {**signing_key("RS256").public_jwk(), "use": "enc"},
            {"kty": "unknown", "alg": "XX1", "kid": "x"},
            signing_key("EdDSA").public_jwk(),
        ]
    }


def test_from_jwks_strict_refuses_an_unusable_key() -> None:
    with pytest.raises(ConfigError, match="#1"):
        KeySet.from_jwks(_jwks_with_unusable_key())


def test_from_jwks_skip_unusable_keeps_the_rest() -> None:
    keyset = KeySet.from_jwks(_jwks_with_unusable_key(), skip_unusable=True)
    assert [k.kid for k in keyset] == ["es256-1", "eddsa-1"]


def test_from_jwks_skip_unusable_refuses_a_document_with_no_usable_key() -> None:
    document = {"keys": [{**signing_key("RS256").public_jwk(), "use": "enc"}]}
    with pytest.raises(ConfigError, match="no usable"):
        KeySet.from_jwks(document, skip_unusable=True)


def test_from_jwks_default_alg() -> None:
    jwk = {k: v for k, v in signing_key("ES256").public_jwk().items() if k != "alg"}
    with pytest.raises(ConfigError, match="never guessed"):
        KeySet.from_jwks({"keys": [jwk]})
    assert [k.alg for k in KeySet.from_jwks({"keys": [jwk]}, default_alg="ES256")] == ["ES256"]


def test_from_jwks_refuses_duplicate_kids_even_when_skipping() -> None:
    jwk = signing_key("ES256").public_jwk()
    with pytest.raises(ConfigError, match="kid"):
        KeySet.from_jwks({"keys": [jwk, jwk]}, skip_unusable=True)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([], id="list"),
        pytest.param({}, id="no-keys"),
        pytest.param({"keys": {}}, id="keys-not-a-list"),
        pytest.param("{}", id="string"),
    ],
)
def test_from_jwks_refuses_non_jwks(document: Any) -> None:
    with pytest.raises(ConfigError, match="JWKS"):
        KeySet.from_jwks(document)
