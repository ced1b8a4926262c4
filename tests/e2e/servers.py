"""Sample apps as real subprocesses on free 127.0.0.1 ports, for the end-to-end tests.

Each `AppServer` runs ``python -m sample_apps.NAME --port P [--data DIR] ...``, waits
(a bounded poll) until the app answers, writes everything it prints to a log file (shown
in the report of a failed test, see ``tests/e2e/conftest.py``) and stops it at teardown:
SIGTERM, then SIGKILL for anything of its process group still running, then ``wait()``,
so neither a stray worker nor a zombie is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from tests.redisserver import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
_LOG_TAIL = 20_000


class AppServer:
    """One sample app as a subprocess; ``url`` points at it once `start` returned.

    Args:
        app: the module under ``sample_apps`` (``shop``, ``flask_shop``, ``orders_api``...).
        log_dir: where the log file goes.
        data: the app's ``--data`` folder; None passes no ``--data``.
        args: more command-line arguments.
        env: environment variables on top of this process's environment.
        port: the port; a free one when None. A restart keeps it.
        ready_path: polled until it answers 200.
    """

    def __init__(
        self,
        app: str,
        *,
        log_dir: Path,
        data: Path | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        ready_path: str = "/.well-known/jwks.json",
    ) -> None:
        self.app = app
        self.data = data
        self.args = tuple(args)
        self.env = dict(env or {})
        self.port = port if port is not None else free_port()
        self.log_path = log_dir / f"{app}-{self.port}.log"
        self.ready_path = ready_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", f"sample_apps.{self.app}", "--port", str(self.port)]
        if self.data is not None:
            command += ["--data", str(self.data)]
        return [*command, *self.args]

    def start(self) -> AppServer:
        """Start the app and return once it answers; fails the test (with the log) if not."""
        if self._process is not None:
            raise RuntimeError(f"{self.app} is already running")
        command = self.command()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: the uvicorn workers go down with their supervisor.
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        with httpx.Client(timeout=1.0) as client:
            while True:
                if _exited(process.pid):
                    self._give_up("exited before it answered")
                try:
                    response = client.get(self.url + self.ready_path)
                except httpx.TransportError as exc:
                    last = type(exc).__name__
                else:
                    if response.status_code == 200:
                        return
                    last = f"status {response.status_code}"
                if time.monotonic() > deadline:
                    self._give_up(f"did not answer within {READY_TIMEOUT:.0f} s ({last})")
                time.sleep(0.05)

    def wait_for_output(self, text: str, *, count: int = 1) -> None:
        """Poll the log until ``text`` was printed ``count`` times (e.g. by every worker)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while self._read_log().count(text) < count:
            if self._process is None or _exited(self._process.pid):
                self._give_up(f"exited before printing {text!r} {count} times")
            if time.monotonic() > deadline:
                self._give_up(f"did not print {text!r} {count} times in {READY_TIMEOUT:.0f} s")
            time.sleep(0.05)

    def _give_up(self, why: str) -> None:
        self.stop()
        pytest.fail(f"{self.app} on {self.url} {why}; its output:\n{self.log_text()}")

    def stop(self) -> None:
        """Stop the app (and every process it started); idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if not _exited(process.pid):
            process.terminate()
            deadline = time.monotonic() + STOP_TIMEOUT
            while not _exited(process.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        # The leader is not reaped yet, so its pid still names this process group only:
        # whatever is left in it (workers, or everything after a timeout) is ours to kill.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        """The app's output so far (its last part when it is long)."""
        text = self._read_log() or "(no output)"
        return text if len(text) <= _LOG_TAIL else "...\n" + text[-_LOG_TAIL:]

    def log_sections(self) -> list[tuple[str, str]]:
        return [(f"{self.app} on {self.url} ({self.log_path})", self.log_text())]


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (its pid stays reserved)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


class Servers:
    """Starts apps for one test or module and stops them all at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[AppServer] = []

    def start(
        self,
        app: str,
        *,
        data: Path | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        ready_path: str = "/.well-known/jwks.json",
    ) -> AppServer:
        """Start ``app`` (see `AppServer`) on a free port; it is stopped at teardown."""
        server = AppServer(
            app, log_dir=self.log_dir, data=data, args=args, env=env, ready_path=ready_path
        )
        self.started.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in reversed(self.started):
            server.stop()

    def log_sections(self) -> list[tuple[str, str]]:
        return [section for server in self.started for section in server.log_sections()]


def running_servers(log_dir: Path) -> Iterator[Servers]:
    """The body of a `Servers` fixture."""
    servers = Servers(log_dir)
    try:
        yield servers
    finally:
        servers.stop_all()
