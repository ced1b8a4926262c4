"""RedisStore specifics: key TTLs, several processes, concurrency, auth, outages, event loops.

The behaviour every backend shares is the conformance suite's; this file checks what only
a networked store shared by many processes can get wrong.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock, signing_key
from tests.redisserver import RedisServer, free_port
from tokenguard import ConfigError, Principal, StoreUnavailableError
from tokenguard.issuer import TokenIssuer, TokenPair
from tokenguard.stores import TokenRecord, hash_token
from tokenguard.stores.redis import RedisStore

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 0.5  # seconds, for the outage tests
SLACK = 1.0  # what a loaded CI machine may add on top of it


def refresh_record(
    token_hash: str, now: float = NOW, *, ttl: float = 1000, subject: str = "alice"
) -> TokenRecord:
    return TokenRecord(
        token_hash=token_hash,
        kind="refresh",
        subject=subject,
        issued_at=now,
        expires_at=now + ttl,
        family_id="fam-1",
        family_expires_at=now + 2 * ttl,
    )


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def rstore(redis_server: RedisServer, prefix: str, clock: FrozenClock) -> Iterator[RedisStore]:
    store = RedisStore(redis_server.url, prefix=prefix, clock=clock)
    yield store
    store.close()


def pttl(raw: redis.Redis, key: str) -> int:
    value: int = raw.pttl(key)
    return value


# -- keys and their TTLs -------------------------------------------------------------------


def test_every_key_expires_with_what_it_holds(
    rstore: RedisStore, raw: redis.Redis, prefix: str, clock: FrozenClock
) -> None:
    old, new = refresh_record("old"), refresh_record("new", ttl=500)
    rstore.put(old)
    assert raw.hget(f"{prefix}tok:old", "data") == old.to_json().encode()
    assert 999_000 < pttl(raw, f"{prefix}tok:old") <= 1_000_000

    assert rstore.rotate("old", new, b"sealed", now=NOW, grace=5).outcome == "rotated"
    assert 999_000 < pttl(raw, f"{prefix}tok:old") <= 1_000_000  # retiring keeps the TTL
    assert 499_000 < pttl(raw, f"{prefix}tok:new") <= 500_000
    assert raw.hget(f"{prefix}tok:old", "successor") == b"sealed"

    clock.advance(10)  # after the grace window: reuse revokes the family until its end
    assert rstore.rotate("old", new, b"again", now=clock.now, grace=5).outcome == "reused"
    assert 1_989_000 < pttl(raw, f"{prefix}fam:fam-1") <= 1_990_000

    rstore.revoke_jti("jti-1", until=clock.now + 60)
    rstore.revoke_family("fam-2", until=clock.now + 120)
    rstore.revoke_subject("bob", at=clock.now, until=clock.now + 3600)
    assert 59_000 < pttl(raw, f"{prefix}jti:jti-1") <= 60_000
    assert 119_000 < pttl(raw, f"{prefix}fam:fam-2") <= 120_000
    assert 3_599_000 < pttl(raw, f"{prefix}sub:bob") <= 3_600_000
    assert rstore.purge(now=clock.now) == 0


def test_expiry_follows_the_store_clock_not_redis(
    redis_server: RedisServer, raw: redis.Redis, prefix: str
) -> None:
    # A clock far in the past: absolute expiry times would make Redis drop every key at once.
    clock = FrozenClock(1_000_000.0)
    store = RedisStore(redis_server.url, prefix=prefix, clock=clock)
    try:
        store.put(refresh_record("tok", clock.now, ttl=10))
        store.revoke_jti("jti-1", until=clock.now + 5)
        principal = Principal("alice", {"jti": "jti-1", "iat": clock.now})
        assert store.get("tok") is not None
        assert store.is_revoked(principal)

        clock.advance(10)
        assert pttl(raw, f"{prefix}tok:tok") > 0  # Redis still holds both keys ...
        assert pttl(raw, f"{prefix}jti:jti-1") > 0
        assert store.get("tok") is None  # ... but they are past their time for the store
        assert not store.is_revoked(principal)
    finally:
        store.close()


def test_rotation_script_builds_key_names_like_python(rstore: RedisStore) -> None:
    subject = "ålice 😀:*"  # non-ASCII, astral and glob characters, all in a key name
    rstore.put(refresh_record("old", subject=subject))
    rstore.revoke_subject(subject, at=NOW + 1, until=NOW + 100)
    rotation = rstore.rotate("old", refresh_record("new"), b"sealed", now=NOW, grace=5)
    assert rotation.outcome == "revoked"
    assert rotation.record == refresh_record("old", subject=subject)


# -- shared between processes ----------------------------------------------------------------

REVOKE_CHILD = """
import sys, time
from tokenguard.principal import Principal
from tokenguard.stores.redis import RedisStore

store = RedisStore(sys.argv[1], prefix=sys.argv[2])
now = time.time()
store.revoke_jti("child-jti", until=now + 60)
store.revoke_family("child-family", until=now + 60)
store.revoke_subject("child-subject", at=now, until=now + 60)
print(store.is_revoked(Principal("parent", {"jti": "parent-jti", "iat": now})))
store.close()
"""


def test_revocations_are_shared_between_processes(redis_server: RedisServer, prefix: str) -> None:
    store = RedisStore(redis_server.url, prefix=prefix)
    try:
        before = time.time()
        store.put(
            TokenRecord(
                token_hash="parent-refresh",
                kind="refresh",
                subject="someone",
                issued_at=before,
                expires_at=before + 60,
                family_id="child-family",
            )
        )
        store.revoke_jti("parent-jti", until=before + 60)
        child = subprocess.run(
            [sys.executable, "-c", REVOKE_CHILD, redis_server.url, prefix],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert child.returncode == 0, child.stderr
        assert child.stdout.strip() == "True"  # the child sees the parent's revocation

        assert store.is_revoked(Principal("x", {"jti": "child-jti", "iat": time.time()}))
        assert store.family_revoked("child-family")
        assert store.is_revoked(Principal("child-subject", {"iat": before - 1}))
        new = refresh_record("new", time.time())
        rotation = store.rotate("parent-refresh", new, b"s", now=time.time(), grace=5)
        assert rotation.outcome == "revoked"
    finally:
        store.close()


# -- concurrent refreshes --------------------------------------------------------------------


def test_concurrent_refreshes_mint_exactly_one_successor(
    rstore: RedisStore, raw: redis.Redis, prefix: str, clock: FrozenClock
) -> None:
    issuer = TokenIssuer(
        signing_key("EdDSA"), store=rstore, issuer=ISSUER, audience=AUDIENCE, clock=clock
    )
    token = issuer.issue_pair("alice", scopes=["cart:read"]).refresh_token
    barrier = threading.Barrier(31)

    def in_a_thread() -> list[TokenPair]:
        barrier.wait()
        return [issuer.refresh(token)]

    def in_tasks() -> list[TokenPair]:
        async def gather() -> list[TokenPair]:
            return list(await asyncio.gather(*(issuer.arefresh(token) for _ in range(30))))

        barrier.wait()
        return asyncio.run(gather())

    with ThreadPoolExecutor(max_workers=31) as pool:
        futures = [pool.submit(in_a_thread) for _ in range(30)] + [pool.submit(in_tasks)]
        pairs = [pair for future in futures for pair in future.result(timeout=60)]

    assert len(pairs) == 60
    assert len({(pair.access_token, pair.refresh_token) for pair in pairs}) == 1
    records = [raw.hget(key, "data") for key in raw.scan_iter(f"{prefix}tok:*")]
    families = [json.loads(data)["fid"] for data in records if data is not None]
    assert len(families) == 2  # the original and its one successor
    assert len(set(families)) == 1
    assert raw.exists(f"{prefix}tok:{hash_token(pairs[0].refresh_token)}")


# -- URLs and credentials --------------------------------------------------------------------


def test_password_in_the_url(tmp_path: Path, prefix: str) -> None:
    server = RedisServer(tmp_path, password="s3cret-pass")
    good = RedisStore(server.url, prefix=prefix, timeout=TIMEOUT)
    wrong = RedisStore(server.url.replace("s3cret-pass", "wrong-pass"), timeout=TIMEOUT)
    missing = RedisStore(f"redis://127.0.0.1:{server.port}/0", timeout=TIMEOUT)
    try:
        good.revoke_jti("jti-1", until=time.time() + 60)
        assert good.is_revoked(Principal("alice", {"jti": "jti-1", "iat": 1}))
        assert "s3cret" not in repr(good)
        assert repr(good) == f"RedisStore('redis://127.0.0.1:{server.port}/0', prefix={prefix!r})"
        for store in (wrong, missing):
            with pytest.raises(StoreUnavailableError) as caught:
                store.family_revoked("fam-1")
            assert isinstance(caught.value.__cause__, redis.AuthenticationError)
            assert "pass" not in str(caught.value)
            assert "pass" not in repr(caught.value)
    finally:
        for store in (good, wrong, missing):
            store.close()
        server.stop()


def test_acl_user_and_database_number(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="admin-pass")
    admin = redis.Redis.from_url(server.url)
    db3 = redis.Redis.from_url(server.url.replace("/0", "/3"))
    admin.acl_setuser(
        "app", enabled=True, passwords=["+app-pass"], keys=["tg:*"], categories=["+@all"]
    )
    url = f"redis://app:app-pass@127.0.0.1:{server.port}/3"
    store = RedisStore(url, prefix="tg:", timeout=TIMEOUT)
    outside = RedisStore(url, prefix="other:", timeout=TIMEOUT)
    try:
        now = time.time()
        store.put(refresh_record("old", now))
        assert store.rotate("old", refresh_record("new", now), b"s", now=now, grace=5).outcome == (
            "rotated"
        )
        store.revoke_subject("alice", at=now, until=now + 60)
        assert store.subject_cutoff("alice") == now
        assert admin.dbsize() == 0  # everything went to database 3
        assert db3.exists("tg:tok:old", "tg:tok:new", "tg:sub:alice") == 3
        with pytest.raises(StoreUnavailableError) as caught:  # NOPERM on other:*
            outside.revoke_jti("jti-1", until=now + 60)
        assert isinstance(caught.value.__cause__, redis.ResponseError)
    finally:
        store.close()
        outside.close()
        admin.close()
        db3.close()
        server.stop()


def test_exported_lazily_from_the_stores_package() -> None:
    import tokenguard.stores

    assert "RedisStore" in tokenguard.stores.__all__
    assert tokenguard.stores.RedisStore is RedisStore


def test_stores_import_without_redis_installed() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None\n"
        "import tokenguard.stores\n"
        "try:\n"
        "    tokenguard.stores.RedisStore\n"
        "except ImportError as exc:\n"
        "    print(exc.name, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()
    assert out == 'redis RedisStore needs the redis package: pip install "tokenguard[redis]"'


@pytest.mark.parametrize(
    ("url", "options"),
    [
        pytest.param("http://127.0.0.1:6379", {}, id="not-redis"),
        pytest.param("redis://127.0.0.1:6379/0", {"timeout": 0}, id="zero-timeout"),
    ],
)
def test_bad_configuration(url: str, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RedisStore(url, **options)


def test_given_clients_are_used(redis_server: RedisServer, prefix: str) -> None:
    async def run() -> None:
        async_client = redis.asyncio.Redis.from_url(redis_server.url.replace("/0", "/6"))
        store = RedisStore(
            redis_server.url, prefix=prefix, client=client, async_client=async_client
        )
        try:
            store.put(refresh_record("sync", time.time()))
            await store.aput(refresh_record("async", time.time()))
        finally:
            await store.aclose()
            await async_client.aclose()

    client = redis.Redis.from_url(redis_server.url.replace("/0", "/5"))
    db6 = redis.Redis.from_url(redis_server.url.replace("/0", "/6"))
    try:
        asyncio.run(run())
        assert client.exists(f"{prefix}tok:sync") == 1
        assert db6.exists(f"{prefix}tok:async") == 1
    finally:
        client.close()
        db6.close()


# -- event loops -----------------------------------------------------------------------------


def connected_clients(admin: redis.Redis, expected: int) -> int:
    # The server sees a closed connection on its next event-loop turn: poll, never sleep long.
    deadline = time.monotonic() + 5
    while True:
        count = len(admin.client_list())
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.01)


def test_one_async_client_per_event_loop_each_closed_with_it(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    admin = redis.Redis.from_url(server.url)
    store = RedisStore(server.url, clock=FrozenClock())
    try:
        store.put(refresh_record("tok"))
        for _ in range(2):  # a new loop each time, as pytest-asyncio gives every test
            assert asyncio.run(store.aget("tok")) == refresh_record("tok")
            assert connected_clients(admin, 2) == 2  # the sync client; the loop's one is gone
        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(store.aget("tok")) == refresh_record("tok")
            store.close()  # closes the idle loop's client on that loop
        finally:
            loop.close()
        assert connected_clients(admin, 1) == 1
    finally:
        store.close()
        admin.close()
        server.stop()


# -- outages ---------------------------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_unreachable_server_fails_fast() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=TIMEOUT)
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError) as caught:
            store.get("tok")
        assert time.monotonic() - start < TIMEOUT + SLACK
        assert isinstance(caught.value.__cause__, redis.ConnectionError)
    finally:
        store.close()


async def test_unreachable_server_fails_fast_async() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=TIMEOUT)
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await store.aget("tok")
        assert time.monotonic() - start < TIMEOUT + SLACK
    finally:
        await store.aclose()


def test_silent_server_times_out(silent_port: int) -> None:
    store = RedisStore(f"redis://127.0.0.1:{silent_port}/0", timeout=TIMEOUT)
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError) as caught:
            store.is_revoked(Principal("alice", {"jti": "jti-1", "iat": 1}))
        assert TIMEOUT * 0.9 < time.monotonic() - start < TIMEOUT + SLACK
        assert isinstance(caught.value.__cause__, redis.TimeoutError)
    finally:
        store.close()


async def test_silent_server_times_out_async(silent_port: int) -> None:
    store = RedisStore(f"redis://127.0.0.1:{silent_port}/0", timeout=TIMEOUT)
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await store.ais_revoked(Principal("alice", {"jti": "jti-1", "iat": 1}))
        assert TIMEOUT * 0.9 < time.monotonic() - start < TIMEOUT + SLACK
    finally:
        await store.aclose()


def rotate_call(store: RedisStore) -> Any:
    return store.rotate("tok", refresh_record("new"), b"s", now=NOW, grace=5)


async def arotate_call(store: RedisStore) -> Any:
    return await store.arotate("tok", refresh_record("new"), b"s", now=NOW, grace=5)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.get("tok"), id="get"),
        pytest.param(rotate_call, id="rotate"),
        pytest.param(lambda s: s.revoke_subject("alice", at=NOW, until=NOW + 9), id="subject"),
    ],
)
def test_server_killed_mid_test(tmp_path: Path, call: Callable[[RedisStore], Any]) -> None:
    server = RedisServer(tmp_path)
    store = RedisStore(server.url, clock=FrozenClock(), timeout=TIMEOUT)
    try:
        store.put(refresh_record("tok"))  # a pooled connection to the live server
        server.stop()
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            call(store)
        assert time.monotonic() - start < TIMEOUT + SLACK
    finally:
        store.close()
        server.stop()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.aget("tok"), id="get"),
        pytest.param(arotate_call, id="rotate"),
        pytest.param(lambda s: s.arevoke_jti("jti-1", until=NOW + 9), id="jti"),
    ],
)
async def test_server_killed_mid_test_async(
    tmp_path: Path, call: Callable[[RedisStore], Awaitable[Any]]
) -> None:
    server = RedisServer(tmp_path)
    store = RedisStore(server.url, clock=FrozenClock(), timeout=TIMEOUT)
    try:
        await store.aput(refresh_record("tok"))
        server.stop()
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await call(store)
        assert time.monotonic() - start < TIMEOUT + SLACK
    finally:
        await store.aclose()
        server.stop()
