"""Token stores: where refresh tokens, opaque tokens and revocations live.

`MemoryStore` for tests and one process, `SQLiteStore` (the embedded default) for several
processes on one machine, `RedisStore` for many processes and machines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import (
    RecordKind,
    Rotation,
    RotationOutcome,
    TokenRecord,
    TokenStore,
    decide_rotation,
    hash_token,
    principal_is_revoked,
    session_id,
)
from .memory import MemoryStore
from .resolver import StoreResolver
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .redis import RedisStore

__all__ = [
    "MemoryStore",
    "RecordKind",
    "RedisStore",
    "Rotation",
    "RotationOutcome",
    "SQLiteStore",
    "StoreResolver",
    "TokenRecord",
    "TokenStore",
    "decide_rotation",
    "hash_token",
    "principal_is_revoked",
    "session_id",
]


def __getattr__(name: str) -> Any:
    # RedisStore needs the optional redis package: it is imported on first use only, so
    # this package imports without redis installed.
    if name == "RedisStore":
        from .redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
