"""Helpers of the ``tokenguard`` command: its error type, files, times (private).

Exit codes: 0 success; 1 the operation was attempted and failed (invalid token, store
unavailable, file not written); 2 the input was wrong (options, key files, URLs, tokens).
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "CommandError",
    "describe_time",
    "parse_until",
    "read_file",
    "write_private_file",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
_MAX_FILE_BYTES = 1024 * 1024
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
_RELATIVE = re.compile(r"\+(\d+)([smhd]?)")


class CommandError(Exception):
    """A failure the command reports as one line on stderr, with its exit code.

    The message must never contain a token or a secret.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always one line
        self.exit_code = exit_code


def read_file(path: str, what: str) -> bytes:
    """The bytes of a small input file, or a `CommandError` saying why not."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CommandError(f"{what} {path!r} does not exist.") from None
    except IsADirectoryError:
        raise CommandError(f"{what} {path!r} is a directory.") from None
    except OSError as exc:
        raise CommandError(f"cannot read {what} {path!r}: {exc.strerror}.") from None
    if len(data) > _MAX_FILE_BYTES:
        raise CommandError(f"{what} {path!r} is larger than {_MAX_FILE_BYTES} bytes.")
    return data


def _restrict(fd: int) -> None:
    # os.open's mode is filtered through the umask; make it exactly owner read/write.
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)


def write_private_file(path: str, text: str, *, force: bool) -> None:
    """Write a secret to ``path`` with mode 0600.

    Without ``force`` an existing file (or symlink) is never touched. With it, the new
    content is written to a fresh 0600 file beside it and renamed over the old one, so the
    old file's permissions are not inherited and no half-written key is ever visible.
    """
    data = text.encode("utf-8")
    target = Path(path)
    try:
        if force:
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            written = Path(temp)
        else:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            written = target
    except FileExistsError:
        raise CommandError(
            f"{path!r} exists already; pass --force to overwrite it.", EXIT_FAILED
        ) from None
    except OSError as exc:
        raise CommandError(f"cannot write {path!r}: {exc.strerror}.", EXIT_FAILED) from None
    try:
        _restrict(fd)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if force:
            os.replace(written, target)
    except OSError as exc:
        written.unlink(missing_ok=True)
        raise CommandError(f"cannot write {path!r}: {exc.strerror}.", EXIT_FAILED) from None


def parse_until(text: str, now: float) -> float:
    """An ``--until`` value: POSIX seconds, or ``+N`` with an optional s/m/h/d unit.

    Raises:
        CommandError: unreadable, or not in the future.
    """
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is not None:
        until = now + int(relative.group(1)) * _UNITS[relative.group(2)]
    else:
        try:
            until = float(text)
        except ValueError:
            raise CommandError(
                f"--until takes POSIX seconds or +N[s|m|h|d], not {text!r}."
            ) from None
    if not until > now:
        raise CommandError("--until is not in the future: there would be nothing to revoke.")
    return until


def _ago(delta: float) -> str:
    seconds = int(abs(delta))
    if seconds < 60:
        amount = f"{seconds} s"
    elif seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 2 * 86_400:
        amount = f"{seconds // 3600} h"
    else:
        amount = f"{seconds // 86_400} days"
    if seconds == 0:
        return "now"
    return f"in {amount}" if delta > 0 else f"{amount} ago"


def describe_time(value: float, now: float) -> str:
    """``2027-01-15 08:15:00 UTC, in 14 min`` for a POSIX time; ``""`` when out of range."""
    try:
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return ""
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC, {_ago(value - now)}"
