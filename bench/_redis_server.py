"""A throwaway redis-server on 127.0.0.1 and a free port, for the stores benchmark (private).

The same recipe as the tests' ``tests/redisserver.py`` (no persistence, bound to loopback,
ready once it accepts a connection), without pytest: a missing binary or a server that does
not come up raises `RedisServerError`, and the benchmark skips Redis with its message.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RedisServerError", "RunningRedis", "free_port", "redis_server"]

_START_TIMEOUT = 10.0  # seconds for the server to accept a connection


class RedisServerError(Exception):
    """redis-server is not installed, or did not start."""


@dataclass(frozen=True, kw_only=True)
class RunningRedis:
    """A started server: where it listens, and its version."""

    url: str
    version: str


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _version(binary: str) -> str:
    # "Redis server v=7.0.15 sha=... malloc=... bits=64 build=..."
    result = subprocess.run(  # noqa: S603 - the resolved redis-server binary, fixed arguments
        [binary, "--version"], capture_output=True, text=True, timeout=5, check=False
    )
    found = re.search(r"\bv=(\S+)", result.stdout)
    return found.group(1) if found else "unknown"


def _wait_until_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RedisServerError(
                f"redis-server exited with status {process.returncode} on port {port}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RedisServerError(f"redis-server did not start within {_START_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def redis_server(workdir: Path) -> Iterator[RunningRedis]:
    """Start redis-server on a free port of 127.0.0.1; stop it on exit.

    Args:
        workdir: the server's working directory (it writes nothing there: no persistence).

    Raises:
        RedisServerError: the binary is missing, or the server did not start.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    args = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - the resolved redis-server binary, fixed arguments
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_ready(process, port)
        yield RunningRedis(url=f"redis://127.0.0.1:{port}/0", version=_version(binary))
    finally:
        _stop(process)
