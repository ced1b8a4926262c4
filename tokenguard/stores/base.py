"""The TokenStore protocol, its records, and the rules every backend shares.

A store keeps what must survive a restart or be shared between processes: opaque tokens
(refresh tokens and opaque access tokens, by SHA-256 hash only), refresh-token families,
and revocations (access-token jti denylist, per-subject cut-off times).

Every backend answers `rotate` atomically: two concurrent rotations of one refresh token
never both mint a successor. The decision itself is `decide_rotation`, written once and
used by the memory and SQLite backends; the Redis backend runs the same rules in Lua, and
one conformance suite holds all three to them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from ..principal import Principal

__all__ = [
    "RecordKind",
    "Rotation",
    "RotationOutcome",
    "TokenRecord",
    "TokenStore",
    "decide_rotation",
    "hash_token",
    "principal_is_revoked",
    "session_id",
]

RecordKind = Literal["refresh", "access"]
RotationOutcome = Literal["rotated", "grace", "reused", "unknown", "expired", "revoked"]


def session_id(principal: Principal) -> str | None:
    """The refresh family an access token was minted from (its ``sid`` claim), if any."""
    sid = principal.claims.get("sid")
    return sid if isinstance(sid, str) else None


def hash_token(token: str) -> str:
    """The at-rest form of an opaque token: hex SHA-256 (the token has 256 random bits,
    so a fast hash is enough; a slow one would only slow every request)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenRecord:
    """One opaque token at rest. The raw token is never part of it.

    Attributes:
        token_hash: `hash_token` of the raw token.
        kind: ``"refresh"`` or ``"access"`` (an opaque access token).
        subject, scopes, claims: what the token grants.
        issued_at, expires_at: POSIX times.
        family_id: the refresh-token family (refresh tokens only).
        family_expires_at: the family's absolute end; no rotation outlives it.
        retired_at: when the token was rotated (None while it is the current one).
        successor: the successor pair, encrypted under a key only the raw token yields.
    """

    token_hash: str
    kind: RecordKind
    subject: str
    scopes: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)
    issued_at: float
    expires_at: float
    family_id: str | None = None
    family_expires_at: float | None = None
    retired_at: float | None = None
    successor: bytes | None = None

    def to_json(self) -> str:
        """Serialise for a backend (the successor travels separately)."""
        return json.dumps(
            {
                "kind": self.kind,
                "sub": self.subject,
                "scopes": list(self.scopes),
                "claims": dict(self.claims),
                "iat": self.issued_at,
                "exp": self.expires_at,
                "fid": self.family_id,
                "fexp": self.family_expires_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(
        cls,
        token_hash: str,
        data: str | bytes,
        *,
        retired_at: float | None = None,
        successor: bytes | None = None,
    ) -> TokenRecord:
        """Rebuild a record stored with `to_json`."""
        obj = json.loads(data)
        return cls(
            token_hash=token_hash,
            kind=obj["kind"],
            subject=obj["sub"],
            scopes=tuple(obj["scopes"]),
            claims=obj["claims"],
            issued_at=obj["iat"],
            expires_at=obj["exp"],
            family_id=obj["fid"],
            family_expires_at=obj["fexp"],
            retired_at=retired_at,
            successor=successor,
        )

    def retire(self, now: float, successor: bytes | None) -> TokenRecord:
        """This record, rotated at ``now``."""
        return replace(self, retired_at=now, successor=successor)


@dataclass(frozen=True, slots=True)
class Rotation:
    """What `TokenStore.rotate` did.

    Attributes:
        outcome: ``rotated`` (the new record is stored), ``grace`` (the token was rotated
            moments ago; ``successor`` is that rotation's encrypted pair), ``reused`` (a
            retired token came back after the grace window: its family is now revoked),
            ``unknown``, ``expired`` or ``revoked``.
        successor: the encrypted successor for ``grace``.
        record: the old token's record, when it was found.
    """

    outcome: RotationOutcome
    successor: bytes | None = None
    record: TokenRecord | None = None


def decide_rotation(
    record: TokenRecord | None,
    *,
    now: float,
    grace: float,
    family_revoked: bool,
    subject_cutoff: float | None,
) -> RotationOutcome:
    """The rotation rules (RFC 9700 section 4.14.2), in the order every backend applies them.

    Returns ``rotated`` when the caller may retire ``record`` and store the successor.
    """
    if record is None or record.kind != "refresh":
        return "unknown"
    if family_revoked or (subject_cutoff is not None and record.issued_at < subject_cutoff):
        return "revoked"
    if record.retired_at is None:
        if now >= record.expires_at:
            return "expired"
        return "rotated"
    # grace=0 disables the window: even a replay at the very same instant is a reuse.
    if record.successor is not None and grace > 0 and now - record.retired_at <= grace:
        return "grace"
    # A retired token presented again after the grace window: someone holds a copy.
    return "reused"


def principal_is_revoked(
    principal: Principal,
    *,
    jti_revoked: bool,
    subject_cutoff: float | None,
    family_revoked: bool = False,
) -> bool:
    """The access-token revocation rule shared by every backend: the token's jti, its
    refresh family (the ``sid`` claim), or everything its subject held before a cut-off."""
    if jti_revoked or family_revoked:
        return True
    if subject_cutoff is None:
        return False
    iat = principal.claims.get("iat")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        # Without iat a token cannot prove it postdates the cut-off: refuse it.
        return True
    return iat < subject_cutoff


@runtime_checkable
class TokenStore(Protocol):
    """Where tokenguard keeps state; every method has an async twin prefixed with ``a``.

    Every method raises `StoreUnavailableError` (503) when the backend cannot answer
    within its timeout; none of them may hang.
    """

    def put(self, record: TokenRecord) -> None:
        """Store a new opaque token record."""
        ...

    def get(self, token_hash: str) -> TokenRecord | None:
        """The record of an opaque token, or None when unknown or past its expiry."""
        ...

    def rotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        """Atomically retire ``old_hash`` and store ``new`` (see `decide_rotation`).

        On ``reused`` the old token's family is revoked in the same atomic step.
        """
        ...

    def revoke_family(self, family_id: str, *, until: float) -> None:
        """Revoke every refresh token of a family; remember it until ``until``."""
        ...

    def revoke_token(self, token_hash: str) -> None:
        """Delete one opaque token."""
        ...

    def revoke_jti(self, jti: str, *, until: float) -> None:
        """Deny the access token with this jti until ``until`` (its exp)."""
        ...

    def revoke_subject(self, subject: str, *, at: float, until: float) -> None:
        """Refuse everything ``subject`` was issued before ``at``; remember until ``until``."""
        ...

    def is_revoked(self, principal: Principal) -> bool:
        """`RevocationChecker`: jti denylist, family (``sid``) and subject cut-off, one lookup."""
        ...

    def family_revoked(self, family_id: str) -> bool:
        """True when the family was revoked."""
        ...

    def subject_cutoff(self, subject: str) -> float | None:
        """The subject's cut-off time, if any."""
        ...

    def purge(self, *, now: float) -> int:
        """Delete expired rows; returns how many (0 where the backend expires by itself)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    async def aput(self, record: TokenRecord) -> None: ...

    async def aget(self, token_hash: str) -> TokenRecord | None: ...

    async def arotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation: ...

    async def arevoke_family(self, family_id: str, *, until: float) -> None: ...

    async def arevoke_token(self, token_hash: str) -> None: ...

    async def arevoke_jti(self, jti: str, *, until: float) -> None: ...

    async def arevoke_subject(self, subject: str, *, at: float, until: float) -> None: ...

    async def ais_revoked(self, principal: Principal) -> bool: ...

    async def afamily_revoked(self, family_id: str) -> bool: ...

    async def asubject_cutoff(self, subject: str) -> float | None: ...

    async def apurge(self, *, now: float) -> int: ...

    async def aclose(self) -> None: ...
