"""The ``tokenguard`` command, run in-process through ``main`` (and once as a real process)."""

from __future__ import annotations

import base64
import io
import json
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock, signing_key
from tests.core.httpserver import ScriptedHTTPServer, refused_url
from tests.core.httpserver import http_server as http_server  # the fixture
from tokenguard import ConfigError, Key, KeySet, Principal, TokenValidator
from tokenguard._jose import b64url_encode
from tokenguard.cli import main
from tokenguard.stores import MemoryStore, TokenStore
from tokenguard.stores.url import open_store

MakeToken = Callable[..., str]
ASYMMETRIC = ("EdDSA", "ES256", "RS256")


class Run:
    """The outcome of one ``main`` call: exit code, stdout, stderr."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def error_line(self) -> str:
        """The one stderr line of a failed command (asserting it is exactly one)."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err
        assert lines[0].startswith("tokenguard")
        return lines[0]


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clock: FrozenClock
) -> Callable[..., Run]:
    """cli(*argv, stdin=None, now=clock) runs ``main`` and captures what it printed."""

    def run(*argv: str, stdin: str | None = None, now: Callable[[], float] = clock) -> Run:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv), clock=now)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def write(path: Path, data: bytes | str) -> str:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def key_files(tmp_path: Path, alg: str) -> tuple[str, str]:
    """(private PEM file, public PEM file) of the session key for ``alg``."""
    key = signing_key(alg)
    return (
        write(tmp_path / f"{alg}.pem", key.private_pem()),
        write(tmp_path / f"{alg}.pub.pem", key.public_pem()),
    )


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- help and entry points -----------------------------------------------------------------

HELP_CASES = [
    pytest.param([], ["keygen", "issue", "inspect", "jwks", "revoke", "exit codes"], id="main"),
    pytest.param(["keygen"], ["--alg", "--kid", "--format", "--out", "--force"], id="keygen"),
    pytest.param(
        ["issue"],
        ["--key", "--alg", "--kid", "--sub", "--scope", "--ttl", "--iss", "--aud", "--claim"],
        id="issue",
    ),
    pytest.param(
        ["inspect"],
        ["--key", "--jwks-url", "--jwks-file", "--iss", "--aud", "--leeway", "stdin"],
        id="inspect",
    ),
    pytest.param(["jwks"], ["KEYFILE", "--alg", "--kid"], id="jwks"),
    pytest.param(["revoke"], ["--store", "--prefix", "jti", "family", "subject"], id="revoke"),
    pytest.param(["revoke", "jti"], ["--until", "--store", "sqlite:///"], id="revoke-jti"),
    pytest.param(["revoke", "family"], ["--until", "FAMILY_ID"], id="revoke-family"),
    pytest.param(["revoke", "subject"], ["--until", "SUBJECT"], id="revoke-subject"),
]


@pytest.mark.parametrize(("command", "mentions"), HELP_CASES)
def test_help_of_every_command(
    cli: Callable[..., Run], command: list[str], mentions: list[str]
) -> None:
    run = cli(*command, "--help")
    assert run.code == 0
    for word in mentions:
        assert word in run.out, word
    if command:
        assert "examples:" in run.out


def test_version(cli: Callable[..., Run]) -> None:
    run = cli("--version")
    assert run.code == 0
    assert run.out.strip().startswith("tokenguard 0.")


def test_no_command_is_a_usage_error(cli: Callable[..., Run]) -> None:
    run = cli()
    assert run.code == 2
    assert "COMMAND" in run.err


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tokenguard", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "keygen" in done.stdout
    assert "revoke" in done.stdout
    garbage = subprocess.run(
        [sys.executable, "-m", "tokenguard", "inspect", "not-a-token"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert garbage.returncode == 2
    assert "Traceback" not in garbage.stderr
    assert len(garbage.stderr.splitlines()) == 1


# -- keygen --------------------------------------------------------------------------------


def load_generated(text: str, alg: str, fmt: str) -> Key:
    if fmt == "jwk":
        jwk = json.loads(text)
        assert jwk["alg"] == alg
        assert jwk["use"] == "sig"
        assert jwk["kid"]
        return Key.from_jwk(jwk)
    if alg == "HS256":
        secret = b64url_decode(text)
        assert len(secret) == 32
        return Key.hmac(secret, alg=alg)
    assert text.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    return Key.from_pem(text, alg=alg)


@pytest.mark.parametrize("fmt", ["pem", "jwk"])
@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256", "HS256"])
def test_keygen_output_loads_back_and_signs(cli: Callable[..., Run], alg: str, fmt: str) -> None:
    run = cli("keygen", "--alg", alg, "--format", fmt)
    assert run.code == 0, run.err
    key = load_generated(run.out, alg, fmt)
    assert key.alg == alg
    assert key.can_sign
    assert key.verify(b"payload", key.sign(b"payload"))
    assert not key.verify(b"other", key.sign(b"payload"))
    if alg != "HS256":
        public = json.loads(run.err.split("public JWK: ", 1)[1].splitlines()[0])
        assert "d" not in public
        assert public["kid"] == key.thumbprint()  # the default kid
        assert Key.from_jwk(public).verify(b"payload", key.sign(b"payload"))
        assert f"kid: {key.thumbprint()}" in run.err
    else:
        assert run.out.strip() not in run.err  # the secret is printed once, on stdout


def test_keygen_jwk_kid(cli: Callable[..., Run]) -> None:
    run = cli("keygen", "--alg", "ES256", "--format", "jwk", "--kid", "es-2027")
    assert json.loads(run.out)["kid"] == "es-2027"
    assert "kid: es-2027" in run.err


def test_keygen_out_is_private_and_never_overwritten(
    cli: Callable[..., Run], tmp_path: Path
) -> None:
    target = tmp_path / "signing.pem"
    run = cli("keygen", "--alg", "EdDSA", "--out", str(target))
    assert run.code == 0, run.err
    assert run.out == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    first = target.read_bytes()
    Key.from_pem(first, alg="EdDSA")

    again = cli("keygen", "--alg", "EdDSA", "--out", str(target))
    assert again.code == 1
    assert "--force" in again.error_line()
    assert target.read_bytes() == first

    target.chmod(0o644)
    forced = cli("keygen", "--alg", "EdDSA", "--out", str(target), "--force")
    assert forced.code == 0, forced.err
    assert target.read_bytes() != first
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing.pem"]  # no temp file left


def test_keygen_refuses_to_write_through_a_symlink(cli: Callable[..., Run], tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "link.pem").symlink_to(victim)
    run = cli("keygen", "--alg", "EdDSA", "--out", str(tmp_path / "link.pem"))
    assert run.code == 1
    assert victim.read_text() == "keep me"


def test_keygen_out_in_missing_directory(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("keygen", "--alg", "HS256", "--out", str(tmp_path / "nope" / "k.txt"))
    assert run.code == 1
    assert "cannot write" in run.error_line()


# -- issue ---------------------------------------------------------------------------------


def issue_args(key_file: str, *extra: str) -> list[str]:
    common = ["--sub", "alice", "--iss", ISSUER, "--aud", AUDIENCE]
    return ["issue", "--key", key_file, *common, *extra]


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_issue_validates_with_the_same_key(
    cli: Callable[..., Run], tmp_path: Path, clock: FrozenClock, alg: str
) -> None:
    private, public = key_files(tmp_path, alg)
    run = cli(
        *issue_args(private, "--alg", alg, "--scope", "cart:read", "cart:write", "--ttl", "60"),
        "--claim", "tenant=acme", "--claim", "level=3", "--claim", "zip=01234",
    )  # fmt: skip
    assert run.code == 0, run.err
    token = run.out.strip()
    verifier = Key.from_pem(Path(public).read_bytes(), alg=alg, kid=signing_key(alg).thumbprint())
    validator = TokenValidator([verifier], issuer=ISSUER, audience=AUDIENCE, clock=clock)
    principal = validator.validate(token)
    assert principal.subject == "alice"
    assert principal.scopes == {"cart:read", "cart:write"}
    assert principal.claims["tenant"] == "acme"
    assert principal.claims["level"] == 3
    assert principal.claims["zip"] == "01234"  # not JSON: kept as a string
    assert principal.claims["exp"] == int(NOW) + 60


def test_issue_with_jwk_and_hmac_key_files(
    cli: Callable[..., Run], tmp_path: Path, clock: FrozenClock
) -> None:
    jwk_run = cli("keygen", "--alg", "ES256", "--format", "jwk", "--kid", "es-1")
    jwk_file = write(tmp_path / "k.jwk", jwk_run.out)
    run = cli(*issue_args(jwk_file))  # the alg comes from the JWK
    assert run.code == 0, run.err
    key = Key.from_jwk(json.loads(jwk_run.out))
    TokenValidator([key], issuer=ISSUER, audience=AUDIENCE, clock=clock).validate(run.out.strip())

    secret_file = write(tmp_path / "secret.txt", cli("keygen", "--alg", "HS256").out)
    run = cli(*issue_args(secret_file, "--alg", "HS256", "--kid", "hs-1"))
    assert run.code == 0, run.err
    hmac_key = Key.hmac(b64url_decode(Path(secret_file).read_text()), kid="hs-1")
    validator = TokenValidator([hmac_key], issuer=ISSUER, audience=AUDIENCE, clock=clock)
    assert validator.validate(run.out.strip()).subject == "alice"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(["--claim", "sub=mallory"], "may not set", id="reserved-claim"),
        pytest.param(["--claim", "novalue"], "NAME=VALUE", id="claim-without-value"),
        pytest.param(["--claim", "a=1", "--claim", "a=2"], "twice", id="duplicate-claim"),
        pytest.param(["--alg", "ES256"], "ES256", id="pem-of-another-alg"),
    ],
)
def test_issue_refuses(
    cli: Callable[..., Run], tmp_path: Path, extra: list[str], expected: str
) -> None:
    private, _ = key_files(tmp_path, "EdDSA")
    if "--alg" not in extra:
        extra = ["--alg", "EdDSA", *extra]
    run = cli(*issue_args(private, *extra))
    assert run.code == 2
    assert expected in run.error_line()


def test_issue_key_file_errors(cli: Callable[..., Run], tmp_path: Path) -> None:
    private, public = key_files(tmp_path, "EdDSA")
    no_alg = cli(*issue_args(private))
    assert no_alg.code == 2
    assert "--alg" in no_alg.error_line()
    public_only = cli(*issue_args(public, "--alg", "EdDSA"))
    assert public_only.code == 2
    assert "private key" in public_only.error_line()
    missing = cli(*issue_args(str(tmp_path / "absent.pem"), "--alg", "EdDSA"))
    assert missing.code == 2
    assert "does not exist" in missing.error_line()
    junk = write(
        tmp_path / "junk.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    broken = cli(*issue_args(junk, "--alg", "EdDSA"))
    assert broken.code == 2
    assert "junk.pem" in broken.error_line()
    jwks = write(tmp_path / "set.json", json.dumps({"keys": []}))
    assert "--jwks-file" in cli(*issue_args(jwks)).error_line()
    short = write(tmp_path / "short.txt", "c2hvcnQ")
    weak = cli(*issue_args(short, "--alg", "HS256"))
    assert weak.code == 2
    assert "at least 32 bytes" in weak.error_line()
    assert "c2hvcnQ" not in weak.err


# -- inspect -------------------------------------------------------------------------------


def test_inspect_without_keys_shows_claims_unverified(
    cli: Callable[..., Run], make_token: MakeToken, clock: FrozenClock
) -> None:
    token = make_token("EdDSA")
    clock.advance(60)
    run = cli("inspect", token)
    assert run.code == 0, run.err
    assert "NOT VERIFIED: signature not checked" in run.out
    assert "alg: EdDSA" in run.out
    assert "kid: eddsa-1" in run.out
    assert "sub: alice" in run.out
    assert "exp: 1800000900 (2027-01-15 08:15:00 UTC, in 14 min)" in run.out
    assert "iat: 1800000000 (2027-01-15 08:00:00 UTC, 1 min ago)" in run.out
    assert token not in run.out + run.err


def test_inspect_reads_stdin_and_strips_bearer(
    cli: Callable[..., Run], make_token: MakeToken
) -> None:
    run = cli("inspect", "-", stdin=f"Bearer {make_token('HS256')}\n")
    assert run.code == 0, run.err
    assert "alg: HS256" in run.out


def test_inspect_escapes_control_characters(cli: Callable[..., Run], make_token: MakeToken) -> None:
    run = cli("inspect", make_token("HS256", sub="\x1b[2Jevil\nVERIFIED"))
    assert "\x1b" not in run.out
    assert "\nVERIFIED" not in run.out
    assert r"\u001b[2Jevil\nVERIFIED" in run.out


@pytest.mark.parametrize("alg", ["EdDSA", "HS256"])
def test_inspect_with_the_right_key_verifies(
    cli: Callable[..., Run], tmp_path: Path, make_token: MakeToken, alg: str
) -> None:
    if alg == "HS256":
        jwk = {"kty": "oct", "k": "x" * 43, "alg": alg}  # a 32-byte secret
        key_args = ["--key", write(tmp_path / "s.jwk", json.dumps(jwk)), "--kid", "h"]
        token = make_token(alg, key=Key.from_jwk(jwk).with_kid("h"))
    else:
        key = signing_key(alg)
        _, public = key_files(tmp_path, alg)
        key_args = ["--key", public, "--alg", alg, "--kid", key.kid or ""]
        token = make_token(alg)
    run = cli("inspect", "-", *key_args, "--iss", ISSUER, "--aud", AUDIENCE, stdin=token)
    assert run.code == 0, run.err
    assert run.out.rstrip().endswith("VERIFIED")
    assert "NOT VERIFIED" not in run.out
    assert "INVALID" not in run.out
    assert "x" * 43 not in run.out + run.err  # never the secret


def test_inspect_with_a_wrong_key_or_an_expired_token_is_invalid(
    cli: Callable[..., Run], tmp_path: Path, make_token: MakeToken, clock: FrozenClock
) -> None:
    other = write(tmp_path / "other.pem", Key.generate("EdDSA").public_pem())
    token = make_token("EdDSA")
    wrong = cli("inspect", token, "--key", other, "--alg", "EdDSA", "--kid", "eddsa-1",
                "--aud", AUDIENCE)  # fmt: skip
    assert wrong.code == 1
    assert "INVALID: InvalidSignatureError:" in wrong.out

    _, public = key_files(tmp_path, "EdDSA")
    good = ["--key", public, "--alg", "EdDSA", "--kid", "eddsa-1", "--aud", AUDIENCE]
    clock.advance(901)
    expired = cli("inspect", token, *good)
    assert expired.code == 1
    assert "INVALID: ExpiredTokenError: The access token has expired." in expired.out
    assert "exp: 1800000900 (2027-01-15 08:15:00 UTC, 1 s ago)" in expired.out
    assert cli("inspect", token, *good, "--leeway", "30").code == 0

    no_aud = cli("inspect", token, *good[:-2], "--leeway", "30")
    assert no_aud.code == 1
    assert "INVALID: InvalidClaimError" in no_aud.out
    assert "--aud" in no_aud.err


DUPLICATE_ALG = b64url_encode(b'{"alg":"HS256","alg":"none"}')
GARBAGE = [
    pytest.param("garbage", "not a compact JWT", id="no-dots"),
    pytest.param("a.b c.d", "not a compact JWT", id="space"),
    pytest.param("a.b.c.d.e", "JWE", id="jwe"),
    pytest.param("a.b.c", "truncated", id="truncated-base64"),
    pytest.param("eyJ.e30.AA", "non-canonical", id="non-canonical-base64"),
    pytest.param(f"{b64url_encode(b'not json')}.e30.c2ln", "not valid JSON", id="bad-json"),
    pytest.param(f"{b64url_encode(b'[1]')}.e30.c2ln", "not a JSON object", id="json-list"),
    pytest.param(f"{DUPLICATE_ALG}.e30.c2ln", "duplicate", id="duplicate-member"),
    pytest.param("", "no token", id="empty"),
]


@pytest.mark.parametrize(("token", "expected"), GARBAGE)
def test_inspect_malformed_tokens_exit_2_with_one_line(
    cli: Callable[..., Run], token: str, expected: str
) -> None:
    for run in (cli("inspect", token), cli("inspect", "-", stdin=token)):
        assert run.code == 2
        assert expected in run.error_line()
        assert run.out == ""
        if token:
            assert token not in run.err


def test_inspect_with_a_jwks_file(
    cli: Callable[..., Run], tmp_path: Path, make_token: MakeToken
) -> None:
    document = {"keys": [signing_key(a).public_jwk() for a in ("EdDSA", "ES256")]}
    jwks_file = write(tmp_path / "jwks.json", json.dumps(document))
    for alg in ("EdDSA", "ES256"):
        run = cli("inspect", make_token(alg), "--jwks-file", jwks_file, "--aud", AUDIENCE)
        assert run.code == 0, run.out
    run = cli("inspect", make_token("RS256"), "--jwks-file", jwks_file, "--aud", AUDIENCE)
    assert run.code == 1
    assert "UnknownKeyError" in run.out


def test_inspect_with_a_jwks_url(
    cli: Callable[..., Run], http_server: ScriptedHTTPServer, make_token: MakeToken
) -> None:
    http_server.reply("/jwks", body={"keys": [signing_key("ES256").public_jwk()]})
    token = make_token("ES256")
    run = cli("inspect", token, "--jwks-url", http_server.url("/jwks"), "--aud", AUDIENCE)
    assert run.code == 0, run.out + run.err
    assert run.out.rstrip().endswith("VERIFIED")

    down = cli("inspect", token, "--jwks-url", refused_url("/jwks"), "--aud", AUDIENCE)
    assert down.code == 1
    assert "NOT VERIFIED: The signing keys are temporarily unavailable." in down.out

    plain = cli("inspect", token, "--jwks-url", "http://issuer.example/jwks")
    assert plain.code == 2
    assert "https://" in plain.error_line()


def test_inspect_option_errors(
    cli: Callable[..., Run], tmp_path: Path, make_token: MakeToken
) -> None:
    token = make_token("EdDSA")
    assert cli("inspect", token, "--aud", AUDIENCE).code == 2  # nothing to verify with
    assert "--key" in cli("inspect", token, "--iss", ISSUER).error_line()
    assert cli("inspect", token, "--key", "a", "--jwks-file", "b").code == 2
    assert cli("inspect", token, "--jwks-file", "/nonexistent/jwks.json").code == 2
    _, public = key_files(tmp_path, "EdDSA")
    # Input errors are reported before anything is printed.
    leeway = cli("inspect", token, "--key", public, "--alg", "EdDSA", "--leeway", "1000")
    assert leeway.code == 2
    assert "leeway" in leeway.error_line()
    assert leeway.out == ""


# -- jwks ----------------------------------------------------------------------------------


def test_jwks_of_pem_files(cli: Callable[..., Run], tmp_path: Path) -> None:
    eddsa, _ = key_files(tmp_path, "EdDSA")
    _, es256_public = key_files(tmp_path, "ES256")
    rsa, _ = key_files(tmp_path, "RS256")
    run = cli("jwks", eddsa, es256_public, rsa, "--alg", "EdDSA", "--alg", "ES256",
              "--alg", "RS256")  # fmt: skip
    assert run.code == 0, run.err
    document = json.loads(run.out)
    keyset = KeySet.from_jwks(document)
    assert keyset.algorithms == {"EdDSA", "ES256", "RS256"}
    assert [jwk["kid"] for jwk in document["keys"]] == [
        signing_key(alg).thumbprint() for alg in ("EdDSA", "ES256", "RS256")
    ]
    assert not any("d" in jwk or "p" in jwk for jwk in document["keys"])  # public parts only

    named = cli("jwks", eddsa, "--alg", "EdDSA", "--kid", "ed-1")
    assert json.loads(named.out)["keys"][0]["kid"] == "ed-1"


def test_jwks_refusals(cli: Callable[..., Run], tmp_path: Path) -> None:
    eddsa, _ = key_files(tmp_path, "EdDSA")
    secret_jwk = write(tmp_path / "s.jwk", cli("keygen", "--alg", "HS256", "--format", "jwk").out)
    hmac = cli("jwks", eddsa, secret_jwk, "--alg", "EdDSA")
    assert hmac.code == 2
    assert "HMAC" in hmac.error_line()
    assert hmac.out == ""
    assert json.loads(Path(secret_jwk).read_text())["k"] not in hmac.err

    secret = write(tmp_path / "s.txt", cli("keygen", "--alg", "HS256").out)
    assert cli("jwks", secret, "--alg", "HS256").code == 2
    assert cli("jwks", secret).code == 2
    assert cli("jwks", eddsa).code == 2  # PEM without --alg
    assert cli("jwks", eddsa, eddsa, "--alg", "EdDSA", "--kid", "one").code == 2
    assert "share the kid" in cli("jwks", eddsa, eddsa, "--alg", "EdDSA").error_line()


# -- revoke and open_store ------------------------------------------------------------------


def check_revocations(store: TokenStore, before: float) -> None:
    assert store.is_revoked(Principal("bob", {"sub": "bob", "jti": "j-1", "iat": time.time()}))
    assert not store.is_revoked(Principal("bob", {"sub": "bob", "jti": "j-2", "iat": time.time()}))
    assert store.family_revoked("fam-1")
    assert not store.family_revoked("fam-2")
    cutoff = store.subject_cutoff("alice")
    assert cutoff is not None
    assert before <= cutoff <= time.time()
    assert store.is_revoked(Principal("alice", {"sub": "alice", "iat": before - 10}))


def revoke_all(cli: Callable[..., Run], url: str, *extra: str) -> float:
    before = time.time()
    now = time.time
    jti = cli("revoke", "--store", url, *extra, "jti", "j-1", "--until", "+1h", now=now)
    assert jti.code == 0, jti.err
    assert "j-1" in jti.out
    family = cli("revoke", "family", "fam-1", "--until", str(int(before) + 3600),
                 "--store", url, *extra, now=now)  # fmt: skip
    assert family.code == 0, family.err
    subject = cli("revoke", "--store", url, *extra, "subject", "alice", now=now)
    assert subject.code == 0, subject.err
    assert "in 90 days" in subject.out
    return before


def test_revoke_into_sqlite(cli: Callable[..., Run], tmp_path: Path) -> None:
    sqlite = pytest.importorskip("tokenguard.stores.sqlite", reason="SQLiteStore not written yet")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert url.startswith("sqlite:////")  # four slashes: an absolute path
    before = revoke_all(cli, url)
    store = sqlite.SQLiteStore(tmp_path / "x.db")
    try:
        check_revocations(store, before)
    finally:
        store.close()


@pytest.mark.redis
def test_revoke_into_redis(cli: Callable[..., Run], request: pytest.FixtureRequest) -> None:
    redis_store = pytest.importorskip(
        "tokenguard.stores.redis", reason="RedisStore not written yet"
    )
    server = request.getfixturevalue("redis_server")
    before = revoke_all(cli, server.url, "--prefix", "cli-test:")
    store = redis_store.RedisStore(server.url, prefix="cli-test:")
    try:
        check_revocations(store, before)
    finally:
        store.close()


def test_revoke_memory_store_and_errors(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("revoke", "--store", "memory://", "jti", "j-1", "--until", "+15m")
    assert run.code == 0, run.err
    assert "memory://" in run.err  # the warning that nothing persists

    unknown = cli("revoke", "--store", "postgres://user:hunter2@db/x", "jti", "j", "--until", "+1h")
    assert unknown.code == 2
    line = unknown.error_line()
    assert "'postgres'" in line
    assert "hunter2" not in line
    for scheme in ("memory://", "sqlite:///", "redis://", "rediss://"):
        assert scheme in line

    assert "--store" in cli("revoke", "jti", "j", "--until", "+1h").error_line()
    past = cli("revoke", "--store", "memory://", "jti", "j", "--until", str(NOW - 1))
    assert past.code == 2
    assert "future" in past.error_line()
    bad = cli("revoke", "--store", "memory://", "family", "f", "--until", "soon")
    assert bad.code == 2
    assert "--until" in bad.error_line()
    assert cli("revoke", "--store", "memory://", "jti", "j").code == 2  # --until is required
    prefixed = cli("revoke", "--store", "memory://", "--prefix", "p:", "subject", "alice")
    assert prefixed.code == 2
    assert "prefix" in prefixed.error_line()


def test_revoke_store_unavailable(cli: Callable[..., Run], tmp_path: Path) -> None:
    pytest.importorskip("tokenguard.stores.sqlite", reason="SQLiteStore not written yet")
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    run = cli("revoke", "--store", url, "jti", "j", "--until", "+1h", now=time.time)
    assert run.code == 1
    assert "unavailable" in run.error_line()


def test_revoke_redis_down_never_shows_the_password(cli: Callable[..., Run]) -> None:
    pytest.importorskip("tokenguard.stores.redis", reason="RedisStore not written yet")
    url = refused_url("/0").replace("http://", "redis://:s3cret-pw@")
    run = cli("revoke", "--store", url, "subject", "alice", now=time.time)
    assert run.code == 1
    assert "unavailable" in run.error_line()
    assert "s3cret-pw" not in run.err


def test_open_store() -> None:
    store = open_store("memory://", maxsize=10)
    assert isinstance(store, MemoryStore)
    with pytest.raises(ConfigError, match="memory://"):
        open_store("memory://extra")
    with pytest.raises(ConfigError, match=r"memory://.*sqlite:///.*redis://.*rediss://"):
        open_store("ftp://host/x")
    with pytest.raises(ConfigError, match=r"\(none\)"):
        open_store("no-scheme-at-all")
    with pytest.raises(ConfigError, match="prefix"):
        open_store("memory://", prefix="x:")


def test_open_store_sqlite(tmp_path: Path) -> None:
    sqlite = pytest.importorskip("tokenguard.stores.sqlite", reason="SQLiteStore not written yet")
    store = open_store(f"sqlite:///{tmp_path / 'y.db'}")
    try:
        assert isinstance(store, sqlite.SQLiteStore)
    finally:
        store.close()
    with pytest.raises(ConfigError, match="prefix"):
        open_store(f"sqlite:///{tmp_path / 'y.db'}", prefix="x:")


def test_cli_runs_without_redis_installed() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if it were not installed\n"
        "from tokenguard.cli import main\n"
        "code = main(['revoke', '--store', 'memory://', 'subject', 'alice'])\n"
        "assert 'tokenguard.stores.redis' not in sys.modules\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "revoked every token of subject 'alice'" in done.stdout


def test_open_store_without_redis_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    monkeypatch.delitem(sys.modules, "tokenguard.stores.redis", raising=False)
    with pytest.raises(ConfigError, match=r"tokenguard\[redis\]|cannot be imported"):
        open_store("redis://localhost:6379/0")
