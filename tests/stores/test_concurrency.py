"""Concurrent use of one refresh token, and of one store, on every backend.

A browser that fires many requests at once presents one refresh token many times. Exactly
one rotation may mint a successor; every caller within the grace window gets that same
pair; once the window has passed, presenting the old token again is a reuse.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import AUDIENCE, ISSUER, NOW, FrozenClock, signing_key
from tokenguard import RevokedTokenError
from tokenguard.issuer import TokenIssuer, TokenPair
from tokenguard.principal import Principal
from tokenguard.stores import MemoryStore, Rotation, TokenRecord, TokenStore, hash_token

CALLERS = 50
GRACE = 5


class CountingStore:
    """Delegates to a store and records each rotation's new record and outcome."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        self.rotations: list[tuple[str, str]] = []  # (new token hash, outcome)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def rotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        rotation = self.store.rotate(old_hash, new, successor, now=now, grace=grace)
        self.rotations.append((new.token_hash, rotation.outcome))  # list.append is atomic
        return rotation

    async def arotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        rotation = await self.store.arotate(old_hash, new, successor, now=now, grace=grace)
        self.rotations.append((new.token_hash, rotation.outcome))
        return rotation

    def outcomes(self) -> list[str]:
        return sorted(outcome for _, outcome in self.rotations)

    def minted_and_stored(self) -> list[str]:
        """The new records offered to the store that it actually kept."""
        return [h for h, _ in self.rotations if self.store.get(h) is not None]


@pytest.fixture
def counting(store: TokenStore) -> CountingStore:
    return CountingStore(store)


@pytest.fixture
def issuer(counting: CountingStore, clock: FrozenClock) -> TokenIssuer:
    return TokenIssuer(
        signing_key("EdDSA"),
        store=counting,  # type: ignore[arg-type]
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
        refresh_grace=GRACE,
    )


def check_one_successor(
    issuer: TokenIssuer, counting: CountingStore, login: TokenPair, results: list[Any]
) -> TokenPair:
    errors = [r for r in results if not isinstance(r, TokenPair)]
    assert errors == []
    assert len(results) == CALLERS
    assert len(set(results)) == 1, "every caller must get the identical pair"
    pair: TokenPair = results[0]
    assert pair.refresh_token != login.refresh_token
    assert counting.outcomes() == ["grace"] * (CALLERS - 1) + ["rotated"]
    assert counting.minted_and_stored() == [hash_token(pair.refresh_token)]
    assert issuer.validator().validate(pair.access_token).subject == "alice"
    return pair


def check_reuse_after_grace(
    issuer: TokenIssuer, clock: FrozenClock, login: TokenPair, pair: TokenPair
) -> None:
    clock.advance(GRACE + 0.001)
    with pytest.raises(RevokedTokenError) as info:
        issuer.refresh(login.refresh_token)
    assert type(info.value) is RevokedTokenError
    # The pair every caller got belongs to the revoked family now.
    with pytest.raises(RevokedTokenError) as info:
        issuer.refresh(pair.refresh_token)
    assert type(info.value) is RevokedTokenError


def test_threads_refreshing_one_token_get_one_successor(
    issuer: TokenIssuer, counting: CountingStore, clock: FrozenClock
) -> None:
    login = issuer.issue_pair("alice")
    barrier = threading.Barrier(CALLERS)
    results: list[Any] = [None] * CALLERS

    def call(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = issuer.refresh(login.refresh_token)
        except Exception as exc:  # reported by check_one_successor
            results[index] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    pair = check_one_successor(issuer, counting, login, results)
    check_reuse_after_grace(issuer, clock, login, pair)


async def test_tasks_refreshing_one_token_get_one_successor(
    issuer: TokenIssuer, counting: CountingStore, clock: FrozenClock
) -> None:
    login = await issuer.aissue_pair("alice")
    start = asyncio.Event()

    async def call() -> TokenPair:
        await start.wait()
        return await issuer.arefresh(login.refresh_token)

    tasks = [asyncio.ensure_future(call()) for _ in range(CALLERS)]
    await asyncio.sleep(0)  # every task is now waiting at the start line
    start.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)

    pair = check_one_successor(issuer, counting, login, list(results))
    check_reuse_after_grace(issuer, clock, login, pair)


# -- the store itself under concurrent use ------------------------------------------------


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that races show up quickly."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_reads_and_writes_while_entries_expire(
    store: TokenStore, clock: FrozenClock
) -> None:
    """Lookups racing with writes and expiry answer the record or None, never an error."""
    written: dict[str, TokenRecord] = {}  # by token hash
    recent: list[str] = []  # token hashes, newest last
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                for token_hash in recent[-8:]:
                    got = store.get(token_hash)
                    assert got is None or got == written[token_hash]
                    store.family_revoked(token_hash)
                    store.is_revoked(Principal("alice", {"jti": token_hash, "iat": NOW}))
        except BaseException as exc:  # any error at all is the failure
            errors.append(exc)

    def writer(name: str) -> None:
        try:
            deadline = time.monotonic() + 0.4
            for i in itertools.count():
                if time.monotonic() > deadline or errors:
                    return
                # Short lives: entries keep expiring while the readers read them.
                record = TokenRecord(
                    token_hash=hash_token(f"{name}-{i}"),
                    kind="access",
                    subject="alice",
                    issued_at=clock.now,
                    expires_at=clock.now + 0.02,
                )
                written[record.token_hash] = record
                store.put(record)
                store.revoke_family(record.token_hash, until=record.expires_at)
                store.revoke_jti(record.token_hash, until=record.expires_at)
                recent.append(record.token_hash)
                if name == "w0":  # one thread moves the clock, so it never goes back
                    clock.advance(0.005)
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    writers = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(2)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=60)
    done.set()
    for thread in readers:
        thread.join(timeout=60)

    assert errors == []
    assert recent
    clock.advance(1)
    assert all(store.get(token_hash) is None for token_hash in recent)
    assert not any(store.family_revoked(token_hash) for token_hash in recent)


@pytest.mark.usefixtures("busy_switching")
def test_memory_store_under_eviction_pressure(clock: FrozenClock) -> None:
    """A full MemoryStore evicts on every put; lookups racing with that stay well-behaved."""
    store = MemoryStore(maxsize=60, clock=clock)
    records = {
        record.token_hash: record
        for record in (
            TokenRecord(
                token_hash=hash_token(f"token-{i}"),
                kind="access",
                subject="alice",
                issued_at=NOW,
                expires_at=NOW + 900,
            )
            for i in range(50)
        )
    }
    for record in records.values():
        store.put(record)
    errors: list[BaseException] = []
    deadline = time.monotonic() + 0.4

    def reader() -> None:
        try:
            while time.monotonic() < deadline and not errors:
                for token_hash, record in records.items():
                    got = store.get(token_hash)  # evicted or not, never an error
                    assert got is None or got == record
        except BaseException as exc:  # any error at all is the failure
            errors.append(exc)

    def writer(name: str) -> None:
        try:
            for i in itertools.count():
                if time.monotonic() >= deadline or errors:
                    return
                store.put(
                    TokenRecord(
                        token_hash=hash_token(f"{name}-{i}"),
                        kind="access",
                        subject="bob",
                        issued_at=NOW,
                        expires_at=NOW + 900,
                    )
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    threads += [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(store._tokens) == 60
