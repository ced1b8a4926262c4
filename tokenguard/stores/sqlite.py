"""SQLiteStore: the embedded default TokenStore, shared by the processes of one machine.

One file holds every opaque token and revocation. WAL journal mode lets readers go on while
a writer commits; every write is one ``BEGIN IMMEDIATE`` transaction, so a refresh rotation
(read, decide with `decide_rotation`, write) is atomic across threads and processes. Any
SQLite error, and any wait longer than ``timeout``, becomes `StoreUnavailableError` (503).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError, StoreUnavailableError
from ..principal import Principal
from ..protocols import Clock
from .base import Rotation, TokenRecord, decide_rotation, principal_is_revoked, session_id

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tokens (
        token_hash TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        expires_at REAL NOT NULL,
        retired_at REAL,
        successor BLOB
    )""",
    "CREATE INDEX IF NOT EXISTS tokens_expires_at ON tokens (expires_at)",
    # kind: 'jti' | 'fam' | 'sub'; value: when it was revoked, or the subject's cut-off.
    """CREATE TABLE IF NOT EXISTS revocations (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        until REAL NOT NULL,
        PRIMARY KEY (kind, name)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS revocations_until ON revocations (until)",
)
_GET = "SELECT data, retired_at, successor FROM tokens WHERE token_hash = ? AND expires_at > ?"
_PUT = (
    "INSERT OR REPLACE INTO tokens (token_hash, data, expires_at, retired_at, successor)"
    " VALUES (?, ?, ?, ?, ?)"
)
_REVOCATION = "SELECT value FROM revocations WHERE kind = ? AND name = ? AND until > ?"
# Over a live entry, a subject's cut-off only moves forward and no revocation is forgotten
# early; an expired one is replaced. (SET reads the old row on every right-hand side.)
_REVOKE = """INSERT INTO revocations (kind, name, value, until)
    VALUES (:kind, :name, :value, :until)
    ON CONFLICT (kind, name) DO UPDATE SET
        value = CASE WHEN kind = 'sub' AND until > :now THEN max(value, excluded.value)
                     ELSE excluded.value END,
        until = CASE WHEN until > :now THEN max(until, excluded.until) ELSE excluded.until END"""
_IS_REVOKED = """SELECT
    EXISTS (SELECT 1 FROM revocations WHERE kind = 'jti' AND name = :jti AND until > :now),
    (SELECT value FROM revocations WHERE kind = 'sub' AND name = :sub AND until > :now),
    EXISTS (SELECT 1 FROM revocations WHERE kind = 'fam' AND name = :sid AND until > :now)"""


def _record(token_hash: str, row: Any) -> TokenRecord | None:
    if row is None:
        return None
    return TokenRecord.from_json(token_hash, row[0], retired_at=row[1], successor=row[2])


def _put(conn: sqlite3.Connection, r: TokenRecord) -> None:
    conn.execute(_PUT, (r.token_hash, r.to_json(), r.expires_at, r.retired_at, r.successor))


class SQLiteStore:
    """A `TokenStore` in one SQLite file: survives restarts, shared by local processes.

    The file is opened (and its schema created) lazily, on first use: an unreachable,
    unwritable or corrupt file makes that call raise `StoreUnavailableError`, and the
    next call tries again. Open one store per process; a connection inherited across
    ``fork()`` is never used.

    Args:
        path: the database file (its directory must exist).
        clock: the time source for expiry.
        timeout: the longest any call waits for a lock, in seconds.
        purge_interval: writes delete expired rows at most this often, in seconds
            (``math.inf`` leaves it to `purge`).

    Raises:
        ConfigError: an empty path, or a non-positive timeout or negative interval.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = time.time,
        timeout: float = 5.0,
        purge_interval: float = 300,
    ) -> None:
        self._path = os.fspath(path)
        if not self._path:
            raise ConfigError("SQLiteStore needs the path of a database file.")
        if not timeout > 0:
            raise ConfigError("timeout must be a positive number of seconds.")
        if not purge_interval >= 0:
            raise ConfigError("purge_interval must be zero or more seconds.")
        self._clock = clock
        self._timeout = float(timeout)
        self._purge_interval = purge_interval
        self._last_purge: float | None = None
        # One connection guarded by one lock, rather than one per thread: close() can then
        # close it deterministically (per-thread connections of short-lived server threads
        # would leak), and SQLite serialises writers anyway. The lock also keeps each
        # transaction on the connection to one thread, which makes check_same_thread=False
        # safe.
        self._lock = threading.Lock()
        self._busy_ms = -1000
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock = time.time,
        timeout: float = 5.0,
        purge_interval: float = 300,
    ) -> SQLiteStore:
        """A store for ``sqlite:///relative/file.db`` or ``sqlite:////absolute/file.db``.

        Raises:
            ConfigError: the URL is not of that form.
        """
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or parts.netloc or len(parts.path) < 2 or parts.query:
            raise ConfigError("Expected a URL like sqlite:///relative.db or sqlite:////abs.db.")
        path = unquote(parts.path[1:])
        return cls(path, clock=clock, timeout=timeout, purge_interval=purge_interval)

    # -- connection and transactions ---------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailableError("The token store is closed.")
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self._conn is not None:
            # A connection must not be used (or closed) in a forked child
            # (https://www.sqlite.org/howtocorrupt.html section 2.6): keep it, untouched.
            self._inherited.append(self._conn)
            self._conn = None
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a crash loses no data
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                conn.execute("BEGIN IMMEDIATE")  # two processes may create it at once
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            elif version != SCHEMA_VERSION:
                raise ConfigError(
                    f"The SQLite token store has schema version {version}; this tokenguard "
                    f"reads version {SCHEMA_VERSION}."
                )
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        self._busy_ms = -1000  # a new connection has SQLite's default: set ours
        return conn

    @contextmanager
    def _connection(
        self, *, write: bool = False, purge: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """The connection, locked; with ``write``, inside one ``BEGIN IMMEDIATE`` transaction."""
        deadline = time.monotonic() + self._timeout
        if not self._lock.acquire(timeout=self._timeout):
            raise StoreUnavailableError()
        try:
            conn = self._open()
            # The time spent waiting for the lock comes off SQLite's own wait: one deadline.
            wait_ms = max(1, int((deadline - time.monotonic()) * 1000))
            if abs(wait_ms - self._busy_ms) > 20:  # a PRAGMA per call would cost ~2 us
                conn.execute(f"PRAGMA busy_timeout = {wait_ms}")
                self._busy_ms = wait_ms
            if not write:
                yield conn
                return
            # IMMEDIATE takes the write lock before the first read, so a read-decide-write
            # sequence cannot interleave with another process's.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                last = self._last_purge
                if purge and (last is None or self._clock() - last >= self._purge_interval):
                    self._delete_expired(conn, self._clock())
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailableError() from exc
        finally:
            self._lock.release()

    def _delete_expired(self, conn: sqlite3.Connection, now: float) -> int:
        count = conn.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,)).rowcount
        count += conn.execute("DELETE FROM revocations WHERE until <= ?", (now,)).rowcount
        self._last_purge = self._clock()
        return count

    def _revocation(self, conn: sqlite3.Connection, kind: str, name: str) -> float | None:
        row = conn.execute(_REVOCATION, (kind, name, self._clock())).fetchone()
        return None if row is None else float(row[0])

    def _revoke(
        self, conn: sqlite3.Connection, kind: str, name: str, value: float, until: float
    ) -> None:
        params = {"kind": kind, "name": name, "value": value, "until": until, "now": self._clock()}
        conn.execute(_REVOKE, params)

    # -- TokenStore --------------------------------------------------------------------

    def put(self, record: TokenRecord) -> None:
        """Store an opaque token record (replacing one with the same hash)."""
        with self._connection(write=True) as conn:
            _put(conn, record)

    def get(self, token_hash: str) -> TokenRecord | None:
        """The record (retired ones included), or None when unknown or expired."""
        with self._connection() as conn:
            row = conn.execute(_GET, (token_hash, self._clock())).fetchone()
        return _record(token_hash, row)

    def rotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        """Atomically retire ``old_hash`` and store ``new`` (see `decide_rotation`)."""
        with self._connection(write=True) as conn:
            record = _record(old_hash, conn.execute(_GET, (old_hash, self._clock())).fetchone())
            fid = record.family_id if record is not None else None
            outcome = decide_rotation(
                record,
                now=now,
                grace=grace,
                family_revoked=fid is not None and self._revocation(conn, "fam", fid) is not None,
                subject_cutoff=self._revocation(conn, "sub", record.subject) if record else None,
            )
            if record is None:
                return Rotation(outcome)
            if outcome == "rotated":
                conn.execute(
                    "UPDATE tokens SET retired_at = ?, successor = ? WHERE token_hash = ?",
                    (now, successor, old_hash),
                )
                _put(conn, new)
            elif outcome == "reused" and record.family_id is not None:
                until = record.family_expires_at or record.expires_at
                self._revoke(conn, "fam", record.family_id, self._clock(), until)
            return Rotation(
                outcome, successor=record.successor if outcome == "grace" else None, record=record
            )

    def revoke_family(self, family_id: str, *, until: float) -> None:
        """Revoke every refresh token of a family until ``until``."""
        with self._connection(write=True) as conn:
            self._revoke(conn, "fam", family_id, self._clock(), until)

    def revoke_token(self, token_hash: str) -> None:
        """Delete one opaque token."""
        with self._connection(write=True) as conn:
            conn.execute("DELETE FROM tokens WHERE token_hash = ?", (token_hash,))

    def revoke_jti(self, jti: str, *, until: float) -> None:
        """Deny an access token by jti until its exp."""
        with self._connection(write=True) as conn:
            self._revoke(conn, "jti", jti, self._clock(), until)

    def revoke_subject(self, subject: str, *, at: float, until: float) -> None:
        """Refuse everything the subject was issued before ``at`` (the latest cut-off wins)."""
        with self._connection(write=True) as conn:
            self._revoke(conn, "sub", subject, at, until)

    def is_revoked(self, principal: Principal) -> bool:
        """The jti denylist and the subject cut-off, read in one query."""
        params = {
            "jti": principal.token_id,
            "sub": principal.subject,
            "sid": session_id(principal),
            "now": self._clock(),
        }
        with self._connection() as conn:
            jti_revoked, cutoff, family_revoked = conn.execute(_IS_REVOKED, params).fetchone()
        return principal_is_revoked(
            principal,
            jti_revoked=bool(jti_revoked),
            subject_cutoff=None if cutoff is None else float(cutoff),
            family_revoked=bool(family_revoked),
        )

    def family_revoked(self, family_id: str) -> bool:
        """True when the family was revoked."""
        with self._connection() as conn:
            return self._revocation(conn, "fam", family_id) is not None

    def subject_cutoff(self, subject: str) -> float | None:
        """The subject's cut-off time, if any."""
        with self._connection() as conn:
            return self._revocation(conn, "sub", subject)

    def purge(self, *, now: float) -> int:
        """Delete tokens and revocations expired at ``now``; returns how many rows."""
        with self._connection(write=True, purge=False) as conn:
            return self._delete_expired(conn, now)

    def close(self) -> None:
        """Close the connection; later calls raise `StoreUnavailableError`."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                conn.close()

    # -- async twins: the sync methods, in a worker thread -----------------------------

    async def aput(self, record: TokenRecord) -> None:
        await asyncio.to_thread(self.put, record)

    async def aget(self, token_hash: str) -> TokenRecord | None:
        return await asyncio.to_thread(self.get, token_hash)

    async def arotate(
        self, old_hash: str, new: TokenRecord, successor: bytes, *, now: float, grace: float
    ) -> Rotation:
        return await asyncio.to_thread(self.rotate, old_hash, new, successor, now=now, grace=grace)

    async def arevoke_family(self, family_id: str, *, until: float) -> None:
        await asyncio.to_thread(self.revoke_family, family_id, until=until)

    async def arevoke_token(self, token_hash: str) -> None:
        await asyncio.to_thread(self.revoke_token, token_hash)

    async def arevoke_jti(self, jti: str, *, until: float) -> None:
        await asyncio.to_thread(self.revoke_jti, jti, until=until)

    async def arevoke_subject(self, subject: str, *, at: float, until: float) -> None:
        await asyncio.to_thread(self.revoke_subject, subject, at=at, until=until)

    async def ais_revoked(self, principal: Principal) -> bool:
        return await asyncio.to_thread(self.is_revoked, principal)

    async def afamily_revoked(self, family_id: str) -> bool:
        return await asyncio.to_thread(self.family_revoked, family_id)

    async def asubject_cutoff(self, subject: str) -> float | None:
        return await asyncio.to_thread(self.subject_cutoff, subject)

    async def apurge(self, *, now: float) -> int:
        return await asyncio.to_thread(lambda: self.purge(now=now))

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"
