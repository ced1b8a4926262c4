"""What the real-browser test needs: Chromium, the FastAPI shop as a subprocess, and a
step recorder that keeps screenshots and the page's HTML when the test fails.

Without Chromium (Debian's ``chromium`` package at /usr/bin/chromium) or the ``playwright``
package the browser test skips with a clear reason, unless TOKENGUARD_REQUIRE_BROWSER=1
(set by .ci/run) turns the skip into a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page
    from playwright.sync_api._context_manager import PlaywrightContextManager

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
# Playwright cannot download its own browser here: it drives Debian's Chromium. The
# network flags keep Chromium from calling home on a machine with a closed network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
READY_TIMEOUT = 20.0


def _unavailable(reason: str) -> None:
    if os.environ.get("TOKENGUARD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and TOKENGUARD_REQUIRE_BROWSER=1")
    pytest.skip(reason)


def chromium_path() -> Path:
    """Debian's Chromium, or a skip (a failure when TOKENGUARD_REQUIRE_BROWSER=1)."""
    found = CHROMIUM if CHROMIUM.exists() else None
    if found is None:
        which = shutil.which("chromium")
        found = Path(which) if which else None
    if found is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    assert found is not None
    return found


def sync_playwright() -> PlaywrightContextManager:
    """Playwright's sync entry point, or a skip (a failure when the browser is required)."""
    try:
        from playwright.sync_api import sync_playwright as entry
    except ImportError:
        _unavailable('playwright is not installed (pip install -e ".[dev]")')
    return entry()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: the test only reads its timestamps."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


class ShopServer:
    """``python -m sample_apps.shop`` on a free 127.0.0.1 port, its output in ``log``."""

    def __init__(self, data: Path, *, access_ttl: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"shop-{self.port}.log"
        self._data = data
        self._env = {**os.environ, "TOKENGUARD_ACCESS_TTL": str(access_ttl)}
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ShopServer:
        command = [sys.executable, "-m", "sample_apps.shop", "--port", str(self.port)]
        command += ["--data", str(self._data)]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    pytest.fail(
                        f"the shop exited with {self._process.returncode}:\n{self.output()}"
                    )
                try:
                    if client.get(f"{self.url}/.well-known/jwks.json").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        pytest.fail(f"the shop did not answer within {READY_TIMEOUT:.0f} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-10_000:] if self.log.exists() else ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class StepRecorder:
    """Screenshots the page after every step; if the block fails, keeps them.

    Screenshots go to a temporary folder. When the ``with`` block raises, they are copied
    with the page's HTML, the browser's console and dialogs, and the shop's log into
    ``artifacts`` (emptied first), whose path is printed (pytest shows it with the failure).
    """

    def __init__(self, page: Page, workdir: Path, artifacts: Path, *, server_log: Path) -> None:
        self.page = page
        self.workdir = workdir
        self.artifacts = artifacts
        self.server_log = server_log
        self.steps: list[str] = []
        self.console: list[str] = []
        self.dialogs: list[str] = []
        workdir.mkdir(parents=True, exist_ok=True)
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("dialog", self._dismiss)

    def _dismiss(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """One step of the scenario; the page is screenshot when it ends, even failing."""
        self.steps.append(name)
        try:
            yield
        finally:
            self._screenshot(f"{len(self.steps):02d}-{name}.png")

    def _screenshot(self, filename: str) -> None:
        try:
            self.page.screenshot(path=self.workdir / filename, full_page=True, timeout=5_000)
        except Exception as exc:  # a dead page must not hide the real failure
            self.console.append(f"screenshot {filename} failed: {exc}")

    def __enter__(self) -> StepRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None or issubclass(exc_type, (KeyboardInterrupt, pytest.skip.Exception)):
            return
        shutil.rmtree(self.artifacts, ignore_errors=True)
        self.artifacts.mkdir(parents=True)
        for shot in sorted(self.workdir.glob("*.png")):
            shutil.copy2(shot, self.artifacts / shot.name)
        try:
            html = self.page.content()
            url = self.page.url
        except Exception as error:
            html, url = f"<!-- page.content() failed: {error} -->", "?"
        (self.artifacts / "page.html").write_text(html)
        notes = [
            f"url: {url}",
            f"steps: {', '.join(self.steps)}",
            f"failed at: {self.steps[-1] if self.steps else '-'}",
        ]
        notes += ["", "dialogs:", *self.dialogs, "", "console:", *self.console]
        (self.artifacts / "notes.txt").write_text("\n".join(notes) + "\n")
        if self.server_log.exists():
            shutil.copy2(self.server_log, self.artifacts / "shop.log")
        print(f"browser test artifacts (screenshots, page.html, shop.log): {self.artifacts}")
