"""The TokenStore conformance suite: every backend keeps the same rules.

Every test runs once per backend (the `store` fixture) and once per I/O style: ``sync``
calls the plain methods, ``async`` their ``a``-prefixed twins. Only the `TokenStore`
protocol is used, so a backend passes by behaving, not by how it is built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.conftest import NOW, FrozenClock
from tokenguard.principal import Principal
from tokenguard.stores import (
    Rotation,
    RotationOutcome,
    TokenRecord,
    TokenStore,
    decide_rotation,
    hash_token,
)

FAMILY = "fam-1"
SUBJECT = "alice"
GRACE = 5.0
LATER = NOW + 86_400  # a retention horizon far beyond every test's clock


class Twin:
    """One store, reached through its sync methods or their async twins, always awaited."""

    def __init__(self, store: TokenStore, mode: str) -> None:
        self.store = store
        self.mode = mode

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if self.mode == "async":
            method: Callable[..., Awaitable[Any]] = getattr(self.store, "a" + name)
            return method
        sync_method = getattr(self.store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return sync_method(*args, **kwargs)

        return call


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest, store: TokenStore) -> Twin:
    return Twin(store, request.param)


def refresh_record(
    token: str,
    *,
    subject: str = SUBJECT,
    issued_at: float = NOW - 100,
    expires_at: float = NOW + 100,
    family_id: str = FAMILY,
    family_expires_at: float = NOW + 5_000,
    **fields: Any,
) -> TokenRecord:
    return TokenRecord(
        token_hash=hash_token(token),
        kind="refresh",
        subject=subject,
        issued_at=issued_at,
        expires_at=expires_at,
        family_id=family_id,
        family_expires_at=family_expires_at,
        **fields,
    )


def access_record(token: str, *, expires_at: float = NOW + 100, **fields: Any) -> TokenRecord:
    return TokenRecord(
        token_hash=hash_token(token),
        kind="access",
        subject=SUBJECT,
        issued_at=NOW - 100,
        expires_at=expires_at,
        **fields,
    )


def principal(subject: str = SUBJECT, **claims: Any) -> Principal:
    return Principal(subject, {"sub": subject, **claims})


# -- put / get ---------------------------------------------------------------------------


def test_every_backend_is_a_token_store(store: TokenStore) -> None:
    assert isinstance(store, TokenStore)


async def test_round_trip_keeps_every_field_of_a_refresh_record(twin: Twin) -> None:
    record = refresh_record(
        "rt-full",
        subject="user:42 ünïcode",
        scopes=("cart:write", "cart:read", "profile"),  # order is kept, not sorted
        claims={
            "auth_time": NOW - 3_600.5,
            "tenant": {"id": 7, "name": "acme", "tags": ["a", "b"], "parent": None},
            "flags": [True, False, 0, 1.25, "x"],
            "empty": {},
        },
        issued_at=NOW - 12.345678,
        expires_at=NOW + 1_234.5,
        family_id="fam-round-trip",
        family_expires_at=NOW + 9_999.75,
    )
    await twin.put(record)
    got = await twin.get(record.token_hash)
    assert got == record
    assert type(got.scopes) is tuple
    assert got.claims["tenant"]["tags"] == ["a", "b"]
    assert got.retired_at is None
    assert got.successor is None


async def test_round_trip_of_an_opaque_access_record(twin: Twin) -> None:
    record = access_record("at-full", scopes=("read",), claims={"client_id_hint": "web"})
    await twin.put(record)
    got = await twin.get(record.token_hash)
    assert got == record
    assert got.family_id is None
    assert got.family_expires_at is None


async def test_get_of_an_unknown_hash_is_none(twin: Twin) -> None:
    await twin.put(refresh_record("known"))
    assert await twin.get(hash_token("unknown")) is None


async def test_get_of_an_expired_record_is_none(twin: Twin, clock: FrozenClock) -> None:
    record = refresh_record("short-lived", expires_at=NOW + 10)
    await twin.put(record)
    clock.advance(9.5)
    assert await twin.get(record.token_hash) == record
    clock.advance(0.5)  # exactly at expires_at: expired, as `decide_rotation` sees it
    assert await twin.get(record.token_hash) is None
    clock.advance(100)
    assert await twin.get(record.token_hash) is None


# -- rotate, outcome by outcome ----------------------------------------------------------


async def assert_absent(twin: Twin, record: TokenRecord) -> None:
    assert await twin.get(record.token_hash) is None


async def test_rotate_unknown(twin: Twin) -> None:
    new = refresh_record("new")
    rotation = await twin.rotate(hash_token("nobody"), new, b"succ", now=NOW, grace=GRACE)
    assert rotation == Rotation("unknown")
    await assert_absent(twin, new)


async def test_rotate_rotated_retires_old_and_stores_new(twin: Twin) -> None:
    old = refresh_record("old", claims={"auth_time": NOW - 100})
    new = refresh_record("new", issued_at=NOW, expires_at=NOW + 200)
    await twin.put(old)
    rotation = await twin.rotate(old.token_hash, new, b"\x00sealed\xffpair", now=NOW, grace=GRACE)
    assert rotation.outcome == "rotated"
    assert rotation.successor is None
    assert rotation.record == old
    assert await twin.get(old.token_hash) == replace(
        old, retired_at=NOW, successor=b"\x00sealed\xffpair"
    )
    assert await twin.get(new.token_hash) == new
    assert not await twin.family_revoked(FAMILY)


async def test_rotate_grace_returns_the_same_successor(twin: Twin, clock: FrozenClock) -> None:
    old, new, other = refresh_record("old"), refresh_record("new"), refresh_record("other")
    await twin.put(old)
    first = await twin.rotate(old.token_hash, new, b"first-successor", now=NOW, grace=GRACE)
    assert first.outcome == "rotated"
    clock.advance(GRACE)
    again = await twin.rotate(old.token_hash, other, b"second", now=NOW + GRACE, grace=GRACE)
    assert again.outcome == "grace"
    assert again.successor == b"first-successor"
    assert again.record is not None
    assert again.record.retired_at == NOW
    await assert_absent(twin, other)
    # The retirement is not redone: the old record keeps the first successor.
    assert await twin.get(old.token_hash) == old.retire(NOW, b"first-successor")
    assert await twin.get(new.token_hash) == new
    assert not await twin.family_revoked(FAMILY)


async def test_rotate_reused_after_grace_revokes_the_family(twin: Twin, clock: FrozenClock) -> None:
    old, new, other = refresh_record("old"), refresh_record("new"), refresh_record("other")
    await twin.put(old)
    assert (await twin.rotate(old.token_hash, new, b"s1", now=NOW, grace=GRACE)).outcome == (
        "rotated"
    )
    clock.advance(GRACE + 0.001)
    reused = await twin.rotate(old.token_hash, other, b"s2", now=clock.now, grace=GRACE)
    assert reused.outcome == "reused"
    assert reused.successor is None
    await assert_absent(twin, other)
    assert await twin.family_revoked(FAMILY)
    # The newest member of the family is dead too.
    newest = await twin.rotate(new.token_hash, other, b"s3", now=clock.now, grace=GRACE)
    assert newest.outcome == "revoked"
    await assert_absent(twin, other)


async def test_rotate_expired(twin: Twin) -> None:
    # The store's clock still sees the record; the rotation's `now` is at its expiry
    # (time passed between the lookup and the rotation).
    old, new = refresh_record("old", expires_at=NOW + 10), refresh_record("new")
    await twin.put(old)
    rotation = await twin.rotate(old.token_hash, new, b"succ", now=NOW + 10, grace=GRACE)
    assert rotation.outcome == "expired"
    assert rotation.successor is None
    await assert_absent(twin, new)
    assert (await twin.get(old.token_hash)).retired_at is None


async def test_rotate_revoked_family(twin: Twin) -> None:
    old, new = refresh_record("old"), refresh_record("new")
    await twin.put(old)
    await twin.revoke_family(FAMILY, until=LATER)
    rotation = await twin.rotate(old.token_hash, new, b"succ", now=NOW, grace=GRACE)
    assert rotation.outcome == "revoked"
    assert rotation.successor is None
    await assert_absent(twin, new)
    assert (await twin.get(old.token_hash)).retired_at is None


async def test_rotate_revoked_by_subject_cutoff(twin: Twin) -> None:
    old, new = refresh_record("old", issued_at=NOW - 100), refresh_record("new")
    await twin.put(old)
    await twin.revoke_subject(SUBJECT, at=NOW - 99.5, until=LATER)
    rotation = await twin.rotate(old.token_hash, new, b"succ", now=NOW, grace=GRACE)
    assert rotation.outcome == "revoked"
    await assert_absent(twin, new)
    assert not await twin.family_revoked(FAMILY)


async def test_rotate_is_not_revoked_by_another_subjects_cutoff(twin: Twin) -> None:
    old, new = refresh_record("old"), refresh_record("new")
    await twin.put(old)
    await twin.revoke_subject("bob", at=NOW, until=LATER)
    rotation = await twin.rotate(old.token_hash, new, b"succ", now=NOW, grace=GRACE)
    assert rotation.outcome == "rotated"


async def test_grace_zero_disables_the_grace_outcome(twin: Twin) -> None:
    old, new, other = refresh_record("old"), refresh_record("new"), refresh_record("other")
    await twin.put(old)
    assert (await twin.rotate(old.token_hash, new, b"s1", now=NOW, grace=0)).outcome == "rotated"
    # Even at the very same instant, a second presentation is a reuse.
    again = await twin.rotate(old.token_hash, other, b"s2", now=NOW, grace=0)
    assert again.outcome == "reused"
    assert again.successor is None
    await assert_absent(twin, other)
    assert await twin.family_revoked(FAMILY)


async def test_rotate_of_an_access_record_is_unknown(twin: Twin) -> None:
    old, new = access_record("opaque-access"), refresh_record("new")
    await twin.put(old)
    rotation = await twin.rotate(old.token_hash, new, b"succ", now=NOW, grace=GRACE)
    assert rotation.outcome == "unknown"
    assert rotation.successor is None
    await assert_absent(twin, new)
    assert await twin.get(old.token_hash) == old


# -- revocation -------------------------------------------------------------------------


async def test_revoke_token_deletes_one_record(twin: Twin) -> None:
    gone, kept, new = access_record("gone"), access_record("kept"), refresh_record("new")
    await twin.put(gone)
    await twin.put(kept)
    await twin.revoke_token(gone.token_hash)
    assert await twin.get(gone.token_hash) is None
    assert await twin.get(kept.token_hash) == kept
    await twin.revoke_token(hash_token("never-stored"))  # unknown: no error

    refresh = refresh_record("refresh")
    await twin.put(refresh)
    await twin.revoke_token(refresh.token_hash)
    rotation = await twin.rotate(refresh.token_hash, new, b"succ", now=NOW, grace=GRACE)
    assert rotation.outcome == "unknown"


async def test_revoke_jti_until_its_expiry(twin: Twin, clock: FrozenClock) -> None:
    target = principal(jti="jti-1", iat=NOW - 10)
    assert not await twin.is_revoked(target)
    await twin.revoke_jti("jti-1", until=NOW + 60)
    assert await twin.is_revoked(target)
    assert await twin.is_revoked(principal("bob", jti="jti-1"))  # the jti alone decides
    assert not await twin.is_revoked(principal(jti="jti-2", iat=NOW - 10))
    assert not await twin.is_revoked(principal(iat=NOW - 10))  # no jti at all
    clock.advance(59.5)
    assert await twin.is_revoked(target)
    clock.advance(0.5)  # the entry lives until `until`, like the token it denies
    assert not await twin.is_revoked(target)


async def test_revoked_family_revokes_access_tokens_by_sid(twin: Twin, clock: FrozenClock) -> None:
    target = principal(jti="jti-1", sid="fam-1", iat=NOW - 10)
    assert not await twin.is_revoked(target)
    await twin.revoke_family("fam-1", until=NOW + 60)
    assert await twin.is_revoked(target)
    assert await twin.is_revoked(principal("bob", sid="fam-1"))  # the sid alone decides
    assert not await twin.is_revoked(principal(jti="jti-1", sid="fam-2", iat=NOW - 10))
    assert not await twin.is_revoked(principal(jti="jti-1", iat=NOW - 10))  # no sid
    assert not await twin.is_revoked(principal(sid=7, iat=NOW - 10))  # not a family id
    clock.advance(60)
    assert not await twin.is_revoked(target)


@pytest.mark.parametrize(
    ("claims", "revoked"),
    [
        pytest.param({"iat": NOW - 1}, True, id="iat-before"),
        pytest.param({"iat": NOW - 0.001}, True, id="iat-a-millisecond-before"),
        pytest.param({"iat": NOW}, False, id="iat-at-cutoff"),
        pytest.param({"iat": NOW + 0.001}, False, id="iat-after"),
        pytest.param({}, True, id="no-iat"),
        pytest.param({"iat": None}, True, id="null-iat"),
        pytest.param({"iat": str(NOW + 10)}, True, id="string-iat"),
        pytest.param({"iat": True}, True, id="boolean-iat"),
    ],
)
async def test_revoke_subject_cutoff_against_iat(
    twin: Twin, claims: dict[str, Any], revoked: bool
) -> None:
    await twin.revoke_subject(SUBJECT, at=NOW, until=LATER)
    assert await twin.is_revoked(principal(**claims)) is revoked
    # Another subject is never touched, whatever its iat.
    assert not await twin.is_revoked(principal("bob", **claims))


async def test_subject_cutoff_expires_at_until(twin: Twin, clock: FrozenClock) -> None:
    await twin.revoke_subject(SUBJECT, at=NOW, until=NOW + 30)
    old = principal(iat=NOW - 1)
    assert await twin.is_revoked(old)
    clock.advance(30)
    assert not await twin.is_revoked(old)
    assert await twin.subject_cutoff(SUBJECT) is None


async def test_subject_cutoff_only_moves_forward(twin: Twin) -> None:
    await twin.revoke_subject(SUBJECT, at=NOW, until=LATER)
    await twin.revoke_subject(SUBJECT, at=NOW - 500, until=LATER)
    assert await twin.subject_cutoff(SUBJECT) == NOW
    assert await twin.is_revoked(principal(iat=NOW - 1))
    await twin.revoke_subject(SUBJECT, at=NOW + 50, until=LATER)
    assert await twin.subject_cutoff(SUBJECT) == NOW + 50
    assert await twin.is_revoked(principal(iat=NOW + 49))
    assert not await twin.is_revoked(principal(iat=NOW + 50))


@pytest.mark.parametrize("kind", ["subject", "jti", "family"])
async def test_a_revocation_is_never_forgotten_early(
    twin: Twin, clock: FrozenClock, kind: str
) -> None:
    """A second revocation with a shorter retention does not shorten the first one."""

    async def revoke(until: float) -> None:
        if kind == "subject":
            await twin.revoke_subject(SUBJECT, at=NOW, until=until)
        elif kind == "jti":
            await twin.revoke_jti("jti-1", until=until)
        else:
            await twin.revoke_family(FAMILY, until=until)

    async def still_revoked() -> bool:
        if kind == "family":
            return bool(await twin.family_revoked(FAMILY))
        return bool(await twin.is_revoked(principal(jti="jti-1", iat=NOW - 1)))

    await revoke(NOW + 1_000)
    await revoke(NOW + 10)
    clock.advance(500)
    assert await still_revoked()
    clock.advance(500)
    assert not await still_revoked()


async def test_getters(twin: Twin) -> None:
    assert await twin.subject_cutoff(SUBJECT) is None
    assert not await twin.family_revoked(FAMILY)
    await twin.revoke_subject(SUBJECT, at=NOW - 12.25, until=LATER)
    await twin.revoke_family(FAMILY, until=LATER)
    assert await twin.subject_cutoff(SUBJECT) == NOW - 12.25
    assert await twin.subject_cutoff("bob") is None
    assert await twin.family_revoked(FAMILY) is True
    assert await twin.family_revoked("fam-2") is False


async def test_revoked_family_is_forgotten_after_until(twin: Twin, clock: FrozenClock) -> None:
    await twin.revoke_family(FAMILY, until=NOW + 20)
    clock.advance(19)
    assert await twin.family_revoked(FAMILY)
    clock.advance(1)
    assert not await twin.family_revoked(FAMILY)


# -- purge (sync only: the protocol has no async twin) -----------------------------------


def test_purge_on_an_empty_store(store: TokenStore) -> None:
    purged = store.purge(now=NOW)
    assert type(purged) is int
    assert purged == 0


async def test_apurge_matches_purge(store: TokenStore, clock: FrozenClock) -> None:
    live = refresh_record("live", expires_at=NOW + 1_000)
    short = access_record("short", expires_at=NOW + 10)
    await store.aput(live)
    await store.aput(short)
    clock.advance(20)
    purged = await store.apurge(now=clock.now)
    assert type(purged) is int
    assert purged >= 0
    assert await store.aget(live.token_hash) == live
    assert await store.aget(short.token_hash) is None


def test_purge_never_drops_live_entries(store: TokenStore, clock: FrozenClock) -> None:
    live = refresh_record("live", expires_at=NOW + 1_000)
    short = access_record("short", expires_at=NOW + 10)
    retired, successor = refresh_record("retired"), refresh_record("successor")
    for record in (live, short, retired):
        store.put(record)
    assert store.rotate(retired.token_hash, successor, b"s", now=NOW, grace=GRACE).outcome == (
        "rotated"
    )
    store.revoke_jti("short-jti", until=NOW + 10)
    store.revoke_jti("long-jti", until=NOW + 1_000)
    store.revoke_family("fam-short", until=NOW + 10)
    store.revoke_family("fam-long", until=NOW + 1_000)
    store.revoke_subject("bob", at=NOW, until=NOW + 10)
    store.revoke_subject(SUBJECT, at=NOW, until=NOW + 1_000)
    clock.advance(20)

    purged = store.purge(now=clock.now)

    assert type(purged) is int
    assert purged >= 0
    assert store.get(live.token_hash) == live
    assert store.get(successor.token_hash) == successor
    assert store.get(short.token_hash) is None
    assert store.is_revoked(principal(jti="long-jti", iat=NOW + 5))
    assert not store.is_revoked(principal(jti="short-jti", iat=NOW + 5))
    assert store.family_revoked("fam-long")
    assert not store.family_revoked("fam-short")
    assert store.subject_cutoff(SUBJECT) == NOW
    assert store.subject_cutoff("bob") is None
    assert store.purge(now=clock.now) == 0


def test_purge_keeps_a_retired_record_for_the_grace_window(
    store: TokenStore, clock: FrozenClock
) -> None:
    old, new, other = refresh_record("old"), refresh_record("new"), refresh_record("other")
    store.put(old)
    store.rotate(old.token_hash, new, b"succ", now=NOW, grace=GRACE)
    clock.advance(1)
    store.purge(now=clock.now)
    again = store.rotate(old.token_hash, other, b"s2", now=clock.now, grace=GRACE)
    assert again.outcome == "grace"
    assert again.successor == b"succ"


# -- parity: the store's rotate and `decide_rotation` never disagree ----------------------


@dataclass(frozen=True)
class Case:
    expected: RotationOutcome
    kind: str = "refresh"  # the stored record's kind, or "missing"
    now: float = NOW
    grace: float = GRACE
    retired_at: float | None = None  # rotate the record once at this time first
    family_revoked: bool = False
    cutoff: float | None = None  # the subject's cut-off (the record was issued at NOW - 100)


CASES = [
    pytest.param(Case("unknown", kind="missing"), id="missing"),
    pytest.param(Case("unknown", kind="access"), id="access-record"),
    pytest.param(Case("unknown", kind="access", family_revoked=True), id="access-revoked"),
    pytest.param(Case("rotated"), id="live"),
    pytest.param(Case("rotated", now=NOW + 99.999), id="live-just-before-expiry"),
    pytest.param(Case("expired", now=NOW + 100), id="now-at-expiry"),
    pytest.param(Case("expired", now=NOW + 5_000), id="now-long-past-expiry"),
    pytest.param(Case("revoked", family_revoked=True), id="family-revoked"),
    pytest.param(Case("revoked", family_revoked=True, now=NOW + 100), id="revoked-and-expired"),
    pytest.param(Case("revoked", cutoff=NOW - 99.999), id="cutoff-after-issue"),
    pytest.param(Case("rotated", cutoff=NOW - 100), id="cutoff-at-issue"),
    pytest.param(Case("rotated", cutoff=NOW - 200), id="cutoff-before-issue"),
    pytest.param(Case("grace", retired_at=NOW), id="retired-same-instant"),
    pytest.param(Case("grace", retired_at=NOW - GRACE), id="retired-grace-boundary"),
    pytest.param(Case("reused", retired_at=NOW - GRACE - 0.001), id="retired-after-grace"),
    pytest.param(Case("reused", retired_at=NOW, grace=0), id="grace-zero-same-instant"),
    pytest.param(Case("reused", retired_at=NOW - 1, grace=0), id="grace-zero-later"),
    pytest.param(Case("grace", retired_at=NOW - 60, grace=60), id="long-grace"),
    pytest.param(Case("revoked", retired_at=NOW, family_revoked=True), id="retired-family-revoked"),
    pytest.param(Case("revoked", retired_at=NOW, cutoff=NOW - 50), id="retired-cutoff"),
    pytest.param(
        Case("revoked", retired_at=NOW - 30, family_revoked=True), id="reused-family-revoked"
    ),
]


@pytest.mark.parametrize("case", CASES)
async def test_rotate_agrees_with_decide_rotation(twin: Twin, case: Case) -> None:
    old = access_record("old") if case.kind == "access" else refresh_record("old")
    if case.kind != "missing":
        await twin.put(old)
    if case.retired_at is not None:
        first = await twin.rotate(
            old.token_hash, refresh_record("first"), b"first", now=case.retired_at, grace=0
        )
        assert first.outcome == "rotated"
    if case.family_revoked:
        await twin.revoke_family(FAMILY, until=LATER)
    if case.cutoff is not None:
        await twin.revoke_subject(SUBJECT, at=case.cutoff, until=LATER)

    expected = decide_rotation(
        await twin.get(old.token_hash),
        now=case.now,
        grace=case.grace,
        family_revoked=await twin.family_revoked(FAMILY),
        subject_cutoff=await twin.subject_cutoff(SUBJECT),
    )
    assert expected == case.expected  # the shared rules themselves

    new = refresh_record("next", issued_at=case.now)
    rotation = await twin.rotate(old.token_hash, new, b"next", now=case.now, grace=case.grace)
    assert rotation.outcome == expected
    stored_new = await twin.get(new.token_hash)
    assert stored_new == (new if expected == "rotated" else None)
    assert rotation.successor == (b"first" if expected == "grace" else None)
    if expected in ("reused", "revoked") and case.kind == "refresh":
        assert await twin.family_revoked(FAMILY) is (expected == "reused" or case.family_revoked)
