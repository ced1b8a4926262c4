"""The optional, bounded staleness of revocation answers (``revocation_ttl``)."""

from __future__ import annotations

import pytest

from tests.conftest import FrozenClock, signing_key
from tokenguard import (
    ConfigError,
    MemoryStore,
    Principal,
    RevokedTokenError,
    TokenIssuer,
    TokenValidator,
)


class CountingStore(MemoryStore):
    checks = 0

    def is_revoked(self, principal: Principal) -> bool:
        self.checks += 1
        return super().is_revoked(principal)


@pytest.fixture
def store(clock: FrozenClock) -> CountingStore:
    return CountingStore(clock=clock)


@pytest.fixture
def issuer(store: CountingStore, clock: FrozenClock) -> TokenIssuer:
    return TokenIssuer(
        signing_key("EdDSA"), store=store, issuer="https://i", audience="api", clock=clock
    )


def test_default_asks_the_store_on_every_validation(
    issuer: TokenIssuer, store: CountingStore
) -> None:
    validator = issuer.validator()
    token = issuer.issue_access("alice")
    validator.validate(token)
    validator.validate(token)
    assert store.checks == 2
    issuer.revoke_access(validator.validate(token))
    with pytest.raises(RevokedTokenError):
        validator.validate(token)


def test_a_not_revoked_answer_is_reused_for_at_most_the_ttl(
    issuer: TokenIssuer, store: CountingStore, clock: FrozenClock
) -> None:
    validator = issuer.validator(revocation_ttl=5)
    token = issuer.issue_access("alice")
    principal = validator.validate(token)
    validator.validate(token)
    assert store.checks == 1
    issuer.revoke_access(principal)
    validator.validate(token)  # within the documented staleness
    clock.advance(5)
    with pytest.raises(RevokedTokenError) as caught:
        validator.validate(token)
    assert type(caught.value) is RevokedTokenError
    assert caught.value.status == 401


def test_clear_cache_forgets_revocation_answers(issuer: TokenIssuer, store: CountingStore) -> None:
    validator = issuer.validator(revocation_ttl=60)
    token = issuer.issue_access("alice")
    principal = validator.validate(token)
    issuer.revoke_access(principal)
    validator.clear_cache()
    with pytest.raises(RevokedTokenError):
        validator.validate(token)


async def test_async_path_shares_the_answers(issuer: TokenIssuer, store: CountingStore) -> None:
    validator = issuer.validator(revocation_ttl=5)
    token = issuer.issue_access("alice")
    await validator.avalidate(token)
    validator.validate(token)
    await validator.avalidate(token)
    assert store.checks == 1


@pytest.mark.parametrize("ttl", [-1, 301, float("nan"), "5"])
def test_revocation_ttl_is_bounded(ttl: object) -> None:
    with pytest.raises(ConfigError):
        TokenValidator([signing_key("HS256")], revocation=MemoryStore(), revocation_ttl=ttl)  # type: ignore[arg-type]
