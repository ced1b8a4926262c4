"""SigningKeys: the issuer's keys over time, for rotation without a single failed request.

A new key is published in the JWKS as soon as it is added and signs only from its
activation time, so every verifier has had the chance to fetch it first. A superseded key
stays published for ``retain`` seconds (at least the access-token lifetime), until every
token it signed has expired.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .errors import ConfigError
from .keys import Key, KeySet
from .protocols import Clock

__all__ = ["SigningKeys"]


class SigningKeys:
    """A rotating set of signing keys; also a `KeyProvider` for local validators.

    Args:
        key: the first signing key (active at once); it must hold a private part and a kid.
        retain: seconds a superseded key stays published.
        clock: the time source.
    """

    def __init__(self, key: Key, *, retain: float = 3600, clock: Clock = time.time) -> None:
        self._clock = clock
        self._retain = retain
        self._lock = threading.Lock()
        self._entries: list[tuple[float, Key]] = []
        self._published: tuple[float, float, KeySet] | None = None  # (from, until, set)
        self.add(key, activate_after=0)
        # The first key is active from the beginning of time.
        self._entries[0] = (float("-inf"), key)

    @property
    def retain(self) -> float:
        """Seconds a superseded key stays published."""
        return self._retain

    def add(
        self, key: Key, *, activate_after: float = 3600, activate_at: float | None = None
    ) -> None:
        """Publish ``key`` now; it starts signing ``activate_after`` seconds from now.

        Pick ``activate_after`` longer than the verifiers' JWKS cache lifetime.

        Args:
            key: the new signing key (private part and kid required).
            activate_after: seconds from now until it signs.
            activate_at: a POSIX time instead, so several processes adding the same key
                switch over at the same moment.

        Raises:
            ConfigError: the key cannot sign, has no kid, or reuses a kid.
        """
        if not key.can_sign:
            raise ConfigError("A signing key needs its private part.")
        if key.kid is None:
            raise ConfigError("Signing keys need a kid, so verifiers can tell them apart.")
        with self._lock:
            if any(k.kid == key.kid for _, k in self._entries):
                raise ConfigError(f"A signing key with kid {key.kid!r} exists already.")
            # A new list, never sorted in place: readers take no lock, and a list being
            # sorted looks empty to them.
            start = activate_at if activate_at is not None else self._clock() + activate_after
            entries = [*self._entries, (start, key)]
            self._entries = sorted(entries, key=lambda entry: entry[0])
            self._published = None

    def current(self) -> Key:
        """The key that signs now: the most recently activated one."""
        now = self._clock()
        active = [key for start, key in self._entries if start <= now]
        return active[-1]

    def published(self) -> KeySet:
        """The keys verifiers must know now: announced, current, and recently superseded."""
        now = self._clock()
        cached = self._published
        if cached is not None and cached[0] <= now < cached[1]:
            return cached[2]
        keys: list[Key] = []
        valid_from, valid_until = float("-inf"), float("inf")
        entries = self._entries
        for index, (start, key) in enumerate(entries):
            superseded = entries[index + 1][0] if index + 1 < len(entries) else None
            if superseded is not None and superseded <= now:
                end = superseded + self._retain
                if now >= end:
                    valid_from = max(valid_from, end)
                    continue
                valid_until = min(valid_until, end)
            elif superseded is not None:
                valid_until = min(valid_until, superseded)
            keys.append(key)
            if start > now:
                valid_until = min(valid_until, start)
        keyset = KeySet(keys)
        with self._lock:
            # Cache it only if no key was added meanwhile: a set computed before an `add`
            # and cached after it would leave the new key unpublished.
            if self._entries is entries:
                self._published = (valid_from, valid_until, keyset)
        return keyset

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document to serve at ``/.well-known/jwks.json``."""
        return self.published().public_jwks()

    def get_keys(self, kid: str | None = None) -> KeySet:
        """`KeyProvider`: the published keys."""
        return self.published()

    async def aget_keys(self, kid: str | None = None) -> KeySet:
        """`KeyProvider`: the published keys (no I/O)."""
        return self.published()

    def __repr__(self) -> str:
        return f"SigningKeys({[k.kid for _, k in self._entries]!r})"
