"""MemoryStore: a bounded in-process TokenStore for tests and single-process apps."""

from __future__ import annotations

import threading
import time
from typing import Any

from cachetools import TLRUCache

from ..errors import StoreUnavailableError
from ..principal import Principal
from ..protocols import Clock
from .base import Rotation, TokenRecord, decide_rotation, principal_is_revoked, session_id

__all__ = ["MemoryStore"]


def _until(_key: Any, value: tuple[Any, float], _now: float) -> float:
    return value[1]


class MemoryStore:
    """A `TokenStore` in this process's memory: fast, bounded, gone on restart.

    Tokens and revocations expire with their own lifetimes. When the token table is full
    the least recently used token is dropped (its holder must log in again); when the
    revocation table is full, revoking fails closed with `StoreUnavailableError` rather
    than forgetting a revocation.

    Args:
        maxsize: entries per table (tokens, revocations).
        clock: the time source for expiry.
    """

    def __init__(self, *, maxsize: int = 100_000, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._tokens: TLRUCache[str, tuple[TokenRecord, float]] = TLRUCache(
            maxsize, _until, timer=clock
        )
        # key: ("jti", jti) | ("fam", family_id) | ("sub", subject) -> (value, until)
        self._revoked: TLRUCache[tuple[str, str], tuple[float, float]] = TLRUCache(
            maxsize, _until, timer=clock
        )

    # -- helpers ----------------------------------------------------------------------

    def _revocation(self, kind: str, name: str) -> float | None:
        # cachetools caches are not thread-safe: even a read reorders and expires entries.
        with self._lock:
            entry = self._revoked.get((kind, name))
        return entry[0] if entry is not None else None

    def _add_revocation(self, kind: str, name: str, value: float, until: float) -> None:
        with self._lock:
            self._revoked.expire()
            key = (kind, name)
            if key not in self._revoked and self._revoked.currsize >= self._revoked.maxsize:
                raise StoreUnavailableError("The in-memory revocation table is full.")
            old = self._revoked.get(key)
            if old is not None:
                if kind == "sub":
                    value = max(value, old[0])  # a cut-off only ever moves forward
                until = max(until, old[1])  # and a revocation is never forgotten early
            self._revoked[key] = (value, until)

    # -- TokenStore --------------------------------------------------------------------

    def put(self, record: TokenRecord) -> None:
        """Store a new opaque token record."""
        with self._lock:
            self._tokens[record.token_hash] = (record, record.expires_at)

    def get(self, token_hash: str) -> TokenRecord | None:
        """The record, or None when unknown or expired."""
        with self._lock:
            entry = self._tokens.get(token_hash)
        return entry[0] if entry is not None else None

    def rotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        """Atomically retire ``old_hash`` and store ``new``."""
        with self._lock:
            record = self.get(old_hash)
            fid = record.family_id if record is not None else None
            outcome = decide_rotation(
                record,
                now=now,
                grace=grace,
                family_revoked=fid is not None and self.family_revoked(fid),
                subject_cutoff=self.subject_cutoff(record.subject) if record else None,
            )
            if record is None:
                return Rotation(outcome)
            if outcome == "rotated":
                self._tokens[old_hash] = (record.retire(now, successor), record.expires_at)
                self._tokens[new.token_hash] = (new, new.expires_at)
            elif outcome == "reused" and record.family_id is not None:
                until = record.family_expires_at or record.expires_at
                self.revoke_family(record.family_id, until=until)
            return Rotation(
                outcome, successor=record.successor if outcome == "grace" else None, record=record
            )

    def revoke_family(self, family_id: str, *, until: float) -> None:
        """Revoke every refresh token of a family."""
        self._add_revocation("fam", family_id, self._clock(), until)

    def revoke_token(self, token_hash: str) -> None:
        """Delete one opaque token."""
        with self._lock:
            self._tokens.pop(token_hash, None)

    def revoke_jti(self, jti: str, *, until: float) -> None:
        """Deny an access token by jti until its exp."""
        self._add_revocation("jti", jti, self._clock(), until)

    def revoke_subject(self, subject: str, *, at: float, until: float) -> None:
        """Refuse everything the subject was issued before ``at``."""
        self._add_revocation("sub", subject, at, until)

    def is_revoked(self, principal: Principal) -> bool:
        """The jti denylist and the subject cut-off."""
        jti, sid = principal.token_id, session_id(principal)
        return principal_is_revoked(
            principal,
            jti_revoked=jti is not None and self._revocation("jti", jti) is not None,
            subject_cutoff=self._revocation("sub", principal.subject),
            family_revoked=sid is not None and self._revocation("fam", sid) is not None,
        )

    def family_revoked(self, family_id: str) -> bool:
        """True when the family was revoked."""
        return self._revocation("fam", family_id) is not None

    def subject_cutoff(self, subject: str) -> float | None:
        """The subject's cut-off time, if any."""
        return self._revocation("sub", subject)

    def purge(self, *, now: float) -> int:
        """Drop expired entries; returns how many."""
        with self._lock:
            before = self._tokens.currsize + self._revoked.currsize
            self._tokens.expire(now)
            self._revoked.expire(now)
            return int(before - self._tokens.currsize - self._revoked.currsize)

    def close(self) -> None:
        """Nothing to release."""

    # -- async twins: no I/O, so they run inline --------------------------------------

    async def aput(self, record: TokenRecord) -> None:
        self.put(record)

    async def aget(self, token_hash: str) -> TokenRecord | None:
        return self.get(token_hash)

    async def arotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        return self.rotate(old_hash, new, successor, now=now, grace=grace)

    async def arevoke_family(self, family_id: str, *, until: float) -> None:
        self.revoke_family(family_id, until=until)

    async def arevoke_token(self, token_hash: str) -> None:
        self.revoke_token(token_hash)

    async def arevoke_jti(self, jti: str, *, until: float) -> None:
        self.revoke_jti(jti, until=until)

    async def arevoke_subject(self, subject: str, *, at: float, until: float) -> None:
        self.revoke_subject(subject, at=at, until=until)

    async def ais_revoked(self, principal: Principal) -> bool:
        return self.is_revoked(principal)

    async def afamily_revoked(self, family_id: str) -> bool:
        return self.family_revoked(family_id)

    async def asubject_cutoff(self, subject: str) -> float | None:
        return self.subject_cutoff(subject)

    async def apurge(self, *, now: float) -> int:
        return self.purge(now=now)

    async def aclose(self) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._lock:  # currsize expires entries: a write
            tokens, revocations = self._tokens.currsize, self._revoked.currsize
        return f"MemoryStore(tokens={tokens}, revocations={revocations})"
