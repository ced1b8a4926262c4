"""Token stores: where refresh tokens, opaque tokens and revocations live.

`MemoryStore` for tests and one process, `SQLiteStore` (the embedded default) for several
processes on one machine, `RedisStore` for many processes and machines.
"""

from __future__ import annotations

from .base import (
    RecordKind,
    Rotation,
    RotationOutcome,
    TokenRecord,
    TokenStore,
    decide_rotation,
    hash_token,
    principal_is_revoked,
)
from .memory import MemoryStore
from .resolver import StoreResolver

__all__ = [
    "MemoryStore",
    "RecordKind",
    "Rotation",
    "RotationOutcome",
    "StoreResolver",
    "TokenRecord",
    "TokenStore",
    "decide_rotation",
    "hash_token",
    "principal_is_revoked",
]
