"""SQLiteStore specifics: the file, WAL, several processes, locks, purge, async twins.

The behaviour every backend shares is the conformance suite's; this file checks what only
an embedded database can get wrong.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import NOW, FrozenClock
from tokenguard import ConfigError, Key, Principal, StoreUnavailableError
from tokenguard.issuer import TokenIssuer
from tokenguard.stores import SQLiteStore, TokenRecord, TokenStore, hash_token
from tokenguard.stores import sqlite as sqlite_module

TIMEOUT = 0.2  # seconds, for the lock tests
SLACK = 1.0  # what a loaded CI machine may add on top of it


def refresh_record(token_hash: str, now: float = NOW, *, ttl: float = 1000) -> TokenRecord:
    return TokenRecord(
        token_hash=token_hash,
        kind="refresh",
        subject="alice",
        scopes=("cart:read",),
        claims={"auth_time": now},
        issued_at=now,
        expires_at=now + ttl,
        family_id="fam-1",
        family_expires_at=now + ttl,
    )


def rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        result = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
    conn.close()
    return result


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tokens.db"


@pytest.fixture
def db(path: Path, clock: FrozenClock) -> Iterator[SQLiteStore]:
    store = SQLiteStore(path, clock=clock)
    yield store
    store.close()


@pytest.fixture
def blocker(path: Path) -> Iterator[Callable[[], None]]:
    """Call it to have another connection hold the database's write lock."""
    conn = sqlite3.connect(path, isolation_level=None)

    def block() -> None:
        conn.execute("BEGIN EXCLUSIVE")

    yield block
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


# -- the file ---------------------------------------------------------------------------


def test_smoke_round_trip(db: SQLiteStore, clock: FrozenClock) -> None:
    assert isinstance(db, TokenStore)
    old, new, newer = refresh_record("old"), refresh_record("new"), refresh_record("newer")
    db.put(old)
    assert db.get("old") == old
    assert db.rotate("old", new, b"sealed", now=clock(), grace=5).outcome == "rotated"
    assert db.get("old") == old.retire(clock(), b"sealed")
    grace = db.rotate("old", newer, b"other", now=clock(), grace=5)
    assert (grace.outcome, grace.successor) == ("grace", b"sealed")
    clock.advance(6)
    assert db.rotate("old", newer, b"other", now=clock(), grace=5).outcome == "reused"
    assert db.family_revoked("fam-1")
    assert db.get("newer") is None


def test_lazy_open_wal_and_schema_version(db: SQLiteStore, path: Path) -> None:
    assert not path.exists()  # the constructor does not touch the file
    assert db.get("nothing") is None
    with sqlite3.connect(path) as conn:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert (mode, version) == ("wal", 1)
    assert tables == {"tokens", "revocations"}


def test_data_survives_close_and_reopen(path: Path, clock: FrozenClock) -> None:
    first = SQLiteStore(path, clock=clock)
    first.put(refresh_record("old"))
    first.rotate("old", refresh_record("new"), b"sealed", now=clock(), grace=5)
    first.revoke_jti("jti-1", until=clock() + 100)
    first.revoke_subject("bob", at=clock() - 1, until=clock() + 100)
    first.close()
    second = SQLiteStore(path, clock=clock)
    try:
        assert second.get("old") == refresh_record("old").retire(clock(), b"sealed")
        assert second.get("new") == refresh_record("new")
        assert second.is_revoked(Principal("alice", {"jti": "jti-1", "iat": clock()}))
        assert second.subject_cutoff("bob") == clock() - 1
    finally:
        second.close()


def test_newer_schema_is_a_config_error(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    store = SQLiteStore(path)
    with pytest.raises(ConfigError, match="schema version 99"):
        store.get("x")
    store.close()


def test_repr_shows_the_path(db: SQLiteStore, path: Path) -> None:
    assert repr(db) == f"SQLiteStore({str(path)!r})"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("sqlite:///tokens.db", "tokens.db", id="relative"),
        pytest.param("sqlite:////var/lib/tg/tokens.db", "/var/lib/tg/tokens.db", id="absolute"),
        pytest.param("sqlite:///my%20data/t.db", "my data/t.db", id="percent-encoded"),
    ],
)
def test_from_url(url: str, expected: str) -> None:
    store = SQLiteStore.from_url(url, timeout=1.5)
    assert repr(store) == f"SQLiteStore({expected!r})"
    assert store._timeout == 1.5
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("redis://localhost/0", id="scheme"),
        pytest.param("sqlite://host/tokens.db", id="host"),
        pytest.param("sqlite:///", id="no-path"),
        pytest.param("sqlite:///t.db?mode=ro", id="query"),
    ],
)
def test_from_url_rejects(url: str) -> None:
    with pytest.raises(ConfigError, match="sqlite:///"):
        SQLiteStore.from_url(url)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"path": ""}, id="empty-path"),
        pytest.param({"timeout": 0}, id="zero-timeout"),
        pytest.param({"purge_interval": -1}, id="negative-interval"),
    ],
)
def test_bad_options(tmp_path: Path, options: dict[str, Any]) -> None:
    path = options.pop("path", tmp_path / "t.db")
    with pytest.raises(ConfigError):
        SQLiteStore(path, **options)


# -- several processes ------------------------------------------------------------------

REVOKE_CHILD = """
import sys, time
from tokenguard.stores.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1])
print(store.family_revoked("fam-1"))
store.revoke_jti("jti-1", until=time.time() + 3600)
store.close()
"""


def test_revocations_are_shared_between_processes(path: Path) -> None:
    store = SQLiteStore(path)
    try:
        principal = Principal("alice", {"jti": "jti-1", "iat": time.time()})
        assert not store.is_revoked(principal)  # the connection is open before the child
        store.revoke_family("fam-1", until=time.time() + 3600)
        child = subprocess.run(
            [sys.executable, "-c", REVOKE_CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert child.stdout.strip() == "True"
        assert store.is_revoked(principal)
    finally:
        store.close()


ROTATE_CHILD = """
import json, sys, threading
from tokenguard import Key
from tokenguard.issuer import TokenIssuer
from tokenguard.stores.sqlite import SQLiteStore

path, n = sys.argv[1], int(sys.argv[2])
store = SQLiteStore(path, timeout=30)
issuer = TokenIssuer(Key.hmac(b"k" * 32), store=store, issuer="https://issuer.example",
                     audience="api://shop", refresh_grace=60)
barrier = threading.Barrier(n)
results = [None] * n

def work(i, token):
    barrier.wait()
    try:
        pair = issuer.refresh(token)
        results[i] = [pair.access_token, pair.refresh_token]
    except Exception as exc:
        results[i] = repr(exc)

print("ready", flush=True)
token = sys.stdin.readline().strip()
threads = [threading.Thread(target=work, args=(i, token)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
store.close()
print(json.dumps(results))
"""


def test_concurrent_rotation_across_processes_mints_one_successor(path: Path) -> None:
    processes, threads = 4, 10
    store = SQLiteStore(path)
    issuer = TokenIssuer(
        Key.hmac(b"k" * 32),
        store=store,
        issuer="https://issuer.example",
        audience="api://shop",
        refresh_grace=60,
    )
    try:
        token = issuer.issue_pair("alice", scopes=["cart:read"]).refresh_token
        record = store.get(hash_token(token))
        assert record is not None
        children = [
            subprocess.Popen(
                [sys.executable, "-c", ROTATE_CHILD, str(path), str(threads)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        try:
            for child in children:  # every child is up before any of them starts
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
            for child in children:
                assert child.stdin is not None
                child.stdin.write(token + "\n")
                child.stdin.flush()
            outputs = [child.communicate(timeout=60)[0] for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.communicate()
        assert [child.returncode for child in children] == [0] * processes
        results = [pair for out in outputs for pair in json.loads(out)]
        assert len(results) == processes * threads
        assert all(isinstance(pair, list) for pair in results), results
        assert len({tuple(pair) for pair in results}) == 1  # every caller got the same pair
        family = [
            row
            for row in rows(path, "tokens")
            if json.loads(row[1])["fid"] == record.family_id
            and json.loads(row[1])["kind"] == "refresh"
        ]
        assert len(family) == 2  # the original and exactly one successor
        successor = store.get(hash_token(results[0][1]))
        assert successor is not None
        assert successor.retired_at is None
    finally:
        store.close()


# -- purge ------------------------------------------------------------------------------


def test_purge_removes_expired_rows_and_keeps_live_ones(path: Path, clock: FrozenClock) -> None:
    store = SQLiteStore(path, clock=clock, purge_interval=math.inf)
    try:
        store.put(refresh_record("short", ttl=10))
        store.put(refresh_record("long", ttl=1000))
        store.revoke_jti("jti-short", until=clock() + 10)
        store.revoke_subject("alice", at=clock(), until=clock() + 1000)
        clock.advance(10)  # expires_at == now: expired
        assert len(rows(path, "tokens")) == 2  # nothing purged by itself
        assert store.purge(now=clock()) == 2
        assert [r[0] for r in rows(path, "tokens")] == ["long"]
        assert [r[:2] for r in rows(path, "revocations")] == [("sub", "alice")]
        assert store.purge(now=clock()) == 0
    finally:
        store.close()


def test_writes_purge_at_most_every_interval(path: Path, clock: FrozenClock) -> None:
    store = SQLiteStore(path, clock=clock, purge_interval=60)
    try:
        store.put(refresh_record("short", ttl=10))  # the first write purges (nothing)
        clock.advance(30)
        store.put(refresh_record("other", clock(), ttl=1000))
        assert store.get("short") is None
        assert len(rows(path, "tokens")) == 2  # expired, but the interval has not passed
        clock.advance(30)
        store.revoke_jti("jti-1", until=clock() + 100)
        assert [r[0] for r in rows(path, "tokens")] == ["other"]
    finally:
        store.close()


# -- failures ---------------------------------------------------------------------------

WRITES: dict[str, Callable[[SQLiteStore], object]] = {
    "put": lambda s: s.put(refresh_record("new")),
    "rotate": lambda s: s.rotate("old", refresh_record("new"), b"sealed", now=NOW, grace=5),
    "revoke_family": lambda s: s.revoke_family("fam-1", until=NOW + 100),
    "revoke_token": lambda s: s.revoke_token("old"),
    "revoke_jti": lambda s: s.revoke_jti("jti-1", until=NOW + 100),
    "revoke_subject": lambda s: s.revoke_subject("alice", at=NOW, until=NOW + 100),
    "purge": lambda s: s.purge(now=NOW),
}


@pytest.mark.parametrize("write", [pytest.param(fn, id=name) for name, fn in WRITES.items()])
def test_locked_database_fails_writes_within_timeout(
    path: Path,
    clock: FrozenClock,
    blocker: Callable[[], None],
    write: Callable[[SQLiteStore], object],
) -> None:
    store = SQLiteStore(path, clock=clock, timeout=TIMEOUT)
    try:
        store.put(refresh_record("old"))
        blocker()
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError) as caught:
            write(store)
        assert TIMEOUT * 0.9 <= time.monotonic() - start < TIMEOUT + SLACK
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert "old" not in str(caught.value)
        # WAL: readers go on while another connection writes.
        assert store.get("old") == refresh_record("old")
        assert not store.is_revoked(Principal("alice", {"jti": "jti-1", "iat": NOW}))
    finally:
        store.close()


def test_waiting_threads_do_not_queue_up(
    path: Path, clock: FrozenClock, blocker: Callable[[], None]
) -> None:
    store = SQLiteStore(path, clock=clock, timeout=TIMEOUT)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.revoke_jti("jti-1", until=NOW + 100)
        except StoreUnavailableError as exc:
            errors.append(exc)

    try:
        store.put(refresh_record("old"))
        blocker()
        threads = [threading.Thread(target=write) for _ in range(10)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Queued behind one another they would take 10 x TIMEOUT; each gives up on time.
        assert time.monotonic() - start < TIMEOUT + SLACK
        assert len(errors) == 10
    finally:
        store.close()


def test_time_spent_waiting_for_the_store_comes_off_the_sqlite_wait(
    path: Path, clock: FrozenClock, blocker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    timeout = 1.0
    store = SQLiteStore(path, clock=clock, timeout=timeout)
    try:
        store.put(refresh_record("old"))
        blocker()
        # The call starts at 100 and (as far as it knows) gets the store's own lock at
        # 100.8: only 0.2 s of its timeout are left for SQLite's lock.
        readings = iter([100.0, 100.8])
        monkeypatch.setattr(
            sqlite_module, "time", SimpleNamespace(monotonic=lambda: next(readings))
        )
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            store.revoke_jti("jti-1", until=NOW + 100)
        assert time.monotonic() - start < 0.6 * timeout
    finally:
        store.close()


def test_a_write_that_fails_half_way_leaves_nothing_behind(
    db: SQLiteStore, path: Path, clock: FrozenClock
) -> None:
    db.put(refresh_record("old"))
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON tokens WHEN NEW.token_hash = 'new' "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(StoreUnavailableError) as caught:
        db.rotate("old", refresh_record("new"), b"sealed", now=clock(), grace=5)
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert db.get("old") == refresh_record("old")  # the retirement was rolled back
    conn.execute("DROP TRIGGER fail")  # no lock is left behind either
    conn.commit()
    conn.close()
    assert db.rotate("old", refresh_record("new"), b"s", now=clock(), grace=5).outcome == "rotated"


FORK_CHILD = """
import os, sys, time
from tokenguard.stores.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1])
store.revoke_jti("parent", until=time.time() + 60)
inherited = store._conn
pid = os.fork()
if pid == 0:
    store.revoke_jti("child", until=time.time() + 60)
    os._exit(0 if store._conn is not inherited and store._conn is not None else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), store.family_revoked("x"))
store.close()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connection(path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", FORK_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert child.stdout.split() == ["0", "False"]
    assert [r[:2] for r in rows(path, "revocations")] == [("jti", "child"), ("jti", "parent")]


def test_locked_database_fails_the_first_open_within_timeout(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE other (x)")  # a rollback-journal database ...
    conn.isolation_level = None
    conn.execute("BEGIN EXCLUSIVE")  # ... that even readers cannot open now
    store = SQLiteStore(path, timeout=TIMEOUT)
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError) as caught:
            store.get("x")
        assert time.monotonic() - start < TIMEOUT + SLACK
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        conn.execute("ROLLBACK")
        assert store.get("x") is None  # the next call opens it
    finally:
        conn.close()
        store.close()


@pytest.mark.parametrize("kind", ["missing-directory", "directory", "corrupt-file"])
def test_unusable_file_is_store_unavailable(tmp_path: Path, kind: str) -> None:
    if kind == "missing-directory":
        path = tmp_path / "missing" / "tokens.db"
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "tokens.db"
        path.write_bytes(b"not a database" * 512)
    store = SQLiteStore(path)
    try:
        calls: list[Callable[[], object]] = [
            lambda: store.get("x"),
            lambda: store.put(refresh_record("x")),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailableError) as caught:
                call()
            assert isinstance(caught.value.__cause__, sqlite3.Error)
            assert str(tmp_path) not in str(caught.value)
        if kind == "missing-directory":
            path.parent.mkdir()
            assert store.get("x") is None  # the file is opened again on the next call
    finally:
        store.close()


def test_closed_store_is_unavailable(db: SQLiteStore) -> None:
    db.put(refresh_record("old"))
    db.close()
    db.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        db.get("old")


# -- async twins ------------------------------------------------------------------------

TWINS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("put", (refresh_record("old"),), {}),
    ("get", ("old",), {}),
    ("rotate", ("old", refresh_record("new"), b"sealed"), {"now": NOW, "grace": 5}),
    ("revoke_family", ("fam-2",), {"until": NOW + 100}),
    ("revoke_token", ("new",), {}),
    ("revoke_jti", ("jti-1",), {"until": NOW + 100}),
    ("revoke_subject", ("bob",), {"at": NOW, "until": NOW + 100}),
    ("is_revoked", (Principal("alice", {"jti": "jti-1", "iat": NOW}),), {}),
    ("family_revoked", ("fam-2",), {}),
    ("subject_cutoff", ("bob",), {}),
    ("close", (), {}),
]


async def test_async_twins_run_off_the_event_loop(
    db: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    seen: dict[str, int] = {}

    def spy(name: str) -> Callable[..., Any]:
        method = getattr(db, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen[name] = threading.get_ident()
            return method(*args, **kwargs)

        return wrapper

    for name, _, _ in TWINS:
        monkeypatch.setattr(db, name, spy(name))
    results = {}
    for name, args, kwargs in TWINS:
        results[name] = await getattr(db, "a" + name)(*args, **kwargs)
    assert set(seen) == {name for name, _, _ in TWINS}
    assert loop_thread not in seen.values()
    assert results["get"] == refresh_record("old")
    assert results["rotate"].outcome == "rotated"
    assert results["is_revoked"] is True
    assert results["family_revoked"] is True
    assert results["subject_cutoff"] == NOW


async def test_async_wait_on_a_lock_does_not_block_the_loop(
    path: Path, clock: FrozenClock, blocker: Callable[[], None]
) -> None:
    store = SQLiteStore(path, clock=clock, timeout=TIMEOUT)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    try:
        await store.aput(refresh_record("old"))
        blocker()
        task = asyncio.create_task(ticker())
        with pytest.raises(StoreUnavailableError):
            await store.arevoke_jti("jti-1", until=NOW + 100)
        task.cancel()
        assert ticks >= 3  # the loop kept running while the worker thread waited
        assert await store.aget("old") == refresh_record("old")
    finally:
        await store.aclose()
