"""The `store` fixture: every conformance test runs against every backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FrozenClock
from tokenguard.stores import MemoryStore, TokenStore


def make_store(
    kind: str, request: pytest.FixtureRequest, clock: FrozenClock, tmp_path: Path
) -> TokenStore:
    if kind == "memory":
        return MemoryStore(clock=clock)
    if kind == "sqlite":
        from tokenguard.stores.sqlite import SQLiteStore

        return SQLiteStore(tmp_path / "tokens.db", clock=clock)
    if kind == "redis":
        from tokenguard.stores.redis import RedisStore

        server = request.getfixturevalue("redis_server")
        # A fresh key prefix per test keeps tests independent on one server.
        return RedisStore(server.url, prefix=f"t{uuid.uuid4().hex[:12]}:", clock=clock)
    raise AssertionError(kind)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(
    request: pytest.FixtureRequest, clock: FrozenClock, tmp_path: Path
) -> Iterator[TokenStore]:
    made = make_store(request.param, request, clock, tmp_path)
    yield made
    made.close()
